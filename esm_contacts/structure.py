"""Structures as ground truth: loading, chain sequences, residue mapping, Cb contacts.

Reading follows ``DESIGN.md``: the first model, author chain IDs, amino-acid polymer
residues only (modified residues kept under their parent letter, MSE -> M, CSO -> C),
waters, ligands and nucleic acids dropped. Alternate locations are resolved per residue
(chain, res_id, ins_code): the altloc with the highest mean occupancy wins, ties go to
the altloc listed first, and atoms without an altloc are always kept. Biotite's own
``altloc="first"``/``"occupancy"`` filters are not used because they drop residues
whose altloc IDs are numeric ('1', '2').

Which residues are polymer residues: in mmCIF files with an ``entity_poly`` category,
residues of polypeptide entities whose component is an amino acid in the PDB Chemical
Component Dictionary (CCD); elsewhere (PDB files), amino-acid residues in ATOM records,
and amino-acid residues in HETATM records (MSE, CSO, ...) that are peptide-bonded
(C-N < 2 A) to a neighbouring residue of their chain, so that a free amino acid bound
as a ligand is not taken for part of the chain.

Contacts are Cb-Cb distances below the cutoff (8 A). The virtual Cb is built from N, CA
and C with ideal geometry for every residue, Gly included; ``cb="real"`` uses the CB
atom where present and CA where it is absent (Gly, truncated side chains), the CASP
convention. Unknown residues (unobserved, or missing the atoms their Cb needs) are -1
in their rows and columns. Neighbours are found with a KD-tree, never an all-pairs
distance matrix.
"""

import functools
import os
import re
import warnings
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import biotite.structure as struc
import biotite.structure.io.pdb as pdb
import biotite.structure.io.pdbx as pdbx
import numpy as np
from scipy.spatial import cKDTree

from .catalog import OFFLINE_ENV, offline
from .files import byte_limit, check_input_file, file_kind, read_bytes_limited
from .sequence import clean_sequence

__all__ = [
    "DEFAULT_CACHE",
    "MAX_STRUCTURE_BYTES",
    "STRUCTURE_SUFFIXES",
    "MIN_IDENTITY",
    "MIN_COVERAGE",
    "SequenceMismatchError",
    "is_structure_file",
    "load_structure",
    "load_models",
    "model_count",
    "list_assemblies",
    "load_assembly",
    "load_chain",
    "chain_ids",
    "chain_sequence",
    "entity_sequence",
    "prediction_sequence",
    "residue_identities",
    "residue_label",
    "residue_labels",
    "same_protein",
    "match_sequences",
    "map_sequence",
    "cb_coordinates",
    "contacts_from_coordinates",
    "true_contacts",
    "interchain_contacts",
    "copy_label",
    "parse_copy_label",
    "chain_copy",
    "homodimer_partners",
    "homodimer_contacts",
    "cb_distances",
    "homodimer_distances",
    "sequence_of_map",
]

#: Where fetched PDB entries are kept.
DEFAULT_CACHE = Path("~/.cache/esm-contacts/pdb")
#: Largest structure file read, in bytes after decompression (2 GiB; a PDB entry of
#: a million atoms is about 80 MB): larger files, and gzip files that unpack beyond it,
#: are refused before they are read whole. Overridden by the environment variable
#: ``ESM_CONTACTS_MAX_STRUCTURE_BYTES`` or the `max_bytes` argument of the loaders.
MAX_STRUCTURE_BYTES = 2 << 30
MAX_STRUCTURE_BYTES_ENV = "ESM_CONTACTS_MAX_STRUCTURE_BYTES"
#: Sequence matching (DESIGN.md): two sequences are the same protein when at least this
#: fraction of their aligned positions is identical ...
MIN_IDENTITY = 0.90
#: ... and the aligned positions cover at least this fraction of the shorter sequence.
MIN_COVERAGE = 0.5
#: File name endings :func:`load_structure` reads by name (each optionally ``.gz``);
#: ``pdbXXXX.ent`` and ``.pdb1``, ``.pdb2`` ... (assembly files) are PDB too.
STRUCTURE_SUFFIXES = (".pdb", ".ent", ".cif", ".mmcif", ".bcif", ".pdbx")
#: Gap open and extension penalties of the global alignment.
GAP_PENALTY = (-10, -1)
#: Peptide bond C-N distance bound for hetero residues in PDB files.
PEPTIDE_BOND = 2.0
# Virtual Cb coefficients (DESIGN.md).
_CB_A, _CB_B, _CB_C = -0.58273431, 0.56802827, -0.54067466

PathLike = Union[str, os.PathLike]
_PDB_ID = re.compile(r"^[0-9][A-Za-z0-9]{3}$")
_BLANK_ALTLOC = ("", " ", ".", "?")


# ---------------------------------------------------------------------------- reading


def _resolve_path(path_or_pdb_id: PathLike, cache_dir: Optional[PathLike] = None) -> Path:
    """The local file for a path or a 4-character PDB ID (fetched into the cache)."""
    if not isinstance(path_or_pdb_id, (str, os.PathLike)):
        raise TypeError(
            "expected a structure file path or PDB ID (str or path-like), "
            f"got {type(path_or_pdb_id).__name__}"
        )
    path = Path(path_or_pdb_id).expanduser()
    text = str(path_or_pdb_id)
    if file_kind(path) != "missing" or not _PDB_ID.match(text):
        return check_input_file(path if text else "", "file")
    pdb_id = text.lower()
    cache = Path(cache_dir if cache_dir is not None else DEFAULT_CACHE).expanduser()
    for name in (f"{pdb_id}.cif", f"{pdb_id}.cif.gz", f"{pdb_id}.bcif", f"{pdb_id}.pdb"):
        if (cache / name).is_file() and (cache / name).stat().st_size > 0:
            return cache / name
    if offline():
        raise FileNotFoundError(
            f"{text}: no such file, and PDB entry {pdb_id.upper()} is not in the cache {cache}; "
            f"{OFFLINE_ENV} forbids fetching it from RCSB"
        )
    import shutil
    import tempfile

    import biotite.database.rcsb as rcsb

    try:
        cache.mkdir(parents=True, exist_ok=True)
        # Fetch beside the cache and move in when complete: no half-written entries.
        with tempfile.TemporaryDirectory(dir=cache, prefix=".fetch-") as folder:
            fetched = Path(rcsb.fetch(pdb_id, "cif", target_path=folder))
            if not fetched.is_file() or fetched.stat().st_size == 0:
                raise ValueError("RCSB returned an empty file")
            target = cache / f"{pdb_id}.cif"
            shutil.move(str(fetched), str(target))
    except Exception as error:  # no network, unknown ID, HTTP error
        raise FileNotFoundError(
            f"{text}: no such file, and fetching PDB entry {pdb_id.upper()} from RCSB failed "
            f"(offline or unknown ID): {error}"
        ) from None
    return target


def _file_bytes(path: Path, max_bytes: Optional[int] = None) -> bytes:
    """The file's content, decompressed if gzipped (by magic number, not by name).

    At most :data:`MAX_STRUCTURE_BYTES` (or `max_bytes`, or the environment's cap),
    checked while decompressing: ValueError beyond it.
    """
    limit = byte_limit(max_bytes, MAX_STRUCTURE_BYTES, MAX_STRUCTURE_BYTES_ENV)
    raw = read_bytes_limited(path, limit, "structure file", env=MAX_STRUCTURE_BYTES_ENV)
    if not raw.strip():
        raise ValueError(f"{path}: file is empty")
    return raw


def _file_format(path: Path, raw: bytes) -> str:
    """``"pdb"``, ``"cif"`` or ``"bcif"``, from the name, else from the content."""
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    suffix = Path(name).suffix
    if suffix in (".pdb", ".ent") or re.fullmatch(r"\.pdb\d+", suffix):
        return "pdb"
    if suffix in (".cif", ".mmcif"):
        return "cif"
    if suffix == ".bcif":
        return "bcif"
    try:
        text = raw[:4096].decode("utf-8")
    except UnicodeDecodeError:
        return "bcif"
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            return "cif" if line.startswith("data_") else "pdb"
    return "pdb"


def is_structure_file(path: PathLike) -> bool:
    """Whether a file name is one :func:`load_structure` reads as a structure by its ending.

    :data:`STRUCTURE_SUFFIXES`, each optionally gzipped, and the PDB's other names:
    ``pdbXXXX.ent``, assembly files ``.pdb1``, ``.pdb2`` ...

    Parameters
    ----------
    path : str or path-like
        A file name or path (only the name is looked at; the case does not matter).

    Returns
    -------
    structure : bool
        True when the ending is a structure file's.

    Examples
    --------
    >>> [is_structure_file(name) for name in ("1abc.cif.gz", "pdb1abc.ent", "1abc.pdb1", "1abc.rr")]
    [True, True, True, False]
    """
    name = Path(path).name.lower()
    name = name[:-3] if name.endswith(".gz") else name
    return name.endswith(STRUCTURE_SUFFIXES) or re.search(r"\.pdb\d+$", name) is not None


