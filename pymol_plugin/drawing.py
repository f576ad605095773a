"""Predicted contacts drawn on a structure as coloured distance objects.

A drawing named ``esm`` is the group (two levels at most, no empty group)::

    esm
      esm_tp      predicted, Cb-Cb < 8 A within the chain         sky blue
        esm_tp1 .. esm_tp4   one distance object per thickness bin
      esm_fp      predicted, no contact within nor between chains  vermillion
      esm_inter   no contact within the chain, but with a chain of
                  the same sequence (drawn to that chain)          reddish purple
      esm_key     the legend (CGO): colours, thickness bins
      esm_vcb     virtual Cb pseudoatoms (only for residues without CB)
      esm_partner partner copies from the biological assembly (only when the
                  chain has no partner chain in its own object)

Colours come from one table, :data:`PALETTES` (Okabe-Ito by default, colour-blind
safe and apart from PyMOL's default green, cyan, ... carbons); the dashes take their
object's colour, so ``color orange, esm_tp`` (or ``esm_contacts_color``) recolours a
category. Thickness bins are the quartiles of the drawn pairs' probabilities
(:func:`probability_bins`): bin 1 the lowest quarter, bin 4 the highest. A category
group exists only when it holds dashes. Everything is built under hidden temporary
names and renamed and grouped only when complete, so an error leaves the session as it
was.
"""

import itertools
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np
from pymol import CmdException

from esm_contacts.metrics import MIN_SEP, RANGES

from .style import BIN_QUANTILES, COLORS, DASH_RADII, DASH_WIDTHS, DEFAULT_PALETTE, PALETTES
from .target import Target, insertion_code

#: The ``range`` values: all separations, or one of the core's ranges
#: (:data:`esm_contacts.metrics.RANGES`).
RANGE_NAMES = ("all",) + tuple(RANGES)

_counter = itertools.count(1)


@dataclass
class Options:
    """Validated drawing options (PyMOL passes every argument as a string)."""

    top: str = "L"
    min_sep: int = MIN_SEP
    range: str = "all"
    threshold: Optional[float] = None
    name: str = "esm"
    plot: Optional[str] = None
    #: Sequence matching threshold (:func:`esm_contacts.structure.map_sequence`); None: its default.
    min_identity: Optional[float] = None
    #: Key of :data:`PALETTES`.
    palette: str = DEFAULT_PALETTE
    #: Draw the legend object ``<name>_key``.
    legend: bool = True

    @property
    def separations(self) -> Tuple[int, Optional[int]]:
        """(min_sep, max_sep) for :func:`esm_contacts.metrics.top_pairs`.

        ``min_sep`` is already the effective lower bound (:func:`parse_options`).

        Returns
        -------
        separations : tuple
            ``(min_sep, max_sep)``; ``max_sep`` None for range ``all``.
        """
        if self.range == "all":
            return self.min_sep, None
        return self.min_sep, RANGES[self.range][1]


#: The help text of ``min_sep`` (commands and dialog).
MIN_SEP_HELP = (
    "int: minimum sequence separation {default: 6; with a range, the range's own lower bound ("
    + ", ".join(f"{name} {low}" for name, (low, _) in RANGES.items())
    + "); a given min_sep narrows the range from below}"
)


def checked_option(kind: str, name: str, value):
    """:func:`esm_contacts.options.check_option`, its error as a :class:`pymol.CmdException`.

    Parameters
    ----------
    kind : str
        The kind of value (``count``, ``probability``, ...), as the core names it.
    name : str
        The option's name, for the message.
    value : object
        The value as given.

    Returns
    -------
    value : int or float
        The checked value.

    Raises
    ------
    pymol.CmdException
        The core's message, unchanged.
    """
    from esm_contacts.options import OptionError, check_option

    try:
        return check_option(kind, name, value)
    except OptionError as error:
        raise CmdException(str(error)) from None


def parse_options(
    top="L",
    min_sep=None,
    range="all",
    threshold=None,
    name="esm",
    plot=None,
    _self=None,
    min_identity=None,
    palette="",
    legend="",
) -> Options:
    """Check command arguments; every error is a :class:`pymol.CmdException`.

    ``min_sep`` None or empty means not given: 6 with range ``all``, else the range's
    lower bound. Given, it narrows the range from below (``max(low, min_sep)``), and one
    at or above the range's upper bound is an error, not an empty drawing.

    Parameters
    ----------
    top : str
        L, L/2, L/5, a number or all; empty: L.
    min_sep : str, int or None
        Minimum sequence separation; None or empty: not given.
    range : str
        ``all`` or a key of :data:`esm_contacts.metrics.RANGES`.
    threshold : str, float or None
        Lowest probability drawn; None, empty or ``none``: no threshold.
    name : str
        The drawing's group name; empty: ``esm``.
    plot : str or None
        A contact-map image to write (.png, .svg, .pdf); None or empty: none.
    _self : pymol.cmd or None
        The PyMOL instance (cmd) that checks ``name``; None: not checked against PyMOL.
    min_identity : str, float or None
        As :func:`parse_min_identity`.
    palette : str
        As :func:`parse_palette`.
    legend : str
        As :func:`parse_switch`; empty: a legend.

    Returns
    -------
    options : Options
        The validated options.

    Raises
    ------
    pymol.CmdException
        The first bad argument, named in the message.
    """
    from esm_contacts.metrics import parse_top

    top = str(top).strip() or "L"
    try:
        parse_top(top, 100)
    except ValueError as error:
        raise CmdException(str(error)) from None
    range_name = str(range).strip().lower() or "all"
    if range_name not in RANGE_NAMES:
        raise CmdException(f"range must be one of {', '.join(RANGE_NAMES)}, got {range!r}")
    low, high = (6, None) if range_name == "all" else RANGES[range_name]
    given = "" if min_sep is None else str(min_sep).strip()
    if given.lower() in ("", "none"):
        min_sep = low
    else:
        min_sep = checked_option("count", "min_sep", given)
        if high is not None and min_sep >= high:
            raise CmdException(
                f"min_sep {min_sep} leaves no pair in range {range_name} "
                f"(separations {low} to {high - 1}); use a smaller min_sep or another range"
            )
        if range_name != "all":
            min_sep = max(low, min_sep)
    text = "" if threshold is None else str(threshold).strip()
    value = None
    if text and text.lower() != "none":
        value = checked_option("probability", "threshold", text)
    name = str(name).strip() or "esm"
    if _self is not None and _self.get_legal_name(name) != name:
        raise CmdException(
            f"name {name!r} is not a valid PyMOL object name (try {_self.get_legal_name(name)!r})"
        )
    if name.startswith("_"):
        raise CmdException(f"name {name!r} must not start with '_' (PyMOL hides such objects)")
    plot = str(plot).strip() if plot is not None else ""
    from esm_contacts.plot import FIGURE_SUFFIXES

    if plot and Path(plot).suffix.lower() not in FIGURE_SUFFIXES:
        raise CmdException(f"plot file {plot!r} must end in {', '.join(FIGURE_SUFFIXES)}")
    return Options(
        top,
        min_sep,
        range_name,
        value,
        name,
        plot or None,
        parse_min_identity(min_identity),
        parse_palette(palette),
        parse_switch("legend", legend),
    )


