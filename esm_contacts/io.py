"""Contact files: reading and writing through the format table, and atomic writes.

The formats (CASP RR, CSV, ``.npy``, PSICOV, CCMpred/GREMLIN, plmDCA, EVfold, FreeContact,
ChimeraX pseudobonds, trRosetta ``.npz``) are the rows of
:data:`esm_contacts.formats.CONTACT_FORMATS`; :func:`read_contacts` and
:func:`write_contacts` dispatch through it. The readers and writers
themselves, RR, CSV and ``.npy`` included, are in :mod:`esm_contacts.formats`.

Indices in RR and CSV files are 1-based sequence positions, pairs ``i < j``, one line
each, highest probability first. Probabilities are printed with six decimals; reading
a file back gives the map to that precision.

A contact file lists predictions (``DESIGN.md``, "Contact files"). RR and CSV files are
sparse: a map read from one holds NaN for every pair the file does not list (the
diagonal too), and NaN pairs take no place in any ranking
(:func:`esm_contacts.metrics.top_pairs`). A ``.npy`` map is dense: it lists every pair,
and NaN in it is an error.

Limits: a map is ``L x L`` float32, so a file is refused before anything is allocated
when it would make a map of more than :data:`esm_contacts.formats.MAX_MAP_RESIDUES` residues (a
sequence
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
from .formats import PairList, check_map, find_format
from .metrics import MIN_SEP, ranked_pairs

__all__ = [
    "contact_format",
    "check_output_path",
    "atomic_write",
    "part_prefix",
    "remove_stale_parts",
    "write_contacts",
    "write_pairs",
    "read_contacts",
    "pad_unlisted",
]


def contact_format(
    path: Union[str, Path], format: Optional[str] = None, mode: Optional[str] = None
) -> str:
    """The format name of a contact file (:data:`esm_contacts.formats.CONTACT_FORMATS`): ``format``
    when given (a name or alias), else from the extension; ValueError otherwise.

    Parameters
    ----------
    path : str or Path
        The contact file; its extension decides when `format` is None.
    format : str, optional
        A format name or alias (``--format``), case-insensitive.
    mode : {"read", "write"}, optional
        Also check that the format can be read / written.

    Returns
    -------
    name : str
        The format's name in :data:`esm_contacts.formats.CONTACT_FORMATS`.

    Raises
    ------
    ValueError
        An unknown name or extension, or a format that cannot be read / written in `mode`.

    Examples
    --------
    >>> contact_format("prediction.CSV")
    'csv'
    >>> contact_format("out.txt", format="casp")
    'rr'
    """

    return find_format(path, format, mode).name


def check_output_path(path: Union[str, Path]) -> Path:
    """``path`` as a Path once it can be written: not a folder, and its folder exists.

    Parameters
    ----------
    path : str or Path
        The output file to be.

    Returns
    -------
    path : Path
        `path`, checked (nothing is created).

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


#: Temporary files of :func:`atomic_write`: ``.{target name}.esm-contacts-{pid}.{random}.part``.
PART_PATTERN = re.compile(r"^\..+\.esm-contacts-(\d+)\.[^.]+\.part$")


def part_prefix(path: Path) -> str:
    """The name start of this process's temporary files for ``path`` (see :data:`PART_PATTERN`).

    Parameters
    ----------
    path : Path
        The output file.

    Returns
    -------
    prefix : str
        ``.{path.name}.esm-contacts-{pid}.``, with this process's id.
    """
    return f".{path.name}.esm-contacts-{os.getpid()}."


def _process_start(pid: int) -> Optional[float]:
    """When process ``pid`` started (epoch seconds), from Linux ``/proc``; None if unknown or
    gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = next(
            float(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
        # Field 22 (starttime, clock ticks after boot); the name in field 2 may hold spaces and ')'.
        ticks = float(stat.rsplit(")", 1)[1].split()[19])
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def _is_stale(pid: int, modified: float) -> bool:
    """A part file of process ``pid`` last written at ``modified`` can no longer be renamed by its
    writer.

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
    return (
        started is not None and started > modified + 1.0
    )  # 1 s: the clock-tick rounding of starttime


def remove_stale_parts(folder: Union[str, Path]) -> List[Path]:
    """Delete the temporary files that killed esm-contacts writers left in ``folder``.

    Only names of :data:`PART_PATTERN` (ours: no other program's files) whose writer is gone
    (:func:`_is_stale`) are removed; errors (a file already gone, no permission) are ignored.

    Parameters
    ----------
    folder : str or Path
        The folder to clean; one that cannot be listed is left alone.

    Returns
    -------
    removed : list of Path
        The files deleted.
    """
    removed = []
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            match = PART_PATTERN.match(entry.name)
            if not match:
                continue
            with contextlib.suppress(OSError):
                if entry.is_file(follow_symlinks=False) and _is_stale(
                    int(match.group(1)), entry.stat().st_mtime
                ):
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
    return removed


