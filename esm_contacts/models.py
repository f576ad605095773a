"""Build ESM models from checkpoints: fair-esm names (torch hub cache), local ``.pt`` files or
Hugging Face models, at one model's memory.

The checkpoint is memory-mapped through the safe loader (:mod:`esm_contacts.checkpoints`),
the model is built with its parameters on PyTorch's meta device and the file's tensors are
assigned to it, so loading never holds two copies of the weights.
"""

import contextlib
import os
from pathlib import Path
from typing import Optional, Union

import torch

from .catalog import HUB_IDS
from .checkpoints import (
    CheckpointError,
    WeightsNotFoundError,
    check_regression_file,
    checkpoint_architecture,
    fetch_weights,
    is_esm2_checkpoint,
    safe_load,
)
from .files import check_input_file, file_kind
from .messages import one_line

__all__ = ["load_model", "resolve_device"]


@contextlib.contextmanager
def _parameters_on_meta():
    """Modules built inside get their parameters on the meta device (no memory); buffers stay real.

    Each parameter is created (and initialised) as usual and moved to meta as it is
    registered, so at most one parameter is ever allocated; buffers (positional tables,
    rotary frequencies) may be absent from a checkpoint and are kept as built.
    """
    original = torch.nn.Module.register_parameter

    def register(module, name, param):
        if param is not None and param.device.type != "meta":
            param = torch.nn.Parameter(param.to("meta"), requires_grad=param.requires_grad)
        original(module, name, param)

    torch.nn.Module.register_parameter = register
    try:
        yield
    finally:
        torch.nn.Module.register_parameter = original


def _build_model(name: str, model_data: dict, regression_data: dict):
    """fair-esm's ``load_model_and_alphabet_core`` at one model's memory.

    The model is built with its parameters on the meta device and the checkpoint's tensors
    (memory-mapped) are assigned to it (``load_state_dict(assign=True)``), instead of
    allocating random weights and copying the checkpoint into them: the load peak is one
    model, not two. Every key must match (strict), as fair-esm requires with a regression.
    """
    import esm.pretrained

    model_data["model"].update(regression_data["model"])
    # fair-esm picks the ESM-2 builder by the model name's prefix.
    with _parameters_on_meta():
        if is_esm2_checkpoint(model_data):
            model, alphabet, state = esm.pretrained._load_model_and_alphabet_core_v2(model_data)
        else:
            model, alphabet, state = esm.pretrained._load_model_and_alphabet_core_v1(model_data)
    model.load_state_dict(state, strict=True, assign=True)
    left = [
        key
        for key, tensor in list(model.named_parameters()) + list(model.named_buffers())
        if tensor.is_meta
    ]
    if left:
        raise RuntimeError(f"no weights for {', '.join(left[:5])}")
    _retie(model)
    return model, alphabet


def _retie(model) -> None:
    """Tie the ESM-1b language-model head to the token embedding again, as fair-esm builds it.

    ``assign=True`` replaces parameters one by one, which unties weights shared in the module
    (``lm_head.weight is embed_tokens.weight``); the checkpoint holds the same values in both.
    """
    head, embed = getattr(model, "lm_head", None), getattr(model, "embed_tokens", None)
    if head is not None and embed is not None and getattr(head, "weight", None) is not None:
        if head.weight.shape == embed.weight.shape and torch.equal(head.weight, embed.weight):
            head.weight = embed.weight


