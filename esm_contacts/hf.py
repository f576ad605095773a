"""Hugging Face ESM checkpoints: load them for contact prediction, convert to and from fair-esm.

A Hugging Face ESM model is a directory with ``config.json`` and ``model.safetensors``
(or a sharded ``model.safetensors.index.json``), as ``save_pretrained`` writes it and as
the Hub serves ``facebook/esm1b_t33_650M_UR50S`` and ``facebook/esm2_*``. Weights are read
from safetensors only: a directory that holds only ``pytorch_model.bin`` (a pickle, which
can run code when loaded) is refused with that reason.

Prediction runs through ``transformers``' own ESM modules (:class:`HFContactModel`): the
embeddings, then one ``EsmLayer`` at a time with eager attention, each layer's attention
probabilities yielded to :func:`esm_contacts.attention.layer_attentions`'s callers and
dropped before the next layer runs, so the memory bound, the APC/regression code,
windows, batching and MSA ensembling are the fair-esm path's. Tokens come from fair-esm's
ESM-1b alphabet, which is the Hugging Face ESM vocabulary (checked against ``vocab.txt``
and the config). ``transformers`` is imported only when a Hugging Face model is used.

Conversion (:func:`fair_to_hf`, :func:`hf_to_fair`) maps the parameters by name (the
mapping of ``transformers``' ``convert_esm.py``, written here for both directions) without
building either model, so tensors keep their dtype and bits: fair-esm -> Hugging Face ->
fair-esm returns the same state dictionaries.
"""

import json
import os
import re
import shutil
import tempfile
from argparse import Namespace
from pathlib import Path
from types import SimpleNamespace
from typing import Dict, Iterator, List, Optional, Tuple, Union

import torch

from .catalog import OFFLINE_ENV, env_flag
from .checkpoints import CheckpointError, WeightsNotFoundError
from .messages import one_line

__all__ = [
    "HFContactModel",
    "is_hf_source",
    "hf_cache_dir",
    "hf_cache_state",
    "resolve_hf_model",
    "load_hf_model",
    "fair_to_hf",
    "hf_to_fair",
    "convert",
]

#: The files of a Hugging Face ESM model that are read here (never a pickle).
HF_FILES = [
    "config.json",
    "model.safetensors",
    "model.safetensors.index.json",
    "model-*.safetensors",
    "vocab.txt",
]
#: Pickled weight files a Hugging Face directory may hold instead of safetensors.
PICKLE_FILES = (
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
    "tf_model.h5",
    "flax_model.msgpack",
)
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
WEIGHT, BIAS = "contact_head.regression.weight", "contact_head.regression.bias"


# --- where a model is --------------------------------------------------------------------


def is_hf_source(name_or_path: Union[str, os.PathLike]) -> bool:
    """Whether a ``--model`` value names a Hugging Face model (a directory or a Hub ID).

    Parameters
    ----------
    name_or_path : str or path-like
        What the user gave as the model.

    Returns
    -------
    hf : bool
        True for a directory with ``config.json``, safetensors or pickled Hugging Face weights
        (the loader refuses the pickles with the reason), or text of the form ``owner/name``
        that is no existing path and does not end in ``.pt``.
    """
    from .files import file_kind

    text = str(name_or_path)
    path = Path(text).expanduser()
    kind = file_kind(path)  # never raises (a name too long for a path is "missing")
    if kind == "folder":
        return any(
            file_kind(path / name) != "missing"
            for name in ("config.json", "model.safetensors") + PICKLE_FILES
        )
    return kind == "missing" and not text.endswith(".pt") and bool(_HUB_ID.match(text))


def hf_cache_dir() -> Path:
    """The Hugging Face Hub cache, read from the environment at call time.

    Returns
    -------
    folder : Path
        ``$HF_HUB_CACHE``, else ``$HF_HOME/hub``, else ``~/.cache/huggingface/hub``.
    """
    explicit = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", "~/.cache"), "huggingface"
    )
    return Path(home).expanduser() / "hub"


def _offline_reason() -> Optional[str]:
    for variable in (OFFLINE_ENV, "HF_HUB_OFFLINE"):
        if env_flag(variable):
            return f"{variable} forbids downloads"
    return None


def _cached_snapshot(repo_id: str) -> Optional[Path]:
    """The cached snapshot folder of a Hub model, or None; never touches the network."""
    from huggingface_hub import snapshot_download

    try:
        return Path(
            snapshot_download(
                repo_id, cache_dir=hf_cache_dir(), local_files_only=True, allow_patterns=HF_FILES
            )
        )
    except Exception:  # LocalEntryNotFoundError, a malformed ID (HFValidationError), a broken cache
        return None