def parse_palette(palette) -> str:
    """The ``palette`` option: empty for :data:`DEFAULT_PALETTE`, else a key of :data:`PALETTES`.

    Parameters
    ----------
    palette : str or None
        The option as given (any case).

    Returns
    -------
    palette : str
        A key of :data:`PALETTES`.

    Raises
    ------
    pymol.CmdException
        An unknown palette.
    """
    text = "" if palette is None else str(palette).strip().lower()
    if text in ("", "none"):
        return DEFAULT_PALETTE
    if text not in PALETTES:
        raise CmdException(f"palette must be one of {', '.join(PALETTES)}, got {palette!r}")
    return text


def parse_switch(option: str, value, default: bool = True) -> bool:
    """An on/off option (PyMOL passes strings): 1/0, on/off, yes/no, true/false; empty: ``default``.

    Parameters
    ----------
    option : str
        The option's name, for the message.
    value : str, bool, int or None
        The value as given.
    default : bool
        The answer for an empty value.

    Returns
    -------
    switch : bool
        On or off.

    Raises
    ------
    pymol.CmdException
        Any other value.
    """
    text = "" if value is None else str(value).strip().lower()
    if text == "":
        return default
    if text in ("1", "on", "yes", "true"):
        return True
    if text in ("0", "off", "no", "false"):
        return False
    raise CmdException(f"{option} must be 1 or 0 (on/off), got {value!r}")


def parse_min_identity(min_identity) -> float:
    """``min_identity`` of the commands: empty for DESIGN's default, else a fraction in [0, 1].

    Parameters
    ----------
    min_identity : str, float or None
        The option as given.

    Returns
    -------
    min_identity : float
        In [0, 1]; :data:`esm_contacts.structure.MIN_IDENTITY` when empty.

    Raises
    ------
    pymol.CmdException
        Not a number in [0, 1].
    """
    from esm_contacts.structure import MIN_IDENTITY

    text = "" if min_identity is None else str(min_identity).strip()
    if text.lower() in ("", "none"):
        return MIN_IDENTITY
    return checked_option("probability", "min_identity", text)


@dataclass
class Analysis:
    """Predicted pairs of a map, classified against the structure.

    ``i``, ``j``, ``p`` and ``kinds`` are in the map's indices; ``index`` maps those to
    structure residues of the target chain (-1: unobserved).
    """

    P: np.ndarray
    T: np.ndarray
    X: np.ndarray
    index: np.ndarray
    i: np.ndarray
    j: np.ndarray
    p: np.ndarray
    kinds: np.ndarray
    sequence: str

    def count(self, kind: str) -> int:
        return int(np.sum(self.kinds == kind))

    @property
    def drawn_fraction(self) -> float:
        """True contacts among the chosen pairs whose truth is known (not DESIGN's precision).

        Returns
        -------
        fraction : float
            NaN when no chosen pair has a known truth.
        """
        known = len(self.kinds) - self.count("unknown")
        return self.count("tp") / known if known else float("nan")


def precision_at_top(analysis: Analysis, options: Options) -> Tuple[float, int, int]:
    """DESIGN.md's precision at the top ``options.top`` in the drawing's separations.

    :func:`esm_contacts.metrics.precision_at`: the pairs of known truth are ranked, the
    top ``floor(L/k)`` taken (L: the map's length); missing candidates count as false.
    No probability threshold: the precision of the map, not of the drawing.

    Parameters
    ----------
    analysis : Analysis
        The map and its truth.
    options : Options
        ``top`` and the separations.

    Returns
    -------
    precision : float
        NaN when the cut is 0 pairs.
    hits : int
        True contacts among the top pairs.
    count : int
        The cut (``floor(L/k)``); for ``top=all`` the number of known pairs.
    """
    from esm_contacts.metrics import precision_at

    min_sep, max_sep = options.separations
    hits, count = precision_at(
        analysis.P, analysis.T, top=options.top, min_sep=min_sep, max_sep=max_sep
    )
    return (hits / count if count else float("nan")), hits, count


