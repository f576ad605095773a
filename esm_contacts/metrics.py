"""Precision tables, AUC, calibration and false-positive analyses of contact maps.

**Definitions** (as in ``DESIGN.md``):

Separation and ranges
    ``s = |i - j|``; local [3, 6), short [6, 12), medium [12, 24), long [24, inf).
Precision at L/k in a range
    The pairs ``i < j`` of the range whose truth is known (``T >= 0``) are ranked by
    predicted probability (ties: lower i, then lower j first); the top ``floor(L/k)``
    are taken and the true contacts among them counted, divided by ``floor(L/k)``.
    ``L`` is the length of the predicted sequence (``P.shape[0]``). When a range has
    fewer candidates than ``floor(L/k)`` the missing ones count as false. When
    ``floor(L/k)`` is 0 (``L < k``) the precision is undefined: NaN.
AUC
    The mean of the precisions at the top ``floor(m * L / 10)`` pairs for
    ``m = 1 .. 10`` (0.1 L, 0.2 L, ..., L; integer arithmetic, so no rounding
    surprise at 0.3 L), over the cut-offs that are not 0.

Unlisted pairs
    NaN in ``P`` marks a pair that is not a prediction (a pair an RR or CSV file does
    not list, :func:`esm_contacts.io.read_contacts`). Such pairs take no place in any
    ranking: every ranking here goes through one function (:func:`rank_cells`, behind
    :func:`top_pairs`) that leaves them out, so a file with fewer pairs than a cut-off
    scores the missing ones as misses (the ``floor(L/k)`` denominators stay), and
    ``top="all"`` means all listed pairs. Infinite values are refused.

Truth matrices ``T`` are int (L, L): 1 contact, 0 no contact, -1 unknown, as
:func:`esm_contacts.structure.true_contacts` returns them. Only the upper triangle of
``P`` and ``T`` is read.
"""

import math
import re
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

__all__ = [
    "RANGES",
    "TOPS",
    "MIN_SEP",
    "range_of",
    "range_mask",
    "parse_top",
    "precision_at",
    "top_pairs",
    "ranked_pairs",
    "rank_cells",
    "separation_band",
    "listed_pairs",
    "evaluate",
    "evaluate_set",
    "format_table",
    "table_columns",
    "calibration",
    "false_positive_distances",
    "classify_pairs",
    "CATEGORY_COLORS",
    "CATEGORY_PALETTES",
    "CATEGORY_LABELS",
    "CATEGORY_MEANINGS",
    "DEFAULT_PALETTE",
    "homodimer_explained",
]

RANGES: Dict[str, Tuple[int, Optional[int]]] = {
    "local": (3, 6),
    "short": (6, 12),
    "medium": (12, 24),
    "long": (24, None),
}
TOPS: Tuple[str, ...] = ("L", "L/2", "L/5")
#: Smallest sequence separation listed, scored and trained on by default: where the short
#: range starts (DESIGN.md); every ``min_sep`` default and ``--min-sep`` reads it.
MIN_SEP = RANGES["short"][0]
AUC_STEPS = 10

Table = Dict[str, Dict[str, float]]


def range_of(separation: int) -> str:
    """The range name of a sequence separation; ``"-"`` below 3.

    Parameters
    ----------
    separation : int
        ``|i - j|``.

    Returns
    -------
    name : str
        ``"local"``, ``"short"``, ``"medium"``, ``"long"`` or ``"-"``.

    Examples
    --------
    >>> [range_of(s) for s in (2, 4, -8, 12, 30)]
    ['-', 'local', 'short', 'medium', 'long']
    """
    separation = abs(int(separation))
    for name, (low, high) in RANGES.items():
        if separation >= low and (high is None or separation < high):
            return name
    return "-"


def range_mask(separation: np.ndarray, low: int, high: Optional[int]) -> np.ndarray:
    """bool array: which separations lie in ``[low, high)`` (``high`` None: no upper bound).

    Parameters
    ----------
    separation : numpy.ndarray
        Separations ``j - i`` (signed; their absolute value is used, as :func:`range_of`).
    low : int
        Smallest separation, inclusive.
    high : int or None
        Upper bound, exclusive.

    Returns
    -------
    mask : numpy.ndarray
        bool, the shape of ``separation``. ``range_mask(s, *RANGES[name])`` is
        ``range_of(s) == name`` element-wise.
    """
    separation = np.abs(np.asarray(separation))
    mask = separation >= low
    if high is not None:
        mask &= separation < high
    return mask


