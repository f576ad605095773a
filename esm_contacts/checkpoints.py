"""fair-esm checkpoint files: where they are cached, fetching them, reading them safely, checking
them.

fair-esm 2.0.0 calls ``torch.load`` with PyTorch's old default (``weights_only=False``)
and so cannot read its own checkpoints under PyTorch >= 2.6, where they hold an
``argparse.Namespace``. Here every checkpoint is read with ``weights_only=True`` and
only :class:`argparse.Namespace` allow-listed; every number a model is built from is
then checked against the file's tensors (:func:`checkpoint_architecture`) before
:mod:`esm_contacts.models` builds it.
"""

import argparse
import pickle
import pickletools
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Dict, Optional, Tuple, Union

import torch

from .catalog import KNOWN_MODELS, MODEL_URL, OFFLINE_ENV, REGRESSION_URL, offline
from .files import check_input_file
from .messages import one_line

__all__ = [
    "WeightsNotFoundError",
    "CheckpointError",
    "UnsafeCheckpointError",
    "UnknownModelError",
    "REGRESSION_WEIGHT_KEY",
    "REGRESSION_BIAS_KEY",
    "hub_paths",
    "is_cached",
    "cache_state",
    "safe_load",
    "fetch_weights",
    "is_esm2_checkpoint",
    "check_state_dict",
    "checkpoint_architecture",
    "check_regression_file",
]

#: The two tensors of a ``-contact-regression.pt`` file (fair-esm's ``ContactPredictionHead``).
REGRESSION_WEIGHT_KEY = "contact_head.regression.weight"
REGRESSION_BIAS_KEY = "contact_head.regression.bias"

#: The only global a fair-esm checkpoint needs besides tensors and containers.
SAFE_GLOBALS = (argparse.Namespace,)

#: What a fair-esm checkpoint's pickle may name on a torch without
#: ``torch.serialization.safe_globals`` (before 2.5): the tensor rebuilders and containers
#: of torch's own weights-only allow-list, and ``argparse.Namespace``. Storage types are
#: resolved by ``torch.load`` itself before they reach the unpickler.
_LEGACY_GLOBALS = frozenset(
    {
        ("argparse", "Namespace"),
        ("collections", "OrderedDict"),
        ("torch._utils", "_rebuild_tensor_v2"),
        ("torch._utils", "_rebuild_parameter"),
        ("torch._utils", "_rebuild_parameter_with_state"),
        ("torch", "Size"),
    }
)


class _AllowListUnpickler(pickle.Unpickler):
    """An unpickler that resolves only :data:`_LEGACY_GLOBALS` and torch dtypes."""

    def find_class(self, module: str, name: str):
        if (module, name) in _LEGACY_GLOBALS or (
            module == "torch" and isinstance(getattr(torch, name, None), torch.dtype)
        ):
            return super().find_class(module, name)
        # The same wording as torch's weights-only unpickler, so one handler reads both.
        raise pickle.UnpicklingError(
            f"Unsupported global: GLOBAL {module}.{name} was not an allowed global"
        )


class _AllowListPickle:
    """``pickle_module`` for ``torch.load``: the standard module with the allow-list unpickler."""

    Unpickler = _AllowListUnpickler
    load = staticmethod(lambda file, **kwargs: _AllowListUnpickler(file, **kwargs).load())
    __name__ = "esm_contacts_allow_list_pickle"


def _load_restricted(path: Path, mmap: bool = False):
    """``torch.load`` that can run no code, on any torch >= 2.1.

    With ``mmap``, tensors are views of the file's pages (read when first used, never
    copied into the heap); a file in the legacy (pre-zip) format cannot be mapped and is
    read whole.
    """
    try:
        return _torch_load(path, mmap)
    except RuntimeError as error:
        if mmap and "mmap" in str(error):  # legacy serialization: no memory mapping
            return _torch_load(path, False)
        raise


def _torch_load(path: Path, mmap: bool):
    extra = {"mmap": True} if mmap else {}
    if hasattr(torch.serialization, "safe_globals"):  # torch >= 2.5
        with torch.serialization.safe_globals(list(SAFE_GLOBALS)):
            return torch.load(path, map_location="cpu", weights_only=True, **extra)
    # Older torch cannot allow-list Namespace for weights_only loading: unpickle through
    # our own allow-list instead (weights_only=False only hands torch our pickle module).
    return torch.load(
        path, map_location="cpu", weights_only=False, pickle_module=_AllowListPickle, **extra
    )