def map_file_sequence(
    sequence: str, target: Target, source: str, min_identity: Optional[float] = None
) -> np.ndarray:
    """Structure index per position of ``sequence``; another protein is an error (the core's one
    rule).

    Parameters
    ----------
    sequence : str
        A map's sequence (a contact file's, an MSA's query).
    target : Target
        The selection it must be the protein of.
    source : str
        What the sequence comes from, for messages.
    min_identity : float, optional
        :func:`esm_contacts.structure.map_sequence`'s threshold; None: its default.

    Returns
    -------
    index : numpy.ndarray, shape=(len(sequence),)
        int64 residue index of the target chain per position, -1 where none.

    Raises
    ------
    pymol.CmdException
        Another protein, or no residue in common.
    """
    from esm_contacts.structure import MIN_IDENTITY, map_sequence

    try:
        index = map_sequence(
            sequence,
            target.structure,
            target.chain,
            min_identity=MIN_IDENTITY if min_identity is None else min_identity,
        )
    except ValueError as error:
        raise CmdException(
            f"the sequence of {source} does not match {target.label}: {error}"
        ) from None
    if not np.any(np.asarray(index) >= 0):
        raise CmdException(f"the sequence of {source} shares no residue with {target.label}")
    return np.asarray(index, dtype=np.int64)


def analyse(
    P: np.ndarray,
    sequence: Optional[str],
    target: Target,
    options: Options,
    source: str = "the contact map",
    pad: bool = False,
) -> Analysis:
    """Pick the pairs to draw and classify them against the target's structure.

    Parameters
    ----------
    P : numpy.ndarray
        (L, L) probabilities.
    sequence : str or None
        The map's sequence; None when the map is indexed by the selection's observed
        residues in order.
    target : Target
        The selection.
    options : Options
        Validated drawing options.
    source : str
        What the map is, for messages.
    pad : bool
        The map may be shorter than the selection (an RR/CSV file without a sequence,
        whose length is its largest index): pad it with NaN (unlisted pairs, never
        drawn). Otherwise (a prediction, a dense .npy map) its size must be the
        selection's.

    Returns
    -------
    analysis : Analysis
    """
    from esm_contacts.metrics import classify_pairs, top_pairs
    from esm_contacts.structure import homodimer_contacts, true_contacts

    P = np.asarray(P, dtype=np.float32)
    length = len(target.sequence)
    if sequence is not None:
        if len(sequence) != P.shape[0]:
            raise CmdException(
                f"{source}: the sequence has {len(sequence)} residues but the map is {P.shape[0]} x"
                f" {P.shape[0]}"
            )
        index = map_file_sequence(sequence, target, source, options.min_identity)
    elif P.shape[0] != length and not pad:
        # A dense map carries no sequence: its size says what it is indexed by (as the CLI).
        from esm_contacts.structure import sequence_of_map

        try:
            sequence = sequence_of_map(P.shape[0], target.structure, target.chain)
        except ValueError as error:
            raise CmdException(
                f"{source}: {error} ({target.label}: {length} observed residues selected; "
                "indices refer to them in order)"
            ) from None
        index = map_file_sequence(sequence, target, source, options.min_identity)
    else:
        if P.shape[0] > length:
            raise CmdException(
                f"{source} has {P.shape[0]} residues but {target.label} has {length} observed"
                " residues selected (indices refer to them in order)"
            )
        if P.shape[0] < length:  # a sparse file without a sequence: L is the largest index listed
            from esm_contacts.io import pad_unlisted

            P = pad_unlisted(P, length)
        index = np.arange(length, dtype=np.int64)
    sequence_arg = sequence
    identity = {} if options.min_identity is None else {"min_identity": options.min_identity}
    T = true_contacts(target.structure, target.chain, sequence=sequence_arg, **identity)
    # A chain alone in its object: partner copies from its biological assembly, in the
    # assembly's own frame (contacts do not depend on where PyMOL placed the object).
    assembly = target.assembly.atoms if target.assembly is not None else None
    X = homodimer_contacts(
        target.structure, target.chain, sequence=sequence_arg, assembly=assembly, **identity
    )
    min_sep, max_sep = options.separations
    i, j, p = top_pairs(
        P, top=options.top, min_sep=min_sep, threshold=options.threshold, max_sep=max_sep
    )
    kinds = classify_pairs(i, j, T, X)
    return Analysis(P, T, X, index, i, j, p, kinds, sequence or target.sequence)


# -- drawing ------------------------------------------------------------------------


