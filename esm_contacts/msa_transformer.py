"""MSA Transformer contacts with bounded memory.

fair-esm's ``MSATransformer.predict_contacts`` keeps the attention of every layer: the
tied row attention (layers x heads x T x T, T = L + 1 with BOS) that contacts need, and
the column attention (layers x heads x T x R x R) that they do not, then stacks both
(a second copy). At L = 300, R = 128 rows that is about 6 GB for the full-size model.

Here the axial layers run one at a time, as fair-esm's ``MSATransformer.forward`` runs
them (embedding, then per layer: row self-attention, column self-attention, feed-forward,
each a pre-norm residual block), on the same modules and weights, but:

- the activations ``x`` (R x T x D) are updated in place, a chunk of at most
  ``max_tokens_per_msa`` tokens (rows x columns) at a time: the row attention's
  logits are summed over row chunks (fair-esm's ``RowSelfAttention._batched_forward``),
  the column attention runs on column chunks (``ColumnSelfAttention._batched_forward``)
  and its probabilities are dropped at once, the feed-forward runs on row chunks;
- each layer's tied row attention (heads x T x T) is cropped to the residues,
  symmetrized, APC-corrected and added into the regression sum
  (:func:`esm_contacts.attention.add_weighted_heads`, as for ESM-1b) before the next
  layer runs. No column attention is ever kept.

Memory bound (bytes beyond the model, float32; R rows, T = L + 1, D width, F feed-forward
width, H heads, c = ``max_tokens_per_msa``)::

    4 * (R*T*D                         activations, updated in place
         + 4*H*T^2                     the layer's row logits/probabilities and APC temporaries
         + max(c, T) * (8*D + 6*F)     a row chunk: norm, projections, feed-forward, slack
         + max(c, R) * (6*D + 3*H*R))  a column chunk: projections and its R x R attention
    + 20 * L^2                         the (L, L) sum and the returned map

(a chunk never holds more than the alignment's R*T tokens).

The chunk c, unless the caller gives ``max_tokens_per_msa``, is the largest whose bound stays
within the bound of the smallest chunk (one row, one column) plus 256 MiB
(:func:`esm_contacts.resources.msa_chunk_tokens`, :data:`~esm_contacts.resources.MSA_CHUNK_BUDGET`):
about 2000 tokens for the full-size model (2239 at L = 300, R = 128). The results do not
depend on c; the time hardly does (fewer, larger steps), the memory does.

It grows linearly with the depth R (at fixed c), never with layers x R^2; fair-esm's
``predict_contacts`` grows as layers x H x T x R^2. This bound is the estimate every request is
checked against (:func:`esm_contacts.resources.estimate_memory` with ``msa_rows``); measured
figures are in the README (``scripts/benchmark.py --msa-transformer``).
"""

import warnings
from typing import Iterator, List, Optional, Sequence, Tuple

import torch

from .attention import add_weighted_heads, crop_to_residues

__all__ = [
    "MAX_ROWS",
    "MAX_TOKENS_PER_MSA",
    "chunk_tokens",
    "DEFAULT_STRATEGY",
    "is_msa_transformer",
    "model_context",
    "check_alignment_shape",
    "select_rows",
    "msa_tokens",
    "row_attentions",
    "contact_logits",
    "max_rows",
    "warn_single_sequence",
]

#: Rows the MSA Transformer's row-position table holds (fair-esm's ``msa_position_embedding``).
MAX_ROWS = 1024
#: ``max_tokens_per_msa`` default: None, the chunk :func:`chunk_tokens` chooses from the bound.
MAX_TOKENS_PER_MSA = None
#: Row selection of the MSA Transformer paper: greedy maximum mean Hamming distance (``"diverse"``).
DEFAULT_STRATEGY = "diverse"


