"""What each contact drawing of the session shows, by drawing name.

A drawing records here, when it is complete, everything the contact-map panel and
``esm_contacts_pairs`` need: the map, the structure's truth and Cb-Cb distances in the
map's indices, the residues as the structure names them, and the drawn pairs with their
category. ``esm_contacts_clear`` removes the record; a record whose group was deleted by
other means is dropped when next asked for. The numbers come from the core
(:mod:`esm_contacts.structure`); this module only keeps and looks them up, and talks to
PyMOL for picks and selections (no Qt here).
"""

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import numpy as np
from pymol import CmdException

from esm_contacts.metrics import CATEGORY_LABELS

from . import style
from .target import insertion_code


@dataclass
class Drawing:
    """One drawing's data, in the map's indices (``L`` positions).

    Attributes
    ----------
    name : str
        The drawing's group.
    object, chain, state, label
        The PyMOL object, author chain, state and ``"obj chain A"`` of the target.
    P, T, X : numpy.ndarray
        Probabilities (NaN: unlisted), intra-chain truth and homodimer contacts (1 / 0 / -1).
    distances, inter_distances : numpy.ndarray
        float32 Cb-Cb distances within the chain and the shortest to a partner chain
        (:func:`esm_contacts.structure.cb_distances`,
        :func:`~esm_contacts.structure.homodimer_distances`);
        NaN where unknown.
    residues : list
        ``(chain, res_id, ins_code, res_name)`` per position, None where unobserved.
    labels : list
        ``"A:744 LEU"`` per position (:func:`esm_contacts.structure.residue_labels`), None where
        unobserved.
    i, j, p, kinds : numpy.ndarray
        The drawn pairs (0-based positions, probability, ``tp`` / ``fp`` / ``inter``), in drawing
        order.
    colors : dict
        PyMOL colour name per category, as drawn.
    inter_ends : dict
        Per drawn homodimer pair ``(i, j)``: where its dash runs, ``(own position, PyMOL
        selection of the partner residue, its label)`` (the drawing's closest realisation).
    """

    name: str
    object: str
    chain: str
    state: int
    label: str
    model: str
    sequence: str
    P: np.ndarray
    T: np.ndarray
    X: np.ndarray
    distances: np.ndarray
    inter_distances: np.ndarray
    residues: List[Optional[tuple]]
    labels: List[Optional[str]]
    i: np.ndarray
    j: np.ndarray
    p: np.ndarray
    kinds: np.ndarray
    colors: Dict[str, str] = field(default_factory=dict)
    inter_ends: Dict[Tuple[int, int], tuple] = field(default_factory=dict)

    @property
    def length(self) -> int:
        return int(self.P.shape[0])

    def position_of(self) -> Dict[tuple, int]:
        """Map position per residue key ``(chain, res_id, ins_code)``.

        Returns
        -------
        positions : dict
            ``(chain, res_id, ins_code)`` -> 0-based map position (observed residues).
        """
        return {tuple(r[:3]): k for k, r in enumerate(self.residues) if r is not None}

    def kind_at(self, a: int, b: int) -> str:
        """The category of any cell: its drawn category, else the structure's verdict
        (:func:`esm_contacts.metrics.classify_pairs`).

        Parameters
        ----------
        a, b : int
            The cell's map positions, 0-based.

        Returns
        -------
        kind : str
            ``tp``, ``fp``, ``inter`` or ``unknown``.
        """
        from esm_contacts.metrics import classify_pairs

        drawn = self.drawn_kind(a, b)
        if drawn is not None:
            return drawn
        return str(classify_pairs(np.array([a]), np.array([b]), self.T, self.X)[0])

    def drawn_kind(self, a: int, b: int) -> Optional[str]:
        """The category of a drawn pair (either order), None when the pair is not drawn.

        Parameters
        ----------
        a, b : int
            Map positions, 0-based, either order.

        Returns
        -------
        kind : str or None
            ``tp``, ``fp`` or ``inter``.
        """
        lo, hi = min(a, b), max(a, b)
        hit = np.flatnonzero(
            (np.minimum(self.i, self.j) == lo) & (np.maximum(self.i, self.j) == hi)
        )
        return str(self.kinds[hit[0]]) if len(hit) else None


#: Attribute of a PyMOL instance's ``cmd`` that holds its drawings, by name.
TABLE = "_esm_contacts_drawings"