class WeightsNotFoundError(FileNotFoundError):
    """The checkpoint or its contact-regression file is not on disk and cannot be fetched."""


class UnknownModelError(ValueError, KeyError):
    """A model name that is neither a fair-esm model with a contact head nor a file."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class CheckpointError(ValueError):
    """A checkpoint or contact-regression file whose content is not what fair-esm writes.

    Its message is one line that names the file.
    """


class UnsafeCheckpointError(CheckpointError):
    """A checkpoint needs a Python global (or pickle operation) outside the allow-list to be
    unpickled."""


def hub_paths(name: str) -> Tuple[Path, Path]:
    """Where torch hub keeps a fair-esm model and its contact regression.

    Parameters
    ----------
    name : str
        A fair-esm model name, e.g. ``"esm1b_t33_650M_UR50S"``.

    Returns
    -------
    model_path, regression_path : Path
        ``$TORCH_HOME/hub/checkpoints/NAME.pt`` and ``NAME-contact-regression.pt``.
    """
    folder = Path(torch.hub.get_dir()) / "checkpoints"
    return folder / f"{name}.pt", folder / f"{name}-contact-regression.pt"


def is_cached(name: str) -> bool:
    """Whether both files of a fair-esm model are already in the torch hub cache.

    Parameters
    ----------
    name : str
        A fair-esm model name, e.g. ``"esm1b_t33_650M_UR50S"``.

    Returns
    -------
    cached : bool
        True when :func:`cache_state` is ``"cached"`` (weights and regression both present).
    """
    return cache_state(name) == "cached"


def cache_state(name: str) -> str:
    """Which of a fair-esm model's two files the torch hub cache holds.

    Parameters
    ----------
    name : str
        A fair-esm model name, e.g. ``"esm1b_t33_650M_UR50S"``.

    Returns
    -------
    state : str
        ``"cached"`` (both files), ``"regression file missing"`` (the weights only: the
        contact head cannot be built), ``"model file missing"`` (the regression only) or
        ``"not downloaded"`` (neither). See :func:`hub_paths` for where they are looked for.
    """
    model_path, regression_path = hub_paths(name)
    states = {
        (True, True): "cached",
        (True, False): "regression file missing",
        (False, True): "model file missing",
        (False, False): "not downloaded",
    }
    return states[model_path.is_file(), regression_path.is_file()]


def safe_load(path: Union[str, Path], mmap: bool = False) -> dict:
    """Read a fair-esm checkpoint without running code from it.

    Parameters
    ----------
    path : str or Path
        A ``.pt`` file.
    mmap : bool
        Map the file's tensors instead of reading them (``torch.load(mmap=True)``): the
        checkpoint then costs no heap memory, and a model built with
        ``load_state_dict(assign=True)`` uses the mapped tensors as its weights. Rewriting
        the file in place while they are in use would change (or, truncated, break) them:
        replace checkpoints by renaming a new file over them.

    Returns
    -------
    data : dict
        The checkpoint's dictionary, tensors on the CPU.

    Raises
    ------
    UnsafeCheckpointError
        The file needs a global other than ``argparse.Namespace`` (it could run code).
    CheckpointError
        The file is not a readable checkpoint (a ValueError).
    InputFileError
        The path is a folder, FIFO, device or socket (never opened; a ValueError).
    """
    path = check_input_file(path, "checkpoint file", missing=WeightsNotFoundError)
    try:
        data = _load_restricted(path, mmap=mmap)
    except pickle.UnpicklingError as error:
        refused = _refused_by_unpickler(str(error))
        if refused:
            raise UnsafeCheckpointError(
                f"{path}: refused to load: the checkpoint needs {refused} to be unpickled, and only"
                " argparse.Namespace is allowed besides tensors and containers (anything else"
                " could run code); the file was not loaded, for safety. fair-esm checkpoints need"
                " nothing else; this file was not written by fair-esm or by esm-contacts."
            ) from None
        raise CheckpointError(
            f"{path}: not a readable PyTorch checkpoint ({one_line(str(error))})"
        ) from None
    except Exception as error:  # torch.load raises many types for files that are not checkpoints
        raise CheckpointError(
            f"{path}: not a readable PyTorch checkpoint ({type(error).__name__}: "
            f"{one_line(str(error))})"
        ) from None
    if not isinstance(data, dict) or "model" not in data:
        raise CheckpointError(f"{path}: not a fair-esm checkpoint (no 'model' state dict)")
    return data


def _refused_by_unpickler(reason: str) -> Optional[str]:
    """What a weights-only (or allow-list) unpickler refused, from its message; None if it refused
    nothing.

    torch's own text advises ``weights_only=False``, which would run the file's code:
    it is never passed on, only the name of what was refused.
    """
    found = re.search(r"GLOBAL ([\w.]+)", reason)
    if found:
        return f"the Python object {found.group(1)}"
    operand = re.search(r"Unsupported operand (\d+)", reason)
    if operand:
        opcode = pickletools.code2op.get(chr(int(operand.group(1))))
        return f"the pickle operation {opcode.name if opcode else operand.group(1)}"
    if "weights only" in reason.lower() or "weightsunpickler" in reason.lower():
        return "a pickle operation outside the safe subset"
    return None


def _download(url: str, destination: Path) -> None:
    """Fetch ``url`` into ``destination`` with a progress bar (torch hub's downloader)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    # A short probe first: offline machines answer (or time out) quickly here instead
    # of inside the downloader, which has no timeout.
    request = urllib.request.Request(url, method="HEAD")
    urllib.request.urlopen(request, timeout=10).close()
    torch.hub.download_url_to_file(url, str(destination), progress=True)


def _missing_weights_message(
    name: str, model_path: Path, regression_path: Path, reason: str
) -> str:
    return (
        f"the weights of {name} are not available ({reason}). Expected "
        f"{model_path} and {regression_path}. Download {MODEL_URL.format(name=name)} and "
        f"{REGRESSION_URL.format(name=name)} into {model_path.parent} (or set TORCH_HOME), "
        "or pass the path of a local .pt checkpoint."
    )


def fetch_weights(name: str) -> Tuple[Path, Path]:
    """Make sure a fair-esm model's two files are in the torch hub cache.

    Downloads the missing ones when the network answers (unless the environment
    variable ``ESM_CONTACTS_OFFLINE=1`` is set).

    Parameters
    ----------
    name : str
        A name from :data:`KNOWN_MODELS`.

    Returns
    -------
    model_path, regression_path : Path

    Raises
    ------
    UnknownModelError
        Unknown model name (the message lists the known ones); a ValueError and a KeyError.
    WeightsNotFoundError
        The files are absent and could not be downloaded.
    """
    if name not in KNOWN_MODELS:
        raise UnknownModelError(
            f"unknown model {name!r}; known models: {', '.join(KNOWN_MODELS)} "
            "(or give the path of a .pt checkpoint)"
        )
    model_path, regression_path = hub_paths(name)
    for url, path in ((MODEL_URL, model_path), (REGRESSION_URL, regression_path)):
        if path.is_file():
            continue
        if offline():
            reason = f"{path.name} is not in the cache and {OFFLINE_ENV} forbids downloads"
            raise WeightsNotFoundError(
                _missing_weights_message(name, model_path, regression_path, reason)
            )
        try:
            _download(url.format(name=name), path)
        except (urllib.error.URLError, OSError, RuntimeError) as error:
            reason = f"{path.name} is not in the cache and the download failed: {error}"
            raise WeightsNotFoundError(
                _missing_weights_message(name, model_path, regression_path, reason)
            ) from None
    return model_path, regression_path


def is_esm2_checkpoint(model_data: dict) -> bool:
    return "cfg" in model_data and "args" not in model_data


#: fair-esm architectures of single-sequence models with a contact head (ESM-2 has ``cfg``).
_ARCHITECTURES = {"roberta_large": "encoder_", "protein_bert_base": "decoder_"}
_LAYER_INDEX = re.compile(r"(?:^|\.)layers\.(\d+)\.")


def check_state_dict(path: Path, state, what: str) -> Dict[str, torch.Tensor]:
    """A checkpoint's ``"model"``: a dictionary of parameter names to tensors, else CheckpointError.

    Parameters
    ----------
    path : Path
        The file it was read from (named in the message).
    state : object
        The value of the checkpoint's ``"model"`` key.
    what : str
        What the file is, for the message (``"checkpoint"``, ``"contact regression"``).

    Returns
    -------
    state : dict of str to torch.Tensor
        `state` itself, once checked.

    Raises
    ------
    CheckpointError
        `state` is not a dictionary, or maps a key that is not a str or to a value that
        is not a tensor.
    """
    if not isinstance(state, dict):
        raise CheckpointError(
            f"{path}: {what}: 'model' is a {type(state).__name__}, not a dictionary of tensors"
        )
    for key, value in state.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise CheckpointError(
                f"{path}: {what}: 'model' maps {one_line(repr(key), 60)} to a "
                f"{type(value).__name__}; expected parameter names mapped to tensors"
            )
    return state


def _positive_int(path: Path, holder, field: str) -> int:
    value = getattr(holder, field, None)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise CheckpointError(
            f"{path}: {field} is {one_line(repr(value), 60)}; expected a positive whole number"
        )
    return value


def _tensor_shape(path: Path, state: Dict[str, torch.Tensor], suffix: str) -> Tuple[int, ...]:
    found = [key for key in state if key.endswith(suffix)]
    if len(found) != 1:
        raise CheckpointError(
            f"{path}: {'no' if not found else 'several'} '{suffix}' parameter(s) in 'model'"
        )
    return tuple(state[found[0]].shape)


def checkpoint_architecture(path: Path, data: dict) -> Tuple[int, int]:
    """(layers, heads) of a checkpoint, after checking its hyper-parameters against its tensors.

    Every number the model is built from must agree with the tensors of the file, so a
    crafted header cannot make fair-esm build a model larger than the file (memory) or
    index past a tensor (IndexError).

    Parameters
    ----------
    path : Path
        The checkpoint file (named in messages).
    data : dict
        Its content as :func:`safe_load` returns it, with a ``"model"`` state dictionary
        and ``"args"`` (ESM-1, ESM-1b, MSA Transformer) or ``"cfg"`` (ESM-2).

    Returns
    -------
    layers : int
        Transformer layers.
    heads : int
        Attention heads per layer.

    Raises
    ------
    CheckpointError
        An unknown architecture, a missing or non-positive hyper-parameter, or a tensor
        whose shape or count disagrees with the header.
    """
    import esm

    state = check_state_dict(path, data["model"], "checkpoint")
    if is_esm2_checkpoint(data):
        cfg = data["cfg"]
        holder = cfg.get("model") if isinstance(cfg, dict) else None
        if not isinstance(holder, argparse.Namespace):
            found = (
                f"a dictionary whose 'model' is a {type(holder).__name__}"
                if isinstance(cfg, dict)
                else f"a {type(cfg).__name__}"
            )
            raise CheckpointError(
                f"{path}: 'cfg' is not fair-esm's ESM-2 configuration (a dictionary whose 'model' "
                f"is an argparse.Namespace); found {found}"
            )
        prefix, ffn, arch = "encoder_", None, "ESM-1b"  # ESM-2 uses the ESM-1b alphabet
    else:
        holder = data.get("args")
        arch = getattr(holder, "arch", None) if isinstance(holder, argparse.Namespace) else None
        if arch == "msa_transformer":
            return _msa_architecture(path, holder, state)
        if arch not in _ARCHITECTURES:
            raise CheckpointError(
                f"{path}: architecture {one_line(repr(arch), 60)}: contacts need an ESM-1 "
                f"({'protein_bert_base'}), ESM-1b (roberta_large), ESM-2 (cfg) or MSA Transformer "
                "(msa_transformer) checkpoint"
            )
        prefix = _ARCHITECTURES[arch]
        ffn = _positive_int(path, holder, prefix + "ffn_embed_dim")
    layers = _positive_int(path, holder, prefix + "layers")
    embed_dim = _positive_int(path, holder, prefix + "embed_dim")
    heads = _positive_int(path, holder, prefix + "attention_heads")
    if embed_dim % heads:
        raise CheckpointError(
            f"{path}: embedding size {embed_dim} is not a multiple of the {heads} attention heads"
        )
    tokens = _tensor_shape(path, state, "embed_tokens.weight")
    letters = len(esm.Alphabet.from_architecture(arch))
    if tokens != (letters, embed_dim):
        raise CheckpointError(
            f"{path}: embed_tokens.weight has shape {tokens}; the header implies "
            f"{(letters, embed_dim)} ({letters} tokens, embedding size {embed_dim})"
        )
    found = {int(match.group(1)) for key in state for match in [_LAYER_INDEX.search(key)] if match}
    if found != set(range(layers)):
        raise CheckpointError(
            f"{path}: the header says {layers} layers but 'model' has tensors of "
            f"{len(found)} (indices {min(found, default=0)}..{max(found, default=-1)})"
        )
    fc1 = _tensor_shape(path, state, "layers.0.fc1.weight")
    if fc1 != ((ffn or 4 * embed_dim), embed_dim):
        raise CheckpointError(
            f"{path}: layers.0.fc1.weight has shape {fc1}; the header implies "
            f"{(ffn or 4 * embed_dim, embed_dim)}"
        )
    if prefix == "encoder_" and not is_esm2_checkpoint(data):
        positions = _tensor_shape(path, state, "embed_positions.weight")
        max_positions = _positive_int(path, holder, "max_positions")
        if positions[0] < max_positions:
            raise CheckpointError(
                f"{path}: embed_positions.weight has {positions[0]} rows; the header says "
                f"max_positions {max_positions}"
            )
    return layers, heads


def _msa_architecture(
    path: Path, holder: argparse.Namespace, state: Dict[str, torch.Tensor]
) -> Tuple[int, int]:
    """(layers, heads) of an MSA Transformer checkpoint, its header checked against its tensors.

    The hyper-parameters are read as fair-esm's loader reads them (an ``encoder_`` prefix
    removed), so a header either way round is checked as it will be built.
    """
    import esm

    args = argparse.Namespace(
        **{
            ("".join(key.split("encoder_")[1:]) if "encoder" in key else key): value
            for key, value in vars(holder).items()
        }
    )
    layers = _positive_int(path, args, "layers")
    embed_dim = _positive_int(path, args, "embed_dim")
    heads = _positive_int(path, args, "attention_heads")
    ffn = _positive_int(path, args, "ffn_embed_dim")
    max_positions = _positive_int(path, args, "max_positions")
    if embed_dim % heads:
        raise CheckpointError(
            f"{path}: embedding size {embed_dim} is not a multiple of the {heads} attention heads"
        )
    letters = len(esm.Alphabet.from_architecture("msa_transformer"))
    expected = {
        "embed_tokens.weight": (letters, embed_dim),
        "layers.0.feed_forward_layer.layer.fc1.weight": (ffn, embed_dim),
    }
    for suffix, shape in expected.items():
        found = _tensor_shape(path, state, suffix)
        if found != shape:
            raise CheckpointError(f"{path}: {suffix} has shape {found}; the header implies {shape}")
    found = {int(match.group(1)) for key in state for match in [_LAYER_INDEX.search(key)] if match}
    if found != set(range(layers)):
        raise CheckpointError(
            f"{path}: the header says {layers} layers but 'model' has tensors of "
            f"{len(found)} (indices {min(found, default=0)}..{max(found, default=-1)})"
        )
    positions = _tensor_shape(path, state, "embed_positions.weight")
    if positions[0] < max_positions:
        raise CheckpointError(
            f"{path}: embed_positions.weight has {positions[0]} rows; the header says "
            f"max_positions {max_positions}"
        )
    if getattr(args, "embed_positions_msa", False):
        rows = _tensor_shape(path, state, "msa_position_embedding")
        if len(rows) != 4 or rows[:3] != (1, 1024, 1):
            raise CheckpointError(
                f"{path}: msa_position_embedding has shape {rows}; fair-esm's MSA Transformer "
                "has (1, 1024, 1, width)"
            )
    return layers, heads


def check_regression_file(
    path: Path, regression_path: Path, data: dict, layers: int, heads: int
) -> None:
    """The regression file holds one weight per attention map of the model, and a bias.

    Parameters
    ----------
    path : Path
        The model's checkpoint file (named in the message).
    regression_path : Path
        The contact-regression file.
    data : dict
        The regression file's content, with a ``"model"`` state dictionary.
    layers : int
        Layers of the model.
    heads : int
        Attention heads per layer of the model.

    Raises
    ------
    CheckpointError
        The file lacks the weight or bias, or their shapes are not (1, layers * heads) and (1,).
    """
    state = check_state_dict(regression_path, data["model"], "contact regression")
    if REGRESSION_WEIGHT_KEY not in state or REGRESSION_BIAS_KEY not in state:
        raise CheckpointError(
            f"{regression_path}: not a contact-regression file (needs {REGRESSION_WEIGHT_KEY} and"
            f" {REGRESSION_BIAS_KEY})"
        )
    weight, bias = (
        tuple(state[REGRESSION_WEIGHT_KEY].shape),
        tuple(state[REGRESSION_BIAS_KEY].shape),
    )
    if weight != (1, layers * heads) or bias != (1,):
        raise CheckpointError(
            f"{regression_path}: contact regression of shape weight {weight}, bias {bias}, but"
            f" {path} has {layers} layers x {heads} heads (needs weight {(1, layers * heads)}, bias"
            " (1,)): the regression of another model?"
        )
