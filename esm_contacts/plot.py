"""Figures with matplotlib: contact maps, per-residue support, regression head weights.

Every function builds its own :class:`matplotlib.figure.Figure` on an Agg canvas, so
nothing touches pyplot's global state (safe inside PyMOL's Qt event loop and in
notebooks), and writes the file atomically; the format (PNG or SVG, also PDF) follows
the extension.
"""

from pathlib import Path
from typing import Any, Optional, Sequence, Union

import numpy as np

from .io import atomic_write, check_output_path
from .metrics import CATEGORY_LABELS, MIN_SEP, RANGES, classify_pairs, evaluate, top_pairs

__all__ = [
    "FIGURE_SUFFIXES",
    "MARKER_COLORS",
    "check_figure_path",
    "plot_contact_map",
    "plot_residue_support",
    "plot_head_weights",
]

FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}
#: The figure file endings the functions write (the format follows the extension).
FIGURE_SUFFIXES = tuple(FORMATS)
# Marker colours of the top-ranked predictions; far from the grey map below them.
MARKER_COLORS = {"tp": "#1f78b4", "fp": "#e31a1c", "inter": "#d000d0"}
CONTACT_GREY = 0.3
UNKNOWN_RGB = (1.0, 0.93, 0.75)
INTER_RGB = (0.98, 0.78, 0.98)


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=150)
    FigureCanvasAgg(figure)
    return figure


def check_figure_path(path: Union[str, Path]) -> Path:
    """``path`` as a Path once it can take a figure: a known extension
    (.png, .svg, .pdf) and a writable place (:func:`esm_contacts.io.check_output_path`).

    Parameters
    ----------
    path : str or Path
        The figure file to be; the extension's case does not matter.

    Returns
    -------
    path : Path
        `path`, checked (nothing is created).

    Raises
    ------
    ValueError
        Another extension.
    IsADirectoryError
        `path` is a folder.
    FileNotFoundError
        Its folder does not exist.
    """
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise ValueError(
            f"{path}: unknown figure extension {path.suffix!r}; use .png, .svg or .pdf"
        )
    return check_output_path(path)


def _save(figure, path: Union[str, Path]) -> Path:
    path = check_figure_path(path)
    with atomic_write(path, "wb") as stream:
        figure.savefig(stream, format=FORMATS[path.suffix.lower()])
    return path


def _map_image(P: np.ndarray, T: np.ndarray, X: Optional[np.ndarray]) -> np.ndarray:
    """RGB image: probabilities (white to black) above the diagonal, truth below.

    Unlisted pairs (NaN, not predictions) stay white, empty.
    """
    L = P.shape[0]
    upper = np.triu(np.ones((L, L), dtype=bool), 1)
    lower = upper.T
    image = np.ones((L, L, 3))
    image[upper] = (1.0 - np.clip(np.nan_to_num(P[upper], nan=0.0), 0, 1))[:, None]
    if X is not None:
        image[lower & (X == 1) & (T != 1)] = INTER_RGB
    image[lower & (T == 1)] = CONTACT_GREY
    image[lower & (T == -1)] = UNKNOWN_RGB
    return image


