"""Memory and disk a request needs, estimated before any work, and the limits it is held to.

A contact map is a dense (L, L) float32 array: 4 L^2 bytes, 40 GB at L = 100,000. Every
prediction request is estimated first by :func:`estimate_memory`, the one place that
knows what the pipeline allocates, and refused (:class:`MemoryLimitError`, a
ValueError) when the estimate exceeds the limit: ``max_memory`` where the caller gives
one (``--max-memory GB``, ``max_memory=`` in bytes), else the memory the system has
available now (:func:`available_memory`). The estimate counts, per sequence:

- the returned map, 4 L^2 bytes (every map of a batch is returned, so these add up);
- beyond the context, the window accumulators: uint8 counts and two bool masks, 3 L^2;
- an MSA ensemble: float64 sum, int32 count, the float64 and float32 averages, 25 L^2;
- the forward pass of one batch of windows: three copies of one layer's attention
  (``3 * 4 * heads * batch * T^2``), the APC temporaries of a head chunk, the
  activations (``16 * 4 * embed_dim * tokens``);
- listing pairs (the command line): 6 L^2 to rank the top k, or 64 bytes per pair for
  ``--top all`` (indices, probabilities, the sort order and their copies).

Sparse requests (:meth:`esm_contacts.ContactPredictor.predict_top`) never hold L x L:
the (w, w) block that slides with the windows (16 bytes a cell: sums, counts,
probabilities, masks), the window work, and 64 bytes per kept pair, twice while merging.
An MSA Transformer run (``msa_rows``) holds no ensemble sums and no window batches: its
work is :func:`msa_transformer_work`, the bound stated in :mod:`esm_contacts.msa_transformer`.
The sum is multiplied by :data:`SAFETY` (1.25) for the allocator and Python's own objects.
"""

import os
import shutil
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

from .messages import size_text
from .metrics import MIN_SEP

__all__ = [
    "MemoryLimitError",
    "DiskSpaceError",
    "available_memory",
    "estimate_memory",
    "check_memory",
    "check_disk_space",
    "msa_transformer_work",
    "msa_chunk_tokens",
    "model_footprint",
    "output_bytes",
    "check_prediction_resources",
]

#: Factor on every estimate: allocator slack, temporaries the sum does not name.
SAFETY = 1.25
#: Bytes per cell of an (L, L) map: the float32 map ...
MAP_BYTES = 4
#: ... the window accumulators (uint8 counts, bool masks) ...
WINDOW_BYTES = 3
#: ... an MSA ensemble's running sum, count and averages ...
MSA_BYTES = 25
#: ... ranking the top k pairs of a dense map (int32 separations, masks, a partition copy).
RANK_BYTES = 6
#: Bytes per cell of the sliding (w, w) block of a sparse request: sums, counts, probabilities,
#: masks.
SPARSE_BYTES = 16
#: Bytes per listed pair (i, j, probability, sort order and their copies).
PAIR_BYTES = 64
#: Head chunk of the APC (as :data:`esm_contacts.attention.HEAD_CHUNK`) and its temporaries per
#: cell.
APC_BYTES = 4 * 4 * 5
#: Embedding width assumed when the model is not loaded yet (ESM-2 3B's; ESM-1b has 1280).
DEFAULT_EMBED_DIM = 2560
#: Bytes an MSA Transformer run's chunks may add to its estimate when no ``max_tokens_per_msa``
#: is given (:func:`msa_chunk_tokens`): 256 MiB, about 2000 tokens of the full-size model.
MSA_CHUNK_BUDGET = 2**28


class MemoryLimitError(ValueError):
    """A request whose estimated memory exceeds the limit; the message gives both."""


class DiskSpaceError(OSError):
    """Outputs whose estimated size exceeds the free space of their file system."""