class Anchors:
    """PyMOL atoms to draw from: CB, CA for Gly, else a virtual-Cb pseudoatom.

    Chains of the target's object are found by chain ID; assembly copies (``"A:1"``) in
    the partner object, by their segment ID (:func:`copy_segi`). :meth:`atom` gives an
    end as ``(object, key, state)``; :meth:`selection` turns it into a PyMOL selection
    once every pseudoatom exists (:meth:`resolve`), as PyMOL re-sorts an object's atoms
    by chain and residue with each one added, which renumbers the earlier ones.

    Parameters
    ----------
    target : Target
        The drawn chain (and its assembly, where one is attached).
    vcb_name : str
        The object the virtual-Cb pseudoatoms go to.
    _self : pymol.cmd
        The PyMOL instance (cmd).
    atoms : dict
        The object's anchor atom indices, from :func:`.target.current_anchors`.
    """

    def __init__(self, target: Target, vcb_name: str, _self, atoms: dict):
        """``atoms``: the object's anchor atom indices, from :func:`.target.current_anchors`."""
        self.target = target
        self.vcb_name = vcb_name
        self._self = _self
        self._atoms = atoms
        self._identities: Dict[str, list] = {target.chain: target.residues}
        self._virtual: Dict[str, np.ndarray] = {}
        self._pseudo: Dict[tuple, Optional[int]] = {}
        self.partner_name: Optional[str] = None
        self._partner_atoms: Dict[tuple, Dict[str, int]] = {}

    def atoms_of(self, chain: str):
        """(Biotite atoms, chain ID) of a chain of the object, or of an assembly copy (PyMOL frame).

        Parameters
        ----------
        chain : str
            A chain ID of the object, or a copy label (``"A:1"``).

        Returns
        -------
        atoms : biotite.structure.AtomArray
            The object's structure, or the copy's atoms.
        chain_id : str
            The chain ID in ``atoms``.
        """
        if self.is_copy(chain):
            from esm_contacts.structure import parse_copy_label

            return self.target.assembly.copy(chain), parse_copy_label(chain)[0]
        return self.target.structure, chain

    def is_copy(self, chain: str) -> bool:
        return self.target.assembly is not None and chain in self.target.assembly.partners

    def identities(self, chain: str) -> list:
        from esm_contacts.structure import residue_identities

        if chain not in self._identities:
            self._identities[chain] = residue_identities(*self.atoms_of(chain))
        return self._identities[chain]

    def virtual_cb(self, chain: str) -> np.ndarray:
        """Virtual Cb per structure residue of a chain or copy (NaN without N, CA or C).

        Parameters
        ----------
        chain : str
            A chain ID or copy label.

        Returns
        -------
        cb : numpy.ndarray
            float (n, 3), cached.
        """
        from esm_contacts.structure import cb_coordinates

        if chain not in self._virtual:
            self._virtual[chain] = cb_coordinates(*self.atoms_of(chain), cb="virtual")
        return self._virtual[chain]

    def load_partner(self, labels: List[str], name: str) -> None:
        """Load the assembly copies ``labels`` as the object ``name`` (one segment each).

        Parameters
        ----------
        labels : list of str
            Copy labels (``"A:1"``).
        name : str
            The partner object.
        """
        _load_copies(self.target, labels, name, self._self)
        self.partner_name = name
        rows: list = []
        self._self.iterate(
            f"%{name} and name CA+CB",
            "rows.append((segi, resv, resi, name, index, q))",
            space={"rows": rows},
        )
        occupancy: Dict[tuple, float] = {}
        for segi, resv, resi, atom_name, index, q in rows:
            key = (segi, resv, insertion_code(resi, resv))
            if occupancy.get((key, atom_name), -1.0) < q:
                occupancy[(key, atom_name)] = q
                self._partner_atoms.setdefault(key, {})[atom_name] = index

    def atom(self, chain: str, residue: int) -> Optional[tuple]:
        """The anchor of structure residue ``residue`` of ``chain``: ``(object, atom index or
        pseudoatom key, state)``; None without one (a residue lacking backbone atoms).

        Parameters
        ----------
        chain : str
            A chain ID or copy label.
        residue : int
            Structure residue index in that chain, 0-based.

        Returns
        -------
        end : tuple or None
            ``(object, atom index or pseudoatom key, state)``; None without an anchor.
        """
        c, res_id, ins_code, res_name = self.identities(chain)[residue]
        if self.is_copy(chain):
            obj, state = self.partner_name, 1
            atoms = self._partner_atoms.get((copy_segi(chain), int(res_id), ins_code), {})
        else:
            obj, state = self.target.object, self.target.state
            atoms = self._atoms.get((c, int(res_id), ins_code), {})
        if "CB" in atoms:
            return obj, atoms["CB"], state
        if res_name == "GLY" and "CA" in atoms:
            return obj, atoms["CA"], state
        position = self.virtual_cb(chain)[residue]
        if not np.all(np.isfinite(position)):
            return None
        # Own chains differ by chain ID, copies by segment ID: (segi, chain, resi) is unique.
        key = (copy_segi(chain) if self.is_copy(chain) else "VCB", c, f"{res_id}{ins_code}")
        if key not in self._pseudo:
            self._self.pseudoatom(
                self.vcb_name,
                name="CBV",
                resn=res_name,
                resi=key[2],
                chain=c,
                segi=key[0],
                pos=[float(v) for v in position],
                state=1,
            )
            self._pseudo[key] = None
        return self.vcb_name, key, 1

    def resolve(self) -> None:
        """Look the pseudoatoms' indices up by their identifiers, after the last one is made."""
        if not self._pseudo:
            return
        rows: list = []
        self._self.iterate(
            f"%{self.vcb_name}", "rows.append((segi, chain, resi, index))", space={"rows": rows}
        )
        for segi, chain, resi, index in rows:
            self._pseudo[(segi, chain, resi)] = index
        missing = [key for key, index in self._pseudo.items() if index is None]
        if missing:
            raise CmdException(f"internal error: virtual Cb pseudoatom {missing[0]} not found")

    def selection(self, end: tuple) -> Tuple[str, int]:
        """PyMOL selection and state of an end from :meth:`atom`.

        Parameters
        ----------
        end : tuple
            As :meth:`atom` returns it.

        Returns
        -------
        selection : str
            ``%object and index n``.
        state : int
            The PyMOL state.
        """
        obj, atom, state = end
        index = self._pseudo[atom] if obj == self.vcb_name else atom
        return f"%{obj} and index {index}", state

    @property
    def used_pseudoatoms(self) -> bool:
        return bool(self._pseudo)