def hf_cache_state(repo_id: str) -> str:
    """What the Hugging Face cache holds of a Hub model, offline.

    Parameters
    ----------
    repo_id : str
        A Hub ID, e.g. ``"facebook/esm2_t33_650M_UR50D"``.

    Returns
    -------
    state : str
        ``"cached in FOLDER"`` (config and safetensors), ``"pickle only (pytorch_model.bin;
        refused)"``,
        ``"incomplete (...)"`` or ``"not downloaded"``.
    """
    folder = _cached_snapshot(repo_id)
    if folder is None:
        return "not downloaded"
    has_weights = (folder / "model.safetensors").is_file() or (
        folder / "model.safetensors.index.json"
    ).is_file()
    if (folder / "config.json").is_file() and has_weights:
        return f"cached in {folder}"
    if any((folder / name).exists() for name in PICKLE_FILES):
        return "pickle only (pytorch_model.bin; refused)"
    return f"incomplete ({'no config.json' if has_weights else 'no model.safetensors'} in {folder})"


def resolve_hf_model(name_or_path: Union[str, os.PathLike]) -> Path:
    """The local directory of a Hugging Face model: the directory itself, or a Hub ID's cached
    snapshot.

    A Hub ID absent from the cache is downloaded (safetensors and JSON files only) unless
    ``ESM_CONTACTS_OFFLINE`` or ``HF_HUB_OFFLINE`` is set; the download has timeouts, so an
    unreachable network ends in an error, not a hang.

    Parameters
    ----------
    name_or_path : str or path-like
        A directory or a Hub ID.

    Returns
    -------
    folder : Path

    Raises
    ------
    WeightsNotFoundError
        One line naming the ID, the cache folder and the reason.
    """
    from .files import file_kind

    path = Path(str(name_or_path)).expanduser()
    if file_kind(path) == "folder":
        return path
    repo_id = str(name_or_path)
    cached = _cached_snapshot(repo_id)
    if cached is not None:
        return cached
    cache = hf_cache_dir()
    advice = (
        f"download it where the network is reachable (hf download {repo_id} config.json"
        f" model.safetensors vocab.txt) into {cache} (or set HF_HUB_CACHE / HF_HOME), or pass a"
        " local directory with config.json and model.safetensors"
    )
    reason = _offline_reason()
    if reason:
        raise WeightsNotFoundError(
            f"{repo_id}: not a local directory, and no Hugging Face model of that ID is in the "
            f"cache {cache} ({reason}); {advice}"
        )
    from huggingface_hub import snapshot_download

    try:
        return Path(
            snapshot_download(repo_id, cache_dir=cache, allow_patterns=HF_FILES, etag_timeout=10)
        )
    except Exception as error:  # network, authentication, unknown repository
        raise WeightsNotFoundError(
            f"{repo_id}: not in the Hugging Face cache {cache} and the download failed "
            f"({type(error).__name__}: {one_line(str(error), 200)}); {advice}"
        ) from None


# --- reading a directory -----------------------------------------------------------------


def _read_config(folder: Path) -> dict:
    """``config.json`` of an ESM model (JSON: nothing runs), checked for what contacts need."""
    path = folder / "config.json"
    if not path.is_file():
        raise CheckpointError(f"{folder}: not a Hugging Face model directory (no config.json)")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{path}: not JSON ({one_line(str(error), 120)})") from None
    if not isinstance(config, dict) or config.get("model_type") != "esm":
        found = config.get("model_type") if isinstance(config, dict) else type(config).__name__
        raise CheckpointError(
            f"{path}: model_type {found!r}; contacts need an ESM model (model_type 'esm')"
        )
    if config.get("is_folding_model"):
        raise CheckpointError(
            f"{path}: an ESMFold model; contacts from attention need an ESM-1b or ESM-2 "
            "language model"
        )
    kind = config.get("position_embedding_type", "absolute")
    if kind not in ("absolute", "rotary"):
        raise CheckpointError(
            f"{path}: position_embedding_type {kind!r}; ESM-1b has 'absolute', ESM-2 'rotary'"
        )
    alphabet_checks = {"vocab_size": 33, "pad_token_id": 1, "mask_token_id": 32}
    for key, expected in alphabet_checks.items():
        if config.get(key, expected) != expected:
            raise CheckpointError(
                f"{path}: {key} is {config.get(key)!r}; the ESM alphabet has {expected}"
            )
    return config