def load_model(name_or_path: Union[str, Path], regression: Optional[Union[str, Path]] = None):
    """Build a fair-esm model with its contact regression, from a name or a file.

    Hugging Face models (a Hub ID or a directory with ``config.json`` and
    ``model.safetensors``) go to :func:`esm_contacts.hf.load_hf_model`.

    Parameters
    ----------
    name_or_path : str or Path
        A fair-esm model name (see :data:`KNOWN_MODELS`), the path of a ``.pt``
        checkpoint in fair-esm's layout (ESM-1/ESM-1b/MSA Transformer ``args`` or ESM-2
        ``cfg``), a Hugging Face Hub ID (``facebook/esm2_t33_650M_UR50D``) or model directory.
    regression : str or Path, optional
        A ``*-contact-regression.pt`` file to use instead of the one that belongs to the
        checkpoint (``NAME-contact-regression.pt`` beside it or in the hub cache).

    Returns
    -------
    model : torch.nn.Module
        ``esm.ProteinBertModel``, ``esm.model.esm2.ESM2`` or ``esm.MSATransformer`` in eval mode, on
        the CPU. An MSA Transformer's state dict is renamed as fair-esm's loader renames it
        (its released checkpoints swap ``row`` and ``column`` in the attention names).
    alphabet : esm.data.Alphabet
    name : str
        The model's name (file stem for local checkpoints).

    Raises
    ------
    WeightsNotFoundError
        A file is missing (a FileNotFoundError).
    CheckpointError
        A file is not a fair-esm checkpoint or regression of this model: its structure
        (keys, types, tensor shapes against the architecture) is checked before the
        model is built; one line naming the file (a ValueError).
    """
    if isinstance(name_or_path, (str, os.PathLike)) and _is_hf_source(name_or_path):
        from .hf import load_hf_model

        return load_hf_model(name_or_path, regression=regression)
    import esm.pretrained  # deferred: importing fair-esm is slow

    if not isinstance(name_or_path, (str, os.PathLike)):
        raise TypeError(
            f"expected a model name or checkpoint path, got {type(name_or_path).__name__}"
        )
    if regression is not None and not isinstance(regression, (str, os.PathLike)):
        raise TypeError(
            f"expected the path of a contact-regression file, got {type(regression).__name__}"
        )
    text = str(name_or_path)
    if text.endswith(".pt") or os.sep in text or file_kind(text) != "missing":
        model_path = check_input_file(
            Path(text).expanduser(), "checkpoint file", missing=WeightsNotFoundError
        )
        name = model_path.stem
        default_regression = model_path.with_name(f"{name}-contact-regression.pt")
    else:
        name = text
        model_path, default_regression = fetch_weights(name)
    regression_path = (
        Path(regression).expanduser() if regression is not None else default_regression
    )
    if file_kind(regression_path) == "missing":
        raise WeightsNotFoundError(
            f"{regression_path}: contact-regression weights not found for {model_path}; "
            "without them the contact head would be random. Put the file there or pass "
            "regression=PATH (--regression PATH)."
        )
    model_data = safe_load(
        model_path, mmap=True
    )  # the weights stay in the file's pages: one model's memory
    regression_data = safe_load(
        regression_path
    )  # small; read whole, so rewriting it never touches a loaded model
    layers, heads = checkpoint_architecture(model_path, model_data)
    check_regression_file(model_path, regression_path, regression_data, layers, heads)
    try:
        model, alphabet = _build_model(name, model_data, regression_data)
    except (
        Exception
    ) as error:  # what the checks above let through: still one line, never a traceback
        raise CheckpointError(
            f"{model_path}: not a usable fair-esm checkpoint ({type(error).__name__}: "
            f"{one_line(str(error))})"
        ) from None
    from esm.model.esm2 import ESM2

    if not isinstance(model, (esm.ProteinBertModel, ESM2, esm.MSATransformer)):
        raise CheckpointError(
            f"{model_path}: a {type(model).__name__}; contacts need an ESM-1, ESM-1b, ESM-2 or "
            "MSA Transformer model"
        )
    return model.eval(), alphabet, name


def _is_hf_source(name_or_path) -> bool:
    """A Hugging Face directory or Hub ID (:func:`esm_contacts.hf.is_hf_source`), or a Hub ID of
    the table."""
    from .hf import is_hf_source

    return str(name_or_path) in HUB_IDS or is_hf_source(name_or_path)


def resolve_device(device: Union[str, torch.device, None] = "auto") -> torch.device:
    """``"auto"``: CUDA, else Apple MPS, else CPU; anything else is passed to torch.

    Parameters
    ----------
    device : str or torch.device or None
        ``"auto"`` (or None), ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``.

    Returns
    -------
    device : torch.device
        A device this machine has.

    Raises
    ------
    ValueError
        A device torch does not parse, a type other than CPU, CUDA and MPS, or one that is
        not available here (a CUDA index beyond the devices present).

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if device is None or str(device) == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as error:
        raise ValueError(f"invalid device {device!r}: {error}") from None
    if resolved.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device {device!r}: use auto, cpu, cuda, cuda:N or mps")
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {device!r} requested but CUDA is not available here")
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ValueError(
                f"device {device!r}: this machine has {torch.cuda.device_count()} CUDA device(s)"
            )
    if resolved.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ValueError(f"device {device!r} requested but Apple MPS is not available here")
    return resolved