_TOP_PATTERN = re.compile(r"^\s*(\d+)?\s*L\s*(?:/\s*(\d+))?\s*$", re.IGNORECASE)


def parse_top(top: Union[str, int, None], length: int) -> Optional[int]:
    """How many pairs a ``top`` argument means for a sequence of ``length`` residues.

    Parameters
    ----------
    top : str or int or None
        ``"L"``, ``"L/k"`` (k a positive integer: ``floor(L/k)``), ``"nL"`` (n a positive
        integer: ``n * L``; ``"2L"``, and ``"nL/k"``: ``floor(n * L / k)``), a positive
        integer or digit string, ``"all"`` or None (no limit).
    length : int
        Sequence length L.

    Returns
    -------
    count : int or None
        None for no limit.

    Raises
    ------
    ValueError
        Anything else (``"L/0"``, ``"-3"``, ``"L/2.5"``, ``"half"``).

    Examples
    --------
    >>> parse_top("L", 100), parse_top("L/5", 100), parse_top("2L", 100), parse_top(7, 100)
    (100, 20, 200, 7)
    >>> parse_top("all", 100) is None
    True
    >>> parse_top("L/0", 100)
    Traceback (most recent call last):
    ...
    ValueError: top 'L/0': k in L/k must be at least 1
    """
    if top is None:
        return None
    if isinstance(top, (bool, np.bool_)):
        raise ValueError(f"top must be L, nL, L/k, a positive number or 'all', got {top!r}")
    if isinstance(top, (int, np.integer)):
        if top < 1:
            raise ValueError(f"top must be a positive number of pairs, got {top}")
        return int(top)
    text = str(top).strip()
    if text.lower() == "all":
        return None
    if text.isdigit():
        return parse_top(int(text), length)
    match = _TOP_PATTERN.match(text)
    if match is None:
        raise ValueError(f"top must be L, nL, L/k, a positive number or 'all', got {top!r}")
    n = int(match.group(1)) if match.group(1) else 1
    k = int(match.group(2)) if match.group(2) else 1
    if k < 1:
        raise ValueError(f"top {top!r}: k in L/k must be at least 1")
    if n < 1:
        raise ValueError(f"top {top!r}: n in nL must be at least 1")
    return n * int(length) // k