def _check_vocab(folder: Path, alphabet) -> None:
    vocab = folder / "vocab.txt"
    if vocab.is_file():
        tokens = vocab.read_text(encoding="utf-8").split()
        if tokens != list(alphabet.all_toks):
            raise CheckpointError(
                f"{vocab}: the vocabulary is not the ESM-1b/ESM-2 alphabet "
                f"({len(tokens)} tokens; expected {len(alphabet.all_toks)} in fair-esm's order)"
            )


def _weight_files(folder: Path) -> List[Path]:
    """The safetensors files of a directory; a pickle-only directory is refused with the reason."""
    single = folder / "model.safetensors"
    if single.is_file():
        return [single]
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
            names = sorted(set(weight_map.values()))
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise CheckpointError(
                f"{index}: not a safetensors index ({type(error).__name__})"
            ) from None
        files = [folder / name for name in names]
        bad = [
            str(name)
            for name in names
            if "/" in name or "\\" in name or not (folder / name).is_file()
        ]
        if bad:
            raise CheckpointError(
                f"{index}: shard(s) missing or outside the directory: {', '.join(bad[:3])}"
            )
        return files
    pickles = [name for name in PICKLE_FILES if (folder / name).exists()]
    if pickles:
        raise CheckpointError(
            f"{folder}: holds {pickles[0]} but no model.safetensors; refused: {pickles[0]} is a"
            " pickle, and unpickling can run code, so Hugging Face weights are read from"
            " safetensors only. Download model.safetensors (the Hub's facebook/esm* models have"
            " it) or convert the file where you trust it."
        )
    raise WeightsNotFoundError(f"{folder}: no model.safetensors (nor model.safetensors.index.json)")


def _read_tensors(folder: Path) -> Dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    state: Dict[str, torch.Tensor] = {}
    for path in _weight_files(folder):
        try:
            state.update(load_file(str(path)))
        except (SafetensorError, OSError, ValueError) as error:
            raise CheckpointError(
                f"{path}: not a readable safetensors file ({one_line(str(error), 200)})"
            ) from None
    return state


def _normalized(key: str) -> str:
    """A parameter name as ``transformers`` builds it: the legacy ``LayerNorm.gamma/beta`` that
    ``save_pretrained`` writes are ``weight/bias``; a per-layer (or ``*``) rotary key is the shared
    one.
    """
    if key.endswith(".gamma") or key.endswith(".beta"):
        key = key.rsplit(".", 1)[0] + (".weight" if key.endswith(".gamma") else ".bias")
    if key.endswith("rotary_embeddings.inv_freq"):
        key = ("esm." if key.startswith("esm.") else "") + "rotary_embeddings.inv_freq"
    return key


# --- the model -----------------------------------------------------------------------------


