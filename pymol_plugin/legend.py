"""Legends drawn into the scene as CGO objects: they show in the viewer, in ``png`` and in
ray-traced images, and go with their drawing.

A legend is a flat panel of stroked text (``pymol.cgo.cyl_text``) and sample dashes,
facing the camera as the view was when it was drawn, beside the structure's bounding box
(to the right of it on screen) and scaled to the structure's height. A drawing's legend
(``<name>_key``, in the drawing's group) gives each category's colour and count and the
probability range of each thickness bin; the check's legend (``<check name>_key``) gives
the support spectrum.
"""

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .style import DASH_RADII, MEANINGS

#: Check legends drawn in this session: check name -> CGO object.
_CHECK_LEGENDS: Dict[str, str] = {}

#: The check's colours: support 0 -> red, 0.5 -> white, 1 -> blue (PyMOL's red_white_blue),
#: and the colour of residues without a predicted contact (darker than white also ray-traced).
CHECK_SPECTRUM = "red_white_blue"
CHECK_NO_EVIDENCE_COLOR = "grey40"
#: The check's colours in words (dialog, log, legend).
CHECK_MEANING = (
    "red: predicted contacts not satisfied (support 0), white: half, blue: satisfied (support 1); "
    "dark grey: no predicted contact (no evidence)"
)


@dataclass
class Frame:
    """Where a legend goes: its top-left corner, screen axes in model space, text height (A)."""

    origin: np.ndarray
    right: np.ndarray
    up: np.ndarray
    toward: np.ndarray
    size: float
    #: Corners of the drawn panel (model space), set when the legend is drawn.
    corners: Optional[List[np.ndarray]] = None

    def point(self, x: float, y: float) -> np.ndarray:
        """Model coordinates of (x, y) text heights right of and below the corner.

        Parameters
        ----------
        x : float
            Text heights to the right.
        y : float
            Text heights down.

        Returns
        -------
        point : numpy.ndarray
            float (3,), model space.
        """
        return self.origin + self.size * (x * self.right - y * self.up)


def frame_beside(selection: str, _self) -> Frame:
    """A legend frame right of ``selection`` as the camera sees it now (facing the camera).

    Parameters
    ----------
    selection : str
        What the legend is placed beside.
    _self : pymol.cmd
        The PyMOL instance (cmd).

    Returns
    -------
    frame : Frame
        Facing the camera.
    """
    view = _self.get_view()
    # PyMOL's view matrix is column-major: its columns are the camera axes in model space.
    right = np.array([view[0], view[3], view[6]], dtype=float)
    up = np.array([view[1], view[4], view[7]], dtype=float)
    toward = np.array([view[2], view[5], view[8]], dtype=float)
    coords = _self.get_coords(selection, 1)
    if (
        coords is None
    ):  # no polymer atom in state 1 (e.g. a lone pseudoatom object): the view's origin
        coords = [view[12:15]]
    xyz = np.asarray(coords, dtype=float).reshape(-1, 3)
    x, y, z = xyz @ right, xyz @ up, xyz @ toward
    size = float(np.clip((y.max() - y.min()) / 20, 0.8, 4.0))
    origin = right * (x.max() + 2 * size) + up * y.max() + toward * z.mean()
    return Frame(origin, right, up, toward, size)


def structure_of(target) -> str:
    """What a legend is placed beside: the target object's polymer (waters and ions far
    out would push it away).

    Parameters
    ----------
    target : Target
        The drawn or checked chain.

    Returns
    -------
    selection : str
        ``%object and polymer``.
    """
    return f"%{target.object} and polymer"


