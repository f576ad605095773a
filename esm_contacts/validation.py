"""Does a structure agree with its predicted contacts? Global, per residue, register shifts.

**Definitions**:

Predicted contacts
    The chosen pairs ``i < j`` (``j - i >= min_sep``): the top ``top`` pairs by
    probability, or, with ``threshold``, those with probability >= threshold (both
    limits apply when both are given).
Satisfied
    The model's Cb-Cb distance of the pair is < 8 A (virtual Cb, as DESIGN.md).
    Pairs with an unobserved residue are unknown: as in DESIGN.md's precision, only
    pairs whose truth is known are ranked, so they do not take top-L places; their
    number among the plain top ``top`` is reported as ``unknown``.
Agreement
    Fraction of the (known) predicted contacts the model satisfies, overall and per
    range; ``model_supported``: fraction of the model's own contacts (per range) that
    are among the predicted contacts.
Support of residue i
    ``sum_j P_ij [ij satisfied] / sum_j P_ij`` over the known predicted contacts
    involving i: 1 when the model satisfies all of them, 0 when none; NaN for a residue
    without predicted contacts (no evidence either way).
Register-shift hint
    For windows of ``window`` residues (step ``window // 3``) and shifts ``s`` in
    +-1..+-4, the model's coordinates of residue ``k`` are reassigned to residue ``k + s``
    for every ``k`` in the window, and the predicted contacts between the window and the
    rest of the chain are counted again. A window is hinted when the best shift
    satisfies at least ``min_gain`` (3) more of them than the model as built, and at
    least twice as many. A correct model satisfies most of its predicted contacts as
    built, so no shift can gain much; a model built out of register satisfies few and
    the right shift recovers them. Overlapping hinted windows with the same shift merge.
"""

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from .metrics import MIN_SEP

__all__ = [
    "RegisterHint",
    "Validation",
    "validate",
    "residue_support",
    "register_shift_hints",
    "rank_models",
    "format_ranking",
    "format_validation",
    "format_summary",
    "format_hint",
]

CUTOFF = 8.0
SHIFTS = (1, -1, 2, -2, 3, -3, 4, -4)


@dataclass
class RegisterHint:
    """A stretch of the chain that fits the predicted contacts better when renumbered.

    ``shift`` s means: the coordinates modelled for residue k fit residue k + s.
    ``start`` and ``end`` are 1-based, inclusive sequence positions.

    Attributes
    ----------
    start, end : int
        The window, 1-based inclusive sequence positions.
    shift : int
        The best shift s.
    built : int
        Predicted contacts crossing the window's edge that the model satisfies as built.
    shifted : int
        The same contacts satisfied after the shift.
    contacts : int
        Predicted contacts crossing the edge of the shifted region.
    gain : int
        ``shifted - built``.
    """

    start: int
    end: int
    shift: int
    built: int
    shifted: int
    contacts: int

    @property
    def gain(self) -> int:
        return self.shifted - self.built