class HFContactModel(torch.nn.Module):
    """A ``transformers`` ``EsmModel`` with the interface
    :class:`~esm_contacts.predictor.ContactPredictor` uses.

    Parameters
    ----------
    esm_model : transformers.EsmModel
        The loaded model (with its ``contact_head``), in eager attention.

    Attributes
    ----------
    esm : transformers.EsmModel
        With eager attention (the attention probabilities are needed).
    contact_head : torch.nn.Module
        The checkpoint's own ``EsmContactPredictionHead`` (its ``regression`` holds the weights).
    layers : list
        One item per transformer layer, each with ``self_attn.num_heads``.
    embed_dim, padding_idx, context : int
        Width, padding token and residues per forward pass.
    model_version : str
        ``"ESM-1b"`` (learned positions) or ``"ESM-2"`` (rotary).
    """

    def __init__(self, esm_model):
        super().__init__()
        config = esm_model.config
        self.esm = esm_model
        self.contact_head = esm_model.contact_head
        heads = SimpleNamespace(num_heads=int(config.num_attention_heads))
        # Not modules: the layers stay registered once, under esm.encoder.layer.
        self.layers = [SimpleNamespace(self_attn=heads) for _ in esm_model.encoder.layer]
        self.embed_dim = int(config.hidden_size)
        self.padding_idx = int(config.pad_token_id)
        self.model_version = "ESM-2" if config.position_embedding_type == "rotary" else "ESM-1b"
        # Learned positions start at padding_idx + 1 and cover BOS and EOS; rotary ones have
        # no limit, and 1022 residues is what ESM-2 was trained on.
        learned = int(config.max_position_embeddings) - self.padding_idx - 1 - 2
        self.context = max(1, min(1022, learned)) if self.model_version == "ESM-1b" else 1022

    @torch.no_grad()
    def layer_attentions(self, tokens: torch.Tensor) -> Iterator[Tuple[int, torch.Tensor]]:
        """Run the layers one at a time; yield ``(layer, attention (B, H, T, T))`` as fair-esm's
        loop does.

        The attention is valid until the next item is requested.

        Parameters
        ----------
        tokens : torch.Tensor, shape=(B, T)
            Token indices (fair-esm's alphabet, as the ESM tokenizer numbers them);
            ``padding_idx`` marks padding.

        Yields
        ------
        layer : int
            0-based layer index.
        attention : torch.Tensor, shape=(B, H, T, T)
            Attention probabilities of that layer.
        """
        esm = self.esm
        present = tokens.ne(self.padding_idx)
        x = esm.embeddings(input_ids=tokens, attention_mask=present.long())
        mask = None
        if not bool(present.all()):
            # The additive key mask of transformers' eager attention (what create_bidirectional_mask
            # builds).
            mask = torch.zeros(present.shape, dtype=x.dtype, device=x.device)
            mask = mask.masked_fill(~present, torch.finfo(x.dtype).min)[:, None, None, :]
        if (
            getattr(esm, "rotary_embeddings", None) is not None
        ):  # transformers >= 5: one rotary table, passed in
            positions = torch.arange(tokens.shape[1], device=tokens.device).unsqueeze(0)
            options = {"position_embeddings": esm.rotary_embeddings(x, positions)}
        elif hasattr(esm, "rotary_embeddings"):
            options = {"position_embeddings": None}
        else:  # transformers 4: rotary inside the attention; probabilities returned on request
            options = {"output_attentions": True}
        captured: List[torch.Tensor] = []
        for index, layer in enumerate(esm.encoder.layer):
            # The attention module returns (output, probabilities); the hook keeps the probabilities
            # of this layer only, and the layer loop stays transformers' own.
            hook = layer.attention.self.register_forward_hook(
                lambda _module, _inputs, output: captured.append(output[1])
            )
            try:
                x = layer(x, attention_mask=mask, **options)
            finally:
                hook.remove()
            x = x[0] if isinstance(x, tuple) else x
            attention = captured.pop()
            yield index, attention
            del attention


def _build_model(folder: Path):
    """``EsmModel.from_pretrained`` of a checked directory: safetensors only, eager attention, no
    network."""
    from transformers import EsmModel
    from transformers.utils import logging as hf_logging

    verbosity, bar = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()  # its load report goes through our own checks instead
    hf_logging.disable_progress_bar()
    try:
        model, info = EsmModel.from_pretrained(
            str(folder),
            use_safetensors=True,
            local_files_only=True,
            attn_implementation="eager",
            output_loading_info=True,
            add_pooling_layer=False,
        )
    except (OSError, RuntimeError, ValueError, TypeError, KeyError) as error:
        raise CheckpointError(
            f"{folder}: not a loadable ESM model ({type(error).__name__}: "
            f"{one_line(str(error), 300)})"
        ) from None
    finally:
        hf_logging.set_verbosity(verbosity)
        if bar:  # as the caller had it
            hf_logging.enable_progress_bar()
    missing = sorted(set(info.get("missing_keys", ())) - {"rotary_embeddings.inv_freq"})
    mismatched = list(info.get("mismatched_keys", ()))
    if mismatched or [key for key in missing if not key.startswith("contact_head.")]:
        what = (
            f"shapes differ: {mismatched[0]}" if mismatched else f"missing {', '.join(missing[:3])}"
        )
        raise CheckpointError(f"{folder}: weights do not fit config.json ({what})")
    return model.float(), [key for key in missing if key.startswith("contact_head.")]


