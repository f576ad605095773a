"""The structure behind a PyMOL selection, read by the core's Biotite layer.

The selected object is exported to a temporary PDB (mmCIF when chain IDs or atom
counts do not fit PDB) and read with :func:`esm_contacts.structure.load_structure`, so
the sequence, the true contacts and the residue indices are those the command line
computes for the same coordinates. The selected chain is then cut down to the selected
residues; the other chains stay whole, as homodimer partners.

A chain alone in its object may still be one half of a homodimer: its biological
assembly (:func:`attach_assembly`, from a file or PDB ID, or found for the object
automatically) then supplies the partner copies, placed in the object's frame.
"""

import os
import re
import tempfile
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import numpy as np
from pymol import CmdException

#: Residue key shared by PyMOL atoms and Biotite residues: (chain, res_id, ins_code).
ResidueKey = Tuple[str, int, str]


@dataclass
class Target:
    """One protein chain of a PyMOL object, as selected.

    Attributes
    ----------
    object : str
        PyMOL object name.
    chain : str
        Author chain ID (what PyMOL shows).
    structure : biotite.structure.AtomArray
        The object's protein; the chain cut to the selected residues.
    sequence : str
        One letter per observed residue of the selection (the index space of contact files).
    residues : list of tuple
        ``(chain, res_id, ins_code, res_name)`` per sequence position.
    state : int
        The object state that was read.
    altlocs : dict
        ``(chain, res_id, ins_code)`` -> the altloc ID the structure kept, for residues
        with altlocs. The PyMOL atom indices of the anchors are not kept: they change with
        any edit of the object, and :func:`current_anchors` reads them when drawing.
    """

    object: str
    chain: str
    structure: object
    sequence: str
    residues: List[tuple]
    state: int = 1
    assembly: Optional["Assembly"] = None
    altlocs: Dict[ResidueKey, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.object} chain {self.chain or '(blank)'}"


@dataclass
class Assembly:
    """Partner copies of a target chain from a biological assembly.

    Attributes
    ----------
    atoms : biotite.structure.AtomArray
        The assembly (:func:`esm_contacts.structure.load_assembly`, with ``sym_id``), as
        read from the file: homodimer contacts are computed in its own frame.
    source : str
        The file or PDB ID as given.
    assembly_id : str
        Which assembly of the file.
    partners : list of str
        Partner copy labels (``"A:1"``: chain A, symmetry copy 1; ``"B"``: chain B).
    transform : biotite.structure.AffineTransformation or None
        Places the assembly in the PyMOL object's frame (fit of the chain's own copy on
        the object's chain); None when they already coincide.
    automatic : bool
        Found for the object, not given by the user.
    """

    atoms: object
    source: str
    assembly_id: str
    partners: List[str]
    transform: object = None
    automatic: bool = False
    _copies: Dict[str, object] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def label(self) -> str:
        return f"assembly {self.assembly_id} of {self.source}"

    def copy(self, label: str):
        """The atoms of one chain copy, in the PyMOL object's frame (made once per label
        and shared: copy it before changing it).

        Parameters
        ----------
        label : str
            Copy label (``"A:1"``), as :attr:`partners` holds them.

        Returns
        -------
        atoms : biotite.structure.AtomArray
            The copy, shared.
        """
        if label not in self._copies:
            self._copies[label] = placed_copy(self.atoms, label, self.transform)
        return self._copies[label]


def insertion_code(resi: str, resv: int) -> str:
    """The insertion code of a PyMOL atom: its ``resi`` is the number ``resv`` followed by the
    code (``"52A"``).

    Parameters
    ----------
    resi : str
        PyMOL's residue identifier.
    resv : int
        PyMOL's residue number.

    Returns
    -------
    code : str
        ``"A"`` for ``"52A"``, ``""`` without one.
    """
    return resi[len(str(resv)) :].strip()


def _selected_residues(selection: str, _self) -> set:
    keys: list = []
    _self.iterate(f"byres ({selection})", "keys.append((chain, resv, resi))", space={"keys": keys})
    return {(chain, resv, insertion_code(resi, resv)) for chain, resv, resi in keys}


