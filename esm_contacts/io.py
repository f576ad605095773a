"""Contact files: reading and writing through the format table, and atomic writes.

The formats (CASP RR, CSV, ``.npy``, PSICOV, CCMpred/GREMLIN, plmDCA, EVfold, FreeContact,
ChimeraX pseudobonds, trRosetta ``.npz``) are the rows of
:data:`esm_contacts.formats.CONTACT_FORMATS`; :func:`read_contacts` and
:func:`write_contacts` dispatch through it. This module holds RR, CSV and ``.npy``
themselves and what every reader shares (:func:`map_from_pairs`, the size checks).

Indices in RR and CSV files are 1-based sequence positions, pairs ``i < j``, one line
each, highest probability first. Probabilities are printed with six decimals; reading
a file back gives the map to that precision.

A contact file lists predictions (``DESIGN.md``, "Contact files"). RR and CSV files are
sparse: a map read from one holds NaN for every pair the file does not list (the
diagonal too), and NaN pairs take no place in any ranking
(:func:`esm_contacts.metrics.top_pairs`). A ``.npy`` map is dense: it lists every pair,
and NaN in it is an error.

Limits: a map is ``L x L`` float32, so a file is refused before anything is allocated
when it would make a map of more than :data:`MAX_MAP_RESIDUES` residues (a sequence
line, an index, or a ``.npy`` header); a ``.npy`` header is also checked against the
file's size and its dtype must be real numeric (bool, integer, floating point).

- RR (``.rr``, ``.casp``): ``PFRMAT RR`` header, the sequence in lines of 50,
  ``i j 0 8 p`` lines, ``END``.
- CSV (``.csv``): header ``i,j,res_i,res_j,probability``.
- NumPy (``.npy``): the full float32 (L, L) map.

Every writer writes a temporary file beside the target and renames it when complete,
so a failure never leaves a half-written file.
"""

import contextlib
import os
import re
import tempfile
from pathlib import Path
from typing import Iterator, List, Optional, Tuple, Union

import numpy as np

from .files import check_input_file

__all__ = ["MAX_MAP_RESIDUES", "contact_format", "check_map_length", "number_text", "size_text", "read_npy_header",
           "read_text_lines", "map_from_pairs", "read_builtin", "write_builtin", "check_output_path",
           "parse_probability", "atomic_write", "part_prefix", "remove_stale_parts", "ranked_pairs", "write_contacts",
           "write_pairs", "read_contacts", "quote_input", "pad_unlisted"]

RR_LINE_WIDTH = 50
DECIMALS = 6
#: Longest sequence a contact file may describe: its map is L x L float32, 40,000
#: residues = 6.4 GB (the longest known protein, titin, has about 35,000). Files that
#: would need more (a sequence line, a residue index, a ``.npy`` header) are refused
#: before anything is allocated.
MAX_MAP_RESIDUES = 40_000
#: Characters of a file's text quoted in an error message (:func:`quote_input`).
QUOTE_LIMIT = 80
#: Real numeric ``.npy`` dtype kinds: bool, signed and unsigned integer, floating point.
_NUMERIC_KINDS = {"b": "bool", "i": "integer", "u": "unsigned integer", "f": "floating point"}
_REFUSED_KINDS = {"c": "complex", "U": "string", "S": "byte string", "V": "structured (record)",
                  "M": "datetime", "m": "timedelta", "O": "object (Python objects)"}


def quote_input(text: str, limit: int = QUOTE_LIMIT) -> str:
    """Text from an input file, quoted for an error message and cut to ``limit`` characters.

    Parameters
    ----------
    text : str
        A line, a field or a token of the file.
    limit : int
        Characters kept; a longer text ends in ``...`` and gives its full length.

    Returns
    -------
    quoted : str
        ``repr`` of the (cut) text, e.g. ``'i j 0 8 p'`` or ``'xxxx...' (4200 characters)``.
    """
    text = str(text).strip()
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text)} characters)"