_LABELS = {"pdb": "PDB", "cif": "mmCIF", "bcif": "BinaryCIF"}


class _UnreadableError(ValueError):
    """A structure file that does not parse (the message names the file and format)."""


def _unreadable(path: Path, label: str, error: Exception) -> _UnreadableError:
    if isinstance(error, ValueError):
        return _UnreadableError(f"{path}: not a readable {label} file ({error})")
    # Biotite's InvalidFileError, msgpack, unicode, index errors
    return _UnreadableError(
        f"{path}: not a readable {label} file ({type(error).__name__}: {error})"
    )


def _parse(path: Path, max_bytes: Optional[int] = None):
    """``(label, file)``: the format's name and the Biotite file object of a structure file.

    Raises
    ------
    ValueError
        An empty or undecompressable file (:func:`_file_bytes`).
    _UnreadableError
        A file that does not parse in its format.
    """
    import io

    raw = _file_bytes(path, max_bytes)
    fmt = _file_format(path, raw)
    label = _LABELS[fmt]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if fmt == "bcif":
                return label, pdbx.BinaryCIFFile.read(io.BytesIO(raw))
            text = io.StringIO(raw.decode("utf-8", errors="replace"))
            return label, (pdb.PDBFile if fmt == "pdb" else pdbx.CIFFile).read(text)
        except Exception as error:
            raise _unreadable(path, label, error) from None


def _read_file(
    path: Path,
    assembly: bool = False,
    assembly_id: Optional[str] = None,
    chain: Optional[str] = None,
    max_bytes: Optional[int] = None,
    model: int = 1,
    parsed=None,
):
    """Raw atoms (all altlocs, model `model`, the first by default) with occupancy, and per-file
    extras.

    With `assembly`, the atoms of assembly `assembly_id`; without an ID, the first
    assembly listed, or the first that holds `chain` where one is given. `parsed`, the
    ``(label, file)`` of :func:`_parse`, saves parsing the file again (one model after another).

    Returns
    -------
    atoms : AtomArray or None
        None when an assembly was asked for and the file defines none.
    peptide_entities : set of str or None
        Entity IDs of polypeptide entities (mmCIF with ``entity_poly``), else None.
    entities : tuple of dict
        Author chain ID -> full construct sequence (mmCIF entity, PDB SEQRES), and
        author chain ID -> entity (mmCIF ``entity_id``; for PDB SEQRES, the sequence).
    chosen : str or None
        The assembly read (None without `assembly`).
    """
    label, file = parsed or _parse(path, max_bytes)
    with warnings.catch_warnings():
        # Biotite warns about missing optional columns; their defaults are fine here.
        warnings.simplefilter("ignore")
        try:
            if isinstance(file, pdb.PDBFile):
                if not any(line.startswith(("ATOM", "HETATM")) for line in file.lines):
                    raise ValueError(f"{path}: no ATOM or HETATM records (not a {label} file?)")
                seqres = _seqres_sequences(file.lines)
                peptide_entities, entity_sequences = None, (seqres, dict(seqres))

                def build(assembly_id=None):
                    if assembly_id is None:
                        return file.get_structure(
                            model=model, altloc="all", extra_fields=["occupancy"]
                        )
                    return file.get_assembly(
                        assembly_id, model=1, altloc="all", extra_fields=["occupancy"]
                    )

            else:
                block = file.block
                if "atom_site" not in block:
                    raise ValueError(
                        f"{path}: no atom_site category (not a {label} structure file?)"
                    )
                fields = ["occupancy"] + [
                    f for f in ("label_seq_id", "label_entity_id") if f in block["atom_site"]
                ]
                peptide_entities, entity_sequences = _entity_info(block)

                def build(assembly_id=None):
                    if assembly_id is None:
                        return pdbx.get_structure(
                            file, model=model, altloc="all", extra_fields=fields
                        )
                    return pdbx.get_assembly(
                        file, assembly_id, model=1, altloc="all", extra_fields=fields
                    )

            if not assembly:
                return build(), peptide_entities, entity_sequences, None
            available = _available_assemblies(file)
            if not available:
                return None, None, ({}, {}), None
            if assembly_id is not None:
                chosen = _check_assembly_id(path, assembly_id, available)
                atoms = build(chosen)
            else:
                for chosen in available:
                    atoms = build(chosen)
                    if chain is None or (atoms.chain_id == chain).any():
                        break
            return atoms, peptide_entities, entity_sequences, chosen
        except Exception as error:
            if isinstance(error, ValueError) and str(error).startswith(str(path)):
                raise
            raise _unreadable(path, label, error) from None


def _available_assemblies(file) -> List[str]:
    """Assembly IDs a parsed PDB, mmCIF or BinaryCIF file defines, in file order."""
    if isinstance(file, pdb.PDBFile):
        try:
            return [str(a) for a in file.list_assemblies()]
        except Exception:  # no REMARK 300/350
            return []
    block = file.block
    if "pdbx_struct_assembly_gen" not in block or "pdbx_struct_oper_list" not in block:
        return []
    return list(
        dict.fromkeys(block["pdbx_struct_assembly_gen"]["assembly_id"].as_array(str).tolist())
    )


def list_assemblies(
    path: PathLike, cache_dir: Optional[PathLike] = None, *, max_bytes: Optional[int] = None
) -> List[str]:
    """The biological assembly IDs a structure file defines, in file order.

    Parameters
    ----------
    path : str or path-like
        Structure file or PDB ID, as for :func:`load_structure`.
    cache_dir, max_bytes : optional
        As in :func:`load_structure`.

    Returns
    -------
    ids : list of str
        Empty when the file defines none (or cannot be read as a structure file).
    """
    try:
        _, file = _parse(_resolve_path(path, cache_dir), max_bytes)
    except _UnreadableError:  # load_structure / load_assembly say why
        return []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return _available_assemblies(file)
        except Exception:  # a block without the categories' columns: as unreadable
            return []


def _check_assembly_id(path: Path, assembly_id: str, available: Sequence[str]) -> str:
    available = [str(a) for a in available]
    if str(assembly_id) not in available:
        raise ValueError(
            f"{path}: no assembly {assembly_id!r}; the file defines {', '.join(available)}"
        )
    return str(assembly_id)


def _entity_info(block) -> Tuple[Optional[set], Tuple[Dict[str, str], Dict[str, str]]]:
    """Polypeptide entity IDs, and each author chain's entity sequence and entity ID, where the
    file has them."""
    if "entity_poly" not in block:
        return None, ({}, {})
    poly = block["entity_poly"]
    try:
        types = poly["type"].as_array(str)
        ids = poly["entity_id"].as_array(str)
    except KeyError:
        return None, ({}, {})
    peptide = {e for e, t in zip(ids, types) if t.lower().startswith("polypeptide")}
    sequences, groups = {}, {}
    if "pdbx_strand_id" in poly:
        for entity, strand in zip(ids, poly["pdbx_strand_id"].as_array(str)):
            if entity in peptide:
                groups.update((chain.strip(), str(entity)) for chain in strand.split(","))
    if "pdbx_seq_one_letter_code_can" in poly and "pdbx_strand_id" in poly:
        codes = poly["pdbx_seq_one_letter_code_can"].as_array(str)
        strands = poly["pdbx_strand_id"].as_array(str)
        for entity, code, strand in zip(ids, codes, strands):
            if entity in peptide:
                sequence = re.sub(r"\s+", "", code).upper()
                for chain in strand.split(","):
                    sequences[chain.strip()] = sequence
    return peptide, (sequences, groups)


def _seqres_sequences(lines: Sequence[str]) -> Dict[str, str]:
    """Each chain's sequence from PDB SEQRES records, one letter per amino-acid component.

    Modified residues read as their parent (MSE -> M), unknown amino acids as X; other
    components (caps such as ACE and NH2, nucleotides) are left out, as they are from
    the chain's observed residues. Chains without an amino acid are omitted.
    """
    names: Dict[str, List[str]] = {}
    for line in lines:
        if line.startswith("SEQRES"):
            # Columns 12 (chain) and 20-70 (up to 13 residue names); short lines are common.
            names.setdefault(line[11:12].strip(), []).extend(line[19:70].split())
    amino = _amino_acids()
    sequences = {}
    for chain, residues in names.items():
        sequence = "".join(_letter(name) for name in residues if name in amino)
        if sequence:  # a blank chain ID ('') keeps its SEQRES too
            sequences[chain] = sequence
    return sequences