def _atom_rows(obj: str, state: int, _self) -> list:
    """Every atom of an object: (key, resn, name, alt, occupancy, index, xyz)."""
    rows: list = []
    _self.iterate_state(
        state,
        f"%{obj}",
        "rows.append((chain, resv, resi, resn, name, alt, q, index, x, y, z))",
        space={"rows": rows},
    )
    return [
        ((chain, resv, insertion_code(resi, resv)), resn, name, alt, q, index, np.array(xyz))
        for chain, resv, resi, resn, name, alt, q, index, *xyz in rows
    ]


def _structure_atoms(structure) -> Dict[Tuple[ResidueKey, str], np.ndarray]:
    return {
        (c, int(r), i, n): xyz
        for c, r, i, n, xyz in zip(
            structure.chain_id,
            structure.res_id,
            structure.ins_code,
            structure.atom_name,
            structure.coord,
        )
    }


def _chosen_altlocs(rows: list, structure) -> Dict[ResidueKey, str]:
    """The altloc the Biotite layer kept, per residue with altlocs.

    The core picks one altloc per residue (highest mean occupancy, ties to the first
    listed); the alternative whose atoms all sit on the structure's atoms is that one.
    Residues the structure lacks (outside the selection, not protein) get no entry:
    nothing is ever drawn to them.
    """
    kept = _structure_atoms(structure)
    groups: Dict[ResidueKey, Dict[str, list]] = {}
    for key, _, name, alt, q, _, xyz in rows:
        if alt:
            groups.setdefault(key, {}).setdefault(alt, []).append((name, q, xyz))
    chosen: Dict[ResidueKey, str] = {}
    for key, alts in groups.items():
        matching = [
            alt
            for alt, atoms in alts.items()
            if all(
                key + (name,) in kept and np.linalg.norm(kept[key + (name,)] - xyz) < 0.01
                for name, _, xyz in atoms
            )
        ]
        if matching:
            chosen[key] = matching[0]
    return chosen


def _anchors_from_rows(
    rows: list, altlocs: Dict[ResidueKey, str]
) -> Dict[ResidueKey, Dict[str, int]]:
    """CA and CB atom indices per residue, of the residue's chosen altloc."""
    atoms: Dict[ResidueKey, Dict[str, int]] = {}
    for key, _, name, alt, _, index, _ in rows:
        if name in ("CA", "CB") and alt in ("", altlocs.get(key, "")):
            atoms.setdefault(key, {}).setdefault(name, index)
    return atoms


def current_anchors(target: "Target", _self) -> Dict[ResidueKey, Dict[str, int]]:
    """Re-read the anchor atoms of a target's object (indices change with any edit).

    Parameters
    ----------
    target : Target
        The chain as it was read.
    _self : pymol.cmd
        The PyMOL instance (cmd).

    Returns
    -------
    atoms : dict
        ``(chain, res_id, ins_code)`` -> ``{"CA": index, "CB": index}`` (PyMOL atom
        indices, of the chosen altloc).

    Raises
    ------
    pymol.CmdException
        The object is gone, lost or renamed a residue of the target's structure, or
        its CA atoms moved since the target was read.
    """
    changed = (
        f"object {target.object} changed since its structure was read (during the prediction?); run"
        " again"
    )
    if target.object not in (_self.get_names("objects") or []):
        raise CmdException(f"object {target.object} no longer exists; run again")
    rows = _atom_rows(target.object, target.state, _self)
    present = {key + (resn,) for key, resn, *_ in rows}
    s = target.structure
    for c, r, i, n in sorted(set(zip(s.chain_id, s.res_id.tolist(), s.ins_code, s.res_name))):
        if (c, r, i, n) not in present:
            raise CmdException(
                f"{changed}: residue {n} {r}{i} of chain {c or '(blank)'} is missing"
            )
    atoms = _anchors_from_rows(rows, target.altlocs)
    kept = _structure_atoms(s[s.atom_name == "CA"])
    coords = {
        key: xyz
        for key, _, name, alt, _, _, xyz in rows
        if name == "CA" and alt in ("", target.altlocs.get(key, ""))
    }
    for (c, r, i, _), xyz in kept.items():
        if (c, r, i) in coords and np.linalg.norm(coords[(c, r, i)] - xyz) > 0.01:
            raise CmdException(f"{changed}: residue {r}{i} of chain {c or '(blank)'} moved")
    return atoms