@dataclass
class Validation:
    """The result of :func:`validate` for one model.

    Arrays are indexed by 0-based position in the predicted sequence (length L).

    Attributes
    ----------
    name : str
        Model name for reports.
    num_predicted : int
        Predicted contacts checked (pairs of observed residues).
    agreement : float
        Fraction of them the model satisfies (Cb-Cb < 8 A); NaN without any.
    agreement_by_range : dict of str to float
        The same per range (``"local"``, ``"short"``, ``"medium"``, ``"long"``).
    model_supported : dict of str to float
        Per range, the fraction of the model's own contacts that are predicted contacts.
    support : numpy.ndarray, shape=(L,)
        float in [0, 1], probability-weighted (:func:`residue_support`); NaN where a
        residue has no predicted contacts.
    predicted_per_residue, satisfied_per_residue : numpy.ndarray, shape=(L,)
        int, predicted contacts of each residue and those satisfied.
    hints : list of RegisterHint
        Register-shift hints, in sequence order.
    unknown : int
        Pairs of the plain top that involve unobserved residues.
    chain : str
        Author chain ID.
    residue_numbers : list of (str or None)
        Per position, the structure's residue number and insertion code (``"744"``,
        ``"56A"``), None where unobserved.
    """

    name: str
    num_predicted: int
    agreement: float
    agreement_by_range: Dict[str, float]
    model_supported: Dict[str, float]
    support: np.ndarray  # (L,) float, NaN where a residue has no predicted contacts
    predicted_per_residue: np.ndarray  # (L,) int
    satisfied_per_residue: np.ndarray  # (L,) int
    hints: List[RegisterHint] = field(default_factory=list)
    unknown: int = 0
    chain: str = ""
    #: Per sequence position, the structure's residue number and insertion code ("744",
    #: "56A"), None where the position has no observed residue.
    residue_numbers: List[Optional[str]] = field(default_factory=list)

    def residue(self, position: int) -> Optional[str]:
        """The structure's label of the residue at 0-based sequence `position` (``"A:744"``), or
        None.

        Parameters
        ----------
        position : int
            0-based index into the predicted sequence.

        Returns
        -------
        label : str or None
            :func:`esm_contacts.structure.residue_label` of the residue; None where the
            position has no observed residue (or lies beyond the sequence).
        """
        from .structure import residue_label

        number = self.residue_numbers[position] if position < len(self.residue_numbers) else None
        return None if number is None else residue_label(self.chain, number)

    def hint_residues(self, hint: RegisterHint) -> Tuple[Optional[str], Optional[str]]:
        """Numbers (``"744"``) of the first and last observed residues of a hint's window.

        Parameters
        ----------
        hint : RegisterHint
            One of :attr:`hints`.

        Returns
        -------
        first, last : str or None
            Author number and insertion code of the window's first and last observed
            residues; both None when none of its residues is observed.
        """
        numbers = [n for n in self.residue_numbers[hint.start - 1 : hint.end] if n is not None]
        return (numbers[0], numbers[-1]) if numbers else (None, None)

    def to_dict(self) -> dict:
        """JSON-ready summary (support as a list with None for NaN).

        Residues carry their sequence ``position`` (1-based) and their ``residue``
        number in the structure (author number and insertion code, e.g. ``"56A"``);
        register hints their ``start``/``end`` positions and ``first_residue``/``last_residue``.

        Returns
        -------
        summary : dict
            Keys ``name``, ``chain``, ``predicted_contacts``, ``unknown_pairs``,
            ``agreement``, ``agreement_by_range``, ``model_contacts_supported``,
            ``residues`` (one dict per sequence position) and ``register_hints``.
        """

        def number(position: int) -> Optional[str]:
            return self.residue_numbers[position] if position < len(self.residue_numbers) else None

        return {
            "name": self.name,
            "chain": self.chain,
            "predicted_contacts": self.num_predicted,
            "unknown_pairs": self.unknown,
            "agreement": self.agreement,
            "agreement_by_range": self.agreement_by_range,
            "model_contacts_supported": self.model_supported,
            "residues": [
                {
                    "index": k + 1,
                    "position": k + 1,
                    "residue": number(k),
                    "predicted": int(n),
                    "satisfied": int(s),
                    "support": None if np.isnan(v) else float(v),
                }
                for k, (n, s, v) in enumerate(
                    zip(self.predicted_per_residue, self.satisfied_per_residue, self.support)
                )
            ],
            "register_hints": [
                dict(
                    vars(h),
                    gain=h.gain,
                    first_residue=self.hint_residues(h)[0],
                    last_residue=self.hint_residues(h)[1],
                )
                for h in self.hints
            ],
        }