def load_hf_model(
    name_or_path: Union[str, os.PathLike], regression: Optional[Union[str, os.PathLike]] = None
):
    """Build a Hugging Face ESM model for contact prediction, from a directory or a cached Hub ID.

    Parameters
    ----------
    name_or_path : str or Path
        A directory with ``config.json`` and ``model.safetensors``, or a Hub ID such as
        ``"facebook/esm2_t33_650M_UR50D"`` (see :func:`resolve_hf_model`).
    regression : str or Path, optional
        A ``*-contact-regression.pt`` file whose weights replace the checkpoint's contact head.

    Returns
    -------
    model : HFContactModel
        In eval mode, on the CPU.
    alphabet : esm.data.Alphabet
        fair-esm's ESM-1b alphabet (the Hugging Face ESM vocabulary).
    name : str
        The Hub ID, or the directory's name.

    Raises
    ------
    WeightsNotFoundError
        Not cached and not downloadable, no safetensors file, or no contact head and no
        `regression`.
    CheckpointError
        Not an ESM model, pickled weights only, weights that do not fit the config (one line naming
        the path).
    """
    import esm

    folder = resolve_hf_model(name_or_path)
    path = Path(str(name_or_path)).expanduser()
    name = path.name if folder == path else str(name_or_path)
    _read_config(folder)
    alphabet = esm.Alphabet.from_architecture("ESM-1b")
    _check_vocab(folder, alphabet)
    _weight_files(folder)  # a pickle-only directory is refused before transformers looks at it
    model, missing_head = _build_model(folder)
    if regression is None and missing_head:
        raise WeightsNotFoundError(
            f"{folder}: the checkpoint has no contact head ({WEIGHT}); without it the "
            "contacts would be random. Pass regression=PATH (--regression PATH)."
        )
    if regression is not None:
        _replace_regression(model, regression)
    return HFContactModel(model).eval(), alphabet, name


def _replace_regression(model, regression: Union[str, os.PathLike]) -> None:
    """Put a regression file's weights into the contact head, as fair-esm models get theirs."""
    from .regression import load_regression

    layers, heads = model.config.num_hidden_layers, model.config.num_attention_heads
    fitted = load_regression(regression, num_layers=layers, num_heads=heads)
    weight = torch.as_tensor(fitted.weight, dtype=torch.float32).reshape(1, -1)
    if weight.shape[1] != layers * heads:
        raise CheckpointError(
            f"{regression}: {weight.shape[1]} weights; the model has {layers} layers x {heads}"
            " heads"
        )
    with torch.no_grad():
        model.contact_head.regression.weight.copy_(weight)
        model.contact_head.regression.bias.fill_(float(fitted.bias))


# --- conversion ------------------------------------------------------------------------------

#: fair-esm layer parameter -> Hugging Face ``EsmLayer`` parameter (convert_esm.py's mapping).
_LAYER_MAP = {
    "self_attn.q_proj": "attention.self.query",
    "self_attn.k_proj": "attention.self.key",
    "self_attn.v_proj": "attention.self.value",
    "self_attn.out_proj": "attention.output.dense",
    "self_attn_layer_norm": "attention.LayerNorm",
    "fc1": "intermediate.dense",
    "fc2": "output.dense",
    "final_layer_norm": "LayerNorm",
}
#: fair-esm top-level parameter -> Hugging Face ``EsmForMaskedLM`` parameter.
_TOP_MAP = {
    "embed_tokens.weight": "esm.embeddings.word_embeddings.weight",
    "embed_positions.weight": "esm.embeddings.position_embeddings.weight",
    "emb_layer_norm_before.weight": "esm.embeddings.layer_norm.weight",
    "emb_layer_norm_before.bias": "esm.embeddings.layer_norm.bias",
    "emb_layer_norm_after.weight": "esm.encoder.emb_layer_norm_after.weight",
    "emb_layer_norm_after.bias": "esm.encoder.emb_layer_norm_after.bias",
    "lm_head.dense.weight": "lm_head.dense.weight",
    "lm_head.dense.bias": "lm_head.dense.bias",
    "lm_head.layer_norm.weight": "lm_head.layer_norm.weight",
    "lm_head.layer_norm.bias": "lm_head.layer_norm.bias",
    "lm_head.bias": "lm_head.bias",
    "lm_head.weight": "lm_head.decoder.weight",
    WEIGHT: "esm." + WEIGHT,
    BIAS: "esm." + BIAS,
}
_FAIR_LAYER = re.compile(r"^layers\.(\d+)\.(.+)\.(weight|bias)$")
_HF_LAYER = re.compile(r"^esm\.encoder\.layer\.(\d+)\.(.+)\.(weight|bias)$")
_ROTARY = re.compile(r"^layers\.(\d+)\.self_attn\.rot_emb\.inv_freq$")
HF_ROTARY = "esm.rotary_embeddings.inv_freq"
#: Prefixes of the released fair-esm checkpoints' keys (fair-esm strips them on loading).
_BODY_PREFIX, _LM_PREFIX = "encoder.sentence_encoder.", "encoder."


