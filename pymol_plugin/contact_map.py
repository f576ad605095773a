"""The linked contact-map panel: a drawing's map beside the 3D view (Qt, matplotlib).

Above the diagonal the predicted probabilities (grey, darker is likelier; white:
not listed), below it the structure's contacts (dark grey within the chain, the
homodimer colour for contacts only with a chain of the same sequence, light grey where
a residue is unobserved); the drawn pairs are squares in their dashes' colours above the
diagonal and outlines below it. Hovering names a cell's residues, clicking picks them in
PyMOL (:func:`pymol_plugin.registry.pick`), Refresh highlights the rows and columns of
the residues in ``sele``. The panel docks in PyMOL's main window where there is one, and
is a window of its own otherwise. It only displays: the numbers come from
:mod:`pymol_plugin.registry`.
"""

from typing import Dict, List, Optional, Tuple

import numpy as np
from pymol import CmdException, cmd
from pymol.Qt import QtCore, QtWidgets

from esm_contacts.metrics import CATEGORY_LABELS

from . import registry
from .window import main_window

#: Colours of the map's background cells (RGB).
CONTACT_RGB = (0.25, 0.25, 0.25)
UNKNOWN_RGB = (0.88, 0.88, 0.88)
DIAGONAL_RGB = (0.7, 0.7, 0.7)
#: The highlight of the rows and columns of selected residues.
SELECTION_COLOR = "#f5b800"
#: The selection whose residues Refresh highlights.
SELECTION = "sele"

#: Attribute of a PyMOL instance's ``cmd`` holding its open panels by drawing name:
#: (the dock or window, the panel) (:func:`pymol_plugin.registry.instance_table`).
PANELS = "_esm_contacts_panels"


def _panels(_self) -> Dict[str, Tuple[QtWidgets.QWidget, "ContactMapPanel"]]:
    return registry.instance_table(_self, PANELS)


def color_rgb(color: str, _self=cmd) -> Tuple[float, float, float]:
    """A PyMOL colour name as RGB in [0, 1] (PyMOL's own colour table).

    Parameters
    ----------
    color : str
        A PyMOL colour name.
    _self : pymol.cmd
        The PyMOL instance (cmd).

    Returns
    -------
    rgb : tuple of float
        (red, green, blue), each in [0, 1].
    """
    return tuple(float(v) for v in _self.get_color_tuple(_self.get_color_index(color)))


def map_image(entry: registry.Drawing, colors: Dict[str, tuple]) -> np.ndarray:
    """(L, L, 3) RGB: probabilities above the diagonal, the structure's contacts below.

    Parameters
    ----------
    entry : registry.Drawing
        The drawing's data.
    colors : dict
        Category -> RGB in [0, 1] (``inter`` colours the homodimer contacts).

    Returns
    -------
    image : numpy.ndarray
        float (L, L, 3), values in [0, 1].
    """
    length = entry.length
    upper = np.triu(np.ones((length, length), dtype=bool), 1)
    lower = upper.T
    image = np.ones((length, length, 3))
    P = np.nan_to_num(np.clip(entry.P, 0.0, 1.0), nan=0.0)
    image[upper] = (1.0 - 0.85 * P[upper])[:, None]
    inter_only = lower & (entry.X == 1) & (entry.T != 1)
    image[lower & (entry.T == -1)] = UNKNOWN_RGB
    image[lower & (entry.T == 1)] = CONTACT_RGB
    # Homodimer contacts: the category's colour, lightened so the drawn squares stand out.
    image[inter_only] = 0.45 * np.asarray(colors.get("inter", (1, 0, 1))) + 0.55
    image[np.eye(length, dtype=bool)] = DIAGONAL_RGB
    return image