def _export(obj: str, state: int, folder: str, _self) -> str:
    chains = _self.get_chains(f"%{obj}")
    # PDB holds one-letter chain IDs and 99999 atoms; mmCIF anything else.
    fmt = (
        "pdb"
        if all(len(c) <= 1 for c in chains) and _self.count_atoms(f"%{obj}") < 99999
        else "cif"
    )
    path = os.path.join(folder, f"{obj}.{fmt}")
    with open(path, "w") as stream:
        stream.write(_self.get_str(fmt, f"%{obj}", state))
    return path


def _restrict_chain(structure, chain: str, keep: set):
    """Atoms of ``chain`` only where their residue is in ``keep``; other chains whole."""
    in_chain = structure.chain_id == chain
    selected = np.fromiter(
        (
            (c, int(r), i) in keep
            for c, r, i in zip(structure.chain_id, structure.res_id, structure.ins_code)
        ),
        dtype=bool,
        count=structure.array_length(),
    )
    return structure[~in_chain | selected]


def resolve_selection(selection: str, _self) -> Tuple[str, str]:
    """The one object and one protein chain a selection refers to.

    Parameters
    ----------
    selection : str
        A PyMOL selection.
    _self : pymol.cmd
        The PyMOL instance (cmd).

    Returns
    -------
    object : str
        The object's name.
    chain : str
        The author chain ID.

    Raises
    ------
    pymol.CmdException
        Empty selection, no protein, several objects or several chains.
    """
    selection = str(selection).strip()
    if not selection:
        raise CmdException("no selection given; select one protein chain, e.g. '1hvr and chain A'")
    try:
        count = _self.count_atoms(f"({selection})")
    except Exception:  # PyMOL raises its own error types for selection syntax
        raise CmdException(f"invalid selection {selection!r}") from None
    if count == 0:
        raise CmdException(f"selection {selection!r} is empty")
    protein = f"({selection}) and polymer.protein"
    objects = _self.get_object_list(protein) or []
    if not objects:
        raise CmdException(f"selection {selection!r} holds no protein residues")
    if len(objects) > 1:
        raise CmdException(
            f"selection {selection!r} spans several objects ({', '.join(objects)}); select one"
            " chain of one object"
        )
    chains = _self.get_chains(protein)
    if len(chains) > 1:
        raise CmdException(
            f"selection {selection!r} holds several protein chains ({', '.join(chains)}); select"
            f" one, e.g. '{objects[0]} and chain {chains[0]}'"
        )
    return objects[0], chains[0]


def load_target(selection: str, _self) -> Target:
    """Read the chain a PyMOL selection refers to with the core's Biotite layer.

    Parameters
    ----------
    selection : str
        A PyMOL selection inside one protein chain of one object.
    _self : pymol.cmd
        The PyMOL instance.

    Returns
    -------
    target : Target
        The chain, restricted to the selected residues.
    """
    from esm_contacts.structure import chain_sequence, load_structure, residue_identities

    obj, chain = resolve_selection(selection, _self)
    state = max(int(_self.get_object_state(obj)), 1) if hasattr(_self, "get_object_state") else 1
    keep = {key for key in _selected_residues(selection, _self) if key[0] == chain}
    with tempfile.TemporaryDirectory(prefix="esm_contacts_") as folder:
        try:
            structure = load_structure(_export(obj, state, folder, _self))
        except (ValueError, OSError) as error:
            raise CmdException(f"could not read {obj} through the Biotite layer: {error}") from None
    structure = _restrict_chain(structure, chain, keep)
    try:
        sequence = chain_sequence(structure, chain)
    except (ValueError, KeyError) as error:
        raise CmdException(f"{obj} chain {chain}: {error}") from None
    if not sequence:
        raise CmdException(
            f"selection {selection!r} holds no amino-acid residues of {obj} chain {chain}"
        )
    altlocs = _chosen_altlocs(_atom_rows(obj, state, _self), structure)
    return Target(
        obj,
        chain,
        structure,
        sequence,
        residue_identities(structure, chain),
        state,
        altlocs=altlocs,
    )


# -- biological assemblies -------------------------------------------------------------