def copy_segi(label: str) -> str:
    """PyMOL segment ID of an assembly copy in the partner object (``"A:1"`` -> ``"A1"``).

    Parameters
    ----------
    label : str
        Copy label.

    Returns
    -------
    segi : str
        At most 4 characters.
    """
    from esm_contacts.structure import parse_copy_label

    chain, sym = parse_copy_label(label)
    return f"{chain}{'' if sym is None else sym}"[:4]


def _load_copies(target: Target, labels: List[str], name: str, _self) -> List[str]:
    """Write the copies as temporary PDB (mmCIF for long chain IDs) files and load them
    into the object ``name``; returns the temporary objects left to delete on failure."""
    import biotite.structure.io.pdb as pdb
    import biotite.structure.io.pdbx as pdbx

    parts = []
    with tempfile.TemporaryDirectory(prefix="esm_contacts_") as folder:
        for k, label in enumerate(labels):
            atoms = target.assembly.copy(label).copy()  # the assembly's copy is shared
            atoms.box = None  # no CRYST1: the copy carries no crystal symmetry of its own
            long_ids = any(len(c) > 1 for c in atoms.chain_id)
            path = os.path.join(folder, f"copy{k}.{'cif' if long_ids else 'pdb'}")
            if long_ids:
                file = pdbx.CIFFile()
                pdbx.set_structure(file, atoms)
            else:
                file = pdb.PDBFile()
                file.set_structure(atoms)
            file.write(path)
            part = f"{name}_{k}"
            parts.append(part)
            _self.load(path, part, quiet=1)
            _self.alter(f"%{part}", f"segi={copy_segi(label)!r}")
    try:
        _self.create(name, " or ".join(f"%{p}" for p in parts), 1, 1)
    finally:
        for part in parts:
            _self.delete(part)
    _self.hide("everything", name)
    _self.show("cartoon", name)
    _self.show("sticks", f"%{name} and name CA+CB")
    _self.color("grey70", f"%{name} and elem C")
    return parts


def find_partners(
    target: Target, sequence: str, anchors: Anchors
) -> List[Tuple[str, np.ndarray, np.ndarray]]:
    """The homodimer partners a drawing's inter-chain dashes may run to: other chains of
    the object, else the assembly's copies.

    The sequence is aligned once per chain ID: the copies of a chain share its residues.

    Parameters
    ----------
    target : Target
        The drawn chain (and its assembly, where one is attached).
    sequence : str
        The map's sequence.
    anchors : Anchors
        Gives each partner's atoms and virtual Cb.

    Returns
    -------
    partners : list of tuple
        ``(label, index, cb)`` per partner: the chain or copy label (``"B"``, ``"A:1"``),
        the partner's residue index per sequence position (-1: none) and its virtual Cb
        per structure residue, shape=(n, 3).
    """
    from esm_contacts.structure import homodimer_partners, map_sequence

    if target.assembly is not None:
        labels = target.assembly.partners
    else:
        labels = homodimer_partners(target.structure, target.chain)
    indices: Dict[str, np.ndarray] = {}
    partners = []
    for label in labels:
        atoms, chain = anchors.atoms_of(label)
        if chain not in indices:
            # Partners are the same protein already (homodimer_partners): map without a check.
            indices[chain] = np.asarray(
                map_sequence(sequence, atoms, chain, min_identity=None), dtype=np.int64
            )
        partners.append((label, indices[chain], anchors.virtual_cb(label)))
    return partners


def inter_end(
    analysis: Analysis, a: int, b: int, partners, own_cb: np.ndarray
) -> Optional[Tuple[int, str, int]]:
    """Where the dash of an inter-chain pair runs: its closest realisation.

    Parameters
    ----------
    analysis : Analysis
        Its ``index`` leads from map positions to the own chain's residues.
    a, b : int
        The pair's map positions.
    partners : list of tuple
        :func:`find_partners`.
    own_cb : numpy.ndarray, shape=(n, 3)
        The own chain's virtual Cb per structure residue.

    Returns
    -------
    end : tuple or None
        ``(own residue, partner label, partner residue)`` (structure residue indices) of
        the shortest Cb-Cb realisation of ``(a, b)`` or ``(b, a)``; None without one.
    """
    best = None
    for chain, index, cb in partners:
        for own, other in ((a, b), (b, a)):
            if index[other] < 0 or analysis.index[own] < 0:
                continue
            distance = float(np.linalg.norm(own_cb[analysis.index[own]] - cb[index[other]]))
            if np.isfinite(distance) and (best is None or distance < best[0]):
                best = (distance, int(analysis.index[own]), chain, int(index[other]))
    return best[1:] if best else None


def probability_bins(probabilities) -> np.ndarray:
    """Edges between the thickness bins: the :data:`BIN_QUANTILES` quantiles of the drawn
    pairs' probabilities (numpy's linear quantiles); empty without pairs.

    Parameters
    ----------
    probabilities : array_like
        The drawn pairs' probabilities.

    Returns
    -------
    edges : numpy.ndarray
        One edge per quantile of :data:`BIN_QUANTILES`; empty without pairs.
    """
    p = np.asarray(probabilities, dtype=float)
    if p.size == 0:
        return np.zeros(0)
    return np.quantile(p, BIN_QUANTILES)


def bin_of(probability: float, edges: np.ndarray) -> int:
    """Thickness bin (0 thinnest) of a probability: the number of edges at or below it.

    Parameters
    ----------
    probability : float
        A drawn pair's probability.
    edges : numpy.ndarray
        :func:`probability_bins`.

    Returns
    -------
    k : int
        0-based bin; the thickest without edges.
    """
    return (
        int(np.searchsorted(edges, probability, side="right"))
        if len(edges)
        else len(DASH_RADII) - 1
    )


