"""Multiple sequence alignments: read, select sequences, ensemble contact maps over them.

An alignment is a list of ``(name, row)`` pairs whose rows all have the query's length:
the first row is the query, ``-`` is a gap and every other character is a residue
aligned to the query residue of its column (query coordinates). Insertions relative to
the query are removed on reading.

MSA ensembling (Rao et al. 2021, Table 2; ``DESIGN.md``): each chosen row is ungapped,
its contact map predicted, written back into the aligned columns it occupies, and every
pair (column a, column b) is averaged over the sequences that have residues at both.
"""

from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from .files import check_input_file

__all__ = [
    "read_msa",
    "fasta_records",
    "check_msa",
    "drop_query_gaps",
    "select_sequences",
    "ungap",
    "ensemble_maps",
    "GAP",
    "add_aligned",
]

GAP = "-"
#: Gap characters accepted on input; ``.`` in a3m/a2m marks gaps inside insertions.
_GAPS = frozenset("-.")

Alignment = List[Tuple[str, str]]


# -- reading ---------------------------------------------------------------------------


def read_msa(path: Union[str, Path]) -> Alignment:
    """Read an alignment: a3m, aligned FASTA (a2m too) or Stockholm.

    The first record is the query. a3m/a2m insertions (lowercase letters and ``.``)
    are removed, so every row has the query's match columns; columns where the query
    has a gap are dropped, so the rows are in the query's coordinates. A FASTA file whose
    query has no upper-case letter is read as plain lower-case aligned FASTA. Stockholm
    blocks are joined per sequence name and read the same way (``#`` annotation lines
    are ignored).

    Parameters
    ----------
    path : str or Path
        The alignment file.

    Returns
    -------
    msa : list of tuple(str, str)
        ``(name, row)`` per record, in file order; rows upper-case with ``-`` gaps,
        all of the query's length. Records without a name are called ``record<N>``.

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        Empty file, no query (no record, or a query without residues), a sequence line
        before the first header, a character that is neither a letter nor a gap, or a row
        whose length differs from the query's after removing insertions (the message
        names the record and its line).
    """
    path = check_input_file(path, "alignment file")
    text = path.read_text(errors="replace")
    if not text.strip():
        raise ValueError(f"{path}: empty alignment file")
    first = text.lstrip().splitlines()[0]
    if first.startswith("# STOCKHOLM"):
        records = _stockholm_records(text, path)
        return _query_columns(records, path, a3m=False)
    records = _numbered_fasta_records(text, path)
    if not records:
        raise ValueError(f"{path}: no query: no '>' record in the alignment")
    return _query_columns(records, path, a3m=True)


def fasta_records(text: str, source: Union[str, Path]) -> List[Tuple[str, str]]:
    """The records of FASTA (or a3m) text, as written: the one FASTA reader of the package.

    Parameters
    ----------
    text : str
        The file's text. Lines starting with ``#`` or ``;`` are comments; whitespace
        inside sequence lines is removed.
    source : str or Path
        The file, named in error messages.

    Returns
    -------
    records : list of tuple(str, str)
        ``(name, sequence)`` per record, in order; the name is the header's first word,
        ``record<N>`` for an empty header.

    Raises
    ------
    ValueError
        A sequence line before the first ``>`` header, or no record at all.
    """
    records = _numbered_fasta_records(text, source)
    if not records:
        raise ValueError(f"{source}: no FASTA records")
    return [(name, sequence) for name, sequence, _ in records]


def _numbered_fasta_records(text: str, source: Union[str, Path]) -> List[Tuple[str, str, int]]:
    """(name, raw sequence, header line number) of every FASTA/a3m record; [] without one."""
    records: List[Tuple[str, List[str], int]] = []
    for line_number, line in enumerate(text.splitlines(), start=1):
        if line.startswith(">"):
            header = line[1:].strip()
            name = header.split()[0] if header else f"record{len(records) + 1}"
            records.append((name, [], line_number))
        elif line.strip() and not line.startswith(("#", ";")):
            if not records:
                raise ValueError(
                    f"{source}, line {line_number}: sequence before the first '>' header"
                )
            records[-1][1].append("".join(line.split()))
    return [(name, "".join(parts), line) for name, parts, line in records]