def zoom_with(selection: str, frame: Frame, _self) -> None:
    """Zoom on ``selection`` and the legend drawn in ``frame`` together, orientation kept.

    A CGO object cannot be part of an atom selection (and its axis-aligned extent is far
    larger than a tilted panel): pseudoatoms at the panel's corners stand in for it.

    Parameters
    ----------
    selection : str
        The structure to keep in view.
    frame : Frame
        The legend's frame, with its ``corners`` set.
    _self : pymol.cmd
        The PyMOL instance (cmd).
    """
    temporary = _self.get_unused_name("esm_contacts_corners")  # "_" objects: left out of zoom
    try:
        for corner in frame.corners or []:
            _self.pseudoatom(temporary, pos=[float(c) for c in corner])
        _self.zoom(f"({selection}) or %{temporary}", animate=0)
    finally:
        _self.delete(temporary)
    # zoom sizes the view for all the points but centres it on their centroid (the
    # structure's atoms outweigh 4 corners): centre it on their box as the camera sees it.
    coords = _self.get_coords(selection, 1)
    points = np.vstack(
        ([np.asarray(coords, dtype=float).reshape(-1, 3)] if coords is not None else [])
        + [np.asarray(c, dtype=float).reshape(1, 3) for c in frame.corners or []]
    )
    axes = np.array([frame.right, frame.up, frame.toward])
    seen = points @ axes.T
    middle = (seen.min(axis=0) + seen.max(axis=0)) / 2
    view = list(_self.get_view())
    view[12:15] = [float(c) for c in middle @ axes]
    _self.set_view(view)


def text_color(_self) -> List[float]:
    """Black on a light background, white on a dark one.

    Parameters
    ----------
    _self : pymol.cmd
        The PyMOL instance (cmd).

    Returns
    -------
    rgb : list of float
        ``[0, 0, 0]`` or ``[1, 1, 1]``.
    """
    background = _self.get_color_tuple(_self.get_setting_tuple("bg_rgb")[1][0])
    return [0.0] * 3 if float(np.dot(background, (0.299, 0.587, 0.114))) > 0.5 else [1.0] * 3


def rgb_of(color, _self) -> List[float]:
    """A colour as RGB floats: a PyMOL colour name or index, or 0-255 / 0-1 triplet.

    Parameters
    ----------
    color : str, int or sequence of float
        A PyMOL colour name or index, or an RGB triplet.
    _self : pymol.cmd
        The PyMOL instance (cmd).

    Returns
    -------
    rgb : list of float
        Each in [0, 1].
    """
    if isinstance(color, (tuple, list)):
        values = [float(c) for c in color]
        return [c / 255 for c in values] if max(values) > 1 else values
    return list(
        _self.get_color_tuple(_self.get_color_index(color) if isinstance(color, str) else color)
    )


def _text(
    cgo: list,
    frame: Frame,
    x: float,
    y: float,
    text: str,
    color: Sequence[float],
    scale: float = 1.0,
) -> None:
    from pymol import cgo as cgo_module
    from pymol import vfont

    size = frame.size * scale
    axes = [list(frame.right * size), list(frame.up * size), list(frame.toward * size)]
    cgo_module.cyl_text(
        cgo,
        vfont.plain,
        list(frame.point(x, y)),
        text,
        radius=0.07 * size,
        color=list(color),
        axes=axes,
    )


def _dashes(
    cgo: list, frame: Frame, x0: float, x1: float, y: float, radius: float, color: Sequence[float]
) -> None:
    """A sample dash line from x0 to x1 (text heights) at height y, as PyMOL draws dashes."""
    from pymol.cgo import CYLINDER

    step, dash = 0.5, 0.32
    x = x0
    while x + dash <= x1 + 1e-9:
        cgo.extend(
            [CYLINDER, *frame.point(x, y), *frame.point(x + dash, y), radius, *color, *color]
        )
        x += step


def _bar(
    cgo: list,
    frame: Frame,
    x0: float,
    x1: float,
    y: float,
    radius: float,
    colors: List[Sequence[float]],
) -> None:
    """A continuous bar from x0 to x1 through ``colors`` (a spectrum)."""
    from pymol.cgo import CYLINDER

    edges = np.linspace(x0, x1, len(colors))
    for k in range(len(colors) - 1):
        cgo.extend(
            [
                CYLINDER,
                *frame.point(edges[k], y),
                *frame.point(edges[k + 1], y),
                radius,
                *colors[k],
                *colors[k + 1],
            ]
        )


def text_width(text: str, scale: float = 1.0) -> float:
    """Width of stroked text in text heights.

    Parameters
    ----------
    text : str
        The text.
    scale : float
        Its size relative to one text height.

    Returns
    -------
    width : float
        In text heights.
    """
    from pymol import vfont

    return scale * sum(vfont.plain[c][0] for c in text if c in vfont.plain)