def copy_atoms(assembly, label: str):
    """The atoms of the chain copy ``label``.

    Parameters
    ----------
    assembly : biotite.structure.AtomArray
        The biological assembly.
    label : str
        Copy label (``"A:1"``) or chain ID, as
        :func:`esm_contacts.structure.homodimer_partners` names them.

    Returns
    -------
    atoms : biotite.structure.AtomArray
        :func:`esm_contacts.structure.chain_copy`.
    """
    from esm_contacts.structure import chain_copy

    return chain_copy(assembly, label)


def placed_copy(assembly, label: str, transform=None):
    atoms = copy_atoms(assembly, label).copy()
    if transform is not None:
        atoms.coord = transform.apply(atoms.coord)
    return atoms


def split_assembly_spec(spec: str) -> Tuple[str, Optional[str]]:
    """``"path"`` or ``"path:ID"`` (also ``"1a8o:2"``) -> (path, assembly ID or None).

    Parameters
    ----------
    spec : str
        The ``assembly`` option.

    Returns
    -------
    path : str
        File or PDB ID.
    assembly_id : str or None
        None: the first assembly that holds the chain.
    """
    spec = str(spec).strip()
    if os.path.exists(spec) or ":" not in spec:
        return spec, None
    path, _, assembly_id = spec.rpartition(":")
    if not assembly_id or any(c in assembly_id for c in "/\\") or not path:
        return spec, None  # a drive letter or URL-like text: leave it whole
    return path, assembly_id.strip()


def _ca_coordinates(atoms, residues: List[tuple]) -> np.ndarray:
    """(len(residues), 3) CA coordinates of ``(chain, res_id, ins_code, ...)`` residues, NaN
    without CA."""
    ca = atoms[atoms.atom_name == "CA"]
    found = {
        (c, int(r), i): xyz for c, r, i, xyz in zip(ca.chain_id, ca.res_id, ca.ins_code, ca.coord)
    }
    missing = np.full(3, np.nan)
    return np.array(
        [found.get((c, int(r), i), missing) for c, r, i, *_ in residues], dtype=np.float64
    ).reshape(-1, 3)


def _frame(target: Target, own, mapping: np.ndarray) -> object:
    """The fit of the assembly's own copy onto the object's chain (None: same place).

    ``mapping``: :func:`esm_contacts.structure.map_sequence` of the target's sequence onto
    ``own``; CA atoms are paired through it, so renumbered objects fit too.
    """
    import biotite.structure as struc

    from esm_contacts.structure import residue_identities

    mapped = mapping >= 0
    fixed = _ca_coordinates(target.structure, target.residues)[mapped]
    mobile = _ca_coordinates(own, residue_identities(own, target.chain))[mapping[mapped]]
    known = np.isfinite(fixed).all(axis=1) & np.isfinite(mobile).all(axis=1)
    fixed, mobile = fixed[known], mobile[known]
    if len(fixed) < 3:
        raise ValueError(
            f"its chain {target.chain} shares fewer than 3 CA atoms (aligned by sequence) with"
            f" {target.label}"
        )
    if np.sqrt(np.mean(np.sum((fixed - mobile) ** 2, axis=1))) < 1e-3:
        return None
    _, transform = struc.superimpose(fixed, mobile)
    return transform