def _stockholm_records(text: str, path: Path) -> List[Tuple[str, str, int]]:
    """(name, raw row, first line) per sequence of a Stockholm file (blocks joined)."""
    rows: dict = {}
    for line_number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped == "//":
            break  # only the first alignment of a multi-alignment file
        fields = stripped.split()
        if len(fields) != 2:
            raise ValueError(
                f"{path}, line {line_number}: expected 'name aligned-sequence', got"
                f" {stripped[:60]!r}"
            )
        name, segment = fields
        if name not in rows:
            rows[name] = ([], line_number)
        rows[name][0].append(segment)
    if not rows:
        raise ValueError(f"{path}: no query: the Stockholm file has no sequence lines")
    return [(name, "".join(parts), line) for name, (parts, line) in rows.items()]


def _query_columns(records: List[Tuple[str, str, int]], path: Path, a3m: bool) -> Alignment:
    """Remove insertions and the query's gap columns; check lengths and characters."""
    query_name, query_raw, query_line = records[0]
    # All-lower-case aligned FASTA: no a3m insertions to remove, just upper-case.
    lowercase_fasta = a3m and not any(c.isupper() for c in query_raw)
    rows = []
    for name, raw, line in records:
        raw = raw.rstrip("*")  # a stop codon mark ends some exported rows
        for char in raw:
            if not (char.isalpha() or char in _GAPS):
                raise ValueError(
                    f"{path}, line {line}: record {name!r} contains {char!r}, neither a residue"
                    " letter nor a gap"
                )
        if a3m and not lowercase_fasta:
            row = "".join(c for c in raw if not (c.islower() or c == "."))
        else:
            row = raw.upper().replace(".", GAP)
        rows.append(row)
    query = rows[0]
    if not any(c != GAP for c in query):
        raise ValueError(
            f"{path}, line {query_line}: no query: the first record {query_name!r} has no residues"
        )
    for (name, _, line), row in zip(records, rows):
        if len(row) != len(query):
            what = (
                "after removing insertions (lowercase, '.') " if a3m and not lowercase_fasta else ""
            )
            raise ValueError(
                f"{path}, line {line}: record {name!r} has {len(row)} aligned columns {what}"
                f"but the query {query_name!r} has {len(query)}"
            )
    return list(zip([name for name, _, _ in records], drop_query_gaps(rows)))


def drop_query_gaps(rows: Sequence[str]) -> List[str]:
    """Remove the columns where the first row (the query) has a gap.

    What is left is in the query's coordinates: column k of every row is aligned to
    query residue k. Shared by :func:`read_msa` and :func:`check_msa`, so alignments
    from files and from lists give the same rows.

    Parameters
    ----------
    rows : sequence of str
        Aligned rows of equal length, ``-`` gaps, the query first.

    Returns
    -------
    rows : list of str
        The rows without the query's gap columns.
    """
    query = rows[0]
    keep = [index for index, char in enumerate(query) if char != GAP]
    if len(keep) == len(query):
        return list(rows)
    return ["".join(row[index] for index in keep) for row in rows]


def check_msa(msa: Sequence[Tuple[str, str]]) -> Alignment:
    """Validate an alignment given as ``(name, row)`` pairs, query first.

    Rows are upper-cased, ``.`` becomes ``-`` and, as in :func:`read_msa`, the columns
    where the query has a gap are dropped (:func:`drop_query_gaps`), so the result is in
    the query's coordinates. Lower-case letters are residues here (no a3m insertions:
    every row must already have the same length).

    Parameters
    ----------
    msa : sequence of tuple(str, str)
        ``(name, aligned row)`` pairs.

    Returns
    -------
    msa : list of tuple(str, str)
        Upper-case rows with ``-`` gaps, all of the query's residue count.

    Raises
    ------
    ValueError
        No rows, a query without residues, rows of unequal length, a character that is
        neither a letter nor a gap (the message names the record).
    """
    rows = []
    for index, item in enumerate(msa):
        try:
            name, row = item
        except (TypeError, ValueError):
            raise ValueError(f"alignment record {index + 1} is not a (name, row) pair") from None
        if not isinstance(row, str):
            raise ValueError(f"alignment record {index + 1} ({name!r}): row must be a string")
        for char in row:
            if not (char.isalpha() or char in _GAPS):
                raise ValueError(
                    f"alignment record {index + 1} ({name!r}) contains {char!r}, neither a residue"
                    " letter nor a gap"
                )
        rows.append((str(name), row.upper().replace(".", GAP)))
    if not rows:
        raise ValueError("no query: the alignment has no rows")
    query_name, query = rows[0]
    if not query.strip(GAP):
        raise ValueError(f"no query: the first record {query_name!r} has no residues")
    for index, (name, row) in enumerate(rows):
        if len(row) != len(query):
            raise ValueError(
                f"alignment record {index + 1} ({name!r}) has {len(row)} columns but the query"
                f" {query_name!r} has {len(query)}"
            )
    return list(zip([name for name, _ in rows], drop_query_gaps([row for _, row in rows])))