class ContactMapPanel(QtWidgets.QWidget):
    """The contact map of one drawing, with its status line and buttons.

    Parameters
    ----------
    name : str
        The drawing (:mod:`pymol_plugin.registry`).
    parent : QtWidgets.QWidget or None
        The Qt parent (a dock widget), or None for a window of its own.
    _self : pymol.cmd
        The PyMOL instance (cmd).
    """

    def __init__(self, name: str, parent=None, _self=cmd):
        from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg, NavigationToolbar2QT
        from matplotlib.figure import Figure

        super().__init__(parent)
        self.name = name
        self._self = _self
        self.setObjectName(f"esm_contacts_map_{name}")
        self.figure = Figure(figsize=(4.6, 4.9), dpi=100)
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setMinimumSize(280, 280)
        self.canvas.setMouseTracking(True)
        # No coordinates label: its changing text would widen the dock under the mouse.
        self.toolbar = NavigationToolbar2QT(self.canvas, self, coordinates=False)
        self.status = QtWidgets.QLabel(
            "Hover a cell to name its residues; click to pick them in PyMOL"
        )
        self.status.setWordWrap(True)
        # A fixed size hint: a longer hover text must not resize the dock and move the map
        # under the mouse.
        self.status.setFixedHeight(self.status.fontMetrics().lineSpacing() * 3 + 4)
        self.status.setSizePolicy(QtWidgets.QSizePolicy.Ignored, QtWidgets.QSizePolicy.Fixed)
        self.status.setAlignment(QtCore.Qt.AlignLeft | QtCore.Qt.AlignTop)
        self.status.setTextInteractionFlags(QtCore.Qt.TextSelectableByMouse)
        refresh = QtWidgets.QPushButton("Refresh")
        refresh.setToolTip(
            f"Reload the drawing and highlight the residues selected in '{SELECTION}'"
        )
        refresh.clicked.connect(self.refresh)
        buttons = QtWidgets.QHBoxLayout()
        buttons.addWidget(self.toolbar, 1)
        buttons.addWidget(refresh)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(buttons)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(self.status)
        self.canvas.mpl_connect("motion_notify_event", self.on_motion)
        self.canvas.mpl_connect("button_press_event", self.on_click)
        self.entry: Optional[registry.Drawing] = None
        self.highlighted: List[int] = []
        #: The last picked cell (row < column), outlined in both halves.
        self.picked: Optional[Tuple[int, int]] = None
        self._marks: list = []
        self._pick_marks: list = []
        self.refresh()

    # -- drawing ------------------------------------------------------------------------

    def refresh(self) -> None:
        """Reload the drawing's data and highlight the residues of ``sele``."""
        try:
            self.entry = registry.get(self.name, self._self)
        except CmdException as error:
            self.status.setText(f"Error: {error.message}")
            return
        self.draw()
        self.highlight(registry.selected_positions(self.entry, SELECTION, self._self))

    def draw(self) -> None:
        from matplotlib.lines import Line2D
        from matplotlib.ticker import FuncFormatter, MaxNLocator

        entry = self.entry
        colors = {kind: color_rgb(name, self._self) for kind, name in entry.colors.items()}
        self.figure.clear()
        ax = self.axes = self.figure.add_axes((0.16, 0.2, 0.8, 0.72))
        ax.imshow(map_image(entry, colors), interpolation="nearest", origin="upper")
        handles = []
        for kind in ("tp", "inter", "fp"):
            chosen = entry.kinds == kind
            if kind not in colors:
                continue
            low, high = np.minimum(entry.i, entry.j)[chosen], np.maximum(entry.i, entry.j)[chosen]
            ax.scatter(
                high,
                low,
                s=18,
                marker="s",
                color=[colors[kind]],
                edgecolors="black",
                linewidths=0.3,
            )
            ax.scatter(
                low,
                high,
                s=18,
                marker="s",
                facecolors="none",
                edgecolors=[colors[kind]],
                linewidths=0.8,
            )
            handles.append(
                Line2D(
                    [],
                    [],
                    marker="s",
                    linestyle="",
                    color=colors[kind],
                    markeredgecolor="black",
                    label=f"{CATEGORY_LABELS[kind]} ({int(chosen.sum())})",
                )
            )
        handles.append(
            Line2D(
                [], [], marker="s", linestyle="", color=CONTACT_RGB, label="contact in structure"
            )
        )
        self.figure.legend(handles=handles, loc="lower center", ncol=2, fontsize=7, frameon=False)
        label = lambda value, _: self.short_label(int(round(value)))  # noqa: E731
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_locator(MaxNLocator(6, integer=True))
            axis.set_major_formatter(FuncFormatter(label))
        ax.tick_params(labelsize=7)
        ax.set_title(
            f"{entry.name}: {entry.label}\npredicted (above) / structure (below)", fontsize=8
        )
        ax.set_xlim(-0.5, entry.length - 0.5)
        ax.set_ylim(entry.length - 0.5, -0.5)
        self._marks = []
        self._pick_marks = []
        if self.picked is not None and max(self.picked) >= entry.length:  # redrawn with another map
            self.picked = None
        self.mark_pick()

    def mark_pick(self) -> None:
        """Outline the picked cell above and below the diagonal."""
        for mark in self._pick_marks:
            mark.remove()
        self._pick_marks = []
        if self.picked is not None:
            a, b = self.picked
            for x, y in ((b, a), (a, b)):
                self._pick_marks.append(
                    self.axes.scatter(
                        [x],
                        [y],
                        s=90,
                        marker="s",
                        facecolors="none",
                        edgecolors="black",
                        linewidths=1.5,
                    )
                )
        self.canvas.draw_idle()

    def short_label(self, position: int) -> str:
        """An axis tick: the residue's author name without the residue name (``A:744``).

        Parameters
        ----------
        position : int
            Map position, 0-based.

        Returns
        -------
        label : str
            ``A:744``; ``#k`` for an unobserved residue, ``""`` outside the map.
        """
        if not 0 <= position < self.entry.length:
            return ""
        label = self.entry.labels[position]
        return label.split(" ")[0] if label else f"#{position + 1}"

    def highlight(self, positions: List[int]) -> None:
        """Shade the rows and columns of map positions (the residues selected in PyMOL).

        Parameters
        ----------
        positions : list of int
            Map positions, 0-based.
        """
        for mark in self._marks:
            mark.remove()
        self._marks = []
        for k in positions:
            self._marks.append(
                self.axes.axhspan(k - 0.5, k + 0.5, color=SELECTION_COLOR, alpha=0.35, lw=0)
            )
            self._marks.append(
                self.axes.axvspan(k - 0.5, k + 0.5, color=SELECTION_COLOR, alpha=0.35, lw=0)
            )
        self.highlighted = list(positions)
        if positions:
            self.status.setText(
                f"{len(positions)} residue{'s' if len(positions) != 1 else ''} of '{SELECTION}' "
                "highlighted"
            )
        self.canvas.draw_idle()

    # -- reading cells -----------------------------------------------------------------

    def cell(self, event) -> Optional[Tuple[int, int]]:
        """(row, column) of the cell under a matplotlib mouse event, None outside the map.

        Parameters
        ----------
        event : matplotlib.backend_bases.MouseEvent
            The mouse event.

        Returns
        -------
        cell : tuple of int or None
            (row, column), 0-based; None outside the map.
        """
        if (
            self.entry is None
            or event.inaxes is not self.axes
            or event.xdata is None
            or event.ydata is None
        ):
            return None
        row, column = int(round(event.ydata)), int(round(event.xdata))
        if 0 <= row < self.entry.length and 0 <= column < self.entry.length:
            return row, column
        return None

    def describe(self, row: int, column: int) -> str:
        """The hover text of a cell: residues, probability, distances, category.

        Parameters
        ----------
        row, column : int
            The cell, 0-based (either order).

        Returns
        -------
        text : str
            Fields separated by `` | ``.
        """
        entry = self.entry
        a, b = min(row, column), max(row, column)
        names = [entry.labels[k] or f"position {k + 1} (unobserved)" for k in (a, b)]
        if a == b:
            return names[0]
        p = entry.P[a, b]
        parts = [
            f"{names[0]} \u2013 {names[1]}",
            f"p = {p:.3f}" if np.isfinite(p) else "p: not listed",
        ]
        distance = entry.distances[a, b]
        if np.isfinite(distance):
            inter = entry.inter_distances[a, b]
            other = f" (other chain {inter:.1f} \u00c5)" if np.isfinite(inter) else ""
            parts.append(f"Cb-Cb {distance:.1f} \u00c5{other}")
        kind = entry.kind_at(a, b)
        drawn = entry.drawn_kind(a, b) is not None
        parts.append(f"{CATEGORY_LABELS.get(kind, kind)}{', drawn' if drawn else ''}")
        return " | ".join(parts)

    def on_motion(self, event) -> None:
        """Name the cell under the mouse in the status line and the tooltip.

        Parameters
        ----------
        event : matplotlib.backend_bases.MouseEvent
            The mouse event.
        """
        where = self.cell(event)
        if where is None:
            return
        text = self.describe(*where)
        self.status.setText(text)
        self.canvas.setToolTip(text)

    def on_click(self, event) -> None:
        """A left click on a cell off the diagonal picks its residues in PyMOL.

        Parameters
        ----------
        event : matplotlib.backend_bases.MouseEvent
            The mouse event.
        """
        where = self.cell(event)
        if (
            where is None or event.button != 1 or self.toolbar.mode
        ):  # zoom / pan use their own clicks
            return
        self.pick(*where)

    def pick(self, row: int, column: int) -> Optional[dict]:
        """Select, zoom on and measure the pair of a cell (:func:`pymol_plugin.registry.pick`).

        Parameters
        ----------
        row, column : int
            The cell, 0-based (either order).

        Returns
        -------
        picked : dict or None
            As :func:`pymol_plugin.registry.pick` returns it; None on the diagonal or
            after an error (shown in the status line).
        """
        if row == column:
            return None
        a, b = min(row, column), max(row, column)
        try:
            picked = registry.pick(self.name, a, b, self._self)
        except CmdException as error:
            self.status.setText(f"Error: {error.message}")
            return None
        dash = f" | dash {picked['dash']}" if picked.get("dash") else ""
        self.status.setText(f"Picked {registry.pick_name(self.name)}: {self.describe(a, b)}{dash}")
        self.picked = (a, b)
        self.mark_pick()
        return picked