def available_memory() -> Optional[int]:
    """Bytes the system can give this process now without swapping, or None if unknown.

    Linux ``MemAvailable`` (``/proc/meminfo``); elsewhere the free physical pages
    (``os.sysconf``), which undercounts the reclaimable page cache.

    Returns
    -------
    bytes : int or None
        Available memory in bytes; None when neither source can be read.
    """
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def _window_work(
    window: int, heads: int, embed_dim: int, max_tokens: int, context: int, sequences: int
) -> int:
    """One forward pass of a full batch of sequences of ``window`` residues (one layer at a time).

    The batch is bounded as the predictor bounds it: ``B * T^2 <= max_tokens`` and
    ``B * T <= max(context + 2, sqrt(max_tokens))``.
    """
    tokens = window + 2
    batch_tokens = max(context + 2, int(max_tokens**0.5))
    batch = max(1, min(max_tokens // (tokens * tokens), batch_tokens // tokens, sequences))
    attention = 3 * 4 * heads * batch * tokens * tokens
    apc = (
        APC_BYTES * window * window + 4 * 4 * batch * window * window
    )  # chunk temporaries; logits, sigmoid, copies
    activations = 16 * 4 * embed_dim * batch * tokens
    return attention + apc + activations


def msa_transformer_work(
    length: int,
    rows: int,
    embed_dim: int,
    heads: int,
    ffn_dim: Optional[int] = None,
    max_tokens_per_msa: Optional[int] = None,
) -> int:
    """Bytes of one MSA Transformer forward pass run as :mod:`esm_contacts.msa_transformer` runs it.

    ``4 * (R*T*D + 4*H*T^2 + max(c, T)*(8*D + 6*F) + max(c, R)*(6*D + 3*H*R)) + 20 * L^2`` with
    T = L + 1 tokens a row, R rows, c = ``max_tokens_per_msa`` (a chunk at most R*T tokens): the
    activations (updated in place), one layer's row attention and its APC temporaries, a row chunk
    (layer norm,
    projections, feed-forward, and the allocator's slack measured on the CPU), a column chunk with
    its R x R
    attention, the (L, L) sum and map. ``max_tokens_per_msa`` None: the chunk
    :func:`msa_chunk_tokens` chooses.

    Parameters
    ----------
    length : int
        L, residues of the query (BOS added: T = L + 1 tokens a row).
    rows : int
        R, sequences of the alignment given to the model.
    embed_dim : int
        D, embedding width.
    heads : int
        H, attention heads per layer.
    ffn_dim : int, optional
        F, feed-forward width; 4 D when None.
    max_tokens_per_msa : int, optional
        c, tokens per chunk of the row and column layers; None: :func:`msa_chunk_tokens`.

    Returns
    -------
    bytes : int
        The estimated peak of one forward pass, beyond the loaded model.
    """
    if max_tokens_per_msa is None:
        max_tokens_per_msa = msa_chunk_tokens(length, rows, embed_dim, heads, ffn_dim)
    width, ffn_dim, tokens = length + 1, ffn_dim or 4 * embed_dim, rows * (length + 1)
    # A chunk holds whole rows (columns) and never more than the alignment.
    row_chunk, column_chunk = (
        min(max(max_tokens_per_msa, width), tokens),
        min(max(max_tokens_per_msa, rows), tokens),
    )
    work = (
        tokens * embed_dim
        + 4 * heads * width * width
        + row_chunk * (8 * embed_dim + 6 * ffn_dim)
        + column_chunk * (6 * embed_dim + 3 * heads * rows)
    )
    return int(4 * work + 20 * length * length)


def msa_chunk_tokens(
    length: int,
    rows: int,
    embed_dim: int,
    heads: int,
    ffn_dim: Optional[int] = None,
    budget: int = MSA_CHUNK_BUDGET,
) -> int:
    """The ``max_tokens_per_msa`` of an MSA Transformer run when the caller gives none.

    The largest chunk c (tokens, rows x columns) whose estimate stays within the estimate of
    the smallest chunk (one row for the row steps, one column for the column step) plus
    ``budget`` bytes::

        msa_transformer_work(c) <= msa_transformer_work(1) + budget

    So the chunks add at most ``budget`` (256 MiB) to what the run needs whatever its
    chunking (the activations, one layer's row attention, one row and one column): what grows
    with the alignment never comes from the chunk. Larger chunks do the same arithmetic in
    fewer, larger steps (fewer thread fork/joins, which a loaded machine makes costly; one
    full-size layer at R = 128 on one thread takes the same CPU time at 1024 and 4096 tokens);
    fair-esm's default (2^14 tokens) would add about 1.6 GB for the full-size model. The whole
    alignment (R*T tokens) when it fits.

    Parameters
    ----------
    length, rows, embed_dim, heads, ffn_dim
        As :func:`msa_transformer_work`.
    budget : int
        Bytes the chunks may add.

    Returns
    -------
    tokens : int
        At least 1 (one row / one column a chunk).
    """

    def work(chunk: int) -> int:
        return msa_transformer_work(length, rows, embed_dim, heads, ffn_dim, chunk)

    limit = work(1) + int(budget)
    low, high = 1, rows * (length + 1)
    # The estimate grows with the chunk (piecewise linearly): the largest chunk within the limit.
    while low < high:
        middle = (low + high + 1) // 2
        if work(middle) <= limit:
            low = middle
        else:
            high = middle - 1
    return low


def estimate_memory(
    lengths: Iterable[int],
    context: int,
    heads: int,
    embed_dim: int = DEFAULT_EMBED_DIM,
    max_tokens: Optional[int] = None,
    msa: bool = False,
    listed: Optional[Sequence[Optional[int]]] = None,
    sparse: Union[bool, Sequence[bool]] = False,
    msa_rows: Optional[int] = None,
    max_tokens_per_msa: Optional[int] = None,
    ffn_dim: Optional[int] = None,
) -> int:
    """Peak bytes a prediction request allocates beyond the loaded model (see the module text).

    Parameters
    ----------
    lengths : iterable of int
        Residues of every sequence of the request (an MSA: the query's, once).
    context : int
        Residues per forward pass (the predictor's ``max_length``).
    heads : int
        Attention heads per layer.
    embed_dim : int
        Embedding width of the model.
    max_tokens : int, optional
        The predictor's batch budget ``batch * T^2``; one full window by default.
    msa : bool
        An MSA ensemble (running sums of the query's map).
    listed : sequence of (int or None), optional
        Pairs listed per sequence after the prediction (the command line), None for all;
        not given: the maps are only returned.
    sparse : bool or sequence of bool
        :meth:`~esm_contacts.ContactPredictor.predict_top`: no (L, L) map, ``listed`` pairs
        kept; one flag per sequence where a request mixes both (the command line predicts
        the dense ones together, then the sparse ones one by one while the dense maps live).
    msa_rows : int, optional
        An MSA Transformer run over this many rows of each length (:func:`msa_transformer_work`
        with ``max_tokens_per_msa``); ``msa`` and ``sparse`` do not apply.
    max_tokens_per_msa : int, optional
        Its chunk size in tokens; None: :func:`msa_chunk_tokens` chooses it.
    ffn_dim : int, optional
        Its feed-forward width (4 x ``embed_dim`` when not given).

    Returns
    -------
    bytes : int
    """
    lengths = [int(n) for n in lengths]
    if not lengths:
        return 0
    if msa_rows is not None:
        work = max(
            msa_transformer_work(n, int(msa_rows), embed_dim, heads, ffn_dim, max_tokens_per_msa)
            for n in lengths
        )
        maps = sum(MAP_BYTES * n * n for n in lengths)
        ranking = 0
        if listed is not None:
            ranking = max(
                (
                    PAIR_BYTES * n * (n - 1) // 2
                    if count is None
                    else RANK_BYTES * n * n
                    if count
                    else 0
                )
                for n, count in zip(lengths, listed)
            )
        return int(SAFETY * (maps + max(work, ranking)))
    listed = list(listed) if listed is not None else None
    flags = [bool(sparse)] * len(lengths) if isinstance(sparse, bool) else [bool(f) for f in sparse]
    counts = listed if listed is not None else [None] * len(lengths)
    max_tokens = max_tokens or (context + 2) ** 2
    windows = sum(
        max(1, -(-2 * n // context) - 1) for n in lengths
    )  # an upper bound on the forward passes' sequences
    work = _window_work(min(max(lengths), context), heads, embed_dim, max_tokens, context, windows)
    dense = [(n, count) for n, count, flag in zip(lengths, counts, flags) if not flag]
    total = 0
    if dense:
        maps = sum(MAP_BYTES * n * n for n, _ in dense)
        longest = max(n for n, _ in dense)
        transient = WINDOW_BYTES * longest * longest if longest > context else 0
        if msa:
            transient += MSA_BYTES * longest * longest
        ranking = 0
        if listed is not None:
            # count 0: nothing listed (a .npy output holds the map itself).
            ranking = max(
                (
                    PAIR_BYTES * n * (n - 1) // 2
                    if count is None
                    else RANK_BYTES * n * n
                    if count
                    else 0
                )
                for n, count in dense
            )
        total += maps + max(transient + work, ranking)
    kept = [
        PAIR_BYTES * (n * min(n, context) if count is None else count)
        for n, count, flag in zip(lengths, counts, flags)
        if flag
    ]
    if kept:
        total += work + SPARSE_BYTES * context * context + 2 * max(kept)
    return int(SAFETY * total)


def check_memory(
    estimate: int, max_memory: Optional[float] = None, what: str = "this request", hint: str = ""
) -> None:
    """Refuse a request whose estimate exceeds ``max_memory`` bytes, or else the available memory.

    Parameters
    ----------
    estimate : int
        Bytes (:func:`estimate_memory`).
    max_memory : float, optional
        The caller's limit in bytes, positive and finite; it replaces the available-memory check.
    what : str
        What is estimated, for the message (``"predicting 1 sequence of 100000 residues"``).
    hint : str
        What to do instead, appended to the message.

    Raises
    ------
    MemoryLimitError
        With the estimate and the limit.
    esm_contacts.options.OptionError
        ``max_memory`` is not a positive finite number.
    """
    if max_memory is not None:
        from .options import check_option

        limit, source = check_option("positive", "max_memory", max_memory), "the memory limit"
    else:
        available = available_memory()
        if available is None:
            return
        limit, source = float(available), "the memory available now"
    if estimate > limit:
        raise MemoryLimitError(
            f"{what} needs about {size_text(estimate)} of memory, more than {source} "
            f"({size_text(limit)}){'; ' + hint if hint else ''}"
        )


def check_disk_space(sizes: Dict[Path, int]) -> None:
    """Refuse outputs whose estimated total exceeds the free space where they go.

    Parameters
    ----------
    sizes : dict of Path to int
        Estimated bytes of each output file; files on one file system are summed.

    Raises
    ------
    DiskSpaceError
        Naming the folder, the estimate and the free space.
    """
    totals: Dict[int, list] = {}
    for path, size in sizes.items():
        folder = Path(path).parent
        try:
            device = os.stat(folder).st_dev
        except OSError:
            continue  # a missing folder is reported by the output-path check
        entry = totals.setdefault(device, [folder, 0])
        entry[1] += int(size)
    for folder, total in totals.values():
        try:
            free = shutil.disk_usage(folder).free
        except OSError:
            continue
        if total > free:
            raise DiskSpaceError(
                f"{folder}: the output files need about {size_text(total)} but the disk has only "
                f"{size_text(free)} free"
            )


def model_footprint(model: str) -> Tuple[int, int, int]:
    """(context, heads, bytes of weights) of a model before it is loaded.

    Parameters
    ----------
    model : str
        A known name or Hub ID (:data:`esm_contacts.catalog.KNOWN_MODELS`: 4 bytes a
        parameter), a checkpoint file or a Hugging Face directory (ESM-1b's context and
        heads, and the size of its weight files).

    Returns
    -------
    context, heads, weight_bytes : int
        Residues a forward pass takes, attention heads a layer, bytes of the weights (0 for
        a file that cannot be read: the loader reports it).
    """
    from .catalog import model_info

    info = model_info(model)
    if info is not None:
        scale = {"M": 1e6, "B": 1e9}[info.parameters[-1]]
        return info.context, info.heads, int(4 * float(info.parameters[:-1]) * scale)
    try:
        path = Path(model)
        files = list(path.glob("*.safetensors")) if path.is_dir() else [path]
        size = sum(file.stat().st_size for file in files)
    except OSError:
        size = 0
    return 1022, 20, size


def output_bytes(spec, length: int, count: Optional[int], min_sep: int) -> int:
    """Estimated size of one contact file.

    Parameters
    ----------
    spec : esm_contacts.formats.ContactFormat
        The file's format: a dense one holds the map (4 bytes a pair in binary, a printed
        number a pair in text), a sparse one a line per listed pair and a header.
    length : int
        Residues.
    count : int or None
        Pairs listed (None: every pair with separation >= `min_sep`).
    min_sep : int
        Smallest separation listed.

    Returns
    -------
    size : int
        Bytes.
    """
    from .formats import DECIMALS

    if spec.dense:
        return 128 + (4 if spec.binary else DECIMALS + 3) * length * length
    span = max(length - min_sep, 0)
    pairs = span * (span + 1) // 2 if count is None else min(count, span * (span + 1) // 2)
    line = 2 * len(str(length)) + (16 if spec.name == "rr" else 30)
    return 512 + 2 * length + pairs * line


def check_prediction_resources(
    lengths: Sequence[int],
    top,
    context: int,
    heads: int,
    *,
    min_sep: int = MIN_SEP,
    msa: bool = False,
    evaluate: bool = False,
    spec=None,
    outputs: Optional[Sequence[Path]] = None,
    max_memory: Optional[float] = None,
    model_bytes: int = 0,
    model_name: str = "the default model",
    predictor=None,
) -> List[bool]:
    """Refuse a prediction request that will not fit in memory or on disk; say which records go the
    sparse way.

    A record is predicted without its (L, L) map (:meth:`esm_contacts.ContactPredictor.predict_top`)
    when it is longer than the context, its `top` is bounded, its output is not dense and it is
    neither an MSA query nor evaluated. Before the model loads (`predictor` None) the memory
    limit also covers the model's weights, unless `max_memory` bounds the request alone.

    Parameters
    ----------
    lengths : sequence of int
        Residues of each record.
    top : str or int or None
        Pairs listed per record (:func:`esm_contacts.metrics.parse_top`).
    context, heads : int
        The model's context and heads a layer (:func:`model_footprint` before it loads).
    min_sep : int
        Smallest separation listed.
    msa, evaluate : bool
        An MSA query; a prediction evaluated against its structure (both need the map).
    spec : esm_contacts.formats.ContactFormat, optional
        Format of the outputs.
    outputs : sequence of Path, optional
        The output files, one per record, checked against the free disk space.
    max_memory : float, optional
        Bytes; default the memory available now.
    model_bytes : int
        Bytes of the weights, counted before the model loads.
    model_name : str
        The model, for the message.
    predictor : esm_contacts.ContactPredictor, optional
        The loaded model, whose own estimate is used.

    Returns
    -------
    sparse : list of bool
        Per record, whether it is predicted without its map.

    Raises
    ------
    MemoryLimitError, DiskSpaceError
        With the estimate, the limit and what to change.
    """
    from .metrics import parse_top

    dense = spec is not None and spec.dense
    counts = [parse_top(top, n) for n in lengths]
    allowed = not msa and not evaluate and not dense
    sparse = [allowed and n > context and count is not None for n, count in zip(lengths, counts)]
    listed = [0 if dense else count for count in counts]
    if predictor is not None:
        predictor.check_memory(lengths, max_memory, msa=msa, listed=listed, sparse=sparse)
    else:
        estimate = estimate_memory(
            lengths, context=context, heads=heads, msa=msa, listed=listed, sparse=sparse
        )
        what = f"predicting {len(lengths)} sequence(s) of up to {max(lengths)} residues"
        hint = _memory_hint(lengths, sparse, context)
        if max_memory:
            check_memory(estimate, max_memory, what=what, hint=hint)
        else:
            check_memory(estimate + model_bytes, None, what=f"{what} with {model_name}", hint=hint)
    if outputs:
        check_disk_space(
            {
                path: output_bytes(spec, n, count, min_sep)
                for path, n, count in zip(outputs, lengths, counts)
            }
        )
    return sparse


def _memory_hint(lengths: Sequence[int], sparse: Sequence[bool], context: int) -> str:
    if any(n > context and not flag for n, flag in zip(lengths, sparse)):
        return (
            "for sequences this long list the top pairs window by window: --top K (not all) with"
            " --out FILE.rr or .csv"
        )
    return ""