# -- selection -------------------------------------------------------------------------


def select_sequences(
    msa: Sequence[Tuple[str, str]], num_seqs: int, strategy: str = "first"
) -> Alignment:
    """Choose the sequences of an alignment to ensemble over; the query is always first.

    Rows that are all gaps carry no residue and are left out before choosing.

    Parameters
    ----------
    msa : sequence of tuple(str, str)
        ``(name, row)`` pairs, query first, rows of equal length.
    num_seqs : int
        How many rows to choose (the query included); all when the alignment has fewer.
    strategy : {"first", "diverse"}
        ``"first"``: the first rows in file order (the paper's choice).
        ``"diverse"``: greedy: repeatedly the row with the largest mean Hamming
        distance (over aligned columns, gaps counted as a symbol) to the rows already
        chosen; ties go to the earlier row.

    Returns
    -------
    chosen : list of tuple(str, str)
        In the order chosen (also for "diverse" when every row is chosen), so the
        first s rows of a choice of n > s are the choice of s.
    """
    if int(num_seqs) < 1:
        raise ValueError(f"num_seqs must be at least 1, got {num_seqs}")
    if strategy not in ("first", "diverse"):
        raise ValueError(f"unknown selection strategy {strategy!r}: use 'first' or 'diverse'")
    rows = [msa[0]] + [item for item in msa[1:] if item[1].strip(GAP)]
    num_seqs = min(int(num_seqs), len(rows))
    if strategy == "first":
        return list(rows[:num_seqs])
    codes = np.array(
        [np.frombuffer(row.encode("ascii", "replace"), dtype=np.uint8) for _, row in rows]
    )
    distance_sum = np.zeros(len(rows), dtype=np.int64)
    available = np.ones(len(rows), dtype=bool)
    chosen = [0]
    available[0] = False
    for _ in range(num_seqs - 1):
        distance_sum += np.count_nonzero(codes != codes[chosen[-1]], axis=1)
        # Mean over the same number of chosen rows for every candidate: the sum ranks alike.
        candidates = np.flatnonzero(available)
        best = int(candidates[np.argmax(distance_sum[candidates])])  # argmax: first of ties
        chosen.append(best)
        available[best] = False
    return [rows[index] for index in chosen]


# -- ensembling ------------------------------------------------------------------------


def ungap(row: str, alphabet: Optional[frozenset] = None) -> Tuple[str, np.ndarray]:
    """The residues of an aligned row and the columns they occupy.

    Parameters
    ----------
    row : str
        Aligned row, ``-`` (or ``.``) for gaps.
    alphabet : frozenset of str, optional
        Letters the model accepts; any other letter becomes ``X``.

    Returns
    -------
    sequence : str
        The row without gaps.
    columns : numpy.ndarray
        int64 (len(sequence),): the aligned column of each residue.
    """
    columns = np.array(
        [index for index, char in enumerate(row) if char not in _GAPS], dtype=np.int64
    )
    sequence = "".join(row[index] for index in columns).upper()
    if alphabet is not None:
        sequence = "".join(char if char in alphabet else "X" for char in sequence)
    return sequence, columns