def _panel(frame: Frame, width: float, height: float, _self) -> list:
    """A backing panel in the background colour, a little behind the legend: it keeps the
    legend readable in images saved with a transparent background."""
    from pymol.cgo import BEGIN, COLOR, END, NORMAL, TRIANGLE_STRIP, VERTEX

    back = -0.3 * frame.size * frame.toward
    corners = [
        frame.point(-0.6, -0.5),
        frame.point(-0.6, height),
        frame.point(width, -0.5),
        frame.point(width, height),
    ]
    frame.corners = corners
    panel = [
        BEGIN,
        TRIANGLE_STRIP,
        COLOR,
        *_self.get_color_tuple(_self.get_setting_tuple("bg_rgb")[1][0]),
        NORMAL,
        *frame.toward,
    ]
    for corner in corners:
        panel.extend([VERTEX, *(corner + back)])
    return panel + [END]


def _load(cgo: list, name: str, _self) -> None:
    """(Re)write the CGO object ``name`` (state 1 replaced: it stays in its group)."""
    _self.load_cgo(cgo, name, state=1, zoom=0)


#: Row pitch in text heights.
ROW = 1.7


def drawing_rows(
    colors: Dict[str, Tuple[str, Tuple[int, int, int]]],
    counts: Dict[str, int],
    bins: List[Tuple[int, float, float, int]],
) -> List[Tuple[str, object, str]]:
    """The rows of a drawing's legend: (kind, swatch, text); kind is ``title``, ``color``
    (swatch: a category's colour) or ``width`` (swatch: the bin).

    Parameters
    ----------
    colors : dict
        Category -> (colour name, RGB 0-255), as :data:`.style.PALETTES`.
    counts : dict
        Dashes drawn per category.
    bins : list of tuple
        :func:`.drawing.bin_ranges` of the drawn pairs.

    Returns
    -------
    rows : list of tuple
        ``(kind, swatch, text)`` per row, top first.
    """
    rows: List[Tuple[str, object, str]] = [("title", None, "ESM contacts")]
    shown = [kind for kind in MEANINGS if counts.get(kind)] or list(MEANINGS)
    for kind in shown:
        # The stroke font's parentheses read as C: commas instead.
        meaning = MEANINGS[kind].replace(" (", ", ").replace(")", "")
        rows.append(("color", colors[kind][1], f"{meaning}  {counts.get(kind, 0)}"))
    if bins:
        rows.append(("title", None, "thickness, probability"))
        for k, low, high, count in bins:
            rows.append(("width", k, f"{low:.2f} to {high:.2f}  {count}"))
    return rows


def drawing_legend(
    key: str,
    name: str,
    target,
    colors,
    counts: Dict[str, int],
    bins: List[Tuple[int, float, float, int]],
    _self,
    frame: Optional[Frame] = None,
) -> Frame:
    """Draw a drawing's legend as the CGO object ``key`` beside the target's object.

    Parameters
    ----------
    key : str
        The CGO object to (re)write.
    name : str
        The drawing's name (the legend states nothing else of it).
    target : Target or None
        Its object places the legend (ignored when ``frame`` is given).
    colors : dict
        Category -> (colour name, RGB 0-255), as :data:`.style.PALETTES`.
    counts : dict
        Dashes drawn per category.
    bins : list
        :func:`.drawing.bin_ranges` of the drawn pairs.
    _self : pymol.cmd
        The PyMOL instance (cmd).
    frame : Frame, optional
        Where to draw (a redraw keeps its place); default beside the target's object.

    Returns
    -------
    frame : Frame
        Where the legend was drawn.
    """
    frame = frame or frame_beside(structure_of(target), _self)
    ink = text_color(_self)
    cgo: list = []
    thick = max(
        max(DASH_RADII), 0.12 * frame.size
    )  # category samples; bins in the dashes' proportions
    rows = drawing_rows(colors, counts, bins)
    width = max(
        text_width(text) if kind == "title" else 3.2 + text_width(text, 0.8)
        for kind, _, text in rows
    )
    cgo.extend(_panel(frame, width + 0.6, ROW * len(rows) + 0.2, _self))
    for row, (kind, swatch, text) in enumerate(rows):
        y = ROW * row + 1.0
        if kind == "title":
            _text(cgo, frame, 0.0, y, text, ink)
            continue
        if kind == "color":
            _dashes(cgo, frame, 0.0, 2.6, y - 0.4, thick, rgb_of(swatch, _self))
        else:
            _dashes(
                cgo, frame, 0.0, 2.6, y - 0.4, thick * DASH_RADII[swatch] / max(DASH_RADII), ink
            )
        _text(cgo, frame, 3.2, y, text, ink, 0.8)
    _load(cgo, key, _self)
    _DRAWN[name] = {
        "frame": frame,
        "colors": dict(colors),
        "counts": dict(counts),
        "bins": list(bins),
    }
    return frame