def is_msa_transformer(model) -> bool:
    """Whether a model is fair-esm's ``MSATransformer`` (it takes alignments).

    Parameters
    ----------
    model : torch.nn.Module
        A loaded model.

    Returns
    -------
    is_msa_transformer : bool
        True for ``esm.MSATransformer``.
    """
    from esm.model.msa_transformer import MSATransformer

    return isinstance(model, MSATransformer)


def model_context(model) -> int:
    """Residues per row: the learned positions hold BOS + L (the MSA alphabet has no EOS).

    Parameters
    ----------
    model : esm.MSATransformer
        The model.

    Returns
    -------
    context : int
        The longest row (alignment columns) it takes, 1023 for ``esm_msa1b_t12_100M_UR50S``.
    """
    return int(model.embed_positions.max_positions) - int(model.prepend_bos) - int(model.append_eos)


def max_rows(model) -> int:
    """Rows the model takes: its row-position table (1024), or :data:`MAX_ROWS` without one.

    Parameters
    ----------
    model : esm.MSATransformer
        The model.

    Returns
    -------
    rows : int
        The deepest alignment it takes, the query included.
    """
    table = getattr(model, "msa_position_embedding", None)
    return int(table.shape[1]) if table is not None else MAX_ROWS


def check_alignment_shape(depth: int, length: int, context: int, rows: int = MAX_ROWS) -> None:
    """Refuse an alignment the MSA Transformer cannot take.

    Parameters
    ----------
    depth : int
        Rows requested (``num_seqs``, the query included).
    length : int
        Columns of the alignment (query residues).
    context : int
        Residues per row the model takes (1023 for ``esm_msa1b_t12_100M_UR50S``).
    rows : int
        Rows the model takes (its row-position table: 1024).

    Raises
    ------
    ValueError
        One line naming the limit.
    """
    if depth > rows:
        raise ValueError(
            f"num_seqs {depth}: the MSA Transformer takes at most {rows} rows, the query included "
            "(its row-position table); choose num_seqs <= " + str(rows)
        )
    if length > context:
        raise ValueError(
            f"the alignment's query has {length} residues; the MSA Transformer takes at most"
            f" {context} (its context); predict a column range of the alignment, or use a"
            " single-sequence model, which predicts longer sequences over windows"
        )


def select_rows(
    alignment: Sequence[Tuple[str, str]], num_seqs: int, strategy: Optional[str] = None
):
    """The rows the MSA Transformer sees: chosen by :func:`esm_contacts.msa.select_sequences`, in
    file order.

    The model embeds each row's position in the alignment, so the chosen rows are put
    back in the alignment's order, query first, as fair-esm's ``greedy_select`` returns them.

    Parameters
    ----------
    alignment : sequence of tuple(str, str)
        ``(name, row)`` pairs in the query's coordinates (:func:`esm_contacts.msa.read_msa`).
    num_seqs : int
        Rows to choose, the query included.
    strategy : {"first", "diverse"}, optional
        None: :data:`DEFAULT_STRATEGY` (greedy maximum Hamming distance, the paper's choice).

    Returns
    -------
    rows : list of tuple(str, str)
    """
    from .msa import select_sequences

    chosen = select_sequences(
        alignment, num_seqs, DEFAULT_STRATEGY if strategy is None else strategy
    )
    # select_sequences returns the alignment's own items: their identities give the file order.
    order = {id(item): index for index, item in enumerate(alignment)}
    return sorted(chosen, key=lambda item: order[id(item)])


def msa_tokens(alphabet, rows: Sequence[str], letters: frozenset) -> torch.Tensor:
    """(1, R, L + 1) tokens of aligned rows, as fair-esm's ``MSABatchConverter`` makes them.

    Letters outside ``letters`` become ``X`` (as in MSA ensembling); ``-`` is the gap token.

    Parameters
    ----------
    alphabet : esm.Alphabet
        The MSA Transformer's alphabet.
    rows : sequence of str
        The aligned rows, query first, all of one length L.
    letters : frozenset
        The residue letters kept as they are (:data:`esm_contacts.sequence.ALPHABET_LETTERS`).

    Returns
    -------
    tokens : torch.Tensor
        int64 (1, R, L + 1), BOS first in every row.
    """
    cleaned = [
        "".join(char if char in letters or char == "-" else "X" for char in row) for row in rows
    ]
    _, _, tokens = alphabet.get_batch_converter()(
        [(str(index), row) for index, row in enumerate(cleaned)]
    )
    return tokens