def ensemble_maps(
    rows: Sequence[str],
    map_function: Callable[[List[str]], List[np.ndarray]],
    chunk_size: int = 16,
    alphabet: Optional[frozenset] = None,
    progress=None,
    checkpoints: Optional[Sequence[int]] = None,
) -> Union[np.ndarray, Tuple[np.ndarray, Dict[int, np.ndarray]]]:
    """Average the contact maps of aligned rows in aligned coordinates.

    Each row is ungapped, ``map_function`` gives its (n, n) map, the map is added into
    the (columns x columns) cells of a running sum and a count; only ``chunk_size`` maps
    exist at a time. The result is sum / count, 0 where no row has residues at both
    columns (never the case when the first row is a gap-free query).

    Parameters
    ----------
    rows : sequence of str
        Aligned rows of equal length (query coordinates).
    map_function : callable
        ``map_function(list of sequences) -> list of (n_i, n_i) arrays``, in order
        (e.g. ``ContactPredictor.predict_batch``); NaN marks a cell without a value.
    chunk_size : int
        Sequences passed to ``map_function`` at once.
    alphabet : frozenset of str, optional
        Letters outside it become ``X`` (see :func:`ungap`).
    progress : object with ``update(n)``, optional
        A progress bar advanced by the number of sequences done.
    checkpoints : sequence of int, optional
        Row counts n at which to also take the average of the first n rows (one pass
        gives the ensembles of several sizes; chunks are cut at these counts). A count
        at or beyond ``len(rows)`` gets the final average.

    Returns
    -------
    P : numpy.ndarray
        float32 (L, L), L = the rows' length.
    snapshots : dict of int to numpy.ndarray
        Only with ``checkpoints``: ``{n: float32 (L, L) average of rows[:n]}``.
    """
    length = len(rows[0])
    total = np.zeros((length, length), dtype=np.float64)
    count = np.zeros((length, length), dtype=np.int32)
    chunk_size = max(int(chunk_size), 1)
    wanted = sorted({int(n) for n in checkpoints}) if checkpoints is not None else []
    if any(n < 1 for n in wanted):
        raise ValueError(f"checkpoints must be row counts of at least 1, got {sorted(checkpoints)}")

    def average():
        return np.divide(total, count, out=np.zeros_like(total), where=count > 0).astype(np.float32)

    snapshots: Dict[int, np.ndarray] = {}
    # Segments end at each checkpoint, so no chunk straddles one.
    bounds = [n for n in wanted if n < len(rows)] + [len(rows)]
    start = 0
    for stop in bounds:
        for first in range(start, stop, chunk_size):
            chunk = [ungap(row, alphabet) for row in rows[first : min(first + chunk_size, stop)]]
            chunk = [(sequence, columns) for sequence, columns in chunk if len(sequence)]
            maps = map_function([sequence for sequence, _ in chunk]) if chunk else []
            for (sequence, columns), contact_map in zip(chunk, maps):
                contact_map = np.asarray(contact_map)
                if contact_map.shape != (len(sequence), len(sequence)):
                    raise ValueError(
                        f"map function returned shape {contact_map.shape} for a sequence of"
                        f" {len(sequence)} residues"
                    )
                add_aligned(total, count, contact_map, columns)
            if progress is not None:
                progress.update(min(first + chunk_size, stop) - first)
        if stop < len(rows):
            snapshots[stop] = average()
        start = stop
    P = average()
    if checkpoints is None:
        return P
    snapshots.update({n: P for n in wanted if n >= len(rows)})
    return P, snapshots


def add_aligned(
    total: np.ndarray, count: np.ndarray, contact_map: np.ndarray, columns: np.ndarray
) -> None:
    """Add a sequence's (n, n) map into the aligned (L, L) sum and count, in place.

    ``contact_map[a, b]`` goes to ``total[columns[a], columns[b]]``; NaN cells add
    nothing and are not counted.

    Parameters
    ----------
    total : numpy.ndarray, shape=(L, L)
        Running sum of probabilities over the alignment's L query columns, float.
    count : numpy.ndarray, shape=(L, L)
        Running number of maps that gave each cell a value, int.
    contact_map : numpy.ndarray, shape=(n, n)
        The ungapped sequence's map; NaN where it has no value.
    columns : numpy.ndarray, shape=(n,)
        0-based aligned column of each of the sequence's n residues.

    Examples
    --------
    >>> import numpy as np
    >>> total, count = np.zeros((3, 3)), np.zeros((3, 3), dtype=int)
    >>> add_aligned(total, count, np.array([[0.0, 0.5], [0.5, np.nan]]), np.array([0, 2]))
    >>> total[0].tolist(), count.tolist()
    ([0.0, 0.0, 0.5], [[1, 0, 1], [0, 0, 0], [1, 0, 0]])
    """
    cells = np.ix_(columns, columns)
    known = ~np.isnan(contact_map)
    if known.all():
        total[cells] += contact_map
        count[cells] += 1
    else:  # NaN cells (e.g. pairs no window covers) are left out of the average
        total[cells] += np.where(known, contact_map, 0.0)
        count[cells] += known