def show_map(name: str, _self=cmd) -> ContactMapPanel:
    """Open the panel of drawing ``name`` (refreshed when it is open already): docked on the
    right of PyMOL's main window, or a window of its own without one.

    Parameters
    ----------
    name : str
        The drawing.
    _self : pymol.cmd
        The PyMOL instance (cmd).

    Returns
    -------
    panel : ContactMapPanel
        The open panel.
    """
    panels = _panels(_self)
    if name in panels:
        holder, panel = panels[name]
        panel.refresh()
        holder.show()
        holder.raise_()
        return panel
    window = main_window()
    if window is not None:
        holder = QtWidgets.QDockWidget(f"Contact map: {name}", window)
        holder.setObjectName(f"esm_contacts_map_dock_{name}")
        panel = ContactMapPanel(name, holder, _self=_self)
        holder.setWidget(panel)
        window.addDockWidget(QtCore.Qt.RightDockWidgetArea, holder)
        docked = [
            h
            for h, _ in panels.values()
            if isinstance(h, QtWidgets.QDockWidget)
            and h.isVisible()
            and not h.isFloating()
            and window.dockWidgetArea(h) == QtCore.Qt.RightDockWidgetArea
        ]
        if docked:  # several drawings: tabs in one dock area, not ever thinner strips
            window.tabifyDockWidget(docked[-1], holder)
    else:
        panel = holder = ContactMapPanel(name, None, _self=_self)
        panel.setWindowTitle(f"Contact map: {name}")
        panel.resize(480, 560)
    panels[name] = (holder, panel)
    holder.show()
    holder.raise_()
    return panel


def panel_of(name: str, _self=cmd) -> Optional[ContactMapPanel]:
    """The open panel of a drawing, or None.

    Parameters
    ----------
    name : str
        The drawing.
    _self : pymol.cmd
        The PyMOL instance (cmd).

    Returns
    -------
    panel : ContactMapPanel or None
        None where no panel of it is open.
    """
    found = _panels(_self).get(name)
    return found[1] if found else None


def close_map(name: str, _self=cmd) -> None:
    """Close and forget the panel of drawing ``name``, where one is open.

    Parameters
    ----------
    name : str
        The drawing.
    _self : pymol.cmd
        The PyMOL instance (cmd).
    """
    found = _panels(_self).pop(name, None)
    if found is not None:
        found[0].close()
        found[0].deleteLater()