def instance_table(_self, attribute: str) -> dict:
    """A dict kept on a PyMOL instance's ``cmd`` (the module or a ``pymol2`` instance's).

    On the instance, not in this module: PyMOL may import the plugin twice (its startup
    copy and the pip-installed package), and both must see the same drawings. ``vars``,
    not ``getattr``: a ``pymol2`` instance forwards unknown attributes to the global ``cmd``.

    Parameters
    ----------
    _self : pymol.cmd
        The PyMOL instance (cmd).
    attribute : str
        The attribute holding the dict.

    Returns
    -------
    table : dict
        Created empty on first use.
    """
    return vars(_self).setdefault(attribute, {})


def _table(_self) -> Dict[str, Drawing]:
    return instance_table(_self, TABLE)


def record(name: str, analysis, target, options, result: dict, _self) -> Drawing:
    """Keep a finished drawing's data (replacing an earlier one of that name).

    Parameters
    ----------
    name : str
        The drawing.
    analysis : pymol_plugin.drawing.Analysis
        The drawn pairs and the map.
    target : pymol_plugin.target.Target
        The chain drawn on.
    options : pymol_plugin.drawing.Options
        The drawing options (``min_identity``).
    result : dict
        :func:`pymol_plugin.drawing.draw`'s result (``colors`` there, when given, win over
        :data:`pymol_plugin.style.COLORS`).
    _self : pymol.cmd
        The PyMOL instance (cmd).

    Returns
    -------
    entry : Drawing
        The record kept.
    """
    from esm_contacts.structure import (
        cb_distances,
        homodimer_distances,
        residue_identities,
        residue_labels,
    )

    remove(name, _self)  # an earlier drawing of this name: its pick is out of date
    index = np.asarray(analysis.index, dtype=np.int64)
    observed = index >= 0
    identities = residue_identities(target.structure, target.chain)
    names = residue_labels(target.structure, target.chain, with_name=True)
    # The drawing's own index (map position -> structure residue) places the distances.
    within = cb_distances(target.structure, target.chain)
    distances = np.full((len(index), len(index)), np.nan, dtype=np.float32)
    distances[np.ix_(observed, observed)] = within[np.ix_(index[observed], index[observed])]
    identity = {} if options.min_identity is None else {"min_identity": options.min_identity}
    assembly = target.assembly.atoms if target.assembly is not None else None
    inter = homodimer_distances(
        target.structure, target.chain, sequence=analysis.sequence, assembly=assembly, **identity
    )
    drawn = analysis.kinds != "unknown"
    entry = Drawing(
        name=name,
        object=target.object,
        chain=target.chain,
        state=int(target.state),
        label=target.label,
        model=str(result.get("model", "")),
        sequence=analysis.sequence,
        P=np.asarray(analysis.P, dtype=np.float32),
        T=np.asarray(analysis.T),
        X=np.asarray(analysis.X),
        distances=distances,
        inter_distances=inter,
        residues=[identities[k] if k >= 0 else None for k in index.tolist()],
        labels=[names[k] if k >= 0 else None for k in index.tolist()],
        i=np.asarray(analysis.i, dtype=np.int64)[drawn],
        j=np.asarray(analysis.j, dtype=np.int64)[drawn],
        p=np.asarray(analysis.p, dtype=np.float64)[drawn],
        kinds=np.asarray(analysis.kinds)[drawn],
        colors=dict(result.get("colors") or style.COLORS),
    )
    entry.inter_ends = _inter_ends(entry, analysis, target, result, _self)
    _table(_self)[name] = entry
    return entry


def _inter_ends(
    entry: Drawing, analysis, target, result: dict, _self
) -> Dict[Tuple[int, int], tuple]:
    """Where each homodimer dash runs, by the drawing's own rule
    (:func:`pymol_plugin.drawing.inter_end`)."""
    from esm_contacts.structure import residue_label

    from . import drawing

    pairs = [
        (int(a), int(b)) for a, b, kind in zip(entry.i, entry.j, entry.kinds) if kind == "inter"
    ]
    if not pairs:
        return {}
    anchors = drawing.Anchors(target, "", _self, {})  # only its structure look-ups: no PyMOL atoms
    partners = drawing.find_partners(target, analysis.sequence, anchors)
    own_cb = anchors.virtual_cb(target.chain)
    where = {tuple(r[:3]): k for k, r in enumerate(entry.residues) if r is not None}
    ends = {}
    for a, b in pairs:
        end = drawing.inter_end(analysis, a, b, partners, own_cb)
        if end is None:
            continue
        own, label, residue = end
        c, res_id, ins_code, res_name = anchors.identities(label)[residue]
        own_position = where[tuple(anchors.identities(target.chain)[own][:3])]
        if anchors.is_copy(label):  # an assembly copy, in the drawing's partner object
            selection = (
                f"(%{result.get('partner')} and segi '{drawing.copy_segi(label)}' and chain '{c}' "
                f"and resi \\{res_id}{ins_code})"
            )
        else:
            selection = f"(%{target.object} and chain '{c}' and resi \\{res_id}{ins_code})"
        copy = f" (assembly copy {label})" if anchors.is_copy(label) else ""
        ends[(a, b)] = (
            own_position,
            selection,
            residue_label(c, res_id, ins_code, res_name) + copy,
        )
    return ends