def _check_pair(P: np.ndarray, T: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    P, T = np.asarray(P), np.asarray(T)
    if P.ndim != 2 or P.shape[0] != P.shape[1]:
        raise ValueError(f"predicted map must be square (L, L), got shape {P.shape}")
    if T.shape != P.shape:
        raise ValueError(
            f"predicted map is {P.shape[0]} x {P.shape[1]} but the true contacts are {T.shape[0]} x"
            f" {T.shape[1]}"
            if T.ndim == 2
            else f"true contacts must be an (L, L) matrix, got shape {T.shape}"
        )
    if T.size and (T.min() < -1 or T.max() > 1 or not np.array_equal(T, np.round(T))):
        raise ValueError("true contacts must hold only 1 (contact), 0 (none) and -1 (unknown)")
    # NaN is an unlisted pair (left out of every ranking by rank_cells); infinity is no probability.
    if P.size and np.isinf(P).any():
        raise ValueError("predicted map has infinite values")
    return P, T.astype(np.int8, copy=False)


def top_pairs(
    P: np.ndarray,
    top: Union[str, int, None] = "L",
    min_sep: int = MIN_SEP,
    threshold: Optional[float] = None,
    max_sep: Optional[int] = None,
    T: Optional[np.ndarray] = None,
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The highest-ranked pairs of a contact map; unlisted (NaN) pairs are never among them.

    Parameters
    ----------
    P : numpy.ndarray
        (L, L) probabilities; the upper triangle is read. NaN: not a prediction.
    top : str or int or None
        How many pairs (:func:`parse_top`), counted after the other filters; fewer
        when fewer pairs are listed. ``"all"``/None: every listed pair.
    min_sep : int
        Smallest separation ``j - i`` (at least 1).
    threshold : float, optional
        Only pairs with probability >= threshold.
    max_sep : int, optional
        Separations below this bound only (exclusive, as the range bounds).
    T : numpy.ndarray, optional
        Truth; pairs with ``T[i, j] == -1`` are skipped before cutting.

    Returns
    -------
    i, j : numpy.ndarray
        int64, 0-based, ``i < j``, highest probability first (ties: lower i, then j).
    p : numpy.ndarray
        float, their probabilities.

    Raises
    ------
    ValueError
        `P` is not square or has infinite values, `top` is not valid (:func:`parse_top`),
        or `T` has another shape.

    Examples
    --------
    An 8-residue map: pair (0, 1) is too close, (0, 7) is not listed (NaN), and the two
    pairs tied at 0.9 come lower i first.

    >>> import numpy as np
    >>> P = np.zeros((8, 8))
    >>> P[0, 1] = 0.99
    >>> P[0, 6] = P[1, 7] = 0.9
    >>> P[0, 7] = np.nan
    >>> i, j, p = top_pairs(P, top=3, min_sep=6)
    >>> i.tolist(), j.tolist(), p.tolist()
    ([0, 1], [6, 7], [0.9, 0.9])
    """
    P = np.asarray(P)
    if P.ndim != 2 or P.shape[0] != P.shape[1]:
        raise ValueError(f"predicted map must be square (L, L), got shape {P.shape}")
    if P.size and np.isinf(P).any():
        raise ValueError("predicted map has infinite values")
    count = parse_top(top, P.shape[0])
    band = separation_band(P.shape[0], min_sep, max_sep)
    if T is not None:
        T = np.asarray(T)
        if T.shape != P.shape:
            raise ValueError(
                f"predicted map is {P.shape[0]} x {P.shape[0]} but the true contacts are {T.shape}"
            )
        band &= T >= 0
    if threshold is not None:
        band &= P >= threshold
    i, j = rank_cells(P, band, count)
    return i, j, P[i, j].astype(np.float64)


def listed_pairs(P: np.ndarray, min_sep: int = MIN_SEP, max_sep: Optional[int] = None) -> int:
    """How many pairs ``i < j`` with ``min_sep <= j - i < max_sep`` a map lists (not NaN).

    A dense map lists every such pair; one read from an RR/CSV file the pairs it holds.

    Parameters
    ----------
    P : numpy.ndarray
        (L, L) probabilities, NaN where unlisted.
    min_sep, max_sep : int
        Separation bounds (``max_sep`` exclusive, None: no bound).

    Returns
    -------
    count : int
        Listed pairs in the band.

    Examples
    --------
    >>> import numpy as np
    >>> P = np.zeros((8, 8))
    >>> P[0, 7] = np.nan  # of the 3 pairs with j - i >= 6, one is unlisted
    >>> listed_pairs(P, min_sep=6)
    2
    """
    P = np.asarray(P)
    return int(np.count_nonzero(_listed(P, separation_band(P.shape[0], min_sep, max_sep))))


def _separations(length: int) -> np.ndarray:
    """int32 (L, L): the signed separation ``j - i`` of every cell (a 5000-residue map: 100 MB)."""
    index = np.arange(length, dtype=np.int32)
    return index[None, :] - index[:, None]


def separation_band(
    length: int,
    min_sep: int,
    max_sep: Optional[int] = None,
    separation: Optional[np.ndarray] = None,
) -> np.ndarray:
    """bool (L, L): the cells ``i < j`` with ``min_sep <= j - i < max_sep``.

    Parameters
    ----------
    length : int
        Residues of the map.
    min_sep : int
        Smallest separation (at least 1).
    max_sep : int, optional
        Separations below this bound only (exclusive); None: no bound.
    separation : numpy.ndarray, optional
        The signed separations ``j - i`` of every cell, to save recomputing them per call.

    Returns
    -------
    band : numpy.ndarray
        bool (L, L).
    """
    if separation is None:
        separation = _separations(length)
    band = separation >= max(int(min_sep), 1)
    if max_sep is not None:
        band &= separation < max_sep
    return band


def _listed(P: np.ndarray, band: np.ndarray) -> np.ndarray:
    """bool (L, L): the cells of ``band`` that are predictions (not NaN, i.e. listed)."""
    return band & ~np.isnan(P) if P.dtype.kind == "f" else band


def rank_cells(
    P: np.ndarray, band: np.ndarray, count: Optional[int]
) -> Tuple[np.ndarray, np.ndarray]:
    """The top ``count`` listed cells of ``band`` (all when None) by probability; ties: lower i,
    then j.

    The one ranking of the package (:func:`top_pairs`, :func:`ranked_pairs`,
    :func:`evaluate` and the predictor's windows call it): NaN cells (unlisted pairs,
    not predictions) are left out here, so a map with fewer listed pairs than ``count``
    gives fewer pairs. With a count only the cells at or above the count-th highest
    probability are sorted (all cells tied with it included, so ties still break by
    i, then j): O(L^2) instead of O(L^2 log L).

    Parameters
    ----------
    P : numpy.ndarray
        (L, L) probabilities (or a block of rows), NaN where unlisted.
    band : numpy.ndarray
        bool, the shape of `P`: the cells that may rank.
    count : int or None
        How many cells; None: all.

    Returns
    -------
    i, j : numpy.ndarray
        int64 row and column indices, highest probability first.
    """
    if count is not None and count <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    band = _listed(P, band)
    if count is not None:
        values = P[band]
        if count < values.size:
            threshold = np.partition(values, values.size - count)[values.size - count]
            band = band & (P >= threshold)
    i, j = np.nonzero(band)
    order = np.lexsort((j, i, -P[i, j].astype(np.float64)))
    if count is not None:
        order = order[:count]
    return i[order].astype(np.int64), j[order].astype(np.int64)


def ranked_pairs(P: np.ndarray, min_sep: int = MIN_SEP) -> Tuple[np.ndarray, np.ndarray]:
    """All listed pairs ``i < j`` with ``j - i >= min_sep``, by probability (ties: lower i, then j).

    The ranking of :func:`top_pairs` with no cut: NaN (unlisted) pairs are left out.

    Parameters
    ----------
    P : numpy.ndarray
        (L, L) probabilities, NaN where unlisted.
    min_sep : int
        Smallest separation.

    Returns
    -------
    i, j : numpy.ndarray
        0-based indices, highest probability first.
    """
    P = np.asarray(P)
    return rank_cells(P, separation_band(P.shape[0], min_sep), None)


def _precision_at(cumulative: np.ndarray, count: int) -> float:
    if count <= 0:
        return float("nan")
    available = min(count, len(cumulative))
    hits = cumulative[available - 1] if available else 0
    return float(hits) / count


def precision_at(
    P: np.ndarray,
    T: np.ndarray,
    top: Union[str, int, None] = "L",
    min_sep: int = MIN_SEP,
    max_sep: Optional[int] = None,
) -> Tuple[int, int]:
    """True contacts among the top-ranked known pairs, and how many pairs were due.

    As the module's precision: the listed pairs ``i < j`` with ``min_sep <= j - i < max_sep``
    (``max_sep`` exclusive, None for no bound) whose truth is known are ranked
    (:func:`top_pairs`) and cut at ``parse_top(top, L)``; missing candidates (unlisted
    pairs included) count false.

    Parameters
    ----------
    P, T : numpy.ndarray
        Prediction and truth (L, L).
    top : str or int or None
        The cut (:func:`parse_top`); ``"all"`` or None: every listed known pair of the band.
    min_sep, max_sep : int
        Separation bounds.

    Returns
    -------
    hits, count : int
        The precision is ``hits / count`` (undefined when ``count`` is 0, ``L < k``).

    Raises
    ------
    ValueError
        `P` not square or with infinite values, `T` of another shape or with values
        other than 1, 0 and -1, or an invalid `top`.

    Examples
    --------
    Top 3 of an 8-residue map with 3 pairs at j - i >= 6: two are listed, one of them a
    true contact; the unlisted pair (0, 7) is not ranked and counts as a miss.

    >>> import numpy as np
    >>> P = np.zeros((8, 8))
    >>> P[0, 6] = P[1, 7] = 0.9
    >>> P[0, 7] = np.nan
    >>> T = np.zeros((8, 8), dtype=int)
    >>> T[1, 7] = T[7, 1] = 1
    >>> precision_at(P, T, top=3)
    (1, 3)
    """
    P, T = _check_pair(P, T)
    i, j, _ = top_pairs(P, top=top, min_sep=min_sep, max_sep=max_sep, T=T)
    count = parse_top(top, P.shape[0])
    return int(np.count_nonzero(T[i, j] == 1)), len(i) if count is None else count


def evaluate(
    P: np.ndarray,
    T: np.ndarray,
    ranges: Mapping[str, Tuple[int, Optional[int]]] = RANGES,
    min_sep: Optional[int] = None,
) -> Table:
    """Precision at L, L/2, L/5 and the AUC per separation range.

    Parameters
    ----------
    P : numpy.ndarray
        (L, L) predicted probabilities; NaN pairs are unlisted (never ranked, so they
        count as misses within the ``floor(L/k)`` cut-offs).
    T : numpy.ndarray
        (L, L) truth, 1 / 0 / -1 (unknown).
    ranges : mapping
        Range name -> ``(low, high)`` separations, ``high`` exclusive or None.
    min_sep : int, optional
        Ignore separations below this: ranges are cut to start at ``min_sep``, and
        ranges that lie wholly below it are left out of the table.

    Returns
    -------
    table : dict
        ``{range: {"L": .., "L/2": .., "L/5": .., "auc": ..}}``, fractions in [0, 1];
        NaN where ``floor(L/k)`` is 0.
    """
    P, T = _check_pair(P, T)
    L = P.shape[0]
    separation = _separations(L)
    known = T >= 0
    table: Table = {}
    for name, (low, high) in ranges.items():
        if min_sep is not None:
            if high is not None and high <= min_sep:
                continue
            low = max(low, min_sep)
        band = known & separation_band(L, low, high, separation)
        # Every cut-off (L/k and the AUC steps) is at most L pairs deep.
        i, j = rank_cells(P, band, L)
        cumulative = np.cumsum(T[i, j] == 1)
        row = {top: _precision_at(cumulative, parse_top(top, L)) for top in TOPS}
        steps = [_precision_at(cumulative, m * L // AUC_STEPS) for m in range(1, AUC_STEPS + 1)]
        steps = [value for value in steps if not math.isnan(value)]
        row["auc"] = float(np.mean(steps)) if steps else float("nan")
        table[name] = row
    return table


def _is_table(value: Any) -> bool:
    return (
        isinstance(value, Mapping)
        and bool(value)
        and all(isinstance(row, Mapping) and "L" in row for row in value.values())
    )


def evaluate_set(
    rows: Sequence[Union[Tuple, Mapping[str, Any]]],
    ranges: Mapping[str, Tuple[int, Optional[int]]] = RANGES,
    min_sep: Optional[int] = None,
) -> Tuple[List[Dict[str, Any]], Union[Table, Dict[str, Table]]]:
    """Evaluate many proteins and average their tables.

    Parameters
    ----------
    rows : sequence
        ``(name, P, T)`` tuples, ``(name, variant, P, T)`` tuples, or dicts with keys
        ``name``, ``P``, ``T`` and optionally ``variant`` (the model or method; the
        rows of the paper's tables).
    ranges, min_sep
        As :func:`evaluate`.

    Returns
    -------
    per_protein : list of dict
        One per row: ``name``, ``variant`` (None when not given), ``length`` and
        ``table`` (:func:`evaluate`).
    mean : dict
        The mean table over proteins (NaN entries, e.g. L/5 of a protein shorter than 5
        residues, are left out of the mean). When any row names a variant, a dict
        ``{variant: mean table}`` in first-seen order instead, ready for
        :func:`format_table`.
    """
    per_protein: List[Dict[str, Any]] = []
    for number, row in enumerate(rows, start=1):
        if isinstance(row, Mapping):
            missing = {"name", "P", "T"} - set(row)
            if missing:
                raise ValueError(f"row {number}: missing {', '.join(sorted(missing))}")
            name, variant, P, T = row["name"], row.get("variant"), row["P"], row["T"]
        elif len(row) == 3:
            (name, P, T), variant = row, None
        elif len(row) == 4:
            name, variant, P, T = row
        else:
            raise ValueError(
                f"row {number}: expected (name, P, T), (name, variant, P, T) or a dict"
            )
        try:
            table = evaluate(P, T, ranges=ranges, min_sep=min_sep)
        except ValueError as error:
            raise ValueError(f"{name}: {error}") from None
        per_protein.append(
            {
                "name": name,
                "variant": variant,
                "length": int(np.asarray(P).shape[0]),
                "table": table,
            }
        )
    if not per_protein:
        raise ValueError("no proteins to evaluate")
    if any(row["variant"] is not None for row in per_protein):
        variants = list(dict.fromkeys(row["variant"] for row in per_protein))
        return per_protein, {
            str(v): _mean_table([row["table"] for row in per_protein if row["variant"] == v])
            for v in variants
        }
    return per_protein, _mean_table([row["table"] for row in per_protein])


def _mean_table(tables: Sequence[Table]) -> Table:
    mean: Table = {}
    for name in tables[0]:
        mean[name] = {}
        for column in tables[0][name]:
            values = np.array([t[name][column] for t in tables], dtype=np.float64)
            values = values[~np.isnan(values)]
            mean[name][column] = float(values.mean()) if values.size else float("nan")
    return mean


def table_columns(table: Table, columns: Sequence[str] = TOPS + ("auc",)) -> Dict[str, float]:
    """A table flattened to ``{"long_L": .., "long_L/2": .., ...}`` (CSV columns).

    Parameters
    ----------
    table : dict
        One table from :func:`evaluate`: ``{range: {column: value}}``.
    columns : sequence of str
        The columns to keep, in this order within each range; absent ones are skipped.

    Returns
    -------
    flat : dict of str to float
        ``{f"{range}_{column}": value}``, ranges in the table's order.

    Examples
    --------
    >>> table_columns({"long": {"L": 0.5, "L/2": 0.75, "auc": 0.6}}, columns=("L", "auc"))
    {'long_L': 0.5, 'long_auc': 0.6}
    """
    return {
        f"{name}_{column}": row[column]
        for name, row in table.items()
        for column in columns
        if column in row
    }


def format_table(
    tables: Union[Table, Mapping[str, Table]],
    percent: bool = True,
    columns: Sequence[str] = TOPS,
    label: str = "",
) -> str:
    """Precision tables in the paper's layout: rows variants, columns ranges x L, L/2, L/5.

    Parameters
    ----------
    tables : dict
        One table from :func:`evaluate`, or ``{variant: table}``.
    percent : bool
        Percentages with one decimal (as the paper) instead of fractions.
    columns : sequence of str
        Columns under each range (``"auc"`` may be added).
    label : str
        Row label of a single table (and header of the row-label column).

    Returns
    -------
    text : str
        Two header lines (ranges, then columns) and a line per variant; ``-`` for NaN.
    """
    if _is_table(tables):
        tables = {label or "precision": tables}
    if not tables:
        raise ValueError("no tables to format")
    ranges = list(next(iter(tables.values())))
    width = 6
    name_width = max(10, *(len(str(v)) for v in tables))
    group = (width + 1) * len(columns) - 1
    lines = [
        f"{'':{name_width}}  " + " | ".join(f"{r:^{group}}" for r in ranges),
        f"{'':{name_width}}  "
        + " | ".join(" ".join(f"{c:>{width}}" for c in columns) for r in ranges),
    ]

    def cell(value: float) -> str:
        if value is None or math.isnan(value):
            return f"{'-':>{width}}"
        return f"{100 * value:{width}.1f}" if percent else f"{value:{width}.3f}"

    for variant, table in tables.items():
        missing = [r for r in ranges if r not in table]
        if missing:
            raise ValueError(f"table {variant!r} lacks the range(s) {', '.join(missing)}")
        lines.append(
            f"{str(variant):{name_width}}  "
            + " | ".join(
                " ".join(cell(table[r].get(c, float("nan"))) for c in columns) for r in ranges
            )
        )
    return "\n".join(lines)


def _known_pairs(P: np.ndarray, T: np.ndarray, min_sep: int) -> Tuple[np.ndarray, np.ndarray]:
    """The listed pairs (:func:`_listed`) ``i < j`` of known truth with ``j - i >= min_sep``."""
    return np.nonzero(_listed(P, separation_band(P.shape[0], min_sep) & (T >= 0)))


def calibration(
    P: np.ndarray, T: np.ndarray, bins: int = 20, min_sep: int = MIN_SEP
) -> Dict[str, np.ndarray]:
    """Reliability curve of the probabilities: observed contact rate per probability bin.

    Parameters
    ----------
    P, T : numpy.ndarray
        Prediction and truth (L, L); listed (not NaN) pairs ``i < j`` with
        ``j - i >= min_sep`` and known truth are used.
    bins : int
        Equal-width bins over [0, 1]; probability 1 falls into the last bin.
    min_sep : int
        Smallest separation.

    Returns
    -------
    result : dict
        ``bin_centers``, ``mean_predicted`` (mean probability in each bin),
        ``observed`` (fraction of true contacts), ``counts`` (pairs per bin); NaN for
        empty bins. ``mse``: the mean over non-empty bins of
        ``(observed - mean_predicted)^2``, 0 for a perfectly calibrated predictor.
    """
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    P, T = _check_pair(P, T)
    i, j = _known_pairs(P, T, min_sep)
    p = P[i, j].astype(np.float64)
    truth = (T[i, j] == 1).astype(np.float64)
    index = np.clip((p * bins).astype(np.int64), 0, bins - 1)
    counts = np.bincount(index, minlength=bins)
    sums = np.bincount(index, weights=p, minlength=bins)
    hits = np.bincount(index, weights=truth, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_predicted = np.where(counts > 0, sums / counts, np.nan)
        observed = np.where(counts > 0, hits / counts, np.nan)
    filled = counts > 0
    mse = (
        float(np.mean((observed[filled] - mean_predicted[filled]) ** 2))
        if filled.any()
        else float("nan")
    )
    return {
        "bin_centers": (np.arange(bins) + 0.5) / bins,
        "mean_predicted": mean_predicted,
        "observed": observed,
        "counts": counts,
        "mse": mse,
    }


def false_positive_distances(
    P: np.ndarray, T: np.ndarray, top: Union[str, int, None] = "L", min_sep: int = MIN_SEP
) -> np.ndarray:
    """Manhattan distance of each top-ranked false positive to the nearest true contact.

    Parameters
    ----------
    P, T : numpy.ndarray
        Prediction and truth (L, L).
    top : str or int or None
        Predictions considered (:func:`top_pairs` with the truth: unknown pairs skipped).
    min_sep : int
        Smallest separation of the predictions and of the true contacts measured to.

    Returns
    -------
    distances : numpy.ndarray
        float, one per false positive in ranking order: ``min |i - a| + |j - b|`` over
        true contacts ``(a, b)`` with ``|a - b| >= min_sep`` (either triangle); inf when
        the chain has no such contact.
    """
    from scipy.ndimage import distance_transform_cdt

    P, T = _check_pair(P, T)
    i, j, _ = top_pairs(P, top=top, min_sep=min_sep, T=T)
    false = T[i, j] == 0
    i, j = i[false], j[false]
    # int32 separations: np.indices would hold two int64 (L, L) arrays (400 MB at L = 5000).
    index = np.arange(P.shape[0], dtype=np.int32)
    separation = np.subtract.outer(index, index)
    contacts = (T == 1) & (np.abs(separation, out=separation) >= min_sep)
    del separation
    if not contacts.any():
        return np.full(len(i), np.inf)
    # The transform measures each element's distance to the nearest zero: contacts are zeros.
    distance = distance_transform_cdt(~contacts, metric="taxicab")
    return distance[i, j].astype(np.float64)


#: Colours of the categories of :func:`classify_pairs`, the one table (PyMOL dashes, legend and
#: contact-map panel; ChimeraX pseudobonds): palette -> category -> (PyMOL colour name, RGB 0-255).
#: Okabe & Ito (2008): sky blue, vermillion, reddish purple stay apart from each other, from
#: PyMOL's default green carbons and from the black background, also for deuteranopes
#: (CIE76 differences in tests/test_pymol_legend.py). "classic" is the earlier green/red/magenta.
#: The categories of :func:`classify_pairs` by name, in every legend, panel, table and plot.
CATEGORY_LABELS: Dict[str, str] = {
    "tp": "true contact",
    "fp": "false positive",
    "inter": "homodimer contact",
    "unknown": "unobserved residue",
}
#: What each drawn category means, where a legend explains it (PyMOL's legend and dialogs).
CATEGORY_MEANINGS: Dict[str, str] = {
    "tp": "in the structure (Cb-Cb < 8 A)",
    "fp": "not in the structure",
    "inter": "with another chain (homodimer)",
}
CATEGORY_PALETTES: Dict[str, Dict[str, Tuple[str, Tuple[int, int, int]]]] = {
    "okabe-ito": {
        "tp": ("esm_skyblue", (86, 180, 233)),
        "fp": ("esm_vermillion", (213, 94, 0)),
        "inter": ("esm_purple", (204, 121, 167)),
    },
    "classic": {
        "tp": ("green", (0, 255, 0)),
        "fp": ("red", (255, 0, 0)),
        "inter": ("magenta", (255, 0, 255)),
    },
}
DEFAULT_PALETTE = "okabe-ito"
#: Category -> ``#rrggbb`` of the default palette (ChimeraX pseudobond files).
CATEGORY_COLORS = {
    kind: "#%02x%02x%02x" % rgb for kind, (_, rgb) in CATEGORY_PALETTES[DEFAULT_PALETTE].items()
}


def classify_pairs(
    i: np.ndarray, j: np.ndarray, T: np.ndarray, X: Optional[np.ndarray] = None
) -> np.ndarray:
    """Label predicted pairs against intra-chain truth and inter-chain (homodimer) contacts.

    Parameters
    ----------
    i, j : numpy.ndarray
        0-based pairs.
    T : numpy.ndarray
        (L, L) intra-chain truth, 1 / 0 / -1.
    X : numpy.ndarray, optional
        (L, L) homodimer contacts (:func:`esm_contacts.structure.homodimer_contacts`).

    Returns
    -------
    labels : numpy.ndarray
        str per pair: ``"tp"`` (T == 1), ``"inter"`` (T == 0 and X == 1), ``"fp"``
        (T == 0 otherwise), ``"unknown"`` (T == -1).
    """
    i, j = np.asarray(i, dtype=np.int64), np.asarray(j, dtype=np.int64)
    truth = np.asarray(T)[i, j]
    labels = np.full(len(i), "fp", dtype="<U7")
    labels[truth == 1] = "tp"
    labels[truth == -1] = "unknown"
    if X is not None:
        X = np.asarray(X)
        if X.shape != np.asarray(T).shape:
            raise ValueError(
                f"inter-chain contacts are {X.shape} but the true contacts are"
                f" {np.asarray(T).shape}"
            )
        labels[(truth == 0) & (X[i, j] == 1)] = "inter"
    return labels


def homodimer_explained(
    P: np.ndarray,
    T: np.ndarray,
    X: np.ndarray,
    top: Union[str, int, None] = "L",
    min_sep: int = MIN_SEP,
) -> Dict[str, Any]:
    """How many top-ranked false positives are contacts between chains of a homodimer.

    Parameters
    ----------
    P, T : numpy.ndarray
        Prediction and intra-chain truth (L, L).
    X : numpy.ndarray
        Homodimer contacts (L, L), 1 / 0 / -1.
    top, min_sep
        Predictions considered (:func:`top_pairs`, unknown pairs skipped).

    Returns
    -------
    result : dict
        ``count`` (false positives that are inter-chain contacts), ``false_positives``
        (all false positives), ``fraction`` (count / false_positives, NaN without
        false positives) and ``pairs`` (list of 0-based ``(i, j)`` in ranking order).
    """
    P, T = _check_pair(P, T)
    i, j, _ = top_pairs(P, top=top, min_sep=min_sep, T=T)
    labels = classify_pairs(i, j, T, X)
    false = np.isin(labels, ("fp", "inter"))
    inter = labels == "inter"
    count, total = int(inter.sum()), int(false.sum())
    return {
        "count": count,
        "false_positives": total,
        "fraction": count / total if total else float("nan"),
        "pairs": [(int(a), int(b)) for a, b in zip(i[inter], j[inter])],
    }
