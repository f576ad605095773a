"""Attention maps -> contact features, one layer at a time.

fair-esm's ``predict_contacts`` stacks the attention of every layer and head
(33 x 20 maps of (L+2)^2 for ESM-1b) and then symmetrizes and APC-corrects the whole
stack: about 16 GB at L = 1022. Here the transformer runs as an explicit layer loop;
each layer's attention is cropped to the sequence's own residues, symmetrized,
APC-corrected per head and reduced at once (weighted sum for prediction, or the few
pairs a regression needs for training), so at most one layer's maps exist at a time.
"""

from typing import Iterator, List, Sequence, Tuple

import torch

__all__ = [
    "HEAD_CHUNK",
    "symmetrize",
    "apc",
    "layer_attentions",
    "residue_attentions",
    "crop_to_residues",
    "apc_features",
    "apc_feature_chunks",
    "nonzero_heads",
    "add_weighted_heads",
]

#: Heads symmetrized and APC-corrected together: the temporaries stay a fraction of one layer's
#: maps.
HEAD_CHUNK = 4


def symmetrize(x: torch.Tensor) -> torch.Tensor:
    """``x + x^T`` over the last two dimensions.

    Parameters
    ----------
    x : torch.Tensor, shape=(..., L, L)
        Square maps, e.g. (H, L, L) attention of H heads.

    Returns
    -------
    symmetric : torch.Tensor, shape=(..., L, L)
        ``x`` plus its transpose, a new tensor of the same dtype.

    Examples
    --------
    >>> import torch
    >>> symmetrize(torch.tensor([[0.0, 1.0], [2.0, 3.0]])).tolist()
    [[0.0, 3.0], [3.0, 6.0]]
    """
    return x + x.transpose(-1, -2)


def apc(x: torch.Tensor) -> torch.Tensor:
    """Average product correction ``F_ij - F_i. F_.j / F_..`` over the last two dimensions.

    Parameters
    ----------
    x : torch.Tensor, shape=(..., L, L)
        Square maps (symmetrized attention, one per head), cropped to the residues.

    Returns
    -------
    corrected : torch.Tensor, shape=(..., L, L)
        Each map minus the product of its row and column sums over its total sum.

    Examples
    --------
    >>> import torch
    >>> apc(torch.tensor([[2.0, 1.0], [1.0, 2.0]])).tolist()
    [[0.5, -0.5], [-0.5, 0.5]]
    """
    row = x.sum(-1, keepdim=True)
    col = x.sum(-2, keepdim=True)
    total = x.sum((-1, -2), keepdim=True)
    return x - row * col / total


