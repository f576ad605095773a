"""The contact file formats: one table (:data:`CONTACT_FORMATS`) of what each format is and does.

Each row names a format (the ``--format`` value), its file extensions, its reader and
writer, whether it is sparse (lists some pairs: a map read from it holds NaN for every
pair it does not list) or dense (lists every pair), what sequence it carries, how its
residue indices count, and whether its numbers are probabilities or raw scores.
Everything that asks "is this a contact file?", "which format is this?" or "which
extensions are there?" (the CLI, the PyMOL commands and file dialogs, the README's
table) reads this table; :func:`esm_contacts.io.read_contacts` and
:func:`esm_contacts.io.write_contacts` dispatch through it.

The formats follow ConKit's descriptions (rigdenlab/conkit, ``conkit/io/``):

- PSICOV: ``i j 0 8 score`` per line, 1-based, no header, no sequence.
- CCMpred / GREMLIN matrix: L lines of L whitespace-separated numbers (dense), no sequence.
- plmDCA: ``i,j,score`` per line, 1-based (whitespace-separated and a header line read too).
- EVfold: ``i A_i j A_j 0 score`` per line, 1-based, residue letters per pair; the
  EVcouplings CSV (header ``i,A_i,j,A_j,fn,cn,...``) is read too (its ``probability``
  column if present, else ``cn``, else ``fn``).
- FreeContact: ``i A_i j A_j score 0`` per line, 1-based, residue letters per pair.
- ChimeraX pseudobonds (``.pb``, written only): ``/A:744@CB /A:812@CB color`` per pair,
  residues named as the structure names them, coloured by category as the PyMOL drawing.
- trRosetta ``.npz`` (read only): the ``dist`` distogram, (L, L, 37) with bin 0 "no
  contact" (> 20 A) and bins 1-36 covering 2-20 A in 0.5 A steps; P(Cb-Cb < 8 A) is the
  sum of bins 1-12. Read with ``allow_pickle`` off, a block of rows at a time.

Raw scores (PSICOV, CCMpred, plmDCA, EVfold, FreeContact) are not always in [0, 1]:
a file whose scores all lie in [0, 1] is read as it is; otherwise its scores are
rescaled linearly onto [0, 1] (lowest listed score 0, highest 1), which keeps their
ranking and ties (:func:`scores_to_probabilities`). RR, CSV, ``.npy`` and ``.npz`` hold
probabilities, and a value outside [0, 1] in them is an error.
"""

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from .messages import number_text, quote_input, size_text

__all__ = [
    "MAX_MAP_RESIDUES",
    "DECIMALS",
    "check_map",
    "check_map_length",
    "parse_probability",
    "map_from_pairs",
    "read_npy_header",
    "read_text_lines",
    "read_builtin",
    "write_builtin",
    "ContactFormat",
    "PairList",
    "CONTACT_FORMATS",
    "FORMATS",
    "find_format",
    "contact_suffixes",
    "is_contact_file",
    "file_dialog_filter",
    "format_table_markdown",
    "scores_to_probabilities",
    "write_pseudobonds",
    "TRROSETTA_CONTACT_BINS",
]

#: Residues a line in an RR file's sequence block.
RR_LINE_WIDTH = 50
#: Decimals of every probability written.
DECIMALS = 6
#: Longest sequence a contact file may describe: its map is L x L float32, 40,000
#: residues = 6.4 GB (the longest known protein, titin, has about 35,000). Files that
#: would need more (a sequence line, a residue index, a ``.npy`` header) are refused
#: before anything is allocated.
MAX_MAP_RESIDUES = 40_000
#: Real numeric ``.npy`` dtype kinds: bool, signed and unsigned integer, floating point.
_NUMERIC_KINDS = {"b": "bool", "i": "integer", "u": "unsigned integer", "f": "floating point"}
_REFUSED_KINDS = {
    "c": "complex",
    "U": "string",
    "S": "byte string",
    "V": "structured (record)",
    "M": "datetime",
    "m": "timedelta",
    "O": "object (Python objects)",
}


#: trRosetta ``dist`` bins (bin 0: > 20 A; bin k >= 1: [2 + (k - 1) / 2, 2 + k / 2) A) whose upper
#: edge
#: is at most 8 A: bins 1..12, the probability of a Cb-Cb contact.
TRROSETTA_BINS = 37
TRROSETTA_CONTACT_BINS = slice(1, 13)
#: Rows of a trRosetta distogram decoded at a time (bounds the memory beside the L x L map).
NPZ_BLOCK_BYTES = 64 << 20


@dataclass
class PairList:
    """Pairs to write: 0-based ``i < j``, their probabilities, and what a format may add.

    ``sequence`` is None when the map's sequence is unknown (letters then ``X``);
    ``structure`` and ``chain`` are needed by formats that name residues of a structure.

    Attributes
    ----------
    length : int
        L, residues of the map.
    i, j : numpy.ndarray, shape=(n,)
        0-based residue indices of the pairs, ``i < j``.
    p : numpy.ndarray, shape=(n,)
        Their probabilities.
    sequence : str or None
        The map's sequence, when known.
    target : str
        Name of the prediction (RR ``TARGET``).
    method : str
        What made it (RR ``METHOD``).
    structure : biotite.structure.AtomArray or None
        The structure whose residues a drawing names.
    chain : str or None
        Its author chain ID.
    min_identity : float or None
        Sequence-matching threshold in [0, 1]; None: the default
        (:data:`esm_contacts.structure.MIN_IDENTITY`).
    """

    length: int
    i: np.ndarray
    j: np.ndarray
    p: np.ndarray
    sequence: Optional[str] = None
    target: str = "query"
    method: str = "ESM attention contacts (esm-contacts)"
    structure: object = None
    chain: Optional[str] = None
    min_identity: Optional[float] = None

    def letter(self, k: int) -> str:
        return self.sequence[k] if self.sequence else "X"