def plot_contact_map(
    P: np.ndarray,
    T: np.ndarray,
    path: Union[str, Path],
    X: Optional[np.ndarray] = None,
    top: Union[str, int, None] = "L",
    min_sep: int = MIN_SEP,
    title: Optional[str] = None,
) -> Path:
    """Predicted probabilities above the diagonal, true contacts below, top pairs marked.

    Parameters
    ----------
    P : numpy.ndarray
        (L, L) predicted probabilities, drawn white (0) to black (1) for ``i < j``;
        NaN pairs (unlisted, e.g. from a sparse RR/CSV file) stay white and are
        never marked.
    T : numpy.ndarray
        (L, L) true contacts 1 / 0 / -1, drawn for ``i > j``: contacts dark grey,
        unknown pairs pale yellow.
    path : str or Path
        ``.png``, ``.svg`` or ``.pdf``.
    X : numpy.ndarray, optional
        (L, L) homodimer contacts; drawn pale magenta below the diagonal where they are
        not intra-chain contacts, and used to mark inter-chain-only predictions.
    top : str or int or None
        Predictions marked (:func:`esm_contacts.metrics.top_pairs`; unknown pairs skipped).
    min_sep : int
        Smallest separation of the marked predictions.
    title : str, optional
        Title; the long-range precision at L is appended.

    Returns
    -------
    path : Path
    """
    P, T = np.asarray(P, dtype=np.float64), np.asarray(T)
    if P.ndim != 2 or P.shape[0] != P.shape[1] or T.shape != P.shape:
        raise ValueError(
            f"contact map {P.shape} and true contacts {T.shape} must be the same (L, L) shape"
        )
    if X is not None and np.asarray(X).shape != P.shape:
        raise ValueError(
            f"inter-chain contacts {np.asarray(X).shape} do not match the map {P.shape}"
        )
    L = P.shape[0]
    long_range = evaluate(P, T, ranges={"long": RANGES["long"]})["long"]["L"]
    i, j, _ = top_pairs(P, top=top, min_sep=min_sep, T=T)
    labels = classify_pairs(i, j, T, X)

    figure = _figure(8.4, 5.6)
    axes = figure.add_axes([0.08, 0.09, 0.56, 0.82])
    axes.imshow(_map_image(P, T, X), interpolation="nearest", extent=(0.5, L + 0.5, L + 0.5, 0.5))
    axes.plot([0.5, L + 0.5], [0.5, L + 0.5], color="0.6", linewidth=0.5)
    # A marker about 1.3 cells wide, whatever L is: points per cell from the axes width.
    cell = axes.get_position().width * figure.get_figwidth() * 72 / max(L, 1)
    size = float(np.clip(1.3 * cell, 2.5, 9.0)) ** 2
    handles = []
    for kind in ("tp", "fp", "inter"):
        chosen = labels == kind
        handles.append(
            axes.scatter(
                j[chosen] + 1,
                i[chosen] + 1,
                s=size,
                marker="s",
                c=MARKER_COLORS[kind],
                linewidths=0,
                label=f"{CATEGORY_LABELS[kind]} ({int(chosen.sum())})",
            )
        )
    axes.set_xlim(0.5, L + 0.5)
    axes.set_ylim(L + 0.5, 0.5)
    axes.set_xlabel("residue j")
    axes.set_ylabel("residue i")
    shown = "all" if top is None or str(top) == "all" else str(top)
    figure.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(0.655, 0.91),
        fontsize=8,
        frameon=False,
        title=f"top {shown}, sep >= {min_sep}",
        title_fontsize=8,
        markerscale=max(1.0, 6.0 / np.sqrt(size)),
    )
    key = [
        ("upper: probability, white 0 (or unlisted) to black 1", (0.35, 0.35, 0.35)),
        ("lower: contact, Cb-Cb < 8 Å", (CONTACT_GREY,) * 3),
        ("lower: unknown (unobserved residue)", UNKNOWN_RGB),
    ]
    if X is not None:
        key.append(("lower: inter-chain contact only", INTER_RGB))
    for row, (text, color) in enumerate(key):
        y = 0.6 - 0.04 * row
        figure.add_artist(_key_patch(0.67, y, color))
        figure.text(0.695, y + 0.006, text, fontsize=7, va="center")
    precision = "-" if np.isnan(long_range) else f"{100 * long_range:.1f}%"
    heading = f"{title + ': ' if title else ''}L = {L}, long-range P@L = {precision}"
    axes.set_title(heading, fontsize=10)
    return _save(figure, path)


def _key_patch(x: float, y: float, color) -> Any:
    from matplotlib.patches import Rectangle

    return Rectangle((x, y), 0.02, 0.013, facecolor=color, edgecolor="0.5", linewidth=0.4)


