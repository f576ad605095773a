"""Contact files: CASP RR, CSV and NumPy ``.npy``.

Indices in RR and CSV files are 1-based sequence positions, pairs ``i < j``, one line
each, highest probability first. Probabilities are printed with six decimals; reading
a file back gives the map to that precision, with 0 for pairs the file does not list.

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

__all__ = ["FORMATS", "contact_format", "check_output_path", "parse_probability", "atomic_write", "remove_stale_parts", "ranked_pairs", "write_contacts", "write_pairs", "read_contacts"]

FORMATS = {".rr": "rr", ".casp": "rr", ".csv": "csv", ".npy": "npy"}
RR_LINE_WIDTH = 50
DECIMALS = 6


def contact_format(path: Union[str, Path]) -> str:
    """``"rr"``, ``"csv"`` or ``"npy"`` from the file extension; ValueError otherwise."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"{path}: unknown contact file extension {suffix!r}; use one of {', '.join(FORMATS)}")
    return FORMATS[suffix]


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
        raise ValueError(f"probability {token!r} is not a number") from None
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
    """All pairs ``i < j`` with ``j - i >= min_sep``, by probability (ties: lower i, then j).

    Returns
    -------
    i, j : numpy.ndarray
        0-based indices, highest probability first.
    """
    i, j = np.triu_indices(P.shape[0], k=max(int(min_sep), 1))
    order = np.lexsort((j, i, -P[i, j].astype(np.float64)))
    return i[order], j[order]


def _check_map(P: np.ndarray, what: str) -> np.ndarray:
    P = np.asarray(P)
    if P.ndim != 2 or P.shape[0] != P.shape[1]:
        raise ValueError(f"{what}: expected a square (L, L) contact map, got shape {P.shape}")
    if P.size and (not np.all(np.isfinite(P)) or P.min() < 0 or P.max() > 1):
        raise ValueError(f"{what}: contact probabilities must be finite and in [0, 1]")
    return P.astype(np.float32, copy=False)


def write_contacts(
    path: Union[str, Path],
    P: np.ndarray,
    sequence: Optional[str] = None,
    pairs: Optional[Tuple[np.ndarray, np.ndarray]] = None,
    min_sep: int = 6,
    target: str = "query",
    method: str = "ESM attention contacts (esm-contacts)",
) -> None:
    """Write a contact map; the format follows the extension.

    Parameters
    ----------
    path : str or Path
        ``.rr``/``.casp``, ``.csv`` or ``.npy``.
    P : numpy.ndarray
        (L, L) probabilities.
    sequence : str, optional
        The sequence (RR sequence lines; CSV ``# sequence:`` first line and residue
        letters; ``X`` where absent).
    pairs : tuple of numpy.ndarray, optional
        0-based ``(i, j)`` pairs to list, in order (RR and CSV); by default every pair
        with ``j - i >= min_sep``, highest probability first (:func:`ranked_pairs`).
    min_sep : int
        Minimum separation when ``pairs`` is not given.
    target, method : str
        RR header fields.
    """
    fmt = contact_format(path)
    P = _check_map(P, str(path))
    if sequence is not None and len(sequence) != P.shape[0]:
        raise ValueError(f"{path}: sequence has {len(sequence)} residues but the map is {P.shape[0]} x {P.shape[0]}")
    if fmt == "npy":
        with atomic_write(path, "wb") as stream:
            np.save(stream, P)
        return
    i, j = ranked_pairs(P, min_sep) if pairs is None else (np.asarray(pairs[0]), np.asarray(pairs[1]))
    lo, hi = np.minimum(i, j), np.maximum(i, j)
    write_pairs(path, sequence or "X" * P.shape[0], lo, hi, P[lo, hi], target=target, method=method,
                known_sequence=sequence is not None)


def write_pairs(
    path: Union[str, Path],
    sequence: str,
    i: np.ndarray,
    j: np.ndarray,
    p: np.ndarray,
    target: str = "query",
    method: str = "ESM attention contacts (esm-contacts)",
    known_sequence: bool = True,
) -> None:
    """Write listed pairs as an RR or CSV file, without a map (long sequences: :meth:`ContactPredictor.predict_top`).

    Parameters
    ----------
    path : str or Path
        ``.rr``/``.casp`` or ``.csv`` (``.npy`` needs the map: :func:`write_contacts`).
    sequence : str
        The sequence; its length is L.
    i, j : numpy.ndarray
        0-based pairs ``i < j`` in the order to write.
    p : numpy.ndarray
        Their probabilities.
    target, method : str
        RR header fields.
    known_sequence : bool
        False: ``sequence`` is a placeholder of X (no CSV ``# sequence:`` line).
    """
    fmt = contact_format(path)
    if fmt == "npy":
        raise ValueError(f"{path}: a .npy file holds the whole map; write listed pairs as .rr or .csv")
    lo, hi, probabilities = np.asarray(i), np.asarray(j), np.asarray(p)
    letters = sequence
    with atomic_write(path) as stream:
        if fmt == "rr":
            stream.write(f"PFRMAT RR\nTARGET {target}\nAUTHOR esm-contacts\nMETHOD {method}\nMODEL 1\n")
            for start in range(0, len(letters), RR_LINE_WIDTH):
                stream.write(letters[start : start + RR_LINE_WIDTH] + "\n")
            stream.writelines(f"{a + 1} {b + 1} 0 8 {p:.{DECIMALS}f}\n" for a, b, p in zip(lo, hi, probabilities))
            stream.write("END\n")
        else:
            # The whole sequence in a leading comment: the pair rows alone lose residues
            # that are in no listed pair, and every pair when the sequence is short.
            if known_sequence:
                stream.write(f"# sequence: {sequence}\n")
            stream.write("i,j,res_i,res_j,probability\n")
            stream.writelines(
                f"{a + 1},{b + 1},{letters[a]},{letters[b]},{p:.{DECIMALS}f}\n" for a, b, p in zip(lo, hi, probabilities)
            )


