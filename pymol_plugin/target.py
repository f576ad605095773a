"""The structure behind a PyMOL selection, read by the core's Biotite layer.

The selected object is exported to a temporary PDB (mmCIF when chain IDs or atom
counts do not fit PDB) and read with :func:`esm_contacts.structure.load_structure`, so
the sequence, the true contacts and the residue indices are those the command line
computes for the same coordinates. The selected chain is then cut down to the selected
residues; the other chains stay whole, as homodimer partners.
"""

import os
import tempfile
from dataclasses import dataclass, field
from typing import Dict, List, Tuple

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
    atoms : dict
        ``(chain, res_id, ins_code)`` -> ``{atom name: PyMOL atom index}`` for CA and CB,
        every chain of the object.
    state : int
        The object state that was read.
    """

    object: str
    chain: str
    structure: object
    sequence: str
    residues: List[tuple]
    atoms: Dict[ResidueKey, Dict[str, int]] = field(default_factory=dict)
    state: int = 1

    @property
    def label(self) -> str:
        return f"{self.object} chain {self.chain or '(blank)'}"


def _ins_code(resi: str, resv: int) -> str:
    # PyMOL's resi is the number followed by the insertion code ("52A").
    return resi[len(str(resv)):].strip()


def _selected_residues(selection: str, _self) -> set:
    keys: list = []
    _self.iterate(f"byres ({selection})", "keys.append((chain, resv, resi))", space={"keys": keys})
    return {(chain, resv, _ins_code(resi, resv)) for chain, resv, resi in keys}


def _anchor_atoms(obj: str, state: int, _self) -> Dict[ResidueKey, Dict[str, int]]:
    """CA and CB atom indices per residue; with altlocs, the most occupied one."""
    rows: list = []
    _self.iterate(f"%{obj} and polymer.protein and name CA+CB",
                  "rows.append((chain, resv, resi, name, index, q))", space={"rows": rows})
    atoms: Dict[ResidueKey, Dict[str, int]] = {}
    occupancy: Dict[Tuple[ResidueKey, str], float] = {}
    for chain, resv, resi, name, index, q in rows:
        key = (chain, resv, _ins_code(resi, resv))
        if occupancy.get((key, name), -1.0) < q:
            occupancy[(key, name)] = q
            atoms.setdefault(key, {})[name] = index
    return atoms


def _export(obj: str, state: int, folder: str, _self) -> str:
    chains = _self.get_chains(f"%{obj}")
    # PDB holds one-letter chain IDs and 99999 atoms; mmCIF anything else.
    fmt = "pdb" if all(len(c) <= 1 for c in chains) and _self.count_atoms(f"%{obj}") < 99999 else "cif"
    path = os.path.join(folder, f"{obj}.{fmt}")
    with open(path, "w") as stream:
        stream.write(_self.get_str(fmt, f"%{obj}", state))
    return path


def _restrict_chain(structure, chain: str, keep: set):
    """Atoms of ``chain`` only where their residue is in ``keep``; other chains whole."""
    in_chain = structure.chain_id == chain
    selected = np.fromiter(
        ((c, int(r), i) in keep for c, r, i in zip(structure.chain_id, structure.res_id, structure.ins_code)),
        dtype=bool, count=structure.array_length(),
    )
    return structure[~in_chain | selected]


def resolve_selection(selection: str, _self) -> Tuple[str, str]:
    """The one object and one protein chain a selection refers to.

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
        raise CmdException(f"selection {selection!r} spans several objects ({', '.join(objects)}); select one chain of one object")
    chains = _self.get_chains(protein)
    if len(chains) > 1:
        raise CmdException(
            f"selection {selection!r} holds several protein chains ({', '.join(chains)}); select one, "
            f"e.g. '{objects[0]} and chain {chains[0]}'"
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
        raise CmdException(f"selection {selection!r} holds no amino-acid residues of {obj} chain {chain}")
    return Target(obj, chain, structure, sequence, residue_identities(structure, chain),
                  _anchor_atoms(obj, state, _self), state)