def bin_ranges(probabilities, edges: np.ndarray) -> List[Tuple[int, float, float, int]]:
    """(bin, lowest, highest probability, pairs) of each non-empty bin, thinnest first.

    Parameters
    ----------
    probabilities : array_like
        The drawn pairs' probabilities.
    edges : numpy.ndarray
        :func:`probability_bins`.

    Returns
    -------
    bins : list of tuple
        ``(k, lowest, highest, count)`` per non-empty bin.
    """
    p = np.asarray(probabilities, dtype=float)
    bins = np.array([bin_of(x, edges) for x in p], dtype=int)
    return [
        (k, float(p[bins == k].min()), float(p[bins == k].max()), int(np.sum(bins == k)))
        for k in range(len(DASH_RADII))
        if np.any(bins == k)
    ]


def object_suffix(kind: str, k: int) -> str:
    """Suffix of a category's distance object of bin ``k`` (0-based): ``tp1`` .. ``tp4``.

    Parameters
    ----------
    kind : str
        ``tp``, ``fp`` or ``inter``.
    k : int
        0-based bin.

    Returns
    -------
    suffix : str
        ``<kind><k + 1>``.
    """
    return f"{kind}{k + 1}"


def split_suffix(suffix: str) -> Tuple[str, int]:
    """(category, bin) of :func:`object_suffix`.

    Parameters
    ----------
    suffix : str
        As :func:`object_suffix` makes it.

    Returns
    -------
    kind : str
        The category.
    k : int
        0-based bin.
    """
    return suffix[:-1], int(suffix[-1]) - 1


def define_colors(palette: str, _self) -> Dict[str, Tuple[str, Tuple[int, int, int]]]:
    """The palette's colours, each name made known to PyMOL (``set_color``) when it is not.

    Parameters
    ----------
    palette : str
        A key of :data:`PALETTES`.
    _self : pymol.cmd
        The PyMOL instance (cmd).

    Returns
    -------
    colors : dict
        Category -> ``(PyMOL colour name, RGB 0-255)``.
    """
    colors = PALETTES[palette]
    for color, rgb in colors.values():
        if color.startswith("esm_"):  # ours: (re)defined, so a session file's palette comes back
            _self.set_color(color, [c / 255 for c in rgb])
    return colors


def draw(analysis: Analysis, target: Target, options: Options, model: str, _self) -> dict:
    """Draw an analysis as the group ``options.name``; replaces an earlier drawing of that name.

    Parameters
    ----------
    analysis : Analysis
        The pairs to draw, classified.
    target : Target
        The chain drawn on.
    options : Options
        Validated drawing options.
    model : str
        The source named in the summary and the plot's title.
    _self : pymol.cmd
        The PyMOL instance (cmd).

    Returns
    -------
    result : dict
        ``name``, ``objects`` (distance object -> dash count), ``counts`` per category
        (``tp``, ``fp``, ``inter``, ``unknown``, ``undrawn``), ``precision`` (DESIGN.md's,
        :func:`precision_at_top`; with ``precision_hits`` / ``precision_count``),
        ``drawn_fraction`` (contacts among the drawn pairs of known truth), ``bins``
        (:func:`bin_ranges`) and ``edges`` (:func:`probability_bins`) of the thickness,
        ``palette`` and ``colors`` (category -> PyMOL colour name), ``legend`` (the
        legend object or None) and the ``summary`` text.

    Raises
    ------
    pymol.CmdException
        The object changed since the target was read (:func:`.target.current_anchors`),
        or the name is taken.
    """
    from .target import current_anchors

    name = options.name
    # Atom indices change with any edit (h_add, remove) while the model ran: re-read them.
    atoms = current_anchors(target, _self)
    existing = set(_self.get_names("all"))
    if not is_drawing(name, _self):
        # PyMOL's set_name silently replaces an object of the new name: refuse instead.
        taken = [n for n in claimed_names(name) if n in existing]
        if taken:
            raise CmdException(
                f"name {name!r} is taken: {', '.join(taken)} already exist and are not a contact "
                "drawing; choose another name"
            )
    prefix = f"_esm_contacts_{next(_counter)}"
    temporary = lambda suffix: f"{prefix}_{suffix}"  # noqa: E731
    created: List[str] = []
    try:
        anchors = Anchors(target, temporary("vcb"), _self, atoms)
        created.append(anchors.vcb_name)  # deleted on failure if a pseudoatom made it
        partners = (
            find_partners(target, analysis.sequence, anchors) if analysis.count("inter") else []
        )
        chosen = [
            (int(a), int(b), float(p), kind)
            for a, b, p, kind in zip(analysis.i, analysis.j, analysis.p, analysis.kinds)
            if kind != "unknown"
        ]
        own_cb = anchors.virtual_cb(target.chain)
        ends = {
            (a, b): inter_end(analysis, a, b, partners, own_cb)
            for a, b, _, kind in chosen
            if kind == "inter"
        }
        copies = sorted({end[1] for end in ends.values() if end and anchors.is_copy(end[1])})
        if copies:  # only the copies some dash is drawn to
            created.append(temporary("partner"))
            created.extend(f"{temporary('partner')}_{k}" for k in range(len(copies)))
            anchors.load_partner(copies, temporary("partner"))
        objects: Dict[str, int] = {}
        undrawn = 0
        dashes = []
        for a, b, p, kind in chosen:
            if kind == "inter":
                end = ends[(a, b)]
                first = anchors.atom(target.chain, end[0]) if end else None
                second = anchors.atom(end[1], end[2]) if end else None
            else:
                first = anchors.atom(target.chain, int(analysis.index[a]))
                second = anchors.atom(target.chain, int(analysis.index[b]))
            if first is None or second is None:
                undrawn += 1
                continue
            dashes.append((first, second, kind, p))
        anchors.resolve()
        # Thickness bins from the probabilities of the pairs actually drawn.
        edges = probability_bins([p for _, _, _, p in dashes])
        for first, second, kind, p in dashes:
            suffix = object_suffix(kind, bin_of(p, edges))
            obj = temporary(suffix)
            if obj not in created:
                created.append(obj)
            (one, state1), (two, state2) = anchors.selection(first), anchors.selection(second)
            _self.distance(obj, one, two, label=0, state=1, state1=state1, state2=state2)
            objects[suffix] = objects.get(suffix, 0) + 1
        if anchors.used_pseudoatoms:
            _self.hide("everything", anchors.vcb_name)
            _self.show("nonbonded", anchors.vcb_name)
        colors = define_colors(options.palette, _self)
        for suffix in objects:
            _style(temporary(suffix), suffix, colors, _self)
        plot = _plot(analysis, options, target, model) if options.plot else None
        bins = bin_ranges([p for _, _, _, p in dashes], edges)
        key = None
        if options.legend:
            from .legend import drawing_legend

            key = temporary("key")
            created.append(key)
            drawn = {
                kind: sum(n for s, n in objects.items() if split_suffix(s)[0] == kind)
                for kind in COLORS
            }
            frame = drawing_legend(key, name, target, colors, drawn, bins, _self)
        result = _finish(
            name, prefix, objects, anchors.used_pseudoatoms, _self, partner=bool(copies), key=key
        )
        if key is not None:  # the structure and its legend in view, orientation kept
            from .legend import structure_of, zoom_with

            zoom_with(structure_of(target), frame, _self)
    except BaseException:
        existing_now = set(_self.get_names("all"))
        for obj in created:
            if obj in existing_now:
                _self.delete(obj)
        raise
    counts = {kind: analysis.count(kind) for kind in ("tp", "fp", "inter", "unknown")}
    counts["undrawn"] = undrawn
    precision, hits, cut = precision_at_top(analysis, options)
    result.update(
        counts=counts,
        bins=bins,
        edges=[float(e) for e in edges],
        palette=options.palette,
        colors={kind: color for kind, (color, _) in colors.items()},
        precision=precision,
        precision_hits=hits,
        precision_count=cut,
        drawn_fraction=analysis.drawn_fraction,
        model=model,
        plot=plot,
        partners=partner_source(target, [label for label, _, _ in partners], copies),
    )
    result["summary"] = summary(result, analysis, target, options)
    print(result["summary"])
    return result