def chunk_tokens(model, rows: int, width: int, max_tokens_per_msa: Optional[int] = None) -> int:
    """Tokens per chunk of a run over ``rows`` x ``width`` tokens: the caller's, else automatic.

    Parameters
    ----------
    model : esm.MSATransformer
    rows, width : int
        The alignment's rows R and tokens per row T = L + 1.
    max_tokens_per_msa : int, optional
        The caller's chunk, which wins; None: :func:`esm_contacts.resources.msa_chunk_tokens` (the
        largest chunk within 256 MiB of the smallest chunk's memory bound).

    Returns
    -------
    tokens : int
    """
    if max_tokens_per_msa is not None:
        return int(max_tokens_per_msa)
    from .resources import msa_chunk_tokens

    length = width - int(model.prepend_bos) - int(model.append_eos)
    shape = model.args
    return msa_chunk_tokens(
        length, rows, int(shape.embed_dim), int(shape.attention_heads), int(shape.ffn_embed_dim)
    )


def _row_chunks(total: int, size: int) -> List[slice]:
    return [slice(start, min(start + size, total)) for start in range(0, total, size)]


def _embed(model, tokens: torch.Tensor, chunk_rows: int) -> torch.Tensor:
    """The first layer's input, R x T x 1 x D (fair-esm's layout), built a chunk of rows at a
    time."""
    _, depth, width = tokens.shape
    x = torch.empty(
        (depth, width, 1, model.args.embed_dim),
        dtype=model.embed_tokens.weight.dtype,
        device=tokens.device,
    )
    for rows in _row_chunks(depth, chunk_rows):
        part = tokens[:, rows]
        h = model.embed_tokens(part)
        h += model.embed_positions(part.reshape(-1, width)).view(h.size())
        if model.msa_position_embedding is not None:
            h += model.msa_position_embedding[:, rows]
        # No padding in one alignment (all rows have its length): fair-esm's mask is a no-op.
        x[rows] = model.emb_layer_norm_before(h)[0].unsqueeze(2)
    return x


def _row_attention(block, x: torch.Tensor, chunk_rows: int) -> torch.Tensor:
    """The residual row self-attention of one layer, in place on ``x``; returns its (H, T, T)
    probabilities.

    fair-esm's ``RowSelfAttention._batched_forward``: the logits are tied over rows
    (summed over row chunks, scaled by 1/sqrt(R)), then every chunk is updated.
    """
    attention = block.layer
    scaling = attention.align_scaling(x)
    logits = 0
    for rows in _row_chunks(x.shape[0], chunk_rows):
        logits = logits + attention.compute_attention_weights(block.layer_norm(x[rows]), scaling)
    probabilities = logits.softmax(-1)
    del logits
    for rows in _row_chunks(x.shape[0], chunk_rows):
        x[rows] += attention.compute_attention_update(block.layer_norm(x[rows]), probabilities)
    return probabilities[:, 0]  # H x B x T x T, one alignment


def _column_attention(block, x: torch.Tensor, chunk_columns: int) -> None:
    """The residual column self-attention of one layer, in place; its R x R probabilities are
    dropped per chunk."""
    for columns in _row_chunks(x.shape[1], chunk_columns):
        output, _ = block.layer.compute_attention_update(block.layer_norm(x[:, columns]))
        x[:, columns] += output


def _feed_forward(block, x: torch.Tensor, chunk_rows: int) -> None:
    """The residual feed-forward block, in place, a chunk of rows at a time."""
    for rows in _row_chunks(x.shape[0], chunk_rows):
        x[rows] += block.layer(block.layer_norm(x[rows]))