#: What each drawing's legend shows and where, to redraw it in place after a recolour.
_DRAWN: Dict[str, dict] = {}


def recolor_legend(name: str, kind: str, rgb: Sequence[float], _self) -> bool:
    """Redraw the legend of drawing ``name`` in place with category ``kind`` in ``rgb``
    (0-1); False when the session holds no legend of it drawn here.

    Parameters
    ----------
    name : str
        The drawing.
    kind : str
        ``tp``, ``fp`` or ``inter``.
    rgb : sequence of float
        The new colour, each in [0, 1].
    _self : pymol.cmd
        The PyMOL instance (cmd).

    Returns
    -------
    redrawn : bool
        False without a legend of that drawing.
    """
    spec = _DRAWN.get(name)
    if spec is None or f"{name}_key" not in _self.get_names("all"):
        return False
    colors = dict(spec["colors"])
    colors[kind] = (colors[kind][0], tuple(int(round(255 * float(c))) for c in rgb))
    drawing_legend(
        f"{name}_key", name, None, colors, spec["counts"], spec["bins"], _self, frame=spec["frame"]
    )
    return True


def check_legend(name: str, target, _self) -> str:
    """Draw the check's legend ``<name>_key`` beside the target's object and zoom to show
    both (orientation kept); returns its name.

    Parameters
    ----------
    name : str
        The check's name.
    target : Target
        The (first) model checked.
    _self : pymol.cmd
        The PyMOL instance (cmd).

    Returns
    -------
    key : str
        The legend's CGO object.
    """
    key = f"{name}_key"
    frame = frame_beside(structure_of(target), _self)
    ink = text_color(_self)
    spectrum = [[1.0, 0.0, 0.0], [1.0, 1.0, 1.0], [0.0, 0.0, 1.0]]
    lines = ["red not satisfied, blue satisfied", "no predicted contact"]
    width = max(
        6.0,
        text_width("ESM check, support"),
        text_width(lines[0], 0.6),
        3.2 + text_width(lines[1], 0.6),
    )
    cgo: list = _panel(frame, width + 0.6, 1.0 + 4 * ROW + 0.6, _self)
    _text(cgo, frame, 0.0, 1.0, "ESM check, support", ink)
    _bar(cgo, frame, 0.0, 6.0, 1.0 + ROW - 0.4, 0.25 * frame.size, spectrum)
    for x, label in (
        (0.0, "0"),
        (3.0 - text_width("0.5", 0.6) / 2, "0.5"),
        (6.0 - text_width("1", 0.6), "1"),
    ):
        _text(cgo, frame, x, 1.0 + 2 * ROW - 0.3, label, ink, 0.6)
    _text(cgo, frame, 0.0, 1.0 + 3 * ROW - 0.4, lines[0], ink, 0.6)
    _dashes(
        cgo,
        frame,
        0.0,
        2.6,
        1.0 + 4 * ROW - 0.6,
        0.25 * frame.size,
        rgb_of(CHECK_NO_EVIDENCE_COLOR, _self),
    )
    _text(cgo, frame, 3.2, 1.0 + 4 * ROW - 0.4, lines[1], ink, 0.6)
    _load(cgo, key, _self)
    _CHECK_LEGENDS[name] = key
    zoom_with(structure_of(target), frame, _self)
    return key


def check_legends(_self) -> Dict[str, str]:
    """Check legends still in the session: check name -> CGO object.

    Parameters
    ----------
    _self : pymol.cmd
        The PyMOL instance (cmd).

    Returns
    -------
    legends : dict
        Check name -> CGO object.
    """
    names = set(_self.get_names("objects"))
    return {name: key for name, key in _CHECK_LEGENDS.items() if key in names}