def _style(obj: str, suffix: str, colors: dict, _self) -> None:
    """Colour and thickness of a distance object. The dashes take the object's colour
    (``dash_color`` stays unset), so PyMOL's ``color`` on the object or its group recolours them."""
    kind, k = split_suffix(suffix)
    _self.color(colors[kind][0], obj)
    _self.set("dash_width", DASH_WIDTHS[k], obj)
    _self.set("dash_radius", DASH_RADII[k], obj)
    _self.set("dash_gap", 0.25, obj)
    _self.hide("labels", obj)


def _plot(analysis: Analysis, options: Options, target: Target, model: str) -> str:
    from esm_contacts.plot import plot_contact_map

    min_sep, _ = options.separations
    try:
        path = plot_contact_map(
            analysis.P,
            analysis.T,
            options.plot,
            X=analysis.X,
            top=options.top,
            min_sep=min_sep,
            title=f"{target.label} ({model})",
        )
    except (ValueError, OSError) as error:
        raise CmdException(f"could not write the contact map {options.plot}: {error}") from None
    return str(path)


def _finish(
    name: str,
    prefix: str,
    objects: Dict[str, int],
    pseudo: bool,
    _self,
    partner: bool = False,
    key: Optional[str] = None,
) -> dict:
    """Replace an earlier drawing of this name, rename the temporaries and group them
    (a category group only where it holds dashes: no empty group)."""
    if name in _self.get_names("all"):
        _self.delete(name)
    final: Dict[str, int] = {}
    for kind in COLORS:
        members = []
        for suffix in sorted(s for s in objects if split_suffix(s)[0] == kind):
            _self.set_name(f"{prefix}_{suffix}", f"{name}_{suffix}")
            members.append(f"{name}_{suffix}")
            final[f"{name}_{suffix}"] = objects[suffix]
        if members:
            _self.group(f"{name}_{kind}", " ".join(members), action="add")
            _self.group(name, f"{name}_{kind}", action="add")
    extras = [(pseudo, "vcb"), (partner, "partner"), (key is not None, "key")]
    for present, suffix in extras:
        if present:
            _self.set_name(f"{prefix}_{suffix}", f"{name}_{suffix}")
            _self.group(name, f"{name}_{suffix}", action="add")
    return {
        "name": name,
        "objects": final,
        "partner": f"{name}_partner" if partner else None,
        "legend": f"{name}_key" if key is not None else None,
    }


