"""Tiny fair-esm checkpoints, written in fair-esm's own file layout.

The models are built with fair-esm's classes and random weights, saved as the released
checkpoints are (``args`` Namespace for ESM-1/ESM-1b, ``cfg`` for ESM-2, prefixed
state-dict keys, a separate ``NAME-contact-regression.pt``), and loaded back by tests
through the package's real loader. Random weights: they test plumbing, never accuracy.
"""

from argparse import Namespace
from pathlib import Path

import esm
import torch
from esm.model.esm2 import ESM2


def _regression(num_features: int, seed: int, zero_fraction: float = 0.3) -> dict:
    generator = torch.Generator().manual_seed(seed)
    weight = torch.randn(1, num_features, generator=generator)
    # Some heads with zero weight, as an L1 fit leaves them, exercise head skipping.
    weight[torch.rand(1, num_features, generator=generator) < zero_fraction] = 0.0
    bias = torch.randn(1, generator=generator)
    return {
        "model": {"contact_head.regression.weight": weight, "contact_head.regression.bias": bias}
    }


def _save(folder: Path, name: str, checkpoint: dict, regression: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.pt"
    torch.save(checkpoint, path)
    torch.save(regression, folder / f"{name}-contact-regression.pt")
    return path


def _body(state: dict, lm_prefix: str, body_prefix: str) -> dict:
    return {
        (lm_prefix if key.startswith("lm_head") else body_prefix) + key: value
        for key, value in state.items()
        if not key.startswith("contact_head")
    }


def write_tiny_esm1b(
    folder, name="tiny_esm1b", layers=3, heads=4, embed_dim=32, max_positions=66, seed=0
) -> Path:
    """An ESM-1b (``roberta_large``) checkpoint; context = max_positions - 2 residues."""
    torch.manual_seed(seed)
    args = Namespace(
        arch="roberta_large",
        encoder_layers=layers,
        encoder_embed_dim=embed_dim,
        encoder_ffn_embed_dim=2 * embed_dim,
        encoder_attention_heads=heads,
        max_positions=max_positions,
        dropout=0.1,
        attention_dropout=0.0,
        token_dropout=True,  # as the released ESM-1b args: embeddings rescaled at inference
    )
    alphabet = esm.Alphabet.from_architecture("roberta_large")
    model_args = Namespace(
        arch="roberta_large",
        layers=layers,
        embed_dim=embed_dim,
        ffn_embed_dim=2 * embed_dim,
        attention_heads=heads,
        max_positions=max_positions,
        emb_layer_norm_before=True,
    )
    model = esm.ProteinBertModel(model_args, alphabet)
    state = _body(model.state_dict(), "encoder.", "encoder.sentence_encoder.")
    checkpoint = {"args": args, "model": state}
    return _save(Path(folder), name, checkpoint, _regression(layers * heads, seed))


def write_tiny_esm2(folder, name="esm2_tiny", layers=3, heads=4, embed_dim=32, seed=1) -> Path:
    """An ESM-2 checkpoint (``cfg`` layout, rotary positions, token dropout)."""
    torch.manual_seed(seed)
    model = ESM2(
        num_layers=layers,
        embed_dim=embed_dim,
        attention_heads=heads,
        alphabet="ESM-1b",
        token_dropout=True,
    )
    cfg = {
        "model": Namespace(
            encoder_layers=layers,
            encoder_embed_dim=embed_dim,
            encoder_attention_heads=heads,
            token_dropout=True,
        )
    }
    state = _body(model.state_dict(), "encoder.", "encoder.sentence_encoder.")
    return _save(
        Path(folder), name, {"cfg": cfg, "model": state}, _regression(layers * heads, seed)
    )


def write_tiny_esm1(folder, name="tiny_esm1", layers=2, heads=4, embed_dim=32, seed=2) -> Path:
    """An ESM-1 (``protein_bert_base``) checkpoint: sinusoidal positions, bias_kv, no EOS."""
    torch.manual_seed(seed)
    alphabet = esm.Alphabet.from_architecture("ESM-1")
    model_args = Namespace(
        arch="protein_bert_base",
        layers=layers,
        embed_dim=embed_dim,
        ffn_embed_dim=2 * embed_dim,
        attention_heads=heads,
        final_bias=True,
    )
    model = esm.ProteinBertModel(model_args, alphabet)
    with torch.no_grad():
        model.embed_out.normal_()
    args = Namespace(
        arch="protein_bert_base",
        decoder_layers=layers,
        decoder_embed_dim=embed_dim,
        decoder_ffn_embed_dim=2 * embed_dim,
        decoder_attention_heads=heads,
        final_bias=True,
    )
    state = {
        "decoder." + key: value
        for key, value in model.state_dict().items()
        if not key.startswith("contact_head")
    }
    return _save(
        Path(folder), name, {"args": args, "model": state}, _regression(layers * heads, seed)
    )


def tiny_hf_model(
    kind: str = "esm2",
    layers: int = 3,
    heads: int = 4,
    hidden: int = 32,
    seed: int = 3,
    context: int = 64,
):
    """A random ``transformers`` ``EsmForMaskedLM``: ``"esm1b"`` (learned positions, layer norm
    before the
    layers, token dropout; `context` residues) or ``"esm2"`` (rotary positions, token dropout).

    Every parameter is drawn at random (not transformers' near-uniform initialisation), so the
    attention maps and the contact head are far from trivial.
    """
    from transformers import EsmConfig, EsmForMaskedLM

    torch.manual_seed(seed)
    shape = (
        {
            "position_embedding_type": "absolute",
            "emb_layer_norm_before": True,
            "max_position_embeddings": context + 4,
        }
        if kind == "esm1b"
        else {
            "position_embedding_type": "rotary",
            "emb_layer_norm_before": False,
            "max_position_embeddings": 1026,
        }
    )
    config = EsmConfig(
        vocab_size=33,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=4 * hidden,
        pad_token_id=1,
        mask_token_id=32,
        token_dropout=True,
        layer_norm_eps=1e-5,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        architectures=["EsmForMaskedLM"],
        **shape,
    )
    model = EsmForMaskedLM(config)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "LayerNorm" in name or "layer_norm" in name:
                parameter.copy_(
                    1.0 + 0.1 * torch.randn_like(parameter)
                    if name.endswith("weight")
                    else 0.1 * torch.randn_like(parameter)
                )
            else:
                parameter.copy_(torch.randn_like(parameter) * (0.3 if parameter.dim() > 1 else 0.1))
        weight = model.esm.contact_head.regression.weight
        weight[torch.rand_like(weight) < 0.3] = 0.0  # zero heads, as an L1 fit leaves them
    return model.eval()


def write_tiny_hf(folder, kind: str = "esm2", **kwargs) -> Path:
    """:func:`tiny_hf_model` saved with ``save_pretrained`` (safetensors) into `folder`."""
    model = tiny_hf_model(kind, **kwargs)
    model.save_pretrained(str(folder))
    return Path(folder)


def _swap_row_column(key: str) -> str:
    """fair-esm's released MSA Transformer checkpoints name row attention ``column`` and vice versa.

    Its loader swaps the two words back (``esm.pretrained``, ``prs3``); the swap is its own
    inverse, so the writer applies the same one.
    """
    return key.replace("row", "column") if "row" in key else key.replace("column", "row")


def tiny_msa_transformer(
    layers=2, heads=4, embed_dim=32, max_positions=1024, max_tokens_per_msa=2**14, seed=3
):
    """A random fair-esm ``MSATransformer`` (row-position table of 1024 rows, dropout 0), in eval
    mode."""
    from esm.model.msa_transformer import MSATransformer

    torch.manual_seed(seed)
    args = Namespace(
        layers=layers,
        embed_dim=embed_dim,
        ffn_embed_dim=2 * embed_dim,
        attention_heads=heads,
        max_positions=max_positions,
        max_tokens_per_msa=max_tokens_per_msa,
        max_tokens=max_tokens_per_msa,
        dropout=0.0,
        attention_dropout=0.0,
        activation_dropout=0.0,
        embed_positions_msa=True,
    )
    model = MSATransformer(args, esm.Alphabet.from_architecture("msa_transformer"))
    with torch.no_grad():  # the default init is 0.01 * randn: make row positions matter
        model.msa_position_embedding.normal_()
    return model.eval()


def write_tiny_msa_transformer(
    folder,
    name="tiny_msa",
    layers=2,
    heads=4,
    embed_dim=32,
    max_positions=1024,
    max_tokens_per_msa=2**14,
    seed=3,
) -> Path:
    """An MSA Transformer (``msa_transformer``) checkpoint as fair-esm's released ones are laid out.

    ``encoder_``-prefixed args, ``encoder.sentence_encoder.``-prefixed state-dict keys with
    ``row`` and ``column`` swapped (before fair-esm's key upgrade), a separate regression.
    """
    model = tiny_msa_transformer(layers, heads, embed_dim, max_positions, max_tokens_per_msa, seed)
    args = Namespace(
        arch="msa_transformer",
        encoder_layers=layers,
        encoder_embed_dim=embed_dim,
        encoder_ffn_embed_dim=2 * embed_dim,
        encoder_attention_heads=heads,
        max_positions=max_positions,
        max_tokens_per_msa=max_tokens_per_msa,
        max_tokens=max_tokens_per_msa,
        dropout=0.0,
        attention_dropout=0.0,
        activation_dropout=0.0,
        embed_positions_msa=True,
    )
    state = {
        _swap_row_column(key): value
        for key, value in _body(model.state_dict(), "encoder.", "encoder.sentence_encoder.").items()
    }
    return _save(
        Path(folder), name, {"args": args, "model": state}, _regression(layers * heads, seed)
    )