def size_text(size: int) -> str:
    """A number of bytes in words (``6.4 GB``; ``about 10^30 bytes`` beyond exabytes)."""
    if size >= 10**21:  # str() of a huge int may exceed Python's digit limit: the exponent from its bits
        return f"about 10^{int((int(size).bit_length() - 1) * 0.30103)} bytes"
    size = float(size)
    for unit in ("bytes", "kB", "MB", "GB", "TB", "PB"):
        if size < 1000:
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} EB"


def number_text(value: int) -> str:
    """An integer from a file for a message: whole up to 20 digits, else its first digits and length."""
    text = str(value)
    return text if len(text) <= 20 else f"{text[:12]}... ({len(text)} digits)"


def _map_bytes(length: int) -> str:
    """The memory an L x L float32 map needs, in words."""
    return size_text(4 * int(length) * int(length))


def check_map_length(length: int, where: str, what: str) -> None:
    """Refuse a map of more than :data:`MAX_MAP_RESIDUES` residues before it is allocated."""
    if length > MAX_MAP_RESIDUES:
        raise ValueError(
            f"{where}: {what} makes a {number_text(length)} x {number_text(length)} contact map "
            f"({_map_bytes(length)} as float32); "
            f"contact files of at most {MAX_MAP_RESIDUES} residues are read"
        )


def contact_format(path: Union[str, Path], format: Optional[str] = None, mode: Optional[str] = None) -> str:
    """The format name of a contact file (:data:`esm_contacts.formats.CONTACT_FORMATS`): ``format``
    when given (a name or alias), else from the extension; ValueError otherwise.

    ``mode`` ``"read"`` or ``"write"`` also checks that the format can be read / written.
    """
    from .formats import find_format

    return find_format(path, format, mode).name


def check_output_path(path: Union[str, Path]) -> Path:
    """``path`` as a Path once it can be written: not a folder, and its folder exists.

    Raises
    ------
    IsADirectoryError
        ``path`` is a folder.
    FileNotFoundError
        The folder it would go into does not exist.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path}: is a folder; give a file name")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"{path}: the folder {path.parent} does not exist")
    return path


def parse_probability(token: str) -> float:
    """A probability from text; ValueError unless it is a number in [0, 1]."""
    try:
        value = float(token)
    except ValueError:
        raise ValueError(f"probability {quote_input(token)} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"probability {value} outside [0, 1]")
    return value


#: Temporary files of :func:`atomic_write`: ``.{target name}.esm-contacts-{pid}.{random}.part``.
PART_PATTERN = re.compile(r"^\..+\.esm-contacts-(\d+)\.[^.]+\.part$")


def part_prefix(path: Path) -> str:
    """The name start of this process's temporary files for ``path`` (see :data:`PART_PATTERN`)."""
    return f".{path.name}.esm-contacts-{os.getpid()}."