def partner_source(target: Target, partners: List[str], drawn: List[str]) -> str:
    """Where the homodimer partners came from, in words ('' when there are none).

    Parameters
    ----------
    target : Target
        The drawn chain.
    partners : list of str
        Partner labels of :func:`find_partners`.
    drawn : list of str
        The assembly copies some dash runs to.

    Returns
    -------
    text : str
        ``''`` without partners.
    """
    if target.assembly is not None:
        labels = drawn or target.assembly.partners
        found = " (found for the object)" if target.assembly.automatic else ""
        return (
            f"{target.assembly.label}{found}, cop{'ies' if len(labels) > 1 else 'y'}"
            f" {', '.join(labels)}"
        )
    if partners:
        return f"chain{'s' if len(partners) > 1 else ''} {', '.join(partners)} of {target.object}"
    return ""


def summary(result: dict, analysis: Analysis, target: Target, options: Options) -> str:
    """The text written to PyMOL's log.

    Parameters
    ----------
    result : dict
        The drawing, as :func:`draw` builds it.
    analysis : Analysis
        The drawn analysis.
    target : Target
        The chain drawn on.
    options : Options
        The drawing options.

    Returns
    -------
    summary : str
        Several lines.
    """
    from esm_contacts.metrics import listed_pairs

    counts = result["counts"]
    name = result["name"]
    chosen = len(analysis.kinds)
    lines = [
        (
            f" esm_contacts: {target.label}, {len(analysis.sequence)} residues, model"
            f" {result['model']}"
        ),
        f"  top {options.top} ({chosen} pairs), min_sep {options.separations[0]}, range"
        f" {options.range}"
        + (f", threshold {options.threshold:g}" if options.threshold is not None else ""),
    ]
    for kind, label in (
        ("tp", "true contacts (Cb-Cb < 8 A)"),
        ("inter", "homodimer contacts (other chain)"),
        ("fp", "false positives"),
    ):
        color = result.get("colors", COLORS)[kind]
        lines.append(f"  {counts[kind]:5d} {label:<33} {color:<14} {name}_{kind}")
    lines.append(
        f"  {counts['unknown'] + counts['undrawn']:5d} with unobserved residues (not drawn)"
    )
    if result.get("bins"):
        lines.append(
            "  thickness: quartiles of the drawn probabilities, thinnest first: "
            + "; ".join(
                f"{k + 1}: p {low:.2f}-{high:.2f} ({n})" for k, low, high, n in result["bins"]
            )
        )
    if result.get("partners"):
        drawn_to = f", drawn to {result['partner']}" if result.get("partner") else ""
        lines.append(f"  homodimer partner: {result['partners']}{drawn_to}")
    if result["precision_count"]:
        lines.append(
            f"  precision at top {options.top}: {result['precision']:.3f}"
            f" ({result['precision_hits']}/{result['precision_count']}; pairs of known truth"
            " ranked, no threshold)"
        )
    else:
        lines.append(f"  precision at top {options.top}: n/a (no pair to rank)")
    listed = listed_pairs(analysis.P, *options.separations)
    if listed < result["precision_count"]:
        lines.append(
            f"  the map lists {listed} pair{'s' if listed != 1 else ''} in these separations, fewer"
            f" than {result['precision_count']}: the pairs it does not list count as misses"
        )
    known = chosen - counts["unknown"]
    if known:
        lines.append(
            f"  drawn pairs that are contacts: {counts['tp']}/{known}"
            f" ({analysis.drawn_fraction:.3f}); with homodimer contacts"
            f" {(counts['tp'] + counts['inter']) / known:.3f}"
        )
    if result.get("plot"):
        lines.append(f"  contact map written to {result['plot']}")
    return "\n".join(lines)


def claimed_names(name: str) -> List[str]:
    """Every object name a drawing called ``name`` may hold.

    Parameters
    ----------
    name : str
        The drawing.

    Returns
    -------
    names : list of str
        The group, its members and their bins.
    """
    return (
        [name, f"{name}_vcb", f"{name}_partner", f"{name}_key"]
        + [f"{name}_{kind}" for kind in COLORS]
        + [f"{name}_{object_suffix(kind, k)}" for kind in COLORS for k in range(len(DASH_RADII))]
    )


def is_drawing(name: str, _self) -> bool:
    """Whether ``name`` is a group this plugin drew: it holds a category group or the legend.

    Parameters
    ----------
    name : str
        An object name.
    _self : pymol.cmd
        The PyMOL instance (cmd).

    Returns
    -------
    answer : bool
        True for a contact drawing.
    """
    names = _self.get_names("all")
    if name not in names or _self.get_type(name) != "object:group":
        return False
    marks = [f"{name}_{kind}" for kind in COLORS] + [f"{name}_key"]
    return any(
        mark in names and _self.get_type(mark) in ("object:group", "object:cgo") for mark in marks
    )


def clear(name: str = "", _self=None) -> List[str]:
    """Delete drawings: the group ``name``, or every contact drawing when empty.

    Legends of ``esm_contacts_check`` (:func:`.legend.check_legends`) go the same way:
    by their check's name, and with everything when no name is given.

    Parameters
    ----------
    name : str
        A drawing or check name; empty: all of them.
    _self : pymol.cmd
        The PyMOL instance (cmd).

    Returns
    -------
    deleted : list of str
        The objects deleted.

    Raises
    ------
    pymol.CmdException
        No drawing or check legend of that name.
    """
    from .legend import check_legends

    name = str(name).strip()
    legends = check_legends(_self)
    if name:
        if name in legends:
            _self.delete(legends[name])
            return [legends[name]]
        if not is_drawing(name, _self):
            raise CmdException(f"no contact drawing named {name!r}")
        names = [name]
    else:
        names = [n for n in _self.get_names_of_type("object:group") if is_drawing(n, _self)]
        names += sorted(legends.values())
    for n in names:
        _self.delete(n)
    return names