@dataclass(frozen=True)
class ContactFormat:
    """One row of the format table.

    ``reader(path)`` returns ``(P, sequence or None)``; ``writer(stream, pairs)`` writes a
    :class:`PairList` (sparse formats) or ``writer(stream, P)`` the map (dense formats);
    either is None when the format is not read or not written.

    Attributes
    ----------
    name : str
        The ``--format`` name.
    title : str
        The name people know it by, for messages.
    extensions : tuple of str
        Lower-case suffixes with the dot, e.g. ``(".rr", ".casp")``.
    layout : str
        ``"sparse"`` (listed pairs; the others NaN when read) or ``"dense"`` (every pair).
    sequence : str
        What the file carries of the sequence, in words (``"none"``: nothing).
    index_base : str
        How residues are counted, in words (``"1-based"``, ...).
    scores : str
        What the numbers are: ``"probability"``, or ``"score"`` (raw, rescaled when outside
        [0, 1]), in words.
    reader, writer : callable or None
        See above.
    binary : bool
        Whether the file is written in binary mode.
    aliases : tuple of str
        Other names ``--format`` accepts.
    needs_structure : bool
        Whether writing needs a structure and chain (residue names).
    default_top : str
        Pairs listed by default when a command writes this format (``"all"``, ``"L"``).
    """

    name: str
    title: str
    extensions: Tuple[str, ...]
    layout: str  # "sparse" | "dense"
    sequence: str  # what the file carries of the sequence, in words
    index_base: str  # how residues are counted, in words
    # What the numbers are, in words: "probability", or "score" (raw, rescaled when outside [0, 1]).
    scores: str
    reader: Optional[Callable] = None
    writer: Optional[Callable] = None
    binary: bool = False
    aliases: Tuple[str, ...] = ()
    needs_structure: bool = False
    #: Pairs listed by default when a command writes this format (a drawing: the top L).
    default_top: str = "all"

    @property
    def dense(self) -> bool:
        return self.layout == "dense"

    @property
    def carries_sequence(self) -> bool:
        return self.sequence != "none"


# -- shared pieces ------------------------------------------------------------------