def _fair_key_to_hf(key: str) -> Optional[str]:
    if key in _TOP_MAP:
        return _TOP_MAP[key]
    match = _FAIR_LAYER.match(key)
    if match and match.group(2) in _LAYER_MAP:
        return f"esm.encoder.layer.{match.group(1)}.{_LAYER_MAP[match.group(2)]}.{match.group(3)}"
    return None


_TOP_BACK = {value: key for key, value in _TOP_MAP.items()}
_LAYER_BACK = {value: key for key, value in _LAYER_MAP.items()}


def _hf_key_to_fair(key: str) -> Optional[str]:
    if key in _TOP_BACK:
        return _TOP_BACK[key]
    match = _HF_LAYER.match(key)
    if match and match.group(2) in _LAYER_BACK:
        return f"layers.{match.group(1)}.{_LAYER_BACK[match.group(2)]}.{match.group(3)}"
    return None


def _strip_fair_prefix(key: str) -> str:
    for prefix in (_BODY_PREFIX, _LM_PREFIX):
        if key.startswith(prefix):
            return key[len(prefix) :]
    return key


def _read_fair(checkpoint: Path, regression: Optional[Path]):
    """A fair-esm checkpoint's state (prefixes stripped), its regression tensors and its shape,
    checked."""
    from .checkpoints import (
        check_regression_file,
        checkpoint_architecture,
        is_esm2_checkpoint,
        safe_load,
    )

    data = safe_load(checkpoint)
    layers, heads = checkpoint_architecture(checkpoint, data)
    if not is_esm2_checkpoint(data) and getattr(data.get("args"), "arch", None) != "roberta_large":
        raise CheckpointError(
            f"{checkpoint}: an ESM-1 checkpoint; Hugging Face has ESM-1b and ESM-2 only"
        )
    regression = regression or checkpoint.with_name(f"{checkpoint.stem}-contact-regression.pt")
    if not regression.is_file():
        raise WeightsNotFoundError(
            f"{regression}: contact-regression weights not found for {checkpoint}; give "
            "--regression PATH"
        )
    regression_data = safe_load(regression)
    check_regression_file(checkpoint, regression, regression_data, layers, heads)
    state = {_strip_fair_prefix(key): value for key, value in data["model"].items()}
    return data, state, regression_data["model"], layers, heads