def _residue_keys(atoms: struc.AtomArray) -> np.ndarray:
    """Per atom, the index of its residue (chain, res_id, ins_code[, sym_id]) in order of first
    appearance."""
    fields = [atoms.chain_id, atoms.res_id.astype(np.int64), atoms.ins_code]
    if "sym_id" in atoms.get_annotation_categories():
        fields.append(atoms.sym_id.astype(np.int64))
    record = np.rec.fromarrays(fields)
    _, first, inverse = np.unique(record, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[inverse.reshape(-1)]


def _resolve_altlocs(atoms: struc.AtomArray) -> struc.AtomArray:
    """Keep, per residue, the atoms without altloc and those of the best altloc.

    The best altloc has the highest mean occupancy; ties go to the one listed first.
    Residues are made contiguous in order of first appearance.
    """
    residue = _residue_keys(atoms)
    altloc = np.char.strip(atoms.altloc_id.astype(str))
    blank = np.isin(altloc, _BLANK_ALTLOC)
    keep = blank.copy()
    if not blank.all():
        index = np.flatnonzero(~blank)
        pair = np.rec.fromarrays([residue[index], altloc[index]])
        unique, first, inverse = np.unique(pair, return_index=True, return_inverse=True)
        inverse = inverse.reshape(-1)
        occupancy = atoms.occupancy[index].astype(np.float64)
        mean = np.bincount(inverse, occupancy) / np.bincount(inverse)
        # Sort candidates by residue, then occupancy (high first), then first appearance:
        # the first candidate of each residue wins.
        order = np.lexsort((index[first], -mean, unique.f0))
        residues = unique.f0[order]
        winner = np.zeros(len(unique), dtype=bool)
        winner[order[np.concatenate([[True], residues[1:] != residues[:-1]])]] = True
        keep[index] = winner[inverse]
    order = np.argsort(residue, kind="stable")
    order = order[keep[order]]
    resolved = atoms[order]
    resolved.del_annotation("altloc_id")
    return resolved


@functools.lru_cache(maxsize=None)
def _amino_acids() -> frozenset:
    from biotite.structure.info import amino_acid_names

    return frozenset(amino_acid_names())


@functools.lru_cache(maxsize=None)
def _letter(res_name: str) -> str:
    """One-letter code of an amino-acid component (modified ones: their parent's), 'X' if none."""
    from biotite.structure.info import one_letter_code

    code = one_letter_code(res_name)
    return code if code is not None and len(code) == 1 else "X"


def _residue_starts(atoms: struc.AtomArray) -> np.ndarray:
    """Start indices of contiguous residues (chain, res_id, ins_code[, sym_id])."""
    n = atoms.array_length()
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    change = (
        (atoms.chain_id[1:] != atoms.chain_id[:-1])
        | (atoms.res_id[1:] != atoms.res_id[:-1])
        | (atoms.ins_code[1:] != atoms.ins_code[:-1])
    )
    if "sym_id" in atoms.get_annotation_categories():
        change |= atoms.sym_id[1:] != atoms.sym_id[:-1]
    return np.concatenate([[0], np.flatnonzero(change) + 1])


def _observed_sequence(atoms: struc.AtomArray) -> str:
    """One letter per residue of `atoms` (one chain copy), in order."""
    return "".join(_letter(name) for name in atoms.res_name[_residue_starts(atoms)])


def _residue_index(n_atoms: int, starts: np.ndarray) -> np.ndarray:
    """Per atom, the index of its residue, from the residues' start indices
    (:func:`_residue_starts`)."""
    residue = np.zeros(n_atoms, dtype=np.int64)
    residue[starts[1:]] = 1
    return np.cumsum(residue)


def _atom_coord(atoms: struc.AtomArray, starts: np.ndarray, name: str) -> np.ndarray:
    """(residues, 3) float64 coordinates of the atom called ``name`` in each residue, NaN if
    absent."""
    residue = _residue_index(atoms.array_length(), starts)
    coord = np.full((len(starts), 3), np.nan)
    selected = atoms.atom_name == name
    coord[residue[selected]] = atoms.coord[selected]
    return coord


def _protein_mask(atoms: struc.AtomArray, peptide_entities: Optional[set]) -> np.ndarray:
    """Atoms of amino-acid polymer residues (see the module notes)."""
    names = np.unique(atoms.res_name)
    amino = np.isin(atoms.res_name, [n for n in names if n in _amino_acids()])
    if peptide_entities is not None and "label_entity_id" in atoms.get_annotation_categories():
        return amino & np.isin(atoms.label_entity_id, list(peptide_entities))
    mask = amino & ~atoms.hetero
    hetero = amino & atoms.hetero
    if hetero.any():
        # A hetero amino acid counts when peptide-bonded to the residue before or after it.
        candidates = atoms[amino]
        starts = _residue_starts(candidates)
        n_atom = _atom_coord(candidates, starts, "N")
        c_atom = _atom_coord(candidates, starts, "C")
        chains = candidates.chain_id[starts]
        bonded = np.zeros(len(starts), dtype=bool)
        if len(starts) > 1:
            link = (chains[1:] == chains[:-1]) & (
                np.linalg.norm(c_atom[:-1] - n_atom[1:], axis=1) < PEPTIDE_BOND
            )
            bonded[:-1] |= link
            bonded[1:] |= link
        residue = _residue_index(candidates.array_length(), starts)
        keep = bonded[residue] & candidates.hetero
        mask[np.flatnonzero(amino)[keep]] = True
    return mask


def _finish(
    atoms: struc.AtomArray, path: Path, peptide_entities, entity_sequences
) -> struc.AtomArray:
    """Altlocs resolved, protein residues kept, annotations tidied."""
    if atoms.array_length() == 0:
        raise ValueError(f"{path}: no atoms in the first model")
    atoms = _resolve_altlocs(atoms)
    protein = _protein_mask(atoms, peptide_entities)
    if not protein.any():
        found = ", ".join(sorted(set(atoms.res_name.tolist()))[:12])
        raise ValueError(f"{path}: no protein residues (residues found: {found})")
    atoms = atoms[protein]
    categories = atoms.get_annotation_categories()
    if "label_entity_id" in categories:
        atoms.del_annotation("label_entity_id")
    label_seq = np.full(atoms.array_length(), -1, dtype=np.int64)
    if "label_seq_id" in categories:
        text = atoms.label_seq_id.astype(str)
        digits = np.char.isdigit(text)
        label_seq[digits] = text[digits].astype(np.int64)
        atoms.del_annotation("label_seq_id")  # set_annotation would keep the str dtype
    atoms.set_annotation("label_seq_id", label_seq)
    # A plain attribute: slicing drops it, but the label_seq_id annotation still maps.
    present = set(atoms.chain_id.tolist())
    sequences, groups = entity_sequences
    atoms.entity_sequences = {c: s for c, s in sequences.items() if c in present}
    atoms.entity_groups = {c: g for c, g in groups.items() if c in present}
    return atoms


def load_structure(
    path_or_pdb_id: PathLike,
    cache_dir: Optional[PathLike] = None,
    *,
    max_bytes: Optional[int] = None,
) -> struc.AtomArray:
    """Read the protein of a structure file (or a PDB entry) as ground truth.

    Parameters
    ----------
    path_or_pdb_id : str or path-like
        A PDB, mmCIF or BinaryCIF file, each optionally gzipped (``.pdb``, ``.ent``,
        ``pdbXXXX.ent.gz``, ``.cif``, ``.cif.gz``, ``.bcif``; other names are sniffed),
        or a 4-character PDB ID, fetched from RCSB into `cache_dir` unless already
        there (not when ``ESM_CONTACTS_OFFLINE=1``).
    cache_dir : str or path-like, optional
        Where fetched entries are kept; default ``~/.cache/esm-contacts/pdb``.
    max_bytes : int, optional
        Largest content read, in bytes after decompression; default
        :data:`MAX_STRUCTURE_BYTES` (2 GiB) or the environment variable
        ``ESM_CONTACTS_MAX_STRUCTURE_BYTES``.

    Returns
    -------
    atoms : biotite.structure.AtomArray
        First model, author chain IDs, amino-acid polymer residues only, altlocs
        resolved, with the annotations ``occupancy`` and ``label_seq_id`` (int, -1 where
        the file has none). The attribute ``entity_sequences`` maps chain IDs to their
        full sequences: mmCIF entity sequences, PDB SEQRES records; ``entity_groups``
        maps them to their entity (mmCIF ``entity_id``; PDB: chains with identical SEQRES
        share one).

    Raises
    ------
    TypeError
        `path_or_pdb_id` is not a str or path-like.
    FileNotFoundError
        No such file (and no PDB entry to fetch).
    ValueError
        Empty, unreadable or non-structure file, no protein in it, larger than
        `max_bytes`, or not a regular file (a folder, FIFO, device: never opened).
    """
    path = _resolve_path(path_or_pdb_id, cache_dir)
    atoms, peptide_entities, entity_sequences, _ = _read_file(path, max_bytes=max_bytes)
    return _finish(atoms, path, peptide_entities, entity_sequences)


def model_count(path_or_pdb_id: PathLike, cache_dir: Optional[PathLike] = None) -> int:
    """How many models (NMR ensemble members) a structure file holds.

    Parameters
    ----------
    path_or_pdb_id : str or path-like
        As :func:`load_structure`.
    cache_dir : str or path-like, optional
        As :func:`load_structure`.

    Returns
    -------
    count : int
        Number of models (1 for a crystal structure).

    Raises
    ------
    ValueError
        A file that does not parse, or as :func:`load_structure`.
    """
    path = _resolve_path(path_or_pdb_id, cache_dir)
    return _model_count(path, *_parse(path))


def _model_count(path: Path, label: str, file) -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return int(
                file.get_model_count()
                if isinstance(file, pdb.PDBFile)
                else pdbx.get_model_count(file)
            )
        except Exception as error:
            raise _unreadable(path, label, error) from None


def load_models(
    path_or_pdb_id: PathLike,
    cache_dir: Optional[PathLike] = None,
    model_numbers: Optional[Sequence[int]] = None,
) -> List[struc.AtomArray]:
    """Every model of a structure file (an NMR ensemble), each read like :func:`load_structure`.

    Parameters
    ----------
    path_or_pdb_id : str or path-like
        As :func:`load_structure`.
    cache_dir : str or path-like, optional
        As :func:`load_structure`.
    model_numbers : sequence of int, optional
        Only these models (1-based, as the file numbers them in order).

    Returns
    -------
    models : list of biotite.structure.AtomArray
        One per model, in order, each with the attribute ``model_number`` (1-based).

    Raises
    ------
    ValueError
        A model number the file does not have (the message gives the count), or as
        :func:`load_structure`.
    """
    path = _resolve_path(path_or_pdb_id, cache_dir)
    parsed = _parse(path)  # once for every model
    count = _model_count(path, *parsed)
    numbers = (
        list(range(1, count + 1)) if model_numbers is None else [int(n) for n in model_numbers]
    )
    for number in numbers:
        if not 1 <= number <= count:
            raise ValueError(
                f"{path}: no model {number}; the file has {count} model{'s' if count != 1 else ''}"
            )
    models = []
    for number in numbers:
        atoms, peptide_entities, entities, _ = _read_file(path, model=number, parsed=parsed)
        atoms = _finish(atoms, path, peptide_entities, entities)
        atoms.model_number = number
        models.append(atoms)
    return models


def load_chain(
    path_or_pdb_id: PathLike,
    chain: str,
    sequence: Optional[str] = None,
    cache_dir: Optional[PathLike] = None,
    min_identity: float = MIN_IDENTITY,
    *,
    max_bytes: Optional[int] = None,
) -> Tuple[struc.AtomArray, str, np.ndarray]:
    """A structure, the sequence to predict for one of its chains, and its true contacts.

    Parameters
    ----------
    path_or_pdb_id : str or path-like
        As :func:`load_structure`.
    chain : str
        Author chain ID.
    sequence : str, optional
        The sequence to index the contacts by; default
        :func:`prediction_sequence` (the entity sequence where the file gives it).
    cache_dir, max_bytes : optional
        As :func:`load_structure`.
    min_identity : float
        As in :func:`map_sequence`, for a given `sequence`.

    Returns
    -------
    structure : biotite.structure.AtomArray
    sequence : str
    T : numpy.ndarray
        :func:`true_contacts` in the indices of `sequence`.

    Raises
    ------
    ValueError
        The structure has no protein chain `chain` (the message lists its chains).
    """
    structure = load_structure(path_or_pdb_id, cache_dir, max_bytes=max_bytes)
    if not (structure.chain_id == chain).any():
        raise ValueError(
            f"{path_or_pdb_id} has no protein chain {chain!r}; its chains:"
            f" {', '.join(chain_ids(structure))}"
        )
    if sequence is None:
        sequence = prediction_sequence(structure, chain)
    return (
        structure,
        sequence,
        true_contacts(structure, chain, sequence=sequence, min_identity=min_identity),
    )


def load_assembly(
    path: PathLike,
    assembly_id: Optional[str] = None,
    cache_dir: Optional[PathLike] = None,
    chain: Optional[str] = None,
    *,
    max_bytes: Optional[int] = None,
) -> Optional[struc.AtomArray]:
    """The biological assembly a file defines, read like :func:`load_structure`.

    Parameters
    ----------
    path : str or path-like
        Structure file or PDB ID (mmCIF ``pdbx_struct_assembly_gen``, PDB REMARK 350).
    assembly_id : str, optional
        Which assembly; default the first one listed (that holds `chain`, if given).
    cache_dir, max_bytes : optional
        As in :func:`load_structure`.
    chain : str, optional
        Without `assembly_id`, pick the first assembly that contains this chain.

    Returns
    -------
    assembly : biotite.structure.AtomArray or None
        With a ``sym_id`` annotation telling the copies of a chain apart and the
        attribute ``assembly_id`` (str, the assembly read); None when the file defines
        no assembly.
    """
    resolved = _resolve_path(path, cache_dir)
    atoms, peptide_entities, entity_sequences, chosen = _read_file(
        resolved, True, assembly_id, chain, max_bytes
    )
    if atoms is None:
        return None
    atoms = _finish(atoms, resolved, peptide_entities, entity_sequences)
    atoms.assembly_id = str(chosen)
    return atoms


# ---------------------------------------------------------------------------- chains


def chain_ids(structure: struc.AtomArray) -> List[str]:
    """Protein chain IDs in file order.

    Parameters
    ----------
    structure : biotite.structure.AtomArray
        From :func:`load_structure` (or :func:`load_assembly`).

    Returns
    -------
    chains : list of str
        Author chain IDs, each once, in the order of their first atom.
    """
    chains = structure.chain_id
    _, first = np.unique(chains, return_index=True)
    return [str(chains[i]) for i in np.sort(first)]


def _chain(structure: struc.AtomArray, chain: str) -> struc.AtomArray:
    """The atoms of `chain`; in an assembly, of its first copy (lowest ``sym_id``)."""
    atoms = structure[structure.chain_id == chain]
    if atoms.array_length() == 0:
        available = ", ".join(chain_ids(structure)) or "none"
        raise ValueError(
            f"chain {chain!r} is not a protein chain of this structure; chains: {available}"
        )
    if "sym_id" in atoms.get_annotation_categories():
        atoms = atoms[atoms.sym_id == atoms.sym_id.min()]
    return atoms


def chain_sequence(structure: struc.AtomArray, chain: str) -> str:
    """One letter per observed residue of `chain` (modified residues as their parent: MSE -> M).

    Parameters
    ----------
    structure : biotite.structure.AtomArray
        From :func:`load_structure`.
    chain : str
        Author chain ID.

    Returns
    -------
    sequence : str
        The observed residues in order.

    Raises
    ------
    ValueError
        `chain` is not a protein chain of the structure (the message lists the chains).
    """
    return _observed_sequence(_chain(structure, chain))


def entity_sequence(structure: struc.AtomArray, chain: str) -> Optional[str]:
    """The full construct sequence of `chain`, or None where the file has none.

    From the mmCIF entity (``pdbx_seq_one_letter_code_can``) or the PDB SEQRES records
    (modified residues as their parent letter). :func:`map_sequence` maps it onto the
    observed residues by ``label_seq_id`` (mmCIF) or by alignment (PDB files, which have
    no ``label_seq_id``).

    Parameters
    ----------
    structure : biotite.structure.AtomArray
        From :func:`load_structure`.
    chain : str
        Author chain ID.

    Returns
    -------
    sequence : str or None
        The construct's one-letter sequence, or None.

    Raises
    ------
    ValueError
        `chain` is not a protein chain of the structure.
    """
    _chain(structure, chain)
    return getattr(structure, "entity_sequences", {}).get(chain)


SEQUENCE_SOURCES = ("entity", "observed")


def prediction_sequence(structure: struc.AtomArray, chain: str, source: str = "entity") -> str:
    """The sequence to predict for a chain.

    Parameters
    ----------
    structure : biotite.structure.AtomArray
        From :func:`load_structure`.
    chain : str
        Author chain ID.
    source : {"entity", "observed"}
        ``"entity"``: the full construct (mmCIF entity, PDB SEQRES) where the file
        gives it, else the observed residues; the language model then sees the real
        protein instead of one whose unobserved loops are cut out and the ends joined.
        ``"observed"``: the observed residues only.

    Returns
    -------
    sequence : str
        Map it onto the structure with :func:`map_sequence` (``true_contacts(...,
        sequence=...)`` does).
    """
    if source not in SEQUENCE_SOURCES:
        raise ValueError(
            f"sequence source must be one of {', '.join(SEQUENCE_SOURCES)}, got {source!r}"
        )
    entity = entity_sequence(structure, chain) if source == "entity" else None
    return entity or chain_sequence(structure, chain)


def sequence_of_map(length: int, structure: struc.AtomArray, chain: str) -> Optional[str]:
    """The sequence a map that carries none (a ``.npy``) is indexed by, from its size.

    A map of the chain's observed length is indexed by the observed residues in order
    (None, as ``true_contacts(..., sequence=None)`` takes it); otherwise a map of the
    full construct's length (:func:`prediction_sequence` ``"entity"``: what ``predict``
    writes for a structure) is indexed by that sequence.

    Parameters
    ----------
    length : int
        The map's size L.
    structure : biotite.structure.AtomArray
        From :func:`load_structure`.
    chain : str
        Author chain ID.

    Returns
    -------
    sequence : str or None
        None for the observed residues, else the full-construct sequence.

    Raises
    ------
    ValueError
        The size is neither (the message gives both lengths).
    """
    observed = chain_sequence(structure, chain)
    if length == len(observed):
        return None
    construct = prediction_sequence(structure, chain, "entity")
    if length == len(construct):
        return construct
    full = (
        f" or the {len(construct)} of its full construct (SEQRES/entity)"
        if construct != observed
        else ""
    )
    raise ValueError(
        f"the prediction covers {length} residues but chain {chain} has {len(observed)}"
        f" observed{full}; use a contact file that carries its sequence (RR/CSV) so the two can be"
        " aligned"
    )


def residue_identities(structure: struc.AtomArray, chain: str) -> List[Tuple[str, int, str, str]]:
    """``(chain, res_id, ins_code, res_name)`` of each observed residue of `chain`, in order.

    Parameters
    ----------
    structure : biotite.structure.AtomArray
        From :func:`load_structure`.
    chain : str
        Author chain ID.

    Returns
    -------
    identities : list of tuple(str, int, str, str)
        Author chain ID, author residue number, insertion code (``""`` when none) and
        residue name, one per observed residue.

    Raises
    ------
    ValueError
        `chain` is not a protein chain of the structure.
    """
    atoms = _chain(structure, chain)
    starts = _residue_starts(atoms)
    return [
        (str(c), int(r), str(i), str(n))
        for c, r, i, n in zip(
            atoms.chain_id[starts],
            atoms.res_id[starts],
            atoms.ins_code[starts],
            atoms.res_name[starts],
        )
    ]


def residue_label(
    chain: str, res_id: int, ins_code: str = "", res_name: Optional[str] = None
) -> str:
    """A residue's name for people (DESIGN "Residue labels"): ``"A:744"``, ``"A:56A"``, ``"A:744
    LEU"``.

    A blank chain ID gives the number alone (``"744"``).

    Parameters
    ----------
    chain : str
        Author chain ID.
    res_id : int
        Author residue number (as in the file, not a 1-based sequence position).
    ins_code : str
        Insertion code; blank for none.
    res_name : str, optional
        Residue name (``"LEU"``) to append.

    Returns
    -------
    label : str
        ``CHAIN:NUMBER[INSERTION][ RESNAME]``.

    Examples
    --------
    >>> residue_label("A", 744), residue_label("A", 56, "A")
    ('A:744', 'A:56A')
    >>> residue_label("A", 744, res_name="LEU")
    'A:744 LEU'
    >>> residue_label(" ", 744)
    '744'
    """
    number = f"{res_id}{str(ins_code).strip()}"
    label = f"{chain}:{number}" if str(chain).strip() else number
    return f"{label} {res_name}" if res_name else label


def residue_labels(
    structure: struc.AtomArray,
    chain: str,
    with_name: bool = False,
    sequence: Optional[str] = None,
    min_identity: float = MIN_IDENTITY,
) -> List[Optional[str]]:
    """The structure's own name of each residue of `chain`: author number and insertion code.

    Parameters
    ----------
    structure : biotite.structure.AtomArray
        From :func:`load_structure`.
    chain : str
        Author chain ID.
    with_name : bool
        Append the residue name (``"A:744 LEU"``).
    sequence : str, optional
        Label the positions of this sequence (:func:`map_sequence`) instead of the
        observed residues; unobserved positions get None.
    min_identity : float
        As in :func:`map_sequence`.

    Returns
    -------
    labels : list of str (or None)
        ``"A:744"``, ``"A:56A"`` (``"744"`` for a blank chain ID), one per observed
        residue in order, or per position of `sequence`.
    """
    labels = [
        residue_label(c, r, i, n if with_name else None)
        for c, r, i, n in residue_identities(structure, chain)
    ]
    if sequence is None:
        return labels
    mapping = map_sequence(sequence, structure, chain, min_identity=min_identity)
    return [labels[k] if k >= 0 else None for k in mapping.tolist()]


# ---------------------------------------------------------------------------- mapping


def _for_alignment(sequence: str) -> str:
    # Biotite's protein alphabet lacks J, O and U; they align as X.
    return sequence.translate(str.maketrans("JOU", "XXX"))


@functools.lru_cache(maxsize=None)
def _blosum62():
    from biotite.sequence import ProteinSequence
    from biotite.sequence.align import SubstitutionMatrix

    alphabet = ProteinSequence.alphabet
    return SubstitutionMatrix(alphabet, alphabet, "BLOSUM62")


@functools.lru_cache(maxsize=64)
def _align(a: str, b: str) -> Tuple[np.ndarray, float, float]:
    """Global alignment (BLOSUM62, affine gaps, free end gaps) of two sequences.

    Cached: the same pair (map_sequence, partner search, homodimer contacts) aligns once.

    Returns
    -------
    pairs : numpy.ndarray
        (n, 2) int64 indices of aligned positions (both residues present); read-only,
        as the cache shares it.
    identity : float
        Fraction of identical letters over the aligned positions; X (an unknown letter)
        neither matches nor mismatches (1 when no aligned position is informative, 0
        when nothing aligns).
    coverage : float
        Aligned positions over the length of the shorter sequence.
    """
    from biotite.sequence import ProteinSequence
    from biotite.sequence.align import align_optimal

    a, b = _for_alignment(a), _for_alignment(b)
    alignment = align_optimal(
        ProteinSequence(a),
        ProteinSequence(b),
        _blosum62(),
        gap_penalty=GAP_PENALTY,
        terminal_penalty=False,
        max_number=1,
    )[0]
    trace = alignment.trace
    pairs = trace[(trace >= 0).all(axis=1)].astype(np.int64)
    pairs.flags.writeable = False
    if len(pairs) == 0:
        return pairs, 0.0, 0.0
    left = np.frombuffer(a.encode(), np.uint8)[pairs[:, 0]]
    right = np.frombuffer(b.encode(), np.uint8)[pairs[:, 1]]
    informative = (left != ord("X")) & (right != ord("X"))
    identity = float((left == right)[informative].mean()) if informative.any() else 1.0
    return pairs, identity, len(pairs) / min(len(a), len(b))


class SequenceMismatchError(ValueError):
    """Two sequences (a prediction, an MSA query, a model and a chain) are not the same protein.

    Attributes ``identity`` and ``coverage`` hold the measured fractions.

    Parameters
    ----------
    message : str
        One line naming the two sequences, the identity and the coverage.
    identity : float
        Fraction of identical letters over the aligned positions, in [0, 1].
    coverage : float
        Fraction of the shorter sequence covered by aligned positions, in [0, 1].
    """

    def __init__(self, message: str, identity: float, coverage: float):
        super().__init__(message)
        self.identity = identity
        self.coverage = coverage


def _check_match(
    identity: float, coverage: float, min_identity: float, what: str, where: Optional[str]
) -> None:
    """Raise :class:`SequenceMismatchError` unless DESIGN's rule holds (`what` names the two
    sequences)."""
    if identity >= min_identity and coverage >= MIN_COVERAGE:
        return
    message = (
        f"{what} are not the same protein: {identity:.0%} identity over the aligned positions "
        f"(at least {min_identity:.0%} needed), which cover {coverage:.0%} of the shorter sequence "
        f"(at least {MIN_COVERAGE:.0%} needed)"
    )
    if identity < min_identity and coverage >= MIN_COVERAGE:
        message += (
            "; lower the identity threshold (--min-identity, min_identity=) if this is intended"
        )
    raise SequenceMismatchError(f"{where}: {message}" if where else message, identity, coverage)


def match_sequences(
    a: str, b: str, min_identity: float = MIN_IDENTITY, where: Optional[str] = None
) -> np.ndarray:
    """Align two sequences of the same protein; raise if they are not (DESIGN "Sequence matching").

    Global alignment (BLOSUM62, gap penalties -10/-1, free end gaps); the same protein
    when the identity over aligned positions is >= `min_identity` and the aligned
    positions cover >= :data:`MIN_COVERAGE` of the shorter sequence.

    Parameters
    ----------
    a, b : str
        Protein sequences (one-letter codes).
    min_identity : float
        Identity threshold; default :data:`MIN_IDENTITY` (0.9). Lower it only on purpose.
    where : str, optional
        Prefix of the error message (a file name, a line).

    Returns
    -------
    pairs : numpy.ndarray
        (n, 2) int64 aligned positions (index in `a`, index in `b`).

    Raises
    ------
    SequenceMismatchError
        Naming the identity and the coverage.

    Examples
    --------
    >>> query = "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQ"
    >>> match_sequences(query, query[3:])[:3].tolist()  # b starts at a's 4th residue
    [[3, 0], [4, 1], [5, 2]]
    """
    a, b = clean_sequence(a, name=where), clean_sequence(b)
    pairs, identity, coverage = _align(a, b)
    _check_match(
        identity, coverage, min_identity, f"the sequences ({len(a)} and {len(b)} residues)", where
    )
    return pairs


def same_protein(a: str, b: str, min_identity: float = MIN_IDENTITY) -> bool:
    """Whether two sequences are the same protein by :func:`match_sequences`' rule.

    Parameters
    ----------
    a, b : str
        Protein sequences (one-letter codes).
    min_identity : float
        Identity threshold over aligned positions, in [0, 1]; default :data:`MIN_IDENTITY`.

    Returns
    -------
    same : bool
        True when identity >= `min_identity` and coverage >= :data:`MIN_COVERAGE`.

    Raises
    ------
    ValueError
        A sequence that :func:`esm_contacts.sequence.clean_sequence` refuses.

    Examples
    --------
    >>> query = "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQ"
    >>> same_protein(query, query[3:])  # three residues unobserved
    True
    >>> same_protein(query, "MSEQNNTEMTFQIQRIYTKDISFEAPNAPHVFQ")
    False
    """
    try:
        match_sequences(a, b, min_identity)
    except SequenceMismatchError:
        return False
    return True


def _label_mapping(
    sequence: str, atoms: struc.AtomArray, observed: str, entity: Optional[str]
) -> Optional[np.ndarray]:
    """The mapping given by mmCIF ``label_seq_id``, where it fits `sequence`; else None.

    It fits when `sequence` is the chain's entity sequence, or when every observed
    residue's letter is found at its ``label_seq_id`` in `sequence` (X matches anything).
    """
    if "label_seq_id" not in atoms.get_annotation_categories():
        return None
    label = atoms.label_seq_id[_residue_starts(atoms)].astype(np.int64) - 1
    if (label < 0).any() or label.max() >= len(sequence) or (np.diff(label) <= 0).any():
        return None
    if sequence != entity:
        given = np.frombuffer(sequence.encode(), np.uint8)[label]
        seen = np.frombuffer(observed.encode(), np.uint8)
        x = ord("X")
        if not ((given == seen) | (given == x) | (seen == x)).all():
            return None
    mapping = np.full(len(sequence), -1, dtype=np.int64)
    mapping[label] = np.arange(len(label))
    return mapping


def _mapping(
    sequence: str,
    atoms: struc.AtomArray,
    chain: str,
    entity: Optional[str],
    min_identity: Optional[float],
    where: Optional[str],
) -> np.ndarray:
    """:func:`map_sequence` on one chain's atoms; `min_identity` None: no check (partners)."""
    observed = _observed_sequence(atoms)
    if sequence == observed:
        return np.arange(len(sequence), dtype=np.int64)
    mapping = _label_mapping(sequence, atoms, observed, entity)
    if mapping is not None:
        return mapping
    pairs, identity, coverage = _align(sequence, observed)
    if min_identity is not None:
        _check_match(
            identity,
            coverage,
            min_identity,
            f"the sequence ({len(sequence)} residues) and the {len(observed)} observed residues of"
            f" chain {chain or '(blank)'}",
            where,
        )
    mapping = np.full(len(sequence), -1, dtype=np.int64)
    mapping[pairs[:, 0]] = pairs[:, 1]
    return mapping


def map_sequence(
    sequence: str,
    structure: struc.AtomArray,
    chain: str,
    min_identity: Optional[float] = MIN_IDENTITY,
    where: Optional[str] = None,
) -> np.ndarray:
    """Map each position of `sequence` to an observed residue of `chain`, if it is the chain's
    protein.

    The one decision "is this sequence the chain's protein?" (DESIGN "Sequence
    matching"). mmCIF ``label_seq_id`` (the residue's place in the entity sequence)
    gives the positions where it fits `sequence` (the entity sequence itself, or a
    sequence with every observed residue's letter at its ``label_seq_id``): no
    alignment. Otherwise a global alignment to :func:`chain_sequence` decides, by
    :func:`match_sequences`' rule.

    Parameters
    ----------
    sequence : str
        Protein sequence, e.g. the full construct, a UniProt entry or an MSA query.
    structure : biotite.structure.AtomArray
        From :func:`load_structure`.
    chain : str
        Author chain ID.
    min_identity : float or None
        Identity threshold; default :data:`MIN_IDENTITY` (0.9). None: no check, for
        callers that have already decided the two are one protein (homodimer partners
        found by :func:`homodimer_partners`).
    where : str, optional
        Prefix of the error message (a file name).

    Returns
    -------
    mapping : numpy.ndarray
        int64 (len(sequence),): index into the chain's observed residues, or -1.

    Raises
    ------
    SequenceMismatchError
        Not the same protein: identity below `min_identity` or coverage below
        :data:`MIN_COVERAGE` (the message names both).
    """
    sequence = clean_sequence(sequence, name=where)
    atoms = _chain(structure, chain)
    entity = getattr(structure, "entity_sequences", {}).get(chain)
    return _mapping(sequence, atoms, chain, entity, min_identity, where)


# ---------------------------------------------------------------------------- contacts


def _virtual_cb(n: np.ndarray, ca: np.ndarray, c: np.ndarray) -> np.ndarray:
    b = ca - n
    c = c - ca
    a = np.cross(b, c)
    return _CB_A * a + _CB_B * b + _CB_C * c + ca


def cb_coordinates(
    structure: struc.AtomArray,
    chain: str,
    sequence: Optional[str] = None,
    cb: str = "virtual",
    min_identity: float = MIN_IDENTITY,
) -> np.ndarray:
    """Cb coordinates of each residue of `chain`.

    Parameters
    ----------
    structure : biotite.structure.AtomArray
        From :func:`load_structure`.
    chain : str
        Author chain ID.
    cb : {"virtual", "real"}
        ``"virtual"``: ideal Cb from N, CA, C (every residue, Gly included; NaN when one
        is missing). ``"real"``: the CB atom, CA where CB is absent (Gly), NaN when both are.
    sequence : str, optional
        Return the rows in this sequence's indices (:func:`map_sequence`), NaN where unobserved.
    min_identity : float
        As in :func:`map_sequence` (a `sequence` of another protein raises).

    Returns
    -------
    coord : numpy.ndarray
        float64 (L, 3), Angstrom; NaN rows for unknown residues.

    Raises
    ------
    ValueError
        An unknown `cb`, a chain not in the structure, or a `sequence` of another
        protein (:class:`SequenceMismatchError`).
    """
    atoms = _chain(structure, chain)
    starts = _residue_starts(atoms)
    if cb == "virtual":
        coord = _virtual_cb(*(_atom_coord(atoms, starts, name) for name in ("N", "CA", "C")))
    elif cb == "real":
        coord = _atom_coord(atoms, starts, "CB")
        missing = np.isnan(coord).any(axis=1)
        coord[missing] = _atom_coord(atoms, starts, "CA")[missing]
    else:
        raise ValueError(f"cb must be 'virtual' or 'real', not {cb!r}")
    if sequence is None:
        return coord
    mapping = map_sequence(sequence, structure, chain, min_identity=min_identity)
    mapped = np.full((len(mapping), 3), np.nan)
    mapped[mapping >= 0] = coord[mapping[mapping >= 0]]
    return mapped


def _contacts(a: np.ndarray, b: Optional[np.ndarray], cutoff: float) -> np.ndarray:
    """int8 contact matrix between coordinate sets (b None: a with itself); -1 for NaN rows."""
    known_a = np.isfinite(a).all(axis=1)
    ia = np.flatnonzero(known_a)
    if b is None:
        contacts = np.zeros((len(a), len(a)), dtype=np.int8)
        if len(ia):
            pairs = cKDTree(a[ia]).query_pairs(cutoff, output_type="ndarray")
            distance = np.linalg.norm(a[ia[pairs[:, 0]]] - a[ia[pairs[:, 1]]], axis=1)
            pairs = pairs[distance < cutoff]
            i, j = ia[pairs[:, 0]], ia[pairs[:, 1]]
            contacts[i, j] = contacts[j, i] = 1
            contacts[ia, ia] = 1
        contacts[~known_a] = -1
        contacts[:, ~known_a] = -1
        return contacts
    known_b = np.isfinite(b).all(axis=1)
    ib = np.flatnonzero(known_b)
    contacts = np.zeros((len(a), len(b)), dtype=np.int8)
    if len(ia) and len(ib):
        near = cKDTree(a[ia]).query_ball_tree(cKDTree(b[ib]), cutoff)
        i = np.repeat(np.arange(len(ia)), [len(n) for n in near])
        j = np.fromiter((k for n in near for k in n), dtype=np.int64, count=len(i))
        distance = np.linalg.norm(a[ia[i]] - b[ib[j]], axis=1)
        keep = distance < cutoff
        contacts[ia[i[keep]], ib[j[keep]]] = 1
    contacts[~known_a] = -1
    contacts[:, ~known_b] = -1
    return contacts


def contacts_from_coordinates(coordinates: np.ndarray, cutoff: float = 8.0) -> np.ndarray:
    """Contact map of a set of Cb coordinates: distance strictly below `cutoff`.

    Parameters
    ----------
    coordinates : numpy.ndarray
        (L, 3), NaN rows for unknown residues (:func:`cb_coordinates`).
    cutoff : float
        Contact distance in Angstrom.

    Returns
    -------
    contacts : numpy.ndarray
        int8 (L, L), as :func:`true_contacts`: 1 / 0, -1 in the rows and columns of
        unknown residues, 1 on the diagonal of known ones.

    Examples
    --------
    Residues 0 and 1 are 5 A apart, residue 2 is far away, residue 3 is unknown:

    >>> import numpy as np
    >>> cb = np.array([[0.0, 0, 0], [5.0, 0, 0], [20.0, 0, 0], [np.nan, np.nan, np.nan]])
    >>> contacts_from_coordinates(cb).tolist()
    [[1, 1, 0, -1], [1, 1, 0, -1], [0, 0, 1, -1], [-1, -1, -1, -1]]
    """
    return _contacts(np.asarray(coordinates, dtype=np.float64), None, cutoff)


def true_contacts(
    structure: struc.AtomArray,
    chain: str,
    cutoff: float = 8.0,
    cb: str = "virtual",
    sequence: Optional[str] = None,
    min_identity: float = MIN_IDENTITY,
) -> np.ndarray:
    """Intra-chain contact map: Cb-Cb distance below `cutoff`.

    Parameters
    ----------
    structure : biotite.structure.AtomArray
        From :func:`load_structure`.
    chain : str
        Author chain ID.
    cutoff : float
        Contact distance in Angstrom (strictly below).
    cb : {"virtual", "real"}
        Which Cb (:func:`cb_coordinates`).
    sequence : str, optional
        Index the matrix by this sequence (:func:`map_sequence`) instead of the observed residues.
    min_identity : float
        As in :func:`map_sequence`: a `sequence` of another protein raises
        :class:`SequenceMismatchError`.

    Returns
    -------
    contacts : numpy.ndarray
        int8 (L, L), symmetric: 1 contact, 0 not, -1 unknown residue; the diagonal is 1
        where the residue is known.
    """
    return contacts_from_coordinates(
        cb_coordinates(structure, chain, sequence, cb, min_identity), cutoff
    )


def interchain_contacts(
    structure: struc.AtomArray,
    chain_a: str,
    chain_b: str,
    cutoff: float = 8.0,
    cb: str = "virtual",
    sequence: Optional[str] = None,
    min_identity: float = MIN_IDENTITY,
) -> np.ndarray:
    """Contacts between the residues of two chains.

    Parameters
    ----------
    structure : biotite.structure.AtomArray
        From :func:`load_structure`.
    chain_a, chain_b : str
        Author chain IDs (rows, columns).
    cutoff : float
        Contact distance in Angstrom (strictly below).
    cb : {"virtual", "real"}
        Which Cb (:func:`cb_coordinates`).
    sequence : str, optional
        Index both chains by this sequence (:func:`map_sequence`) instead of their observed
        residues.
    min_identity : float
        As in :func:`map_sequence`.

    Returns
    -------
    contacts : numpy.ndarray
        int8 (L_a, L_b) over observed residues, or (L, L) when both chains are mapped to
        `sequence`: 1 contact, 0 not, -1 where either residue is unknown.
    """
    a = cb_coordinates(structure, chain_a, sequence, cb, min_identity)
    b = cb_coordinates(structure, chain_b, sequence, cb, min_identity)
    return _contacts(a, b, cutoff)


# ---------------------------------------------------------------------------- homodimers


def _same_entity(
    groups: Dict[str, str], chain: str, other: str, own: struc.AtomArray, atoms: struc.AtomArray
) -> bool:
    """DESIGN "Homodimer partners": the file's entity grouping where it covers both chains,
    else the observed sequences by :func:`same_protein`."""
    if chain in groups and other in groups:
        return groups[chain] == groups[other]
    return same_protein(_observed_sequence(own), _observed_sequence(atoms))


def copy_label(chain: str, sym_id: Optional[int] = None) -> str:
    """The label of a chain copy in a biological assembly (the one place that writes it).

    Parameters
    ----------
    chain : str
        The chain ID.
    sym_id : int, optional
        The copy's symmetry operation (Biotite's ``sym_id``); None for the chain's first
        copy, which carries the bare chain ID.

    Returns
    -------
    label : str
        ``"A"`` for the first copy, ``"A:1"`` for the copy of symmetry operation 1.

    Examples
    --------
    >>> copy_label("A"), copy_label("A", 1)
    ('A', 'A:1')
    """
    return chain if sym_id is None else f"{chain}:{int(sym_id)}"


def parse_copy_label(label: str) -> Tuple[str, Optional[int]]:
    """The chain ID and symmetry operation of a :func:`copy_label` (its inverse).

    Parameters
    ----------
    label : str
        A partner label as :func:`homodimer_partners` gives it.

    Returns
    -------
    chain : str
        The chain ID.
    sym_id : int or None
        The symmetry operation; None for a bare chain ID (a chain's first copy).

    Examples
    --------
    >>> parse_copy_label("A:1"), parse_copy_label("B")
    (('A', 1), ('B', None))
    """
    chain, colon, sym_id = str(label).rpartition(":")
    if colon and chain and sym_id.isdigit():
        return chain, int(sym_id)
    return str(label), None


def _copies(assembly: struc.AtomArray) -> List[Tuple[str, str, struc.AtomArray]]:
    """``(label, chain, atoms)`` of each chain copy in an assembly, in order.

    The first copy of each chain is labelled by its chain ID, later ones ``"A:1"``...
    """
    copies = []
    sym = (
        assembly.sym_id
        if "sym_id" in assembly.get_annotation_categories()
        else np.zeros(assembly.array_length(), int)
    )
    seen = set()
    for s in np.unique(sym):
        in_copy = assembly[sym == s]
        for chain in chain_ids(in_copy):
            label = copy_label(chain, None if chain not in seen else s)
            seen.add(chain)
            copies.append((label, chain, in_copy[in_copy.chain_id == chain]))
    return copies


def chain_copy(assembly: struc.AtomArray, label: str) -> struc.AtomArray:
    """The atoms of one chain copy of an assembly, by the label :func:`homodimer_partners` gives it.

    Parameters
    ----------
    assembly : biotite.structure.AtomArray
        An assembly (:func:`load_assembly`), its copies told apart by ``sym_id``.
    label : str
        ``"A"`` for the first copy of chain A, ``"A:1"``... for later ones (:func:`copy_label`).

    Returns
    -------
    atoms : biotite.structure.AtomArray
        The copy's atoms; empty when the assembly has no such copy.
    """
    for copy, _, atoms in _copies(assembly):
        if copy == label:
            return atoms
    return assembly[np.zeros(assembly.array_length(), dtype=bool)]


def _partner_copies(structure, chain, assembly):
    """The chain's own atoms and its partner copies ``(label, chain, atoms)``."""
    if assembly is None:
        own = _chain(structure, chain)
        copies = [
            (c, c, structure[structure.chain_id == c]) for c in chain_ids(structure) if c != chain
        ]
    else:
        copies = _copies(assembly)
        own_copies = [copy for copy in copies if copy[1] == chain]
        if not own_copies:
            available = ", ".join(chain_ids(assembly))
            raise ValueError(f"chain {chain!r} is not in the assembly; its chains: {available}")
        own = own_copies[0][2]
        copies = [copy for copy in copies if copy[2] is not own]
    groups = getattr(assembly if assembly is not None else structure, "entity_groups", {})
    same = {chain: True}  # copies of one chain share their sequence: decide once per chain ID
    for _, c, atoms in copies:
        if c not in same:
            same[c] = _same_entity(groups, chain, c, own, atoms)
    return own, [copy for copy in copies if same[copy[1]]]


def _partner_mapping(
    reference: str, chain: str, atoms: struc.AtomArray, partner: str, entities: Dict[str, str]
) -> np.ndarray:
    """Partner residue per position of `reference` (a sequence of `chain`'s protein).

    Chains of one entity correspond through the entity sequence (mmCIF ``label_seq_id``
    or the SEQRES alignment), so observed fragments that barely overlap still pair up;
    without one, `reference` is aligned to the partner's observed residues. Partners are
    already the same protein: no identity check here.
    """
    entity = entities.get(partner)
    if entity is not None and entities.get(chain) == entity:
        if reference == entity:
            to_entity = np.arange(len(entity), dtype=np.int64)
        else:
            pairs = _align(reference, entity)[0]
            to_entity = np.full(len(reference), -1, dtype=np.int64)
            to_entity[pairs[:, 0]] = pairs[:, 1]
        to_partner = _mapping(entity, atoms, partner, entity, None, None)
        return np.where(to_entity >= 0, to_partner[np.maximum(to_entity, 0)], -1)
    return _mapping(reference, atoms, partner, None, None, None)


def _homodimer(
    structure: struc.AtomArray,
    chain: str,
    assembly: Optional[struc.AtomArray] = None,
    sequence: Optional[str] = None,
    cutoff: float = 8.0,
    cb: str = "virtual",
    contacts: bool = True,
    min_identity: float = MIN_IDENTITY,
) -> Tuple[List[str], Optional[np.ndarray]]:
    """``(partner labels, contacts)`` of :func:`homodimer_partners` and :func:`homodimer_contacts`.

    Without `contacts` only the partners are found (the contacts are None).
    """
    if contacts:
        reference = sequence if sequence is not None else chain_sequence(structure, chain)
    own, partners = _partner_copies(structure, chain, assembly)
    labels = [label for label, _, _ in partners]
    if not contacts:
        return labels, None
    reference = clean_sequence(reference)
    length = len(reference)
    if not partners:
        return labels, np.zeros((length, length), dtype=np.int8)
    contact = np.zeros((length, length), dtype=bool)
    judged = np.zeros((length, length), dtype=bool)
    for a, b in _partner_cb(
        structure if assembly is None else assembly,
        own,
        chain,
        partners,
        reference,
        cb,
        min_identity,
    ):
        x = _contacts(a, b, cutoff)
        contact |= (x == 1) | (x.T == 1)
        judged |= (x >= 0) | (x.T >= 0)
    return labels, np.where(contact, 1, np.where(judged, 0, -1)).astype(np.int8)


def _partner_cb(
    source: struc.AtomArray,
    own: struc.AtomArray,
    chain: str,
    partners: list,
    reference: str,
    cb: str,
    min_identity: float,
):
    """``(a, b)`` per partner copy: Cb of the own chain and of the partner's aligned residues,
    both (L, 3) in `reference`'s indices (NaN where unobserved)."""
    entities = getattr(source, "entity_sequences", {})
    a = cb_coordinates(own, chain, reference, cb, min_identity)
    mappings = {}  # per partner chain ID: copies share residues, so one mapping each
    for _, partner_chain, atoms in partners:
        if partner_chain not in mappings:
            mappings[partner_chain] = _partner_mapping(
                reference, chain, atoms, partner_chain, entities
            )
        mapping = mappings[partner_chain]
        b = np.full((len(reference), 3), np.nan)
        b[mapping >= 0] = cb_coordinates(atoms, partner_chain, cb=cb)[mapping[mapping >= 0]]
        yield a, b


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """float32 distances between two coordinate sets (NaN where either row is unknown)."""
    return np.linalg.norm(a[:, None, :] - b[None, :, :], axis=-1).astype(np.float32)


def cb_distances(
    structure: struc.AtomArray,
    chain: str,
    sequence: Optional[str] = None,
    cb: str = "virtual",
    min_identity: float = MIN_IDENTITY,
) -> np.ndarray:
    """Intra-chain Cb-Cb distances, the numbers behind :func:`true_contacts` (contact: < 8 A).

    Parameters
    ----------
    structure, chain, sequence, cb, min_identity
        As in :func:`true_contacts`.

    Returns
    -------
    distances : numpy.ndarray
        float32 (L, L) in Angstrom, symmetric; NaN in the rows and columns of unknown residues.
    """
    coord = cb_coordinates(structure, chain, sequence, cb, min_identity)
    return _distances(coord, coord)


def homodimer_distances(
    structure: struc.AtomArray,
    chain: str,
    sequence: Optional[str] = None,
    assembly: Optional[struc.AtomArray] = None,
    cb: str = "virtual",
    min_identity: float = MIN_IDENTITY,
) -> np.ndarray:
    """The shortest inter-chain Cb-Cb distance of each pair, the numbers behind
    :func:`homodimer_contacts`.

    ``D[i, j]`` is the smallest distance between residue i of `chain` and the residue j'
    of a partner aligned to j, or between j and i' (either direction, any partner).

    Parameters
    ----------
    structure, chain, sequence, assembly, cb, min_identity
        As in :func:`homodimer_contacts`.

    Returns
    -------
    distances : numpy.ndarray
        float32 (L, L) in Angstrom, symmetric; NaN where no partner lets the pair be
        measured (also everywhere when the chain has no partner).
    """
    _chain(structure, chain)
    own, partners = _partner_copies(structure, chain, assembly)
    reference = clean_sequence(
        sequence if sequence is not None else chain_sequence(structure, chain)
    )
    best = np.full((len(reference), len(reference)), np.nan, dtype=np.float32)
    for a, b in _partner_cb(
        structure if assembly is None else assembly,
        own,
        chain,
        partners,
        reference,
        cb,
        min_identity,
    ):
        d = _distances(a, b)
        best = np.fmin(best, np.fmin(d, d.T))
    return best


def homodimer_partners(
    structure: struc.AtomArray, chain: str, assembly: Optional[struc.AtomArray] = None
) -> List[str]:
    """Other chains of the same protein (DESIGN "Homodimer partners").

    The chains of the same entity where the file groups them (mmCIF ``entity_id``; PDB
    chains with identical SEQRES); only where it does not, chains whose observed
    sequences are the same protein by :func:`same_protein`.

    Parameters
    ----------
    structure : biotite.structure.AtomArray
        From :func:`load_structure`.
    chain : str
        Author chain ID.
    assembly : biotite.structure.AtomArray, optional
        From :func:`load_assembly`: then the assembly's chain copies are searched, the
        first copy of each chain named by its chain ID, symmetry copies ``"A:1"`` etc.

    Returns
    -------
    partners : list of str
        Partner chain IDs (assembly copies labelled ``"A:1"``...), in the order of the
        structure (or assembly); empty when the chain has none.

    Raises
    ------
    ValueError
        `chain` is not a protein chain of the structure (or of `assembly`).
    """
    _chain(structure, chain)
    return _homodimer(structure, chain, assembly, contacts=False)[0]


def homodimer_contacts(
    structure: struc.AtomArray,
    chain: str,
    sequence: Optional[str] = None,
    assembly: Optional[struc.AtomArray] = None,
    cutoff: float = 8.0,
    cb: str = "virtual",
    min_identity: float = MIN_IDENTITY,
) -> np.ndarray:
    """Inter-chain contacts with partner chains of the same protein, in `chain`'s indices.

    ``X[i, j] = 1`` when residue i of `chain` contacts residue j' of a partner, or residue
    j of `chain` contacts residue i' of a partner, where i', j' are the partner's residues
    aligned to i, j (both chains are mapped onto the same sequence, so the
    correspondence comes from the sequences, not from array positions).

    Parameters
    ----------
    structure : biotite.structure.AtomArray
        From :func:`load_structure`.
    chain : str
        Author chain ID.
    sequence : str, optional
        Index by this sequence; default the chain's observed residues.
    assembly : biotite.structure.AtomArray, optional
        From :func:`load_assembly`; partners are then its chain copies (symmetry mates).
    cutoff, cb, min_identity
        As in :func:`true_contacts`.

    Returns
    -------
    contacts : numpy.ndarray
        int8 (L, L), symmetric: 1 / 0, -1 where no partner lets the pair be judged
        (neither i with j' nor j with i' has both residues known); all zeros when the
        chain has no partner.
    """
    return _homodimer(structure, chain, assembly, sequence, cutoff, cb, min_identity=min_identity)[
        1
    ]