@contextlib.contextmanager
def atomic_write(path: Union[str, Path], mode: str = "w") -> Iterator:
    """Open a temporary file beside ``path``; rename it to ``path`` only on success.

    The temporary file is ``.{name}.esm-contacts-{pid}.{random}.part``: a writer killed
    (``kill -9``, power loss) before the rename leaves it, and the next write into the same
    folder removes it (:func:`remove_stale_parts`), never a live writer's.

    Parameters
    ----------
    path : str or Path
        The output file, checked with :func:`check_output_path`.
    mode : str
        :func:`open` mode of the temporary file, ``"w"`` (text) or ``"wb"`` (binary).

    Yields
    ------
    stream : file object
        The open temporary file. When the ``with`` block raises, it is deleted and
        `path` is left as it was.
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


def _pairs_to_write(
    P: np.ndarray, pairs, what: str, drop_unlisted: bool = True
) -> Tuple[np.ndarray, np.ndarray]:
    """The 0-based ``pairs`` as ``(lo, hi)``, each inside the map's ``P.shape[0]`` residues;
    unlisted (NaN) pairs dropped unless `drop_unlisted` is False."""
    i, j = np.asarray(pairs[0]), np.asarray(pairs[1])
    if i.shape != j.shape or i.ndim != 1:
        raise ValueError(
            f"{what}: pairs must be two 1-D index arrays of one length, "
            f"got shapes {i.shape} and {j.shape}"
        )
    if i.size and (i.dtype.kind not in "iu" or j.dtype.kind not in "iu"):
        raise ValueError(
            f"{what}: pair indices must be integers, got dtypes {i.dtype} and {j.dtype}"
        )
    L = P.shape[0]
    outside = (i < 0) | (i >= L) | (j < 0) | (j >= L)
    if outside.any():
        k = int(np.argmax(outside))
        raise ValueError(
            f"{what}: pair ({i[k]}, {j[k]}) lies outside the map's 0-based indices 0..{L - 1}"
        )
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
    min_sep: int = MIN_SEP,
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

    spec = find_format(path, format, "write")
    P = np.asarray(P)
    if spec.dense and P.dtype.kind == "f" and np.isnan(P).any():
        raise ValueError(
            f"{path}: contact probabilities must be finite and in [0, 1] ({int(np.isnan(P).sum())}"
            f" NaN values: unlisted pairs, but a {spec.title} file lists every pair; write a format"
            " that lists pairs: .rr, .csv, ...)"
        )
    P = check_map(P, str(path), dense=spec.dense)
    if sequence is not None and len(sequence) != P.shape[0]:
        raise ValueError(
            f"{path}: sequence has {len(sequence)} residues but the map is {P.shape[0]} x"
            f" {P.shape[0]}"
        )
    if spec.dense:
        with atomic_write(path, "wb" if spec.binary else "w") as stream:
            spec.writer(stream, P)
        return
    lo, hi = _pairs_to_write(P, ranked_pairs(P, min_sep) if pairs is None else pairs, str(path))
    write_pairs(
        path,
        sequence or "X" * P.shape[0],
        lo,
        hi,
        P[lo, hi],
        target=target,
        method=method,
        known_sequence=sequence is not None,
        format=format,
        structure=structure,
        chain=chain,
        min_identity=min_identity,
    )


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
    """Write listed pairs in a sparse format, without a map (long sequences:
    :meth:`ContactPredictor.predict_top`).

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

    spec = find_format(path, format, "write")
    if spec.dense:
        raise ValueError(
            f"{path}: a {spec.title} file holds the whole map; write listed pairs in a sparse"
            " format (.rr, .csv, ...)"
        )
    if spec.needs_structure and (structure is None or not chain):
        raise ValueError(
            f"{path}: a {spec.title} file names residues of a structure: give the structure and"
            " chain"
        )
    lo, hi = _pairs_to_write(np.zeros((len(sequence), 0)), (i, j), str(path), drop_unlisted=False)
    probabilities = np.asarray(p, dtype=np.float64)
    if probabilities.shape != lo.shape:
        raise ValueError(f"{path}: {lo.size} pairs but {probabilities.size} probabilities")
    if probabilities.size and not (
        np.isfinite(probabilities).all() and 0 <= probabilities.min() and probabilities.max() <= 1
    ):
        raise ValueError(f"{path}: contact probabilities must be finite and in [0, 1]")
    pairs = PairList(
        len(sequence),
        lo,
        hi,
        probabilities,
        sequence if known_sequence else None,
        target,
        method,
        structure,
        chain,
        min_identity,
    )
    with atomic_write(path) as stream:
        spec.writer(stream, pairs)


def read_contacts(
    path: Union[str, Path], format: Optional[str] = None
) -> Tuple[np.ndarray, Optional[str]]:
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
        line cut to :data:`esm_contacts.messages.QUOTE_LIMIT` characters), indices out of range,
        probabilities outside [0, 1], an empty file; a map of more than
        :data:`esm_contacts.formats.MAX_MAP_RESIDUES` residues (refused before it is allocated); a
        ``.npy``
        whose header declares more data than the file holds, that is not a square 2-D
        array, whose dtype is not real numeric (named), or that holds NaN or infinity.
    """

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

    Raises
    ------
    ValueError
        The map has more than `length` residues.

    Examples
    --------
    >>> import numpy as np
    >>> pad_unlisted(np.array([[0.0, 0.5], [0.5, 0.0]]), 3).tolist()
    [[0.0, 0.5, nan], [0.5, 0.0, nan], [nan, nan, nan]]
    """
    P = np.asarray(P, dtype=np.float32)
    if P.shape[0] > length:
        raise ValueError(
            f"the map has {P.shape[0]} residues, more than the {length} it should index"
        )
    if P.shape[0] == length:
        return P
    padded = np.full((length, length), np.nan, dtype=np.float32)
    padded[: P.shape[0], : P.shape[0]] = P
    return padded