def _embed(model, tokens: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """The input of the first transformer layer, as fair-esm's ``forward`` computes it.

    Returns ``x`` as (T, B, E) and the padding mask (B, T), or ``None`` without padding.
    """
    padding_mask = tokens.eq(model.padding_idx)
    x = model.embed_scale * model.embed_tokens(tokens)
    if getattr(model, "token_dropout", None) or getattr(
        getattr(model, "args", None), "token_dropout", False
    ):
        # Inference-time rescaling of the training-time token dropout (no masks here,
        # so this is the constant factor 1 - 0.15 * 0.8 unless <mask> tokens are given).
        x = x.masked_fill((tokens == model.mask_idx).unsqueeze(-1), 0.0)
        mask_ratio_train = 0.15 * 0.8
        src_lengths = (~padding_mask).sum(-1)
        mask_ratio_observed = (tokens == model.mask_idx).sum(-1).to(x.dtype) / src_lengths
        x = x * (1 - mask_ratio_train) / (1 - mask_ratio_observed)[:, None, None]
    model_version = getattr(model, "model_version", "ESM-2")
    if model_version != "ESM-2":
        x = x + model.embed_positions(tokens)
    if model_version in ("ESM-1b", "ESM-2"):
        if model_version == "ESM-1b" and model.emb_layer_norm_before:
            x = model.emb_layer_norm_before(x)
        x = x * (1 - padding_mask.unsqueeze(-1).type_as(x))
    return x.transpose(0, 1), (padding_mask if padding_mask.any() else None)


@torch.no_grad()
def layer_attentions(model, tokens: torch.Tensor) -> Iterator[Tuple[int, torch.Tensor]]:
    """Run the transformer layer by layer and yield each layer's attention.

    Parameters
    ----------
    model : esm.ProteinBertModel or esm.model.esm2.ESM2 or esm_contacts.hf.HFContactModel
        In eval mode.
    tokens : torch.Tensor
        (B, T) token indices as fair-esm's ``BatchConverter`` makes them.

    Yields
    ------
    layer : int
        0-based layer index.
    attention : torch.Tensor
        (B, H, T, T) attention probabilities, in the model's dtype, valid until the
        next item is requested (the caller must reduce it before that).
    """
    if hasattr(model, "layer_attentions"):
        # A model with its own layer loop (esm_contacts.hf.HFContactModel: transformers' ESM
        # modules).
        yield from model.layer_attentions(tokens)
        return
    x, padding_mask = _embed(model, tokens)
    for layer_index, layer in enumerate(model.layers):
        x, attention = layer(x, self_attn_padding_mask=padding_mask, need_head_weights=True)
        # (H, B, T, T_keys) -> (B, H, T, T_keys); ESM-1's bias_kv adds a last key column
        # that is cropped with the special tokens.
        yield layer_index, attention.transpose(0, 1)
        del attention


def residue_attentions(
    model, tokens: torch.Tensor, lengths: Sequence[int], prepend_bos: bool = True
) -> Iterator[Tuple[int, List[torch.Tensor]]]:
    """Run the transformer layer by layer and yield each sequence's attention on its own residues.

    The one loop behind prediction (:meth:`esm_contacts.ContactPredictor.predict_batch`) and
    training (:func:`esm_contacts.regression.pair_features`).

    Parameters
    ----------
    model : esm.ProteinBertModel or esm.model.esm2.ESM2 or esm_contacts.hf.HFContactModel
        In eval mode.
    tokens : torch.Tensor
        (B, T) token indices as fair-esm's ``BatchConverter`` makes them.
    lengths : sequence of int
        Residues of each of the B sequences.
    prepend_bos : bool
        Whether position 0 is a BOS token.

    Yields
    ------
    layer : int
        0-based layer index.
    attentions : list of torch.Tensor
        One (H, L_b, L_b) view per sequence, valid until the next item is requested.
    """
    for layer, attention in layer_attentions(model, tokens):
        yield layer, [crop_to_residues(attention[b], n, prepend_bos) for b, n in enumerate(lengths)]


def crop_to_residues(
    attention: torch.Tensor, length: int, prepend_bos: bool = True
) -> torch.Tensor:
    """One sequence's attention restricted to its own residues.

    Drops BOS, EOS, padding and ESM-1's extra key column in one slice, so APC only
    ever sees the sequence's residues (fair-esm's batched head zeroes padding instead).

    Parameters
    ----------
    attention : torch.Tensor
        (..., T, T_keys) attention of one sequence.
    length : int
        Number of residues.
    prepend_bos : bool
        Whether position 0 is a BOS token.

    Returns
    -------
    cropped : torch.Tensor, shape=(..., length, length)
        A view of ``attention``: rows and columns of residues 0 .. ``length`` - 1.

    Examples
    --------
    >>> import torch
    >>> attention = torch.arange(16.0).reshape(4, 4)  # BOS, 2 residues, EOS
    >>> crop_to_residues(attention, 2).tolist()
    [[5.0, 6.0], [9.0, 10.0]]
    """
    start = int(prepend_bos)
    return attention[..., start : start + length, start : start + length]


def apc_features(attention: torch.Tensor, heads: Sequence[int] = None) -> torch.Tensor:
    """Symmetrized, APC-corrected maps of the chosen heads of one layer, in float32.

    Parameters
    ----------
    attention : torch.Tensor
        (H, L, L) attention of one sequence, already cropped to its residues.
    heads : sequence of int, optional
        Heads to keep (all by default).

    Returns
    -------
    features : torch.Tensor
        (len(heads), L, L) float32.
    """
    if heads is not None:
        attention = (
            attention[list(heads)] if not isinstance(heads, torch.Tensor) else attention[heads]
        )
    return apc(symmetrize(attention.float()))


def apc_feature_chunks(
    attention: torch.Tensor, heads: torch.Tensor, chunk: int = HEAD_CHUNK
) -> Iterator[Tuple[torch.Tensor, torch.Tensor]]:
    """:func:`apc_features` of the chosen heads, `chunk` heads at a time.

    Parameters
    ----------
    attention : torch.Tensor
        (H, L, L) attention of one sequence, cropped to its residues.
    heads : torch.Tensor
        Indices of the heads, in the order wanted.
    chunk : int
        Heads per item.

    Yields
    ------
    heads : torch.Tensor
        The indices of this item's heads.
    features : torch.Tensor
        Their (len(heads), L, L) float32 features.
    """
    for head_chunk in heads.split(chunk):
        yield head_chunk, apc_features(attention, head_chunk)


def add_weighted_heads(
    logit: torch.Tensor,
    attention: torch.Tensor,
    heads: torch.Tensor,
    weights: torch.Tensor,
    chunk: int = HEAD_CHUNK,
) -> None:
    """Add one layer's regression term ``sum_h w_h APC(sym(A_h))`` to a running (L, L) sum, in
    place.

    Parameters
    ----------
    logit : torch.Tensor
        float32 (L, L) running sum of the regression's weighted features.
    attention : torch.Tensor
        (H, L, L) attention of one sequence (or one alignment's tied row attention), cropped to its
        residues.
    heads : torch.Tensor
        Indices of the heads to add (those with a non-zero weight).
    weights : torch.Tensor
        Their regression weights, in the same order.
    chunk : int
        Heads symmetrized and APC-corrected together: the temporaries stay a fraction of one layer's
        maps.
    """
    for (_, features), weight_chunk in zip(
        apc_feature_chunks(attention, heads, chunk), weights.split(chunk)
    ):
        logit += torch.einsum("h,hij->ij", weight_chunk, features)


def nonzero_heads(weight: torch.Tensor, num_layers: int, num_heads: int) -> List[torch.Tensor]:
    """Per layer, the indices of heads whose regression weight is not zero.

    Parameters
    ----------
    weight : torch.Tensor, shape=(num_layers * num_heads,)
        The regression weight in fair-esm's layer-major order.
    num_layers : int
        Layers of the model.
    num_heads : int
        Attention heads per layer.

    Returns
    -------
    heads : list of torch.Tensor
        ``num_layers`` tensors of 0-based head indices, ascending.

    Examples
    --------
    >>> import torch
    >>> weight = torch.tensor([0.0, 0.5, -1.0, 0.0])  # 2 layers x 2 heads
    >>> [heads.tolist() for heads in nonzero_heads(weight, 2, 2)]
    [[1], [0]]
    """
    weight = weight.reshape(num_layers, num_heads)
    return [torch.nonzero(row, as_tuple=False).flatten() for row in weight]