@torch.no_grad()
def row_attentions(
    model, tokens: torch.Tensor, max_tokens_per_msa: Optional[int] = MAX_TOKENS_PER_MSA, bar=None
) -> Iterator[Tuple[int, torch.Tensor]]:
    """Run the MSA Transformer layer by layer and yield each layer's tied row attention.

    Parameters
    ----------
    model : esm.MSATransformer
        In eval mode (dropout is then the identity, as fair-esm's inference).
    tokens : torch.Tensor
        (1, R, T) tokens of one alignment (:func:`msa_tokens`), on the model's device.
    max_tokens_per_msa : int, optional
        Tokens (rows x columns) per chunk of every per-token step; None: :func:`chunk_tokens`.
    bar : object with ``update(n)``, optional
        Advanced once per layer.

    Yields
    ------
    layer : int
        0-based layer index.
    attention : torch.Tensor
        (H, T, T) row attention probabilities, valid until the next item is requested.
    """
    if tokens.ndim != 3 or tokens.shape[0] != 1:
        raise ValueError(
            "expected the (1, rows, columns) tokens of one alignment, got shape"
            f" {tuple(tokens.shape)}"
        )
    depth, width = tokens.shape[1:]
    chunk = chunk_tokens(model, depth, width, max_tokens_per_msa)
    chunk_rows = max(1, chunk // width)
    chunk_columns = max(1, chunk // depth)
    x = _embed(model, tokens, chunk_rows)
    for index, layer in enumerate(model.layers):
        attention = _row_attention(layer.row_self_attention, x, chunk_rows)
        _column_attention(layer.column_self_attention, x, chunk_columns)
        _feed_forward(layer.feed_forward_layer, x, chunk_rows)
        if bar is not None:
            bar.update(1)
        yield index, attention
        del attention


def contact_logits(
    model,
    tokens: torch.Tensor,
    heads: Sequence[torch.Tensor],
    weights: Sequence[torch.Tensor],
    head_chunk: int = 4,
    max_tokens_per_msa: Optional[int] = MAX_TOKENS_PER_MSA,
    bar=None,
) -> torch.Tensor:
    """The regression's sum over layers and heads of APC-corrected row attention, (L, L) float32.

    Parameters
    ----------
    model : esm.MSATransformer
    tokens : torch.Tensor
        (1, R, L + 1) tokens (:func:`msa_tokens`).
    heads, weights : sequence of torch.Tensor
        Per layer, the heads with a non-zero regression weight and their weights.
    head_chunk : int
        Heads APC-corrected together.
    max_tokens_per_msa : int, optional
        See :func:`row_attentions`.
    bar : object with ``update(n)``, optional

    Returns
    -------
    logit : torch.Tensor
        Add the bias and take the sigmoid for probabilities (fair-esm's ``ContactPredictionHead``).
    """
    length = tokens.shape[2] - int(model.prepend_bos) - int(model.append_eos)
    logit = torch.zeros((length, length), dtype=torch.float32, device=tokens.device)
    for layer, attention in row_attentions(model, tokens, max_tokens_per_msa, bar):
        if len(heads[layer]):
            residues = crop_to_residues(attention, length, model.prepend_bos)
            add_weighted_heads(logit, residues, heads[layer], weights[layer], head_chunk)
    return logit


def warn_single_sequence(stacklevel: int = 3) -> None:
    """The MSA Transformer given one sequence: it runs, on a one-row alignment.

    Parameters
    ----------
    stacklevel : int
        Passed to :func:`warnings.warn`, so the warning points at the caller's line.
    """
    warnings.warn(
        "the MSA Transformer is meant for alignments: a single sequence is predicted as a one-row "
        "alignment (predict_msa, or --msa FILE, gives it the alignment)",
        stacklevel=stacklevel,
    )