def get(name: str = "", _self=None) -> Drawing:
    """The record of drawing ``name`` (empty: the only or the latest one).

    Parameters
    ----------
    name : str
        The drawing; empty: the latest one.
    _self : pymol.cmd
        The PyMOL instance (cmd).

    Returns
    -------
    entry : Drawing
        Its record.

    Raises
    ------
    pymol.CmdException
        No drawing of that name, or none at all.
    """
    from . import drawing

    table = _table(_self)
    for stale in [n for n in table if not drawing.is_drawing(n, _self)]:
        remove(stale, _self)
    name = str(name).strip()
    if not name:
        if not table:
            raise CmdException(
                "no contact drawing in this session (draw one with esm_contacts or"
                " esm_contacts_load)"
            )
        return table[list(table)[-1]]
    if name not in table:
        known = ", ".join(table) or "none"
        raise CmdException(f"no contact drawing named {name!r} (drawings: {known})")
    return table[name]


def names(_self=None) -> List[str]:
    """Names of the recorded drawings that still exist, oldest first.

    Parameters
    ----------
    _self : pymol.cmd
        The PyMOL instance (cmd).

    Returns
    -------
    names : list of str
        Oldest first.
    """
    from . import drawing

    return [n for n in _table(_self) if drawing.is_drawing(n, _self)]


def remove(name: str, _self=None) -> bool:
    """Forget a drawing and delete its pick selection and distance; True when it was recorded.

    Parameters
    ----------
    name : str
        The drawing.
    _self : pymol.cmd
        The PyMOL instance (cmd).

    Returns
    -------
    recorded : bool
        Whether a record was dropped.
    """
    existing = set(_self.get_names("all", enabled_only=0)) | set(_self.get_names("selections"))
    for obj in (pick_name(name), pick_distance_name(name)):
        if obj in existing:
            _self.delete(obj)
    return _table(_self).pop(name, None) is not None


# -- pairs --------------------------------------------------------------------------


def _number(value) -> Optional[float]:
    return float(value) if np.isfinite(value) else None


def pair_rows(entry: Drawing) -> List[dict]:
    """The drawn pairs as dicts, in drawing order (highest probability first).

    Keys: ``residue_1``, ``residue_2`` (``"A:744 LEU"``), ``position_1``, ``position_2``
    (1-based map positions), ``probability``, ``distance`` (Cb-Cb within the chain, A),
    ``inter_distance`` (shortest Cb-Cb to a partner chain, A; None without one),
    ``category`` (``tp``, ``fp``, ``inter``) and ``category_label`` (words).

    Parameters
    ----------
    entry : Drawing
        The drawing's record.

    Returns
    -------
    rows : list of dict
        One per drawn pair.
    """
    rows = []
    for a, b, p, kind in zip(
        entry.i.tolist(), entry.j.tolist(), entry.p.tolist(), entry.kinds.tolist()
    ):
        rows.append(
            {
                "residue_1": entry.labels[a],
                "residue_2": entry.labels[b],
                "position_1": a + 1,
                "position_2": b + 1,
                "probability": float(p),
                "distance": _number(entry.distances[a, b]),
                "inter_distance": _number(entry.inter_distances[a, b]),
                "category": kind,
                "category_label": CATEGORY_LABELS.get(kind, kind),
            }
        )
    return rows


def format_rows(entry: Drawing, rows: List[dict]) -> str:
    """The pair list as a text table for the log.

    Parameters
    ----------
    entry : Drawing
        The drawing's record.
    rows : list of dict
        :func:`pair_rows`.

    Returns
    -------
    table : str
        A header and one line per pair.
    """
    lines = [
        (
            f" esm_contacts_pairs: {entry.name}, {entry.label}, {len(rows)} drawn"
            f" pair{'s' if len(rows) != 1 else ''}"
        ),
        (
            f"  {'residue 1':<12} {'residue 2':<12} {'prob':>6} {'Cb-Cb':>7} {'other chain':>11} "
            " category"
        ),
    ]
    for row in rows:
        inter = f"{row['inter_distance']:.2f}" if row["inter_distance"] is not None else "-"
        distance = f"{row['distance']:.2f}" if row["distance"] is not None else "-"
        lines.append(
            f"  {row['residue_1']:<12} {row['residue_2']:<12} {row['probability']:6.3f}"
            f" {distance:>7} {inter:>11}  {row['category_label']}"
        )
    return "\n".join(lines)