def plot_residue_support(results: Sequence[Any], path: Union[str, Path]) -> Path:
    """Per-residue support of predicted contacts, one line per model, hints shaded.

    Parameters
    ----------
    results : sequence of esm_contacts.validation.Validation
        Objects with ``name``, ``support`` ((L,) float, NaN where a residue has no
        predicted contacts: drawn as a gap) and ``hints`` (``start``, ``end`` 1-based
        inclusive, ``shift``).
    path : str or Path
        ``.png``, ``.svg`` or ``.pdf``.

    Returns
    -------
    path : Path
    """
    if not results:
        raise ValueError("no validation results to plot")
    figure = _figure(8.0, 3.6)
    axes = figure.add_axes([0.08, 0.14, 0.7, 0.7])
    colors = [f"C{k % 10}" for k in range(len(results))]
    length = 1
    for k, (result, color) in enumerate(zip(results, colors)):
        support = np.asarray(result.support, dtype=np.float64)
        length = max(length, len(support))
        positions = np.arange(1, len(support) + 1)
        axes.plot(positions, support, color=color, linewidth=1.2, label=str(result.name))
        # Isolated residues (NaN on both sides) would vanish from a line plot.
        axes.plot(positions, support, color=color, linestyle="none", marker=".", markersize=2.5)
        for hint in getattr(result, "hints", []) or []:
            axes.axvspan(hint.start - 0.5, hint.end + 0.5, color=color, alpha=0.15, linewidth=0)
            axes.text(
                (hint.start + hint.end) / 2,
                1.01 + 0.05 * (k % 3),
                f"shift {hint.shift:+d}",
                color=color,
                ha="center",
                va="bottom",
                fontsize=7,
                transform=axes.get_xaxis_transform(),
            )
    axes.set_xlim(0.5, length + 0.5)
    axes.set_ylim(-0.05, 1.05)
    _residue_axis(axes, results[0])
    axes.set_ylabel("support of predicted contacts")
    axes.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False)
    axes.set_title(
        "Per-residue agreement with predicted contacts (shaded: register-shift hints)",
        fontsize=9,
        pad=24,
    )
    return _save(figure, path)


def _residue_axis(axes, result: Any) -> None:
    """Tick the x axis (1-based sequence positions) with the structure's residue labels
    (``"A:744"``, DESIGN "Residue labels") where the result carries them."""
    label = getattr(result, "residue", None)
    if not callable(label) or not getattr(result, "residue_numbers", None):
        axes.set_xlabel("sequence position")
        return
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    def tick(x, _position) -> str:
        k = int(round(x)) - 1
        if abs(x - round(x)) > 1e-6 or not 0 <= k < len(result.residue_numbers):
            return ""
        return label(k) or f"#{k + 1}"

    axes.xaxis.set_major_locator(MaxNLocator(nbins=10, integer=True))
    axes.xaxis.set_major_formatter(FuncFormatter(tick))
    axes.set_xlabel(
        "residue (chain:number in the structure; #n: sequence position without an observed residue)"
    )


def _weights(regression: Any) -> np.ndarray:
    weight = getattr(regression, "weight", regression)
    if hasattr(weight, "detach"):
        weight = weight.detach().cpu().numpy()
    weight = np.asarray(weight, dtype=np.float64)
    if weight.ndim != 2:
        raise ValueError(
            f"regression weights must be a (layers, heads) array, got shape {weight.shape}"
        )
    return weight


def plot_head_weights(regression: Any, path: Union[str, Path]) -> Path:
    """Logistic-regression weight of every attention head, layers x heads (paper Fig. 6b).

    Parameters
    ----------
    regression : object
        Anything with ``.weight`` of shape (layers, heads) (numpy array or tensor), or
        the array itself.
    path : str or Path
        ``.png``, ``.svg`` or ``.pdf``.

    Returns
    -------
    path : Path
    """
    weight = _weights(regression)
    layers, heads = weight.shape
    limit = float(np.abs(weight).max()) or 1.0
    figure = _figure(max(4.0, 0.28 * heads + 2.2), max(3.5, 0.2 * layers + 1.4))
    axes = figure.add_axes([0.14, 0.12, 0.66, 0.78])
    image = axes.imshow(
        weight,
        cmap="RdBu_r",
        vmin=-limit,
        vmax=limit,
        origin="lower",
        aspect="auto",
        interpolation="nearest",
        extent=(0.5, heads + 0.5, 0.5, layers + 0.5),
    )
    colorbar_axes = figure.add_axes([0.83, 0.12, 0.03, 0.78])
    figure.colorbar(image, cax=colorbar_axes, label="weight")
    from matplotlib.ticker import MaxNLocator

    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel("head")
    axes.set_ylabel("layer")
    nonzero = int(np.count_nonzero(weight))
    axes.set_title(
        f"Contact regression: {nonzero} of {weight.size} heads with non-zero weight", fontsize=9
    )
    return _save(figure, path)