def attach_assembly(
    target: Target, spec: str, _self=None, automatic: bool = False, cache_dir=None
) -> Optional[Assembly]:
    """Give a target the partner copies of its biological assembly.

    Only where the chain has no partner chain in its own object; otherwise the target
    is left as it is and None returned.

    Parameters
    ----------
    target : Target
        From :func:`load_target`; its ``assembly`` is set.
    spec : str
        Structure file or PDB ID (cache and offline rules of
        :func:`esm_contacts.structure.load_structure`), optionally ``"path:ID"`` to
        choose the assembly.
    _self : pymol.cmd or None
        The PyMOL instance (cmd); unused.
    automatic : bool
        Found for the object rather than given: label it so.
    cache_dir : str or path-like, optional
        Download cache of :func:`esm_contacts.structure.load_assembly`; None: its default.

    Returns
    -------
    assembly : Assembly or None
        The assembly attached; None where the object holds a partner chain already.

    Raises
    ------
    pymol.CmdException
        No such file, no assembly, the chain missing from it or not matching, or no
        partner copy in it.
    """
    from esm_contacts.structure import (
        SequenceMismatchError,
        chain_sequence,
        homodimer_partners,
        load_assembly,
        map_sequence,
    )

    if homodimer_partners(target.structure, target.chain):
        return None
    path, assembly_id = split_assembly_spec(spec)
    if not path:
        raise CmdException("no assembly file given")
    where = f"assembly {spec!r}"
    try:
        # Without an ID, the first assembly listed that holds the chain.
        atoms = load_assembly(
            path, assembly_id=assembly_id, cache_dir=cache_dir, chain=target.chain
        )
        if atoms is None:
            raise ValueError(f"{path}: defines no biological assembly")
        if not (atoms.chain_id == target.chain).any():
            raise ValueError(f"{path}: no assembly holds chain {target.chain}")
        where = f"assembly {atoms.assembly_id} of {path}"
        own = copy_atoms(atoms, target.chain)
        try:  # the core's one rule: another protein is an error
            mapping = np.asarray(map_sequence(target.sequence, own, target.chain), dtype=np.int64)
        except SequenceMismatchError as error:
            raise ValueError(
                f"its chain {target.chain} ({len(chain_sequence(own, target.chain))} residues) "
                f"does not match {target.label}: {error}"
            ) from None
        partners = homodimer_partners(atoms, target.chain, assembly=atoms)
        if not partners:
            raise ValueError(
                f"no copy of chain {target.chain} or chain of the same sequence besides chain "
                f"{target.chain} itself (not a homodimer)"
            )
        transform = _frame(target, own, mapping)
    except (FileNotFoundError, ValueError, OSError) as error:
        raise CmdException(f"{where}: {error}") from None
    target.assembly = Assembly(atoms, str(path), atoms.assembly_id, partners, transform, automatic)
    return target.assembly


def assembly_candidates(obj: str, _self) -> List[str]:
    """Local files of the PDB entry an object is named after (``fetch 1a8o`` writes
    ``1a8o.cif`` to PyMOL's ``fetch_path``); the esm-contacts cache. Never the network.

    Parameters
    ----------
    obj : str
        The object's name (a PDB ID, or nothing is found).
    _self : pymol.cmd
        The PyMOL instance (cmd).

    Returns
    -------
    paths : list of str
        Existing files, mmCIF first; empty for a name that is not a PDB ID.
    """
    from esm_contacts.structure import DEFAULT_CACHE, STRUCTURE_SUFFIXES

    if not re.match(r"^[0-9][A-Za-z0-9]{3}$", obj):
        return []
    folders = []
    try:
        folders.append(os.path.expanduser(str(_self.get("fetch_path")) or "."))
    except Exception:  # noqa: BLE001 - no such setting in this PyMOL
        pass
    folders.append(os.path.expanduser(str(DEFAULT_CACHE)))
    found = []
    for folder in folders:
        # mmCIF first: it names its entities. Then the core's other suffixes, and pdbXXXX.ent.
        suffixes = sorted(STRUCTURE_SUFFIXES, key=lambda suffix: suffix != ".cif")
        names = [
            stem + suffix + gz
            for stem in (obj.lower(), obj.upper())
            for suffix in suffixes
            for gz in ("", ".gz")
        ]
        names += [f"pdb{obj.lower()}.ent", f"pdb{obj.lower()}.ent.gz"]
        for name in names:
            path = os.path.join(folder, name)
            if os.path.isfile(path) and path not in found:
                found.append(path)
    return found


def find_assembly(target: Target, _self) -> Optional[Assembly]:
    """Try the object's own entry (:func:`assembly_candidates`) where the chain is alone
    in its object; failures are quiet (None).

    Parameters
    ----------
    target : Target
        From :func:`load_target`; its ``assembly`` is set when one is found.
    _self : pymol.cmd
        The PyMOL instance (cmd).

    Returns
    -------
    assembly : Assembly or None
        None where none was found or it did not fit.
    """
    if (
        target.assembly is not None
        or len(_self.get_chains(f"%{target.object} and polymer.protein")) != 1
    ):
        return None
    for path in assembly_candidates(target.object, _self):
        try:
            found = attach_assembly(target, path, _self, automatic=True)
        except CmdException:
            continue
        if found is not None:
            return found
    return None