def scores_to_probabilities(values: np.ndarray) -> np.ndarray:
    """Scores as values in [0, 1] with the same order: as they are when all lie in [0, 1],
    else ``(s - min) / (max - min)`` (all 1 when every score is the same).

    Parameters
    ----------
    values : numpy.ndarray
        Finite scores, any shape.

    Returns
    -------
    probabilities : numpy.ndarray
        float64, same shape.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0 or (values.min() >= 0 and values.max() <= 1):
        return values
    low, high = float(values.min()), float(values.max())
    if high == low:
        return np.ones_like(values)
    return (values - low) / (high - low)


def _score(token: str, path: Path, line_number: int) -> float:
    """A raw score: any finite number."""
    try:
        value = float(token)
    except ValueError:
        raise ValueError(
            f"{path}, line {line_number}: score {quote_input(token)} is not a number"
        ) from None
    if not np.isfinite(value):
        raise ValueError(f"{path}, line {line_number}: score {quote_input(token)} is not finite")
    return value


def _index(token: str, path: Path, line_number: int) -> int:
    try:
        return int(token)
    except ValueError:
        raise ValueError(
            f"{path}, line {line_number}: residue index {quote_input(token)} is not an integer"
        ) from None


def _data_lines(lines: Sequence[str], comment: str = "#"):
    """(line number, stripped line) of every line that is neither blank nor a comment."""
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if text and not text.startswith(comment):
            yield number, text


def _bad_line(path: Path, number: int, expected: str, line: str) -> ValueError:
    return ValueError(f"{path}, line {number}: expected {expected}, got {quote_input(line)}")


def _sequence_from_letters(letters: Dict[int, Tuple[str, int]]) -> Optional[str]:
    """The sequence spelled by per-pair residue letters, when every position 1..max appears
    (as the CSV reader's rule); letters ``X`` (unknown) give none."""
    length = max(letters, default=0)
    if not length or len(letters) != length or any(k < 1 for k in letters):
        return None
    text = "".join(letters[k][0] for k in range(1, length + 1))
    return text if text.isalpha() and "X" not in text else None


def _note_letter(
    path: Path, letters: Dict[int, Tuple[str, int]], index: int, letter: str, number: int
) -> None:
    """Record residue ``index``'s letter; one residue with two letters is an error naming both
    lines."""
    letter = letter.upper()
    if len(letter) != 1 or not letter.isalpha():
        raise ValueError(
            f"{path}, line {number}: residue letter {quote_input(letter)} is not one letter"
        )
    seen = letters.setdefault(index, (letter, number))
    if seen[0] != letter:
        raise ValueError(
            f"{path}, line {number}: residue {index} is {letter} here but {seen[0]} on line"
            f" {seen[1]}"
        )


def _sparse_reader(parse: Callable, scores: str) -> Callable:
    """A reader from a line parser ``parse(path, lines) -> (sequence, entries)``."""

    def read(path: Path):
        sequence, entries = parse(path, read_text_lines(path))
        return map_from_pairs(path, sequence, entries, rescale=scores == "score")

    return read


# -- PSICOV -------------------------------------------------------------------------


def _parse_psicov(path: Path, lines):
    entries = []
    for number, line in _data_lines(lines):
        fields = line.split()
        if len(fields) != 5:
            raise _bad_line(path, number, "'i j 0 8 score'", line)
        a, b = _index(fields[0], path, number), _index(fields[1], path, number)
        entries.append((a, b, _score(fields[4], path, number), number))
    return None, entries


def _write_psicov(stream, pairs: PairList) -> None:
    stream.writelines(
        f"{a + 1} {b + 1} 0 8 {p:.{DECIMALS}f}\n" for a, b, p in zip(pairs.i, pairs.j, pairs.p)
    )


# -- plmDCA -------------------------------------------------------------------------


def _parse_plmdca(path: Path, lines):
    entries = []
    for position, (number, line) in enumerate(_data_lines(lines)):
        fields = [field.strip() for field in (line.split(",") if "," in line else line.split())]
        if position == 0 and fields and fields[0][:1].isalpha():
            continue  # a header line ("i,j,score")
        if len(fields) != 3:
            raise _bad_line(path, number, "'i,j,score'", line)
        a, b = _index(fields[0], path, number), _index(fields[1], path, number)
        entries.append((a, b, _score(fields[2], path, number), number))
    return None, entries


def _write_plmdca(stream, pairs: PairList) -> None:
    stream.writelines(
        f"{a + 1},{b + 1},{p:.{DECIMALS}f}\n" for a, b, p in zip(pairs.i, pairs.j, pairs.p)
    )


# -- EVfold / EVcouplings and FreeContact --------------------------------------------


def _parse_lettered(path: Path, lines, score_field: int, expected: str):
    """``i A_i j A_j ...`` lines (EVfold, FreeContact): 6 fields, the score in ``score_field``."""
    entries, letters = [], {}
    for number, line in _data_lines(lines):
        fields = line.split()
        if len(fields) != 6:
            raise _bad_line(path, number, expected, line)
        a, b = _index(fields[0], path, number), _index(fields[2], path, number)
        _note_letter(path, letters, a, fields[1], number)
        _note_letter(path, letters, b, fields[3], number)
        entries.append((a, b, _score(fields[score_field], path, number), number))
    return _sequence_from_letters(letters), entries


def _parse_evcouplings_csv(path: Path, lines, first: int):
    """EVcouplings' CSV: header ``i,A_i,j,A_j,...`` at line ``first``; the score column by
    preference."""
    header = [field.strip().lower() for field in lines[first - 1].split(",")]
    column = next(
        (header.index(name) for name in ("probability", "cn", "fn") if name in header), None
    )
    if column is None:
        raise ValueError(
            f"{path}, line {first}: the EVcouplings header has no 'probability', 'cn' or 'fn'"
            " column"
        )
    entries, letters = [], {}
    for number, line in _data_lines(lines[first:]):
        number += first
        fields = [field.strip() for field in line.split(",")]
        if len(fields) != len(header):
            raise _bad_line(path, number, f"{len(header)} comma-separated fields", line)
        a, b = _index(fields[0], path, number), _index(fields[2], path, number)
        _note_letter(path, letters, a, fields[1], number)
        _note_letter(path, letters, b, fields[3], number)
        entries.append((a, b, _score(fields[column], path, number), number))
    return _sequence_from_letters(letters), entries


def _parse_evfold(path: Path, lines):
    first = next(iter(_data_lines(lines)), None)
    if first is not None and first[1].replace(" ", "").lower().startswith("i,a_i,j,a_j"):
        return _parse_evcouplings_csv(path, lines, first[0])
    return _parse_lettered(path, lines, 5, "'i A_i j A_j 0 score'")


def _parse_freecontact(path: Path, lines):
    return _parse_lettered(path, lines, 4, "'i A_i j A_j score 0'")


def _write_evfold(stream, pairs: PairList) -> None:
    stream.writelines(
        f"{a + 1} {pairs.letter(a)} {b + 1} {pairs.letter(b)} 0 {p:.{DECIMALS}f}\n"
        for a, b, p in zip(pairs.i, pairs.j, pairs.p)
    )


def _write_freecontact(stream, pairs: PairList) -> None:
    stream.writelines(
        f"{a + 1} {pairs.letter(a)} {b + 1} {pairs.letter(b)} {p:.{DECIMALS}f} 0\n"
        for a, b, p in zip(pairs.i, pairs.j, pairs.p)
    )


# -- CCMpred / GREMLIN matrix --------------------------------------------------------


def _read_matrix(path: Path):
    """A whitespace-separated L x L matrix; L from the first row, checked before the map exists."""
    P, row = None, 0
    size = path.stat().st_size
    for number, line in _data_lines(read_text_lines(path)):
        fields = line.split()
        if P is None:
            length = len(fields)
            check_map_length(
                length, f"{path}, line {number}", f"a row of {number_text(length)} numbers"
            )
            if 2 * length * length - 1 > size:  # a number and a separator each, at the least
                raise ValueError(
                    f"{path}, line {number}: a row of {length} numbers makes a {length} x {length} "
                    f"matrix of at least {size_text(2 * length * length)}, but the file has "
                    f"{size_text(size)}"
                )
            P = np.empty((length, length), dtype=np.float32)
        if row == P.shape[0]:
            raise ValueError(
                f"{path}, line {number}: more than {P.shape[0]} rows in a {P.shape[0]} x"
                f" {P.shape[0]} matrix: {quote_input(line)}"
            )
        if len(fields) != P.shape[0]:
            raise ValueError(
                f"{path}, line {number}: expected {P.shape[0]} numbers (the first row's count), "
                f"got {len(fields)}: {quote_input(line)}"
            )
        try:
            values = np.array(fields, dtype=np.float64)
        except ValueError:
            bad = next(field for field in fields if not _is_number(field))
            raise ValueError(f"{path}, line {number}: {quote_input(bad)} is not a number") from None
        if not np.isfinite(values).all():
            raise ValueError(f"{path}, line {number}: the matrix holds a value that is not finite")
        P[row] = values
        row += 1
    if P is None:
        raise ValueError(f"{path}: empty contact file")
    if row != P.shape[0]:
        raise ValueError(
            f"{path}: {row} rows but {P.shape[0]} columns; a CCMpred/GREMLIN matrix is L x L"
        )
    P = scores_to_probabilities(P).astype(np.float32)
    return np.maximum(P, P.T), None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _write_matrix(stream, P: np.ndarray) -> None:
    for row in P:
        stream.write("\t".join(f"{value:.{DECIMALS}f}" for value in row) + "\n")


# -- trRosetta .npz -----------------------------------------------------------------


def _read_trrosetta(path: Path):
    """P(Cb-Cb < 8 A) from a trRosetta ``.npz``'s ``dist`` (L, L, 37), a block of rows at a time."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise ValueError(f"{path}: not a NumPy .npz file ({error})") from None
    with archive:
        names = archive.namelist()
        if "dist.npy" not in names:
            shown = ", ".join(
                quote_input(name[:-4] if name.endswith(".npy") else name, 20) for name in names[:8]
            )
            raise ValueError(
                f"{path}: no 'dist' distogram in this .npz (it holds {shown or 'nothing'})"
            )
        try:
            with archive.open("dist.npy") as stream:
                return _read_distogram(path, stream, archive.getinfo("dist.npy").file_size), None
        except (
            zipfile.BadZipFile,
            EOFError,
            OSError,
            RuntimeError,
        ) as error:  # RuntimeError: encrypted member
            raise ValueError(f"{path}: cannot read its 'dist' array ({error})") from None


def _read_distogram(path: Path, stream, member_size: Optional[int] = None) -> np.ndarray:
    try:
        shape, fortran_order, dtype = read_npy_header(stream)
    except (ValueError, OSError, EOFError, SyntaxError, TypeError) as error:
        raise ValueError(f"{path}: 'dist' is not a NumPy array ({error or 'empty'})") from None
    if dtype.kind != "f":
        raise ValueError(
            f"{path}: 'dist' must hold floating-point probabilities, not dtype"
            f" {quote_input(str(dtype))}"
        )
    if len(shape) != 3 or shape[0] != shape[1] or shape[2] != TRROSETTA_BINS:
        raise ValueError(
            f"{path}: 'dist' must be (L, L, {TRROSETTA_BINS}) (trRosetta's distance bins), "
            f"got shape {tuple(shape)}"
        )
    length = int(shape[0])
    check_map_length(
        length, str(path), f"its 'dist' header ({length} x {length} x {TRROSETTA_BINS})"
    )
    needed = length * length * TRROSETTA_BINS * dtype.itemsize
    if member_size is not None and needed > member_size:
        raise ValueError(
            f"{path}: 'dist' declares {size_text(needed)} of data but the archive holds "
            f"{size_text(member_size)} for it"
        )
    P = np.zeros((length, length), dtype=np.float32)
    # C order: row blocks (L, 37) at a time; Fortran order: one (L, L) slab per bin, bins 1..12
    # kept.
    if fortran_order:
        for k in range(TRROSETTA_BINS):
            slab = _read_exactly(path, stream, dtype, length * length)
            if TRROSETTA_CONTACT_BINS.start <= k < TRROSETTA_CONTACT_BINS.stop:
                P += slab.reshape((length, length), order="F")
    else:
        rows = max(1, NPZ_BLOCK_BYTES // max(1, length * TRROSETTA_BINS * dtype.itemsize))
        for start in range(0, length, rows):
            count = min(rows, length - start)
            block = _read_exactly(path, stream, dtype, count * length * TRROSETTA_BINS)
            P[start : start + count] = block.reshape(count, length, TRROSETTA_BINS)[
                :, :, TRROSETTA_CONTACT_BINS
            ].sum(-1)
    if not np.isfinite(P).all() or P.min(initial=0) < -1e-3 or P.max(initial=0) > 1 + 1e-3:
        raise ValueError(
            f"{path}: 'dist' bins must be probabilities (each pair's bins sum to at most 1)"
        )
    P = np.clip(P, 0, 1)  # summing float32 bins may pass 1 by a rounding step
    return np.maximum(P, P.T)


def _read_exactly(path: Path, stream, dtype: np.dtype, count: int) -> np.ndarray:
    data = stream.read(count * dtype.itemsize)
    if len(data) != count * dtype.itemsize:
        raise ValueError(
            f"{path}: 'dist' holds less data than its header declares "
            f"({size_text(count * dtype.itemsize)} expected in a block, {len(data)} bytes found)"
        )
    return np.frombuffer(data, dtype=dtype).astype(np.float64)


# -- ChimeraX pseudobonds ------------------------------------------------------------


def _atom_specs(structure, chain: str) -> List[str]:
    """ChimeraX atom spec of each observed residue of ``chain``: its CB, or CA where it has no CB
    (Gly)."""
    from .structure import residue_identities, residue_label

    atoms = structure[structure.chain_id == chain]
    with_cb = {
        (int(r), str(i))
        for r, i, n in zip(atoms.res_id, atoms.ins_code, atoms.atom_name)
        if n == "CB"
    }
    specs = []
    for c, r, i, _ in residue_identities(structure, chain):
        label = residue_label(c, r, i)
        residue = f"/{label}" if str(c).strip() else f":{label}"
        specs.append(f"{residue}@{'CB' if (r, i) in with_cb else 'CA'}")
    return specs


def _pair_positions(pairs: PairList) -> Tuple[Optional[str], np.ndarray]:
    """The sequence the pairs are indexed by (None: the chain's observed residues) and the
    structure residue of each position (-1: not observed)."""
    from .structure import MIN_IDENTITY, chain_sequence, map_sequence, sequence_of_map

    structure, chain = pairs.structure, pairs.chain
    identity = MIN_IDENTITY if pairs.min_identity is None else pairs.min_identity
    sequence = pairs.sequence
    observed = len(chain_sequence(structure, chain))
    if sequence is None:
        if pairs.length > observed:
            sequence = sequence_of_map(
                pairs.length, structure, chain
            )  # the full construct, or an error
        else:  # indices refer to the observed residues in order (a sparse file may stop short)
            return None, np.arange(pairs.length)
    return sequence, map_sequence(sequence, structure, chain, min_identity=identity)


def write_pseudobonds(stream, pairs: PairList) -> None:
    """Write pairs as ChimeraX pseudobonds, coloured by category against ``pairs.structure``.

    Each line is ``/A:744@CB /A:812@CB color`` (CA for residues without CB), the residues
    named as the structure names them (:func:`esm_contacts.structure.residue_label`);
    the colour (:data:`esm_contacts.metrics.CATEGORY_COLORS`, the PyMOL drawing's default
    palette) says whether the structure's chain satisfies the pair (sky blue), does not
    (vermillion) or has it only between chains of a homodimer (reddish purple), as the PyMOL drawing
    (:func:`esm_contacts.metrics.classify_pairs`). Pairs a residue of which is not
    observed, or whose truth is unknown, are left out (the drawing leaves them out too).

    Parameters
    ----------
    stream : text file
        Open for writing.
    pairs : PairList
        With ``structure`` and ``chain``.
    """
    from .metrics import CATEGORY_COLORS, classify_pairs
    from .structure import MIN_IDENTITY, homodimer_contacts, true_contacts

    if pairs.structure is None or not pairs.chain:
        raise ValueError(
            "a ChimeraX pseudobond file (.pb) names residues of a structure: give the structure and"
            " chain"
        )
    identity = MIN_IDENTITY if pairs.min_identity is None else pairs.min_identity
    sequence, index = _pair_positions(pairs)
    T = true_contacts(pairs.structure, pairs.chain, sequence=sequence, min_identity=identity)
    X = homodimer_contacts(pairs.structure, pairs.chain, sequence=sequence, min_identity=identity)
    if sequence is None:  # pad the observed-residue truth to the pairs' length (never shorter here)
        T, X = T[: pairs.length, : pairs.length], X[: pairs.length, : pairs.length]
    kinds = classify_pairs(pairs.i, pairs.j, T, X)
    specs = _atom_specs(pairs.structure, pairs.chain)
    stream.write(
        f"; ChimeraX pseudobonds: {pairs.method}, {pairs.target} on chain {pairs.chain}\n"
        f"; {CATEGORY_COLORS['tp']}: contact in the structure, {CATEGORY_COLORS['fp']}: not, "
        f"{CATEGORY_COLORS['inter']}: contact between homodimer chains only\n"
        "; halfbond = false\n"
    )
    for a, b, kind in zip(pairs.i, pairs.j, kinds):
        if kind in CATEGORY_COLORS and index[a] >= 0 and index[b] >= 0:
            stream.write(f"{specs[index[a]]} {specs[index[b]]} {CATEGORY_COLORS[kind]}\n")


# -- the table ----------------------------------------------------------------------


def _map_bytes(length: int) -> str:
    """The memory an L x L float32 map needs, in words."""
    return size_text(4 * int(length) * int(length))


def check_map_length(length: int, where: str, what: str) -> None:
    """Refuse a map of more than :data:`MAX_MAP_RESIDUES` residues before it is allocated.

    Parameters
    ----------
    length : int
        L, residues the map would have.
    where : str
        The file (and line) that asks for it, starting the message.
    what : str
        What makes the map that large, for the message (``"residue index 90000"``).

    Raises
    ------
    ValueError
        `length` is above :data:`MAX_MAP_RESIDUES` (the message gives the map's size in bytes).
    """
    if length > MAX_MAP_RESIDUES:
        raise ValueError(
            f"{where}: {what} makes a {number_text(length)} x {number_text(length)} contact map "
            f"({_map_bytes(length)} as float32); "
            f"contact files of at most {MAX_MAP_RESIDUES} residues are read"
        )


def parse_probability(token: str) -> float:
    """A probability from text; ValueError unless it is a number in [0, 1].

    Parameters
    ----------
    token : str
        One field of a contact file.

    Returns
    -------
    probability : float
        The number, in [0, 1].

    Raises
    ------
    ValueError
        Not a number (NaN included), or outside [0, 1].

    Examples
    --------
    >>> parse_probability(" 0.25")
    0.25
    >>> parse_probability("1.5")
    Traceback (most recent call last):
    ...
    ValueError: probability 1.5 outside [0, 1]
    """
    try:
        value = float(token)
    except ValueError:
        raise ValueError(f"probability {quote_input(token)} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"probability {value} outside [0, 1]")
    return value


def check_map(P: np.ndarray, what: str, dense: bool = True) -> np.ndarray:
    """``P`` as float32 once it is a square map of probabilities in [0, 1].

    ``dense``: every pair must be a number; otherwise NaN (an unlisted pair) is allowed.
    Infinities are refused either way.

    Parameters
    ----------
    P : numpy.ndarray, shape=(L, L)
        The map, of any real dtype.
    what : str
        The map's source (a file name), starting the messages.
    dense : bool
        True: NaN is refused; False: NaN marks a pair the file does not list.

    Returns
    -------
    P : numpy.ndarray, shape=(L, L), dtype=float32
        The map (not copied when already float32).

    Raises
    ------
    ValueError
        Not square, not real numbers, infinite values, NaN in a dense map, or values
        outside [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> unlisted = np.nan
    >>> check_map(np.array([[unlisted, 0.5], [0.5, unlisted]]), "a.rr", dense=False).tolist()
    [[nan, 0.5], [0.5, nan]]
    >>> check_map(np.array([[0.0, 1.5], [1.5, 0.0]]), "a.npy")
    Traceback (most recent call last):
    ...
    ValueError: a.npy: contact probabilities must be finite and in [0, 1]
    """
    P = np.asarray(P)
    if P.ndim != 2 or P.shape[0] != P.shape[1]:
        raise ValueError(f"{what}: expected a square (L, L) contact map, got shape {P.shape}")
    if P.dtype.kind not in _NUMERIC_KINDS:
        raise ValueError(f"{what}: contact probabilities must be real numbers, got dtype {P.dtype}")
    if P.size and P.dtype.kind == "f":
        unlisted = np.isnan(P)
        if dense and unlisted.any():
            raise ValueError(
                f"{what}: contact probabilities must be finite and in [0, 1] "
                f"({int(unlisted.sum())} NaN values)"
            )
        if np.isinf(P).any():
            raise ValueError(
                f"{what}: contact probabilities must be finite and in [0, 1] (infinite values)"
            )
    # NaN compares False: unlisted pairs pass the range check.
    if P.size and np.any((P < 0) | (P > 1)):
        raise ValueError(f"{what}: contact probabilities must be finite and in [0, 1]")
    return P.astype(np.float32, copy=False)


def write_builtin(stream, name: str, data) -> None:
    """The writers of this module's formats (``"rr"``, ``"csv"``: a
    :class:`~esm_contacts.formats.PairList`;
    ``"npy"``: the map), for the format table.

    Parameters
    ----------
    stream : file object
        Open for writing: text for ``"rr"`` and ``"csv"``, binary for ``"npy"``.
    name : str
        ``"rr"``, ``"csv"`` or ``"npy"``.
    data : PairList or numpy.ndarray
        The pairs (1-based in the file, probabilities with :data:`DECIMALS` decimals), or
        the (L, L) map for ``"npy"``.
    """
    if name == "npy":
        np.save(stream, data)
        return
    letters = data.sequence or "X" * data.length
    if name == "rr":
        stream.write(
            f"PFRMAT RR\nTARGET {data.target}\nAUTHOR esm-contacts\nMETHOD {data.method}\nMODEL 1\n"
        )
        for start in range(0, len(letters), RR_LINE_WIDTH):
            stream.write(letters[start : start + RR_LINE_WIDTH] + "\n")
        stream.writelines(
            f"{a + 1} {b + 1} 0 8 {p:.{DECIMALS}f}\n" for a, b, p in zip(data.i, data.j, data.p)
        )
        stream.write("END\n")
        return
    # The whole sequence in a leading comment: the pair rows alone lose residues
    # that are in no listed pair, and every pair when the sequence is short.
    if data.sequence:
        stream.write(f"# sequence: {data.sequence}\n")
    stream.write("i,j,res_i,res_j,probability\n")
    stream.writelines(
        f"{a + 1},{b + 1},{letters[a]},{letters[b]},{p:.{DECIMALS}f}\n"
        for a, b, p in zip(data.i, data.j, data.p)
    )


def read_builtin(path: Path, name: str) -> Tuple[np.ndarray, Optional[str]]:
    """The readers of this module's formats (``"rr"``, ``"csv"``, ``"npy"``), for the format table.

    Parameters
    ----------
    path : Path
        The contact file.
    name : str
        ``"rr"``, ``"csv"`` or ``"npy"``.

    Returns
    -------
    P : numpy.ndarray, shape=(L, L)
        float32 probabilities, symmetric; NaN for pairs a sparse file does not list.
    sequence : str or None
        The file's sequence, if it has one (never for ``"npy"``).

    Raises
    ------
    ValueError
        A file that is not valid in its format (the message names the file and line).
    """
    if name == "npy":
        P = check_map(_read_npy(path), str(path))
        return np.maximum(P, P.T), None
    parse = _parse_rr if name == "rr" else _parse_csv
    sequence, entries = parse(path, read_text_lines(path))
    return map_from_pairs(path, sequence, entries)


def read_text_lines(path: Path) -> List[str]:
    """A contact file's lines (undecodable bytes replaced); ValueError for a file without text.

    Parameters
    ----------
    path : Path
        The contact file.

    Returns
    -------
    lines : list of str
        Its lines, without line ends.

    Raises
    ------
    ValueError
        The file is empty or holds only whitespace.
    """
    text = path.read_text(errors="replace").splitlines()
    if not any(line.strip() for line in text):
        raise ValueError(f"{path}: empty contact file")
    return text


def map_from_pairs(
    path: Path, sequence: Optional[str], entries, rescale: bool = False
) -> Tuple[np.ndarray, Optional[str]]:
    """The (L, L) map of listed pairs, NaN elsewhere, once the size and every index are checked.

    Parameters
    ----------
    path : Path
        For the messages.
    sequence : str or None
        The file's sequence; None: L is the largest index.
    entries : list of tuple
        ``(i, j, value, line number)`` per listed pair, 1-based.
    rescale : bool
        The values are raw scores (:func:`esm_contacts.formats.scores_to_probabilities`).

    Returns
    -------
    P : numpy.ndarray, shape=(L, L)
        float32, symmetric; NaN for every pair not listed (the diagonal included).
    sequence : str or None
        `sequence`, unchanged.

    Raises
    ------
    ValueError
        No sequence and no pairs, a map above :data:`MAX_MAP_RESIDUES` residues, an index
        outside 1..L, or a residue paired with itself (the message names file and line).
    """
    # Columns: i, j (1-based), probability, line number; all checked before the map exists.
    a, b, p, lines = (
        (np.array(column) for column in zip(*entries)) if entries else (np.zeros(0, np.int64),) * 4
    )
    if sequence:
        check_map_length(len(sequence), str(path), f"its sequence of {len(sequence)} letters")
        length = len(sequence)
    elif entries:  # L is the largest index: one huge index must not make a huge map
        top = np.maximum(a, b)
        length = int(top.max())
        check_map_length(
            length,
            f"{path}, line {lines[int(np.argmax(top))]}",
            f"residue index {number_text(length)}",
        )
    else:
        length = 0
    if length == 0:
        raise ValueError(f"{path}: no sequence and no contacts")
    outside = (a < 1) | (a > length) | (b < 1) | (b > length)
    if outside.any():
        k = int(np.argmax(outside))
        bad = int(a[k]) if not 1 <= a[k] <= length else int(b[k])
        where = f"{path}, line {lines[k]}: residue index {number_text(bad)} out of range"
        if sequence:
            raise ValueError(f"{where} 1..{length} (the sequence has {length} residues)")
        raise ValueError(f"{where} (indices start at 1)")
    if (a == b).any():
        k = int(np.argmax(a == b))
        raise ValueError(f"{path}, line {lines[k]}: a residue paired with itself ({a[k]})")
    if rescale:
        p = scores_to_probabilities(p)
    P = np.full((length, length), np.nan, dtype=np.float32)
    # The same (lo, hi) order both ways: a pair listed twice (in either order) keeps its
    # last line's probability, symmetric.
    lo, hi = np.minimum(a, b).astype(np.int64) - 1, np.maximum(a, b).astype(np.int64) - 1
    P[lo, hi] = p
    P[hi, lo] = p
    return P, sequence


def read_npy_header(stream, path: Optional[Path] = None):
    """(shape, fortran_order, dtype) of a ``.npy`` header; ValueError for anything else.

    Parameters
    ----------
    stream : binary file object
        Positioned at the start of the ``.npy`` data.
    path : Path, optional
        The file, unused by the parsing itself.

    Returns
    -------
    header : tuple
        ``(shape, fortran_order, dtype)`` as :mod:`numpy.lib.format` reads them; `stream`
        is left at the start of the array data.

    Raises
    ------
    ValueError
        Not ``.npy`` data, or a format version other than 1.0, 2.0 or 3.0.
    """
    from numpy.lib import format as npy_format

    version = npy_format.read_magic(stream)
    if version == (1, 0):
        return npy_format.read_array_header_1_0(stream)
    if version == (2, 0):
        return npy_format.read_array_header_2_0(stream)
    private = getattr(
        npy_format, "_read_array_header", None
    )  # version 3.0 (utf-8 header) has no public reader
    if version == (3, 0) and private is not None:
        return private(stream, version)
    raise ValueError(f"unsupported .npy format version {version[0]}.{version[1]}")


def _read_npy(path: Path) -> np.ndarray:
    """A ``.npy`` array once its header is checked: a square 2-D real numeric array that the
    file holds whole and of at most :data:`MAX_MAP_RESIDUES` residues. Nothing is
    allocated for the data before that."""
    size = path.stat().st_size
    with open(path, "rb") as stream:
        try:
            shape, fortran_order, dtype = read_npy_header(stream, path)
        except (ValueError, OSError, EOFError, SyntaxError, TypeError) as error:
            raise ValueError(f"{path}: not a NumPy .npy file ({error or 'empty file'})") from None
        offset = stream.tell()
        if dtype.kind not in _NUMERIC_KINDS:
            kind = _REFUSED_KINDS.get(dtype.kind, "non-numeric")
            raise ValueError(
                f"{path}: a contact map must hold real numbers; this .npy holds {kind} values "
                f"(dtype {quote_input(str(dtype))})"
            )
        if len(shape) != 2 or shape[0] != shape[1] or shape[0] < 0:
            raise ValueError(
                f"{path}: expected a square (L, L) contact map, got shape {tuple(shape)}"
            )
        needed = int(shape[0]) * int(shape[1]) * dtype.itemsize
        if needed > size - offset:
            raise ValueError(
                f"{path}: the .npy header declares a {shape[0]} x {shape[1]} {dtype} array "
                f"({size_text(needed)}) but the file holds {max(size - offset, 0)} bytes of data"
            )
        check_map_length(int(shape[0]), str(path), f"its .npy header ({shape[0]} x {shape[1]})")
        try:
            P = np.fromfile(
                stream, dtype=dtype, count=needed // dtype.itemsize if dtype.itemsize else 0
            )
        except (ValueError, OSError) as error:
            raise ValueError(f"{path}: not a NumPy .npy file ({error})") from None
    return P.reshape(shape, order="F" if fortran_order else "C")


def _builtin_probability(token: str, path: Path, line_number: int) -> float:
    try:
        return parse_probability(token)
    except ValueError as error:
        raise ValueError(f"{path}, line {line_number}: {error}") from None


def _builtin_index(token: str, path: Path, line_number: int) -> int:
    try:
        return int(token)
    except ValueError:
        raise ValueError(
            f"{path}, line {line_number}: residue index {quote_input(token)} is not an integer"
        ) from None


def _parse_rr(path: Path, lines):
    sequence_parts, entries = [], []
    headers = ("PFRMAT", "TARGET", "AUTHOR", "METHOD", "MODEL", "REMARK", "RMSD_TEMPLATE")
    for line_number, line in enumerate(lines, start=1):
        fields = line.split()
        if not fields or fields[0].upper() in headers:
            continue
        if fields[0].upper() in ("END", "TER"):
            break
        if len(fields) == 1 and fields[0].isalpha():
            sequence_parts.append(fields[0].upper())
        elif len(fields) in (3, 5):
            a, b = (
                _builtin_index(fields[0], path, line_number),
                _builtin_index(fields[1], path, line_number),
            )
            entries.append((a, b, _builtin_probability(fields[-1], path, line_number), line_number))
        else:
            raise ValueError(
                f"{path}, line {line_number}: expected 'i j 0 8 p' or a sequence line, "
                f"got {quote_input(line)}"
            )
    sequence = "".join(sequence_parts)
    # Writers without a sequence fill the mandatory lines with X: that is no sequence.
    return (sequence if sequence.strip("X") else None), entries


def _parse_csv(path: Path, lines):
    declared = None
    first = 0
    while first < len(lines) and (lines[first].startswith("#") or not lines[first].strip()):
        comment = lines[first].lstrip("#").strip()
        if comment.lower().startswith("sequence:"):
            declared = comment.split(":", 1)[1].strip().upper() or None
        first += 1
    if first == len(lines):
        raise ValueError(f"{path}: no header line 'i,j,res_i,res_j,probability'")
    header = [field.strip().lower() for field in lines[first].split(",")]
    if header[:2] != ["i", "j"] or "probability" not in header:
        raise ValueError(
            f"{path}, line {first + 1}: expected the header 'i,j,res_i,res_j,probability', "
            f"got {quote_input(lines[first])}"
        )
    column = header.index("probability")
    entries, letters = [], {}
    for line_number, line in enumerate(lines[first + 1 :], start=first + 2):
        if not line.strip():
            continue
        fields = [field.strip() for field in line.split(",")]
        if len(fields) != len(header):
            raise ValueError(
                f"{path}, line {line_number}: expected {len(header)} fields, got {len(fields)}: "
                f"{quote_input(line)}"
            )
        a, b = (
            _builtin_index(fields[0], path, line_number),
            _builtin_index(fields[1], path, line_number),
        )
        entries.append((a, b, _builtin_probability(fields[column], path, line_number), line_number))
        if "res_i" in header and "res_j" in header:
            letters.setdefault(a, fields[header.index("res_i")].upper())
            letters.setdefault(b, fields[header.index("res_j")].upper())
    if declared is not None:
        if not declared.isalpha():
            raise ValueError(
                f"{path}: the '# sequence:' line holds characters that are not residue letters"
            )
        for k, letter in letters.items():
            if k < 1:
                continue  # read_contacts refuses it, naming the line
            if k > len(declared):
                raise ValueError(
                    f"{path}: residue {k} of the pairs lies beyond the {len(declared)} residues "
                    "of the '# sequence:' line"
                )
            if letter not in (declared[k - 1], "X"):
                raise ValueError(
                    f"{path}: residue {k} is {quote_input(letter)} in the pairs but"
                    f" {declared[k - 1]} in the '# sequence:' line"
                )
        return declared, entries
    # The letters give the sequence only when every position 1..max appears.
    length = max(letters, default=0)
    complete = len(letters) == length and all(
        letter.isalpha() and letter != "X" for letter in letters.values()
    )
    sequence = "".join(letters[k] for k in range(1, length + 1)) if length and complete else None
    return sequence, entries


def _builtin_reader(name: str) -> Callable:
    return lambda path: read_builtin(path, name)


def _builtin_writer(name: str) -> Callable:
    return lambda stream, data: write_builtin(stream, name, data)


CONTACT_FORMATS: Tuple[ContactFormat, ...] = (
    ContactFormat(
        "rr",
        "CASP RR",
        (".rr", ".casp"),
        "sparse",
        "sequence lines",
        "1-based",
        "probability",
        _builtin_reader("rr"),
        _builtin_writer("rr"),
        aliases=("casp", "casprr"),
    ),
    ContactFormat(
        "csv",
        "CSV (i,j,res_i,res_j,probability)",
        (".csv",),
        "sparse",
        "'# sequence:' line or complete letters",
        "1-based",
        "probability",
        _builtin_reader("csv"),
        _builtin_writer("csv"),
    ),
    ContactFormat(
        "npy",
        "NumPy map",
        (".npy",),
        "dense",
        "none",
        "0-based (array)",
        "probability",
        _builtin_reader("npy"),
        _builtin_writer("npy"),
        binary=True,
    ),
    ContactFormat(
        "psicov",
        "PSICOV / MetaPSICOV",
        (".psicov",),
        "sparse",
        "none",
        "1-based",
        "score",
        _sparse_reader(_parse_psicov, "score"),
        _write_psicov,
    ),
    ContactFormat(
        "ccmpred",
        "CCMpred / GREMLIN matrix",
        (".mat", ".ccmpred", ".gremlin"),
        "dense",
        "none",
        "0-based (matrix row/column)",
        "score",
        _read_matrix,
        _write_matrix,
        aliases=("gremlin",),
    ),
    ContactFormat(
        "plmdca",
        "plmDCA",
        (".plmdca",),
        "sparse",
        "none",
        "1-based",
        "score",
        _sparse_reader(_parse_plmdca, "score"),
        _write_plmdca,
    ),
    ContactFormat(
        "evfold",
        "EVfold / EVcouplings",
        (".evfold",),
        "sparse",
        "letters per pair",
        "1-based",
        "score",
        _sparse_reader(_parse_evfold, "score"),
        _write_evfold,
        aliases=("evcouplings",),
    ),
    ContactFormat(
        "freecontact",
        "FreeContact",
        (".freecontact",),
        "sparse",
        "letters per pair",
        "1-based",
        "score",
        _sparse_reader(_parse_freecontact, "score"),
        _write_freecontact,
    ),
    ContactFormat(
        "chimerax",
        "ChimeraX pseudobonds",
        (".pb",),
        "sparse",
        "structure residue names",
        "structure's own numbering",
        "colour by category",
        None,
        write_pseudobonds,
        aliases=("pb",),
        needs_structure=True,
        default_top="L",
    ),
    ContactFormat(
        "trrosetta",
        "trRosetta distogram",
        (".npz",),
        "dense",
        "none",
        "0-based (array)",
        "probability",
        _read_trrosetta,
        None,
        aliases=("npz",),
    ),
)

#: Extension -> format name, from the table.
FORMATS: Dict[str, str] = {
    suffix: spec.name for spec in CONTACT_FORMATS for suffix in spec.extensions
}
_BY_NAME: Dict[str, ContactFormat] = {
    key: spec for spec in CONTACT_FORMATS for key in (spec.name,) + spec.aliases
}


def find_format(
    path: Union[str, Path], format: Optional[str] = None, mode: Optional[str] = None
) -> ContactFormat:
    """The table row of a contact file: ``format`` (a name or alias) when given, else from the
    extension.

    Parameters
    ----------
    path : str or Path
        The file (its extension decides when ``format`` is None).
    format : str, optional
        A format name of :data:`CONTACT_FORMATS` (``--format``), or an alias.
    mode : {"read", "write"}, optional
        Also check that the format can be read / written.

    Returns
    -------
    spec : ContactFormat
        The format's row of :data:`CONTACT_FORMATS`.

    Raises
    ------
    ValueError
        An unknown format name or extension (naming the known ones), or a format that
        is not read (or not written).

    Examples
    --------
    >>> find_format("model.rr").name
    'rr'
    >>> find_format("scores.txt", format="PSICOV").name
    'psicov'
    """
    if format:
        spec = _BY_NAME.get(str(format).strip().lower())
        if spec is None:
            raise ValueError(
                f"unknown contact format {quote_input(format, 30)}; use one of "
                f"{', '.join(spec.name for spec in CONTACT_FORMATS)}"
            )
    else:
        suffix = Path(path).suffix.lower()
        if suffix not in FORMATS:
            raise ValueError(
                f"{path}: unknown contact file extension {quote_input(suffix, 20)}; use one of "
                f"{', '.join(FORMATS)}, or name the format (--format)"
            )
        spec = _BY_NAME[FORMATS[suffix]]
    if mode == "read" and spec.reader is None:
        raise ValueError(f"{path}: {spec.title} files are written, not read")
    if mode == "write" and spec.writer is None:
        raise ValueError(f"{path}: {spec.title} files are read, not written")
    return spec


def contact_suffixes(mode: str = "read") -> Tuple[str, ...]:
    """The extensions of the formats that can be read (``mode="read"``) or written (``"write"``).

    Parameters
    ----------
    mode : {"read", "write"}
        Which direction.

    Returns
    -------
    suffixes : tuple of str
        Lower-case extensions with the dot, in the order of :data:`CONTACT_FORMATS`.
    """
    return tuple(
        suffix
        for spec in CONTACT_FORMATS
        if (spec.reader if mode == "read" else spec.writer)
        for suffix in spec.extensions
    )


def is_contact_file(text: Union[str, Path]) -> bool:
    """Whether a name has the extension of a readable contact format.

    Parameters
    ----------
    text : str or Path
        A file name or path; the extension's case does not matter.

    Returns
    -------
    readable : bool
        True when the extension is one of ``contact_suffixes("read")``.

    Examples
    --------
    >>> is_contact_file("prediction.RR"), is_contact_file("1abc.pdb")
    (True, False)
    """
    return Path(str(text)).suffix.lower() in contact_suffixes("read")


def file_dialog_filter(mode: str = "read") -> str:
    """A Qt file-dialog filter of the contact formats, then all files.

    Parameters
    ----------
    mode : {"read", "write"}
        The formats that can be read or those that can be written.

    Returns
    -------
    filter : str
        ``"Contact files (*.rr *.casp ...);;All files (*)"``.
    """
    patterns = " ".join(f"*{suffix}" for suffix in contact_suffixes(mode))
    return f"Contact files ({patterns});;All files (*)"


def format_table_markdown() -> str:
    """The format table as a Markdown table (the README shows it).

    Returns
    -------
    table : str
        A header row, a rule and one row per format of :data:`CONTACT_FORMATS`, joined by newlines.
    """
    rows = [
        "| format (`--format`) | extensions | read | write | pairs | sequence | indices | values |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for spec in CONTACT_FORMATS:
        names = ", ".join(f"`{name}`" for name in (spec.name,) + spec.aliases)
        rows.append(
            f"| {spec.title}: {names} | {' '.join(f'`{s}`' for s in spec.extensions)} |"
            f" {'yes' if spec.reader else 'no'} | {'yes' if spec.writer else 'no'} |"
            f" {'all (dense)' if spec.dense else 'listed (sparse)'} | {spec.sequence} |"
            f" {spec.index_base} | {spec.scores} |"
        )
    return "\n".join(rows)