def read_contacts(path: Union[str, Path]) -> Tuple[np.ndarray, Optional[str]]:
    """Read a contact file written here or elsewhere (CASP RR, CSV, ``.npy``).

    Parameters
    ----------
    path : str or Path
        The file; the format follows the extension.

    Returns
    -------
    P : numpy.ndarray
        float32 (L, L), symmetric; 0 for pairs the file does not list.
    sequence : str or None
        The sequence when the file carries it (RR header; CSV letters when every
        position appears), else None. L is the sequence's length, or the largest index.

    Raises
    ------
    ValueError
        A line that does not parse (the message gives file and line), indices out of
        range, probabilities outside [0, 1], or an empty file.
    """
    path = Path(path)
    fmt = contact_format(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if fmt == "npy":
        try:
            P = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as error:  # EOFError: an empty file
            raise ValueError(f"{path}: not a NumPy .npy file ({error or 'empty file'})") from None
        P = _check_map(P, str(path))
        return np.maximum(P, P.T), None
    text = path.read_text(errors="replace").splitlines()
    if not any(line.strip() for line in text):
        raise ValueError(f"{path}: empty contact file")
    parse = _parse_rr if fmt == "rr" else _parse_csv
    sequence, entries = parse(path, text)
    length = len(sequence) if sequence else max((max(a, b) for a, b, _, _ in entries), default=0)
    if length == 0:
        raise ValueError(f"{path}: no sequence and no contacts")
    P = np.zeros((length, length), dtype=np.float32)
    for a, b, p, line_number in entries:
        if not (1 <= a <= length and 1 <= b <= length):
            raise ValueError(f"{path}, line {line_number}: residue index out of range 1..{length}")
        if a == b:
            raise ValueError(f"{path}, line {line_number}: a residue paired with itself ({a})")
        P[a - 1, b - 1] = P[b - 1, a - 1] = p
    return P, sequence


def _probability(token: str, path: Path, line_number: int) -> float:
    try:
        return parse_probability(token)
    except ValueError as error:
        raise ValueError(f"{path}, line {line_number}: {error}") from None


def _index(token: str, path: Path, line_number: int) -> int:
    try:
        return int(token)
    except ValueError:
        raise ValueError(f"{path}, line {line_number}: residue index {token!r} is not an integer") from None


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
            raise ValueError(f"{path}, line {line_number}: expected 'i j 0 8 p' or a sequence line, got {line.strip()!r}")
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
            f"{path}, line {first + 1}: expected the header 'i,j,res_i,res_j,probability', got {lines[first].strip()!r}"
        )
    column = header.index("probability")
    entries, letters = [], {}
    for line_number, line in enumerate(lines[first + 1 :], start=first + 2):
        if not line.strip():
            continue
        fields = [field.strip() for field in line.split(",")]
        if len(fields) != len(header):
            raise ValueError(f"{path}, line {line_number}: expected {len(header)} fields, got {len(fields)}")
        a, b = _index(fields[0], path, line_number), _index(fields[1], path, line_number)
        entries.append((a, b, _probability(fields[column], path, line_number), line_number))
        if "res_i" in header and "res_j" in header:
            letters.setdefault(a, fields[header.index("res_i")].upper())
            letters.setdefault(b, fields[header.index("res_j")].upper())
    if declared is not None:
        if not declared.isalpha():
            raise ValueError(f"{path}: the '# sequence:' line holds characters that are not residue letters")
        for k, letter in letters.items():
            if k > len(declared):
                raise ValueError(f"{path}: residue {k} of the pairs lies beyond the {len(declared)} residues "
                                 "of the '# sequence:' line")
            if letter not in (declared[k - 1], "X"):
                raise ValueError(f"{path}: residue {k} is {letter} in the pairs but {declared[k - 1]} "
                                 "in the '# sequence:' line")
        return declared, entries
    # The letters give the sequence only when every position 1..max appears.
    length = max(letters, default=0)
    complete = len(letters) == length and all(letter.isalpha() and letter != "X" for letter in letters.values())
    sequence = "".join(letters[k] for k in range(1, length + 1)) if length and complete else None
    return sequence, entries