# -- PyMOL side: picks and selections ---------------------------------------------------


def pick_name(name: str) -> str:
    return f"{name}_pick"


def pick_distance_name(name: str) -> str:
    return f"{name}_pick_dist"


def residue_selection(entry: Drawing, position: int) -> str:
    """PyMOL selection of the residue at a map position (author chain, number, insertion code).

    Parameters
    ----------
    entry : Drawing
        The drawing's record.
    position : int
        Map position, 0-based.

    Returns
    -------
    selection : str
        ``(%obj and chain 'A' and resi \\744A)``.

    Raises
    ------
    pymol.CmdException
        The position has no observed residue.
    """
    residue = entry.residues[position]
    if residue is None:
        raise CmdException(
            f"position {position + 1} of {entry.name} has no residue in {entry.label}"
        )
    chain, res_id, ins_code, _ = residue
    # A backslash keeps a negative number from reading as a range.
    return f"(%{entry.object} and chain '{chain}' and resi \\{res_id}{ins_code})"


def _anchor(selection: str, _self) -> str:
    """The residue's CB, CA where it has none (Gly), as the drawing's dashes end."""
    for atom in ("CB", "CA"):
        if _self.count_atoms(f"{selection} and name {atom}"):
            return f"{selection} and name {atom}"
    return selection


def pick(name: str, a: int, b: int, _self) -> dict:
    """Select the residues of map positions ``a`` and ``b`` as ``<name>_pick``, zoom on them
    and measure their Cb-Cb distance as ``<name>_pick_dist`` (a labelled distance object).

    A drawn homodimer pair is picked where its dash runs: the own chain's residue and the
    partner chain's (``dash`` in the result names them).

    Parameters
    ----------
    name : str
        The drawing; empty: the latest one.
    a, b : int
        Map positions, 0-based.
    _self : pymol.cmd
        The PyMOL instance (cmd).

    Returns
    -------
    row : dict
        The pair as :func:`pair_rows` gives it (``category`` from :meth:`Drawing.kind_at`),
        and ``dash``: the two residues picked for a homodimer pair, else None.

    Raises
    ------
    pymol.CmdException
        No such drawing, or a position without an observed residue.
    """
    entry = get(name, _self)
    first, second = residue_selection(entry, a), residue_selection(entry, b)
    end = entry.inter_ends.get((min(a, b), max(a, b)))
    if (
        end is not None and entry.drawn_kind(a, b) == "inter"
    ):  # the dash runs to the partner chain: pick its ends
        first, second = residue_selection(entry, end[0]), end[1]
    selection, distance = pick_name(entry.name), pick_distance_name(entry.name)
    _self.select(selection, f"{first} or {second}", enable=1)
    if distance in _self.get_names("all"):
        _self.delete(distance)
    _self.distance(
        distance,
        _anchor(first, _self),
        _anchor(second, _self),
        label=1,
        state1=entry.state,
        state2=entry.state,
    )
    _self.show("labels", distance)
    _self.show("sticks", f"byres ({selection})")
    _self.zoom(selection, 6, animate=0)
    kind = entry.kind_at(a, b)
    return {
        "residue_1": entry.labels[a],
        "residue_2": entry.labels[b],
        "position_1": a + 1,
        "position_2": b + 1,
        "probability": _number(entry.P[a, b]),
        "distance": _number(entry.distances[a, b]),
        "inter_distance": _number(entry.inter_distances[a, b]),
        "category": kind,
        "category_label": CATEGORY_LABELS.get(kind, kind),
        "dash": (
            f"{entry.labels[end[0]]} to {end[2]}" if end is not None and kind == "inter" else None
        ),
    }


def selected_positions(entry: Drawing, selection: str = "sele", _self=None) -> List[int]:
    """Map positions of the target's residues in a PyMOL selection (none when it does not exist).

    Parameters
    ----------
    entry : Drawing
        The drawing's record.
    selection : str
        A PyMOL selection name.
    _self : pymol.cmd
        The PyMOL instance (cmd).

    Returns
    -------
    positions : list of int
        0-based, ascending; empty when the selection does not exist.
    """
    if selection not in _self.get_names("selections") and selection not in _self.get_names("all"):
        return []
    keys: list = []
    _self.iterate(
        f"({selection}) and %{entry.object} and chain '{entry.chain}'",
        "keys.append((chain, resv, resi))",
        space={"keys": keys},
    )
    where = entry.position_of()
    found = {where.get((c, v, insertion_code(resi, v))) for c, v, resi in keys}
    return sorted(k for k in found if k is not None)