def _pair_distances(coordinates: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Distances of pairs; NaN where either coordinate is unknown."""
    return np.linalg.norm(coordinates[i] - coordinates[j], axis=-1)


def residue_support(
    length: int, i: np.ndarray, j: np.ndarray, p: np.ndarray, satisfied: np.ndarray
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per residue: predicted contacts, satisfied ones, probability-weighted support.

    Parameters
    ----------
    length : int
        Sequence length L.
    i, j, p : numpy.ndarray
        Known predicted contacts and their probabilities.
    satisfied : numpy.ndarray
        bool, whether the model satisfies each pair.

    Returns
    -------
    predicted, satisfied_count : numpy.ndarray
        int (L,).
    support : numpy.ndarray
        float (L,) in [0, 1], NaN for residues without predicted contacts.

    Examples
    --------
    Residue 0 has two predicted contacts, the likelier one satisfied; residue 1 has none:

    >>> import numpy as np
    >>> i, j, p = np.array([0, 0]), np.array([2, 3]), np.array([0.8, 0.2])
    >>> predicted, satisfied, support = residue_support(4, i, j, p, np.array([True, False]))
    >>> predicted.tolist(), satisfied.tolist(), support.tolist()
    ([2, 0, 1, 1], [1, 0, 1, 0], [0.8, nan, 1.0, 0.0])
    """
    both = np.concatenate([i, j])
    weights = np.concatenate([p, p]).astype(np.float64)
    hit = np.concatenate([satisfied, satisfied])
    predicted = np.bincount(both, minlength=length)
    satisfied_count = np.bincount(both, weights=hit.astype(np.float64), minlength=length).astype(
        int
    )
    total = np.bincount(both, weights=weights, minlength=length)
    good = np.bincount(both, weights=weights * hit, minlength=length)
    support = np.full(length, np.nan)
    np.divide(good, total, out=support, where=total > 0)
    return predicted, satisfied_count, support


def register_shift_hints(
    coordinates: np.ndarray,
    i: np.ndarray,
    j: np.ndarray,
    window: int = 12,
    shifts: Sequence[int] = SHIFTS,
    min_gain: int = 3,
    cutoff: float = CUTOFF,
) -> List[RegisterHint]:
    """Windows whose renumbering by a small shift satisfies clearly more predicted contacts.

    Parameters
    ----------
    coordinates : numpy.ndarray
        (L, 3) Cb coordinates in sequence indices, NaN where unknown.
    i, j : numpy.ndarray
        Predicted contacts (0-based, any order within a pair).
    window : int
        Window length in residues (step ``window // 3``).
    shifts : sequence of int
        Shifts to try.
    min_gain : int
        Least number of additional satisfied contacts for a hint (and at least twice as
        many as built).
    cutoff : float
        Contact distance in Angstrom (strictly below).

    Returns
    -------
    hints : list of RegisterHint
        Merged hinted stretches, in sequence order.
    """
    length = len(coordinates)
    step = max(window // 3, 1)
    found: List[RegisterHint] = []
    # The model as built: the same for every window and shift.
    built_satisfied = _pair_distances(coordinates, i, j) < cutoff
    starts = list(range(0, max(length - window, 0) + 1, step))
    if starts[-1] + window < length:  # the C-terminal residues get a window too
        starts.append(length - window)
    for start in starts:
        stop = min(start + window, length)
        best: Optional[Tuple[int, int, int, int]] = None
        for shift in shifts:
            # Renumbered: residue k + s takes the coordinates modelled for k (k in the
            # window); window residues left without a source lose theirs. Count the
            # predicted contacts between that region and the rest, before and after.
            region = slice(max(min(start, start + shift), 0), min(max(stop, stop + shift), length))
            in_region = np.zeros(length, dtype=bool)
            in_region[region] = True
            crossing = in_region[i] ^ in_region[j]
            if not crossing.any():
                continue
            moved = coordinates.copy()
            moved[start:stop] = np.nan
            targets = np.arange(start, stop) + shift
            keep = (targets >= 0) & (targets < length)
            moved[targets[keep]] = coordinates[start:stop][keep]
            a, b = i[crossing], j[crossing]
            built = int(np.count_nonzero(built_satisfied[crossing]))
            shifted = int(np.count_nonzero(_pair_distances(moved, a, b) < cutoff))
            if best is None or shifted - built > best[2] - best[1]:
                best = (shift, built, shifted, int(crossing.sum()))
        if best is not None:
            shift, built, shifted, contacts = best
            if shifted - built >= min_gain and shifted >= 2 * built:
                found.append(RegisterHint(start + 1, stop, shift, built, shifted, contacts))
    return _merge_hints(found)


def _merge_hints(hints: List[RegisterHint]) -> List[RegisterHint]:
    merged: List[RegisterHint] = []
    for hint in hints:
        last = merged[-1] if merged else None
        if last is not None and last.shift == hint.shift and hint.start <= last.end + 1:
            if hint.gain > last.gain:
                last.built, last.shifted, last.contacts = hint.built, hint.shifted, hint.contacts
            last.end = max(last.end, hint.end)
        else:
            merged.append(RegisterHint(**vars(hint)))
    return merged


def validate(
    P: np.ndarray,
    structure,
    chain: str,
    top: Union[str, int, None] = "L",
    min_sep: int = MIN_SEP,
    threshold: Optional[float] = None,
    sequence: Optional[str] = None,
    name: str = "model",
    window: int = 12,
    min_identity: Optional[float] = None,
) -> Validation:
    """Check a structure (one chain) against a predicted contact map.

    Parameters
    ----------
    P : numpy.ndarray
        (L, L) predicted probabilities, in the indices of ``sequence``.
    structure : biotite.structure.AtomArray
        The model, e.g. from :func:`esm_contacts.load_structure`.
    chain : str
        Author chain ID.
    top : str or int, optional
        ``"L"``, ``"L/2"``, ``"L/5"``, a number or ``"all"``: how many pairs to take.
    min_sep : int
        Minimum sequence separation.
    threshold : float, optional
        Only pairs with probability >= threshold.
    sequence : str, optional
        The predicted sequence; the chain's observed sequence by default. When given,
        it is mapped to the chain (:func:`esm_contacts.map_sequence`): a sequence of
        another protein raises :class:`esm_contacts.structure.SequenceMismatchError`.
    name : str
        Model name for reports.
    window : int
        Window length of the register-shift test.
    min_identity : float, optional
        As in :func:`esm_contacts.map_sequence`; default its
        :data:`~esm_contacts.structure.MIN_IDENTITY`.

    Returns
    -------
    validation : Validation
        Agreement, per-residue support and register-shift hints of the chain.
    """
    from .metrics import RANGES, range_mask, separation_band, top_pairs
    from .structure import (
        MIN_IDENTITY,
        cb_coordinates,
        contacts_from_coordinates,
        map_sequence,
        residue_identities,
    )

    L = P.shape[0]
    min_identity = MIN_IDENTITY if min_identity is None else min_identity
    # One mapping of the sequence: the contacts and the residue labels come from it.
    observed = cb_coordinates(structure, chain)
    identities = residue_identities(structure, chain)
    mapping = (
        np.arange(len(identities))
        if sequence is None
        else map_sequence(sequence, structure, chain, min_identity)
    )
    coordinates = np.full((len(mapping), 3), np.nan)
    coordinates[mapping >= 0] = observed[mapping[mapping >= 0]]
    numbers = [
        f"{identities[k][1]}{identities[k][2].strip()}" if k >= 0 else None
        for k in mapping.tolist()
    ]
    T = contacts_from_coordinates(coordinates, CUTOFF)
    if T.shape != P.shape:
        raise ValueError(
            f"the prediction covers {L} residues but chain {chain} of {name} has {T.shape[0]}; "
            "pass the predicted sequence so the two can be aligned"
        )
    # As DESIGN.md's precision: rank only pairs whose truth is known, so unobserved
    # residues do not use up the top-L slots; report how many of the plain top they held.
    i_all, j_all, _ = top_pairs(P, top=top, min_sep=min_sep, threshold=threshold)
    unknown = int(np.count_nonzero(T[i_all, j_all] < 0))
    i, j, p = top_pairs(P, top=top, min_sep=min_sep, threshold=threshold, T=T)
    satisfied = T[i, j] == 1
    by_range = {}
    for range_name, (low, high) in RANGES.items():
        in_range = range_mask(j - i, low, high)
        by_range[range_name] = float(satisfied[in_range].mean()) if in_range.any() else float("nan")
    predicted_set = np.zeros_like(T, dtype=bool)
    predicted_set[i, j] = True
    model_i, model_j = np.nonzero((T == 1) & separation_band(L, min_sep))
    supported = {}
    for range_name, (low, high) in RANGES.items():
        in_range = range_mask(model_j - model_i, low, high)
        hits = predicted_set[model_i[in_range], model_j[in_range]]
        supported[range_name] = float(hits.mean()) if hits.size else float("nan")
    predicted, satisfied_count, support = residue_support(L, i, j, p, satisfied)
    return Validation(
        name=name,
        num_predicted=int(len(i)),
        agreement=float(satisfied.mean()) if len(i) else float("nan"),
        agreement_by_range=by_range,
        model_supported=supported,
        support=support,
        predicted_per_residue=predicted,
        satisfied_per_residue=satisfied_count,
        hints=register_shift_hints(coordinates, i, j, window=window),
        unknown=unknown,
        chain=chain,
        residue_numbers=numbers,
    )


def rank_models(validations: Sequence[Validation]) -> List[Validation]:
    """Models ordered best first: agreement, then long-range agreement, then fewer hints.

    Parameters
    ----------
    validations : sequence of Validation
        Results of :func:`validate`.

    Returns
    -------
    ranked : list of Validation
        The same objects, best first; NaN agreements rank last, ties keep the input order.
    """

    def key(v: Validation):
        long_range = v.agreement_by_range.get("long", float("nan"))
        return (
            -np.nan_to_num(v.agreement, nan=-1),
            -np.nan_to_num(long_range, nan=-1),
            len(v.hints),
        )

    return sorted(validations, key=key)


def format_ranking(validations: Sequence[Validation]) -> str:
    """The ranked table, one model a line, as the CLI and PyMOL print it.

    Parameters
    ----------
    validations : sequence of Validation
        Results of :func:`validate`, in any order (ranked by :func:`rank_models`).

    Returns
    -------
    table : str
        A header line, then rank, name (cut to 24 characters), agreement overall, long,
        medium and short range, and the number of hints, per model.
    """
    lines = [
        f"{'rank':>4}  {'model':24} {'agreement':>9} {'long':>6} {'medium':>6} {'short':>6}"
        f" {'hints':>5}"
    ]
    for rank, v in enumerate(rank_models(validations), start=1):
        cells = [v.agreement_by_range.get(r, float("nan")) for r in ("long", "medium", "short")]
        lines.append(
            f"{rank:4d}  {v.name[:24]:24} {v.agreement:9.3f} "
            + " ".join(f"{c:6.3f}" for c in cells)
            + f" {len(v.hints):5d}"
        )
    return "\n".join(lines)


def format_validation(result: Validation, residues: bool = True) -> str:
    """A model's report: agreement per range, support of its own contacts, hints, residues.

    Parameters
    ----------
    result : Validation
        One result of :func:`validate`.
    residues : bool
        Add the table of residues with predicted contacts (label, 1-based position,
        predicted, satisfied, support).

    Returns
    -------
    report : str
        Lines joined by newlines.
    """
    ranges = ("local", "short", "medium", "long")
    lines = [
        f"model {result.name}: {result.num_predicted} predicted contacts checked"
        + (
            f" (ranked among pairs of observed residues; {result.unknown} of the plain top involve"
            " unobserved residues)"
            if result.unknown
            else ""
        ),
        f"{'':34}" + " ".join(f"{r:>7}" for r in ranges) + f" {'all':>7}",
        f"{'predicted contacts satisfied':34}"
        + " ".join(f"{result.agreement_by_range[r]:7.3f}" for r in ranges)
        + f" {result.agreement:7.3f}",
        f"{'model contacts predicted':34}"
        + " ".join(f"{result.model_supported[r]:7.3f}" for r in ranges),
    ]
    if result.hints:
        lines.append("register-shift hints (coordinates of residue k fit residue k + shift):")
        lines.extend(f"  {format_hint(result, h)}" for h in result.hints)
    else:
        lines.append("register-shift hints: none")
    if residues:
        lines.append(
            f"{'residue':>10} {'position':>8} {'predicted':>9} {'satisfied':>9} {'support':>7}"
        )
        lines.extend(
            f"{result.residue(k) or '-':>10} {k + 1:8d} {n:9d} {s:9d} {v:7.3f}"
            for k, (n, s, v) in enumerate(
                zip(result.predicted_per_residue, result.satisfied_per_residue, result.support)
            )
            if n
        )
    return "\n".join(lines)


def _hint_span(result: Validation, hint: RegisterHint) -> str:
    """``"A:744-A:755 (positions 65-76)"``: the structure's residues first, then the positions."""
    first, last = hint.start - 1, hint.end - 1
    observed = [k for k in range(first, last + 1) if result.residue(k) is not None]
    positions = f"positions {hint.start}-{hint.end}"
    if not observed:
        return f"{positions} (no observed residue)"
    return f"{result.residue(observed[0])}-{result.residue(observed[-1])} ({positions})"


def format_hint(result: Validation, hint: RegisterHint) -> str:
    """One register-shift hint in words, residues named as the structure names them.

    Parameters
    ----------
    result : Validation
        The model's result of :func:`validate`.
    hint : RegisterHint
        One of ``result.hints``.

    Returns
    -------
    text : str
        E.g. ``"residues A:744-A:755 (positions 65-76): shift +2 satisfies 14 of 15 crossing
        contacts instead of 3 (gain 11)"``; the text of ``validate``'s output and of
        ``validate-many``'s ``first_hint`` column.
    """
    return (
        f"residues {_hint_span(result, hint)}: shift {hint.shift:+d} satisfies {hint.shifted} of"
        f" {hint.contacts} crossing contacts instead of {hint.built} (gain {hint.gain})"
    )


def format_summary(result: Validation) -> str:
    """A model in one line (and one line per register-shift hint), as ``esm-contacts validate``
    prints it.

    Parameters
    ----------
    result : Validation
        One result of :func:`validate`.

    Returns
    -------
    summary : str
        Lines joined by newlines.
    """
    long_range = result.agreement_by_range.get("long", float("nan"))
    line = (
        f"{result.name}: {result.num_predicted} predicted contacts, {_percent(result.agreement)}"
        f" satisfied (long range {_percent(long_range)}), register-shift hints:"
        f" {len(result.hints) or 'none'}"
    )
    if result.unknown:
        line += f"; {result.unknown} of the plain top involve unobserved residues"
    return "\n".join([line] + [f"  {format_hint(result, h)}" for h in result.hints])


def _percent(value: float) -> str:
    return "n/a" if value != value else f"{value:.0%}"