def _process_start(pid: int) -> Optional[float]:
    """When process ``pid`` started (epoch seconds), from Linux ``/proc``; None if unknown or gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
        # Field 22 (starttime, clock ticks after boot); the name in field 2 may hold spaces and ')'.
        ticks = float(stat.rsplit(")", 1)[1].split()[19])
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def _is_stale(pid: int, modified: float) -> bool:
    """A part file of process ``pid`` last written at ``modified`` can no longer be renamed by its writer.

    Its writer is gone (no such process), or the process now holding that pid started after
    the file was last written (the pid was reused). A live writer's file is never stale,
    however old: another esm-contacts may be writing a large file into the same folder.
    """
    if pid == os.getpid() or os.name != "posix":
        return False  # on Windows os.kill(pid, 0) would terminate the process, not probe it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError, OSError):
        return False  # alive under another user (or an unusable pid): leave it
    started = _process_start(pid)
    return started is not None and started > modified + 1.0  # 1 s: the clock-tick rounding of starttime


def remove_stale_parts(folder: Union[str, Path]) -> List[Path]:
    """Delete the temporary files that killed esm-contacts writers left in ``folder``.

    Only names of :data:`PART_PATTERN` (ours: no other program's files) whose writer is gone
    (:func:`_is_stale`) are removed; errors (a file already gone, no permission) are ignored.

    Returns
    -------
    removed : list of Path
    """
    removed = []
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            match = PART_PATTERN.match(entry.name)
            if not match:
                continue
            with contextlib.suppress(OSError):
                if entry.is_file(follow_symlinks=False) and _is_stale(int(match.group(1)), entry.stat().st_mtime):
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
    return removed


@contextlib.contextmanager
def atomic_write(path: Union[str, Path], mode: str = "w") -> Iterator:
    """Open a temporary file beside ``path``; rename it to ``path`` only on success.

    The temporary file is ``.{name}.esm-contacts-{pid}.{random}.part``: a writer killed
    (``kill -9``, power loss) before the rename leaves it, and the next write into the same
    folder removes it (:func:`remove_stale_parts`), never a live writer's.
    """
    path = check_output_path(path)
    remove_stale_parts(path.parent)
    handle, temporary = tempfile.mkstemp(prefix=part_prefix(path), suffix=".part", dir=path.parent)
    try:
        with os.fdopen(handle, mode) as stream:
            yield stream
        # mkstemp makes the file private (0600); give it the mode a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def ranked_pairs(P: np.ndarray, min_sep: int = 6) -> Tuple[np.ndarray, np.ndarray]:
    """All listed pairs ``i < j`` with ``j - i >= min_sep``, by probability (ties: lower i, then j).

    The ranking of :func:`esm_contacts.metrics.top_pairs` with no cut: NaN (unlisted)
    pairs are left out.

    Returns
    -------
    i, j : numpy.ndarray
        0-based indices, highest probability first.
    """
    from .metrics import _band, _ranked

    P = np.asarray(P)
    return _ranked(P, _band(P.shape[0], min_sep), None)


def _check_map(P: np.ndarray, what: str, dense: bool = True) -> np.ndarray:
    """``P`` as float32 once it is a square map of probabilities in [0, 1].

    ``dense``: every pair must be a number; otherwise NaN (an unlisted pair) is allowed.
    Infinities are refused either way.
    """
    P = np.asarray(P)
    if P.ndim != 2 or P.shape[0] != P.shape[1]:
        raise ValueError(f"{what}: expected a square (L, L) contact map, got shape {P.shape}")
    if P.dtype.kind not in _NUMERIC_KINDS:
        raise ValueError(f"{what}: contact probabilities must be real numbers, got dtype {P.dtype}")
    if P.size and P.dtype.kind == "f":
        unlisted = np.isnan(P)
        if dense and unlisted.any():
            raise ValueError(f"{what}: contact probabilities must be finite and in [0, 1] "
                             f"({int(unlisted.sum())} NaN values)")
        if np.isinf(P).any():
            raise ValueError(f"{what}: contact probabilities must be finite and in [0, 1] (infinite values)")
    # NaN compares False: unlisted pairs pass the range check.
    if P.size and np.any((P < 0) | (P > 1)):
        raise ValueError(f"{what}: contact probabilities must be finite and in [0, 1]")
    return P.astype(np.float32, copy=False)


def _pairs_to_write(P: np.ndarray, pairs, what: str, drop_unlisted: bool = True) -> Tuple[np.ndarray, np.ndarray]:
    """The 0-based ``pairs`` as ``(lo, hi)``, each inside the map's ``P.shape[0]`` residues;
    unlisted (NaN) pairs dropped unless `drop_unlisted` is False."""
    i, j = np.asarray(pairs[0]), np.asarray(pairs[1])
    if i.shape != j.shape or i.ndim != 1:
        raise ValueError(f"{what}: pairs must be two 1-D index arrays of one length, "
                         f"got shapes {i.shape} and {j.shape}")
    if i.size and (i.dtype.kind not in "iu" or j.dtype.kind not in "iu"):
        raise ValueError(f"{what}: pair indices must be integers, got dtypes {i.dtype} and {j.dtype}")
    L = P.shape[0]
    outside = (i < 0) | (i >= L) | (j < 0) | (j >= L)
    if outside.any():
        k = int(np.argmax(outside))
        raise ValueError(f"{what}: pair ({i[k]}, {j[k]}) lies outside the map's 0-based indices 0..{L - 1}")
    if (i == j).any():
        k = int(np.argmax(i == j))
        raise ValueError(f"{what}: pair ({i[k]}, {j[k]}) pairs a residue with itself")
    lo, hi = np.minimum(i, j).astype(np.int64), np.maximum(i, j).astype(np.int64)
    if not drop_unlisted:
        return lo, hi
    listed = ~np.isnan(P[lo, hi])
    return lo[listed], hi[listed]


def write_contacts(
    path: Union[str, Path],
    P: np.ndarray,
    sequence: Optional[str] = None,
    pairs: Optional[Tuple[np.ndarray, np.ndarray]] = None,
    min_sep: int = 6,
    target: str = "query",
    method: str = "ESM attention contacts (esm-contacts)",
    format: Optional[str] = None,
    structure=None,
    chain: Optional[str] = None,
    min_identity: Optional[float] = None,
) -> None:
    """Write a contact map; the format follows the extension, or ``format``.

    Parameters
    ----------
    path : str or Path
        A writable format of :data:`esm_contacts.formats.CONTACT_FORMATS` (``.rr``,
        ``.csv``, ``.npy``, ``.psicov``, ``.mat``, ``.plmdca``, ``.evfold``,
        ``.freecontact``, ``.pb``).
    P : numpy.ndarray
        (L, L) probabilities in [0, 1]; NaN marks a pair that is not a prediction (as
        :func:`read_contacts` gives for pairs a sparse file does not list). Sparse
        formats list only the other pairs, so reading the file back gives the same NaN
        pairs. A dense format (``.npy``, CCMpred matrix) lists every pair: a map with NaN
        is refused for it (ValueError), as :func:`read_contacts` refuses NaN in a ``.npy``.
    sequence : str, optional
        The sequence (RR sequence lines; CSV ``# sequence:`` first line and residue
        letters; EVfold/FreeContact letters; ``X`` where absent).
    pairs : tuple of numpy.ndarray, optional
        0-based ``(i, j)`` pairs to list, in order (sparse formats); pairs with NaN
        probability are left out. By default every listed pair with ``j - i >=
        min_sep``, highest probability first (:func:`ranked_pairs`).
    min_sep : int
        Minimum separation when ``pairs`` is not given.
    target, method : str
        Header fields (RR, pseudobond comment).
    format : str, optional
        A format name (``--format``) instead of the extension.
    structure, chain, min_identity
        The structure (:func:`esm_contacts.structure.load_structure`) and author chain
        that a ChimeraX ``.pb`` file names residues of and colours pairs against.

    Raises
    ------
    ValueError
        A map that is not square or holds values outside [0, 1] or infinities, NaN for a
        dense format, a sequence of another length, a pair outside the map (named), or
        a format that is not written.
    """
    from .formats import find_format

    spec = find_format(path, format, "write")
    P = np.asarray(P)
    if spec.dense and P.dtype.kind == "f" and np.isnan(P).any():
        raise ValueError(f"{path}: contact probabilities must be finite and in [0, 1] ({int(np.isnan(P).sum())} NaN "
                         f"values: unlisted pairs, but a {spec.title} file lists every pair; write a format that "
                         "lists pairs: .rr, .csv, ...)")
    P = _check_map(P, str(path), dense=spec.dense)
    if sequence is not None and len(sequence) != P.shape[0]:
        raise ValueError(f"{path}: sequence has {len(sequence)} residues but the map is {P.shape[0]} x {P.shape[0]}")
    if spec.dense:
        with atomic_write(path, "wb" if spec.binary else "w") as stream:
            spec.writer(stream, P)
        return
    lo, hi = _pairs_to_write(P, ranked_pairs(P, min_sep) if pairs is None else pairs, str(path))
    write_pairs(path, sequence or "X" * P.shape[0], lo, hi, P[lo, hi], target=target, method=method,
                known_sequence=sequence is not None, format=format, structure=structure, chain=chain,
                min_identity=min_identity)


def write_pairs(
    path: Union[str, Path],
    sequence: str,
    i: np.ndarray,
    j: np.ndarray,
    p: np.ndarray,
    target: str = "query",
    method: str = "ESM attention contacts (esm-contacts)",
    known_sequence: bool = True,
    format: Optional[str] = None,
    structure=None,
    chain: Optional[str] = None,
    min_identity: Optional[float] = None,
) -> None:
    """Write listed pairs in a sparse format, without a map (long sequences: :meth:`ContactPredictor.predict_top`).

    Parameters
    ----------
    path : str or Path
        A sparse writable format (``.rr``/``.casp``, ``.csv``, ``.psicov``, ``.plmdca``,
        ``.evfold``, ``.freecontact``, ``.pb``); a dense one needs the map (:func:`write_contacts`).
    sequence : str
        The sequence; its length is L.
    i, j : numpy.ndarray
        0-based pairs ``i < j`` in the order to write.
    p : numpy.ndarray
        Their probabilities.
    target, method : str
        Header fields.
    known_sequence : bool
        False: ``sequence`` is a placeholder of X (no CSV ``# sequence:`` line).
    format, structure, chain, min_identity
        As in :func:`write_contacts`.
    """
    from .formats import PairList, find_format

    spec = find_format(path, format, "write")
    if spec.dense:
        raise ValueError(f"{path}: a {spec.title} file holds the whole map; write listed pairs in a sparse format "
                         "(.rr, .csv, ...)")
    if spec.needs_structure and (structure is None or not chain):
        raise ValueError(f"{path}: a {spec.title} file names residues of a structure: give the structure and chain")
    lo, hi = _pairs_to_write(np.zeros((len(sequence), 0)), (i, j), str(path), drop_unlisted=False)
    probabilities = np.asarray(p, dtype=np.float64)
    if probabilities.shape != lo.shape:
        raise ValueError(f"{path}: {lo.size} pairs but {probabilities.size} probabilities")
    if probabilities.size and not (np.isfinite(probabilities).all() and 0 <= probabilities.min()
                                   and probabilities.max() <= 1):
        raise ValueError(f"{path}: contact probabilities must be finite and in [0, 1]")
    pairs = PairList(len(sequence), lo, hi, probabilities, sequence if known_sequence else None, target, method,
                     structure, chain, min_identity)
    with atomic_write(path) as stream:
        spec.writer(stream, pairs)


def write_builtin(stream, name: str, data) -> None:
    """The writers of this module's formats (``"rr"``, ``"csv"``: a :class:`~esm_contacts.formats.PairList`;
    ``"npy"``: the map), for the format table."""
    if name == "npy":
        np.save(stream, data)
        return
    letters = data.sequence or "X" * data.length
    if name == "rr":
        stream.write(f"PFRMAT RR\nTARGET {data.target}\nAUTHOR esm-contacts\nMETHOD {data.method}\nMODEL 1\n")
        for start in range(0, len(letters), RR_LINE_WIDTH):
            stream.write(letters[start : start + RR_LINE_WIDTH] + "\n")
        stream.writelines(f"{a + 1} {b + 1} 0 8 {p:.{DECIMALS}f}\n" for a, b, p in zip(data.i, data.j, data.p))
        stream.write("END\n")
        return
    # The whole sequence in a leading comment: the pair rows alone lose residues
    # that are in no listed pair, and every pair when the sequence is short.
    if data.sequence:
        stream.write(f"# sequence: {data.sequence}\n")
    stream.write("i,j,res_i,res_j,probability\n")
    stream.writelines(f"{a + 1},{b + 1},{letters[a]},{letters[b]},{p:.{DECIMALS}f}\n"
                      for a, b, p in zip(data.i, data.j, data.p))


def read_contacts(path: Union[str, Path], format: Optional[str] = None) -> Tuple[np.ndarray, Optional[str]]:
    """Read a contact file written here or elsewhere, in any readable format of
    :data:`esm_contacts.formats.CONTACT_FORMATS`.

    Parameters
    ----------
    path : str or Path
        The file; the format follows the extension.
    format : str, optional
        A format name (``--format``: ``rr``, ``csv``, ``npy``, ``psicov``, ``ccmpred``,
        ``plmdca``, ``evfold``, ``freecontact``, ``trrosetta``) instead of the extension.

    Returns
    -------
    P : numpy.ndarray
        float32 (L, L), symmetric. From a sparse format (RR, CSV, PSICOV, plmDCA, EVfold,
        FreeContact): NaN for every pair the file does not list, the diagonal included
        (those pairs are not predictions and take no place in any ranking). From a dense
        format (``.npy``, CCMpred matrix, trRosetta ``.npz``): every pair (symmetrized by
        the larger of ``P[i, j]`` and ``P[j, i]``). Raw scores outside [0, 1] are
        rescaled onto [0, 1], keeping their order
        (:func:`esm_contacts.formats.scores_to_probabilities`).
    sequence : str or None
        The sequence when the file carries it (RR header; CSV, EVfold and FreeContact
        letters when every position appears), else None. L is the sequence's length, or
        the largest index.

    Raises
    ------
    ValueError
        A line that does not parse (the message gives file and line, and quotes the
        line cut to :data:`QUOTE_LIMIT` characters), indices out of range,
        probabilities outside [0, 1], an empty file; a map of more than
        :data:`MAX_MAP_RESIDUES` residues (refused before it is allocated); a ``.npy``
        whose header declares more data than the file holds, that is not a square 2-D
        array, whose dtype is not real numeric (named), or that holds NaN or infinity.
    """
    from .formats import find_format

    path = check_input_file(path)
    return find_format(path, format, "read").reader(path)


def pad_unlisted(P: np.ndarray, length: int) -> np.ndarray:
    """``P`` grown to ``length`` x ``length`` with unlisted (NaN) pairs for the residues beyond it.

    A sparse file without a sequence ends at its largest listed index; where its indices
    refer to a chain's observed residues in order, the residues after that index are
    there but have no listed pair.

    Parameters
    ----------
    P : numpy.ndarray
        (n, n) map, n <= ``length``.
    length : int
        Residues of what the map indexes.

    Returns
    -------
    padded : numpy.ndarray
        float32 (length, length); ``P`` itself when n == ``length``.
    """
    P = np.asarray(P, dtype=np.float32)
    if P.shape[0] > length:
        raise ValueError(f"the map has {P.shape[0]} residues, more than the {length} it should index")
    if P.shape[0] == length:
        return P
    padded = np.full((length, length), np.nan, dtype=np.float32)
    padded[: P.shape[0], : P.shape[0]] = P
    return padded


def read_builtin(path: Path, name: str) -> Tuple[np.ndarray, Optional[str]]:
    """The readers of this module's formats (``"rr"``, ``"csv"``, ``"npy"``), for the format table."""
    if name == "npy":
        P = _check_map(_read_npy(path), str(path))
        return np.maximum(P, P.T), None
    parse = _parse_rr if name == "rr" else _parse_csv
    sequence, entries = parse(path, read_text_lines(path))
    return map_from_pairs(path, sequence, entries)


def read_text_lines(path: Path) -> List[str]:
    """A contact file's lines (undecodable bytes replaced); ValueError for a file without text."""
    text = path.read_text(errors="replace").splitlines()
    if not any(line.strip() for line in text):
        raise ValueError(f"{path}: empty contact file")
    return text


def map_from_pairs(path: Path, sequence: Optional[str], entries,
                   rescale: bool = False) -> Tuple[np.ndarray, Optional[str]]:
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
    P, sequence
        As :func:`read_contacts`.
    """
    # Columns: i, j (1-based), probability, line number; all checked before the map exists.
    a, b, p, lines = (np.array(column) for column in zip(*entries)) if entries else (np.zeros(0, np.int64),) * 4
    if sequence:
        check_map_length(len(sequence), str(path), f"its sequence of {len(sequence)} letters")
        length = len(sequence)
    elif entries:  # L is the largest index: one huge index must not make a huge map
        top = np.maximum(a, b)
        length = int(top.max())
        check_map_length(length, f"{path}, line {lines[int(np.argmax(top))]}", f"residue index {number_text(length)}")
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
        from .formats import scores_to_probabilities

        p = scores_to_probabilities(p)
    P = np.full((length, length), np.nan, dtype=np.float32)
    # The same (lo, hi) order both ways: a pair listed twice (in either order) keeps its
    # last line's probability, symmetric.
    lo, hi = np.minimum(a, b).astype(np.int64) - 1, np.maximum(a, b).astype(np.int64) - 1
    P[lo, hi] = p
    P[hi, lo] = p
    return P, sequence


def read_npy_header(stream, path: Optional[Path] = None):
    """(shape, fortran_order, dtype) of a ``.npy`` header; ValueError for anything else."""
    from numpy.lib import format as npy_format

    version = npy_format.read_magic(stream)
    if version == (1, 0):
        return npy_format.read_array_header_1_0(stream)
    if version == (2, 0):
        return npy_format.read_array_header_2_0(stream)
    private = getattr(npy_format, "_read_array_header", None)  # version 3.0 (utf-8 header) has no public reader
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
            raise ValueError(f"{path}: a contact map must hold real numbers; this .npy holds {kind} values "
                             f"(dtype {quote_input(str(dtype))})")
        if len(shape) != 2 or shape[0] != shape[1] or shape[0] < 0:
            raise ValueError(f"{path}: expected a square (L, L) contact map, got shape {tuple(shape)}")
        needed = int(shape[0]) * int(shape[1]) * dtype.itemsize
        if needed > size - offset:
            raise ValueError(f"{path}: the .npy header declares a {shape[0]} x {shape[1]} {dtype} array "
                             f"({size_text(needed)}) but the file holds {max(size - offset, 0)} bytes of data")
        check_map_length(int(shape[0]), str(path), f"its .npy header ({shape[0]} x {shape[1]})")
        try:
            P = np.fromfile(stream, dtype=dtype, count=needed // dtype.itemsize if dtype.itemsize else 0)
        except (ValueError, OSError) as error:
            raise ValueError(f"{path}: not a NumPy .npy file ({error})") from None
    return P.reshape(shape, order="F" if fortran_order else "C")


def _probability(token: str, path: Path, line_number: int) -> float:
    try:
        return parse_probability(token)
    except ValueError as error:
        raise ValueError(f"{path}, line {line_number}: {error}") from None


def _index(token: str, path: Path, line_number: int) -> int:
    try:
        return int(token)
    except ValueError:
        raise ValueError(f"{path}, line {line_number}: residue index {quote_input(token)} is not an integer") from None


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
            a, b = _index(fields[0], path, line_number), _index(fields[1], path, line_number)
            entries.append((a, b, _probability(fields[-1], path, line_number), line_number))
        else:
            raise ValueError(f"{path}, line {line_number}: expected 'i j 0 8 p' or a sequence line, "
                             f"got {quote_input(line)}")
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
            raise ValueError(f"{path}, line {line_number}: expected {len(header)} fields, got {len(fields)}: "
                             f"{quote_input(line)}")
        a, b = _index(fields[0], path, line_number), _index(fields[1], path, line_number)
        entries.append((a, b, _probability(fields[column], path, line_number), line_number))
        if "res_i" in header and "res_j" in header:
            letters.setdefault(a, fields[header.index("res_i")].upper())
            letters.setdefault(b, fields[header.index("res_j")].upper())
    if declared is not None:
        if not declared.isalpha():
            raise ValueError(f"{path}: the '# sequence:' line holds characters that are not residue letters")
        for k, letter in letters.items():
            if k < 1:
                continue  # read_contacts refuses it, naming the line
            if k > len(declared):
                raise ValueError(f"{path}: residue {k} of the pairs lies beyond the {len(declared)} residues "
                                 "of the '# sequence:' line")
            if letter not in (declared[k - 1], "X"):
                raise ValueError(f"{path}: residue {k} is {quote_input(letter)} in the pairs but {declared[k - 1]} "
                                 "in the '# sequence:' line")
        return declared, entries
    # The letters give the sequence only when every position 1..max appears.
    length = max(letters, default=0)
    complete = len(letters) == length and all(letter.isalpha() and letter != "X" for letter in letters.values())
    sequence = "".join(letters[k] for k in range(1, length + 1)) if length and complete else None
    return sequence, entries