def fair_to_hf(
    checkpoint: Union[str, os.PathLike],
    out: Union[str, os.PathLike],
    regression: Optional[Union[str, os.PathLike]] = None,
) -> Path:
    """Write a fair-esm ESM-1b or ESM-2 checkpoint as a Hugging Face ``EsmForMaskedLM`` directory.

    Parameters
    ----------
    checkpoint : str or Path
        A fair-esm ``.pt`` file or model name (torch hub cache).
    out : str or Path
        The directory to create (``config.json``, ``model.safetensors``, ``vocab.txt``); it must
        not exist. Written into a temporary directory beside it, renamed on success.
    regression : str or Path, optional
        The contact regression to include (default: ``NAME-contact-regression.pt`` beside the
        checkpoint).

    Returns
    -------
    out : Path
    """
    import esm
    from safetensors.torch import save_file

    from .catalog import KNOWN_MODELS
    from .checkpoints import fetch_weights, is_esm2_checkpoint

    if str(checkpoint) in KNOWN_MODELS:  # a fair-esm name: its files in the torch hub cache
        checkpoint, default_regression = fetch_weights(str(checkpoint))
        regression = regression or default_regression
    checkpoint = Path(checkpoint).expanduser()
    data, state, head, layers, heads = _read_fair(
        checkpoint, Path(regression).expanduser() if regression else None
    )
    state = {**state, WEIGHT: head[WEIGHT], BIAS: head[BIAS]}
    esm2 = is_esm2_checkpoint(data)
    tensors: Dict[str, torch.Tensor] = {}
    rotary = []
    for key, value in state.items():
        if _ROTARY.match(key):
            rotary.append(value)
            continue
        target = _fair_key_to_hf(key)
        if target is None:
            raise CheckpointError(
                f"{checkpoint}: parameter {key!r} has no Hugging Face counterpart"
            )
        tensors[target] = value
    if rotary:
        if any(not torch.equal(rotary[0], other) for other in rotary[1:]):
            raise CheckpointError(
                f"{checkpoint}: the layers' rotary frequencies differ; Hugging Face shares one"
            )
        tensors[HF_ROTARY] = rotary[0]
    embeddings = tensors["esm.embeddings.word_embeddings.weight"]
    tied = torch.equal(tensors.get("lm_head.decoder.weight", torch.empty(0)), embeddings)
    if tied:
        del tensors[
            "lm_head.decoder.weight"
        ]  # tied to the embeddings, as save_pretrained writes it
    embed_dim = tensors["esm.embeddings.word_embeddings.weight"].shape[1]
    config = {
        "architectures": ["EsmForMaskedLM"],
        "model_type": "esm",
        "vocab_size": 33,
        "hidden_size": int(embed_dim),
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "intermediate_size": int(tensors["esm.encoder.layer.0.intermediate.dense.weight"].shape[0]),
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0,
        "max_position_embeddings": (
            1026 if esm2 else int(tensors["esm.embeddings.position_embeddings.weight"].shape[0])
        ),
        "position_embedding_type": "rotary" if esm2 else "absolute",
        "emb_layer_norm_before": "esm.embeddings.layer_norm.weight" in tensors,
        "token_dropout": bool(_token_dropout(data)),
        "layer_norm_eps": 1e-5,  # torch's LayerNorm default, which fair-esm uses without apex
        "pad_token_id": 1,
        "mask_token_id": 32,
        "tie_word_embeddings": tied,
        "torch_dtype": (
            str(tensors["esm.embeddings.word_embeddings.weight"].dtype).replace("torch.", "")
        ),
    }
    vocab = "\n".join(esm.Alphabet.from_architecture("ESM-1b").all_toks) + "\n"

    def write(folder: Path) -> None:
        (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        (folder / "vocab.txt").write_text(vocab, encoding="utf-8")
        save_file(
            {key: value.contiguous() for key, value in tensors.items()},
            str(folder / "model.safetensors"),
            metadata={"format": "pt"},
        )

    return _write_directory(Path(out).expanduser(), write)


def _token_dropout(data: dict) -> bool:
    from .checkpoints import is_esm2_checkpoint

    holder = data["cfg"]["model"] if is_esm2_checkpoint(data) else data["args"]
    return bool(getattr(holder, "token_dropout", False))


def _write_directory(out: Path, write) -> Path:
    """Build a directory in a temporary sibling and rename it into place: never a half-written
    `out`."""
    if out.exists() or out.is_symlink():
        raise FileExistsError(
            f"{out}: already exists; remove it or choose another output directory"
        )
    if not out.parent.is_dir():
        raise FileNotFoundError(f"{out.parent}: no such directory")
    temporary = Path(
        tempfile.mkdtemp(prefix=f".{out.name}.esm-contacts-", suffix=".part", dir=out.parent)
    )
    try:
        write(temporary)
        os.chmod(temporary, 0o777 & ~_umask())
        os.rename(temporary, out)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return out


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def hf_to_fair(
    source: Union[str, os.PathLike],
    out: Union[str, os.PathLike],
    regression: Optional[Union[str, os.PathLike]] = None,
) -> Tuple[Path, Path]:
    """Write a Hugging Face ESM-1b or ESM-2 model as a fair-esm checkpoint and its contact
    regression.

    Parameters
    ----------
    source : str or Path
        A Hugging Face directory or cached Hub ID (safetensors only).
    out : str or Path
        The ``.pt`` file to write; the regression goes to ``STEM-contact-regression.pt`` beside it
        (each written to a temporary file and renamed).
    regression : str or Path, optional
        A ``*-contact-regression.pt`` file to write instead of the checkpoint's own contact head.

    Returns
    -------
    checkpoint, regression : Path
    """
    from .io import atomic_write

    folder = resolve_hf_model(source)
    config = _read_config(folder)
    state = {_normalized(key): value for key, value in _read_tensors(folder).items()}
    if not any(key.startswith("esm.") for key in state):  # an EsmModel: same names without "esm."
        state = {f"esm.{key}": value for key, value in state.items()}
    esm2 = config.get("position_embedding_type", "absolute") == "rotary"
    layers, heads, hidden = (
        int(config[key]) for key in ("num_hidden_layers", "num_attention_heads", "hidden_size")
    )
    if not esm2 and not config.get("emb_layer_norm_before"):
        raise CheckpointError(
            f"{folder}: learned positions without emb_layer_norm_before: not an ESM-1b model"
        )
    if esm2 and int(config.get("intermediate_size", 4 * hidden)) != 4 * hidden:
        raise CheckpointError(
            f"{folder}: intermediate_size {config.get('intermediate_size')}; fair-esm's ESM-2 has "
            f"4 x hidden_size = {4 * hidden}"
        )
    fair: Dict[str, torch.Tensor] = {}
    head: Dict[str, torch.Tensor] = {}
    inv_freq = None
    for key, value in state.items():
        if key.endswith(
            "rotary_embeddings.inv_freq"
        ):  # shared, or the old per-layer layout (all alike)
            inv_freq = value if inv_freq is None or key == HF_ROTARY else inv_freq
            continue
        if key == "esm.embeddings.position_ids" or key.startswith("esm.pooler."):
            continue
        target = _hf_key_to_fair(key)
        if target is None:
            raise CheckpointError(f"{folder}: parameter {key!r} has no fair-esm counterpart")
        (head if target.startswith("contact_head.") else fair)[target] = value
    if "lm_head.weight" not in fair and "lm_head.dense.weight" in fair:
        fair["lm_head.weight"] = fair["embed_tokens.weight"]  # tied
    if esm2:
        if inv_freq is None:
            dim = hidden // heads
            inv_freq = 1.0 / (10000 ** (torch.arange(0, dim, 2).float() / dim))
        for layer in range(layers):
            fair[f"layers.{layer}.self_attn.rot_emb.inv_freq"] = inv_freq
    if regression is not None:
        from .regression import load_regression

        fitted = load_regression(regression, num_layers=layers, num_heads=heads)
        head = {
            WEIGHT: torch.as_tensor(fitted.weight, dtype=torch.float32).reshape(1, -1),
            BIAS: torch.tensor([float(fitted.bias)], dtype=torch.float32),
        }
    if WEIGHT not in head or BIAS not in head:
        raise WeightsNotFoundError(
            f"{folder}: no contact head ({WEIGHT}) to write; give --regression PATH"
        )
    prefixed = {
        (_LM_PREFIX if key.startswith("lm_head") else _BODY_PREFIX) + key: value
        for key, value in fair.items()
    }
    if esm2:
        header = {
            "cfg": {
                "model": Namespace(
                    encoder_layers=layers,
                    encoder_embed_dim=hidden,
                    encoder_attention_heads=heads,
                    token_dropout=bool(config.get("token_dropout", False)),
                )
            }
        }
    else:
        positions = int(config["max_position_embeddings"]) - int(config.get("pad_token_id", 1)) - 1
        header = {
            "args": Namespace(
                arch="roberta_large",
                encoder_layers=layers,
                encoder_embed_dim=hidden,
                encoder_ffn_embed_dim=int(config.get("intermediate_size", 4 * hidden)),
                encoder_attention_heads=heads,
                max_positions=positions,
                token_dropout=bool(config.get("token_dropout", False)),
            )
        }
    out = Path(out).expanduser()
    if out.suffix != ".pt":
        raise ValueError(f"{out}: a fair-esm checkpoint's name ends in .pt")
    regression_out = out.with_name(f"{out.stem}-contact-regression.pt")
    with atomic_write(regression_out, "wb") as stream:
        torch.save({"model": head}, stream)
    with atomic_write(out, "wb") as stream:
        torch.save({**header, "model": prefixed}, stream)
    return out, regression_out


def convert(
    source: Union[str, os.PathLike],
    out: Union[str, os.PathLike],
    regression: Optional[Union[str, os.PathLike]] = None,
) -> List[Path]:
    """Convert between fair-esm and Hugging Face, the direction chosen by `source`.

    A ``.pt`` file becomes a Hugging Face directory (:func:`fair_to_hf`); a Hugging Face
    directory or Hub ID becomes a ``.pt`` checkpoint and its regression (:func:`hf_to_fair`).

    Parameters
    ----------
    source : str or Path
        A fair-esm ``.pt`` file or model name, a Hugging Face directory or Hub ID.
    out : str or Path
        The directory (from fair-esm) or ``.pt`` file (from Hugging Face) to write.
    regression : str or Path, optional
        A ``*-contact-regression.pt`` file to write as the contact head instead of the source's own.

    Returns
    -------
    written : list of Path
    """
    if is_hf_source(source):
        return list(hf_to_fair(source, out, regression))
    return [fair_to_hf(source, out, regression)]
