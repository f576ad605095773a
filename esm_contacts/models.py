"""Load ESM checkpoints safely: fair-esm model names (torch hub cache) or local ``.pt`` files.

fair-esm 2.0.0 calls ``torch.load`` with PyTorch's old default (``weights_only=False``)
and so cannot read its own checkpoints under PyTorch >= 2.6, where they hold an
``argparse.Namespace``. Here every checkpoint is read with ``weights_only=True`` and
only :class:`argparse.Namespace` allow-listed; the loaded dictionaries are then handed
to fair-esm's own ``load_model_and_alphabet_core``, which builds the model.
"""

import argparse
import os
import pickle
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional, Tuple, Union

import torch

__all__ = [
    "KNOWN_MODELS",
    "DEFAULT_MODEL",
    "ModelInfo",
    "WeightsNotFoundError",
    "UnsafeCheckpointError",
    "hub_paths",
    "is_cached",
    "safe_load",
    "load_model",
    "resolve_device",
    "UnknownModelError",
    "fetch_weights",
]

DEFAULT_MODEL = "esm1b_t33_650M_UR50S"
MODEL_URL = "https://dl.fbaipublicfiles.com/fair-esm/models/{name}.pt"
REGRESSION_URL = "https://dl.fbaipublicfiles.com/fair-esm/regression/{name}-contact-regression.pt"
#: Setting this environment variable to 1 forbids any download attempt.
OFFLINE_ENV = "ESM_CONTACTS_OFFLINE"
#: The only global a fair-esm checkpoint needs besides tensors and containers.
SAFE_GLOBALS = (argparse.Namespace,)

#: What a fair-esm checkpoint's pickle may name on a torch without
#: ``torch.serialization.safe_globals`` (before 2.5): the tensor rebuilders and containers
#: of torch's own weights-only allow-list, and ``argparse.Namespace``. Storage types are
#: resolved by ``torch.load`` itself before they reach the unpickler.
_LEGACY_GLOBALS = frozenset({
    ("argparse", "Namespace"),
    ("collections", "OrderedDict"),
    ("torch._utils", "_rebuild_tensor_v2"),
    ("torch._utils", "_rebuild_parameter"),
    ("torch._utils", "_rebuild_parameter_with_state"),
    ("torch", "Size"),
})


class _AllowListUnpickler(pickle.Unpickler):
    """An unpickler that resolves only :data:`_LEGACY_GLOBALS` and torch dtypes."""

    def find_class(self, module: str, name: str):
        if (module, name) in _LEGACY_GLOBALS or (module == "torch" and isinstance(getattr(torch, name, None), torch.dtype)):
            return super().find_class(module, name)
        # The same wording as torch's weights-only unpickler, so one handler reads both.
        raise pickle.UnpicklingError(f"Unsupported global: GLOBAL {module}.{name} was not an allowed global")


class _AllowListPickle:
    """``pickle_module`` for ``torch.load``: the standard module with the allow-list unpickler."""

    Unpickler = _AllowListUnpickler
    load = staticmethod(lambda file, **kwargs: _AllowListUnpickler(file, **kwargs).load())
    __name__ = "esm_contacts_allow_list_pickle"


def _load_restricted(path: Path):
    """``torch.load`` that can run no code, on any torch >= 2.1."""
    if hasattr(torch.serialization, "safe_globals"):  # torch >= 2.5
        with torch.serialization.safe_globals(list(SAFE_GLOBALS)):
            return torch.load(path, map_location="cpu", weights_only=True)
    # Older torch cannot allow-list Namespace for weights_only loading: unpickle through
    # our own allow-list instead (weights_only=False only hands torch our pickle module).
    return torch.load(path, map_location="cpu", weights_only=False, pickle_module=_AllowListPickle)


@dataclass(frozen=True)
class ModelInfo:
    """What a fair-esm model with a contact head is."""

    name: str
    family: str
    layers: int
    heads: int
    parameters: str
    context: int  # residues per forward pass (BOS/EOS excluded)


def _info(name: str, family: str, layers: int, heads: int, parameters: str) -> ModelInfo:
    return ModelInfo(name, family, layers, heads, parameters, 1022)


#: Every fair-esm model released with contact-regression weights
#: (ESM-1v and ESM-IF have none; the MSA Transformer takes alignments, not sequences).
KNOWN_MODELS: Dict[str, ModelInfo] = {
    info.name: info
    for info in (
        _info("esm1b_t33_650M_UR50S", "ESM-1b", 33, 20, "650M"),
        _info("esm1_t34_670M_UR50S", "ESM-1", 34, 20, "670M"),
        _info("esm1_t34_670M_UR50D", "ESM-1", 34, 20, "670M"),
        _info("esm1_t34_670M_UR100", "ESM-1", 34, 20, "670M"),
        _info("esm1_t12_85M_UR50S", "ESM-1", 12, 12, "85M"),
        _info("esm1_t6_43M_UR50S", "ESM-1", 6, 16, "43M"),
        _info("esm2_t6_8M_UR50D", "ESM-2", 6, 20, "8M"),
        _info("esm2_t12_35M_UR50D", "ESM-2", 12, 20, "35M"),
        _info("esm2_t30_150M_UR50D", "ESM-2", 30, 20, "150M"),
        _info("esm2_t33_650M_UR50D", "ESM-2", 33, 20, "650M"),
        _info("esm2_t36_3B_UR50D", "ESM-2", 36, 40, "3B"),
        _info("esm2_t48_15B_UR50D", "ESM-2", 48, 40, "15B"),
    )
}


class WeightsNotFoundError(FileNotFoundError):
    """The checkpoint or its contact-regression file is not on disk and cannot be fetched."""


class UnknownModelError(ValueError, KeyError):
    """A model name that is neither a fair-esm model with a contact head nor a file."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class UnsafeCheckpointError(ValueError):
    """A checkpoint needs a Python global outside the allow-list to be unpickled."""


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
    """Whether both files of a fair-esm model are already in the torch hub cache."""
    return all(path.is_file() for path in hub_paths(name))


def safe_load(path: Union[str, Path]) -> dict:
    """Read a fair-esm checkpoint without running code from it.

    Parameters
    ----------
    path : str or Path
        A ``.pt`` file.

    Returns
    -------
    data : dict
        The checkpoint's dictionary, tensors on the CPU.

    Raises
    ------
    UnsafeCheckpointError
        The file needs a global other than ``argparse.Namespace`` (it could run code).
    ValueError
        The file is not a readable checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsNotFoundError(f"{path}: no such checkpoint file")
    try:
        data = _load_restricted(path)
    except pickle.UnpicklingError as error:
        reason = str(error)
        if "global" in reason.lower():
            found = re.search(r"GLOBAL ([\w.]+)", reason)
            raise UnsafeCheckpointError(
                f"{path}: refused to load: the checkpoint needs the Python object "
                f"{found.group(1) if found else '(unknown)'} to be unpickled, and only argparse.Namespace is "
                "allowed (anything else could run code). fair-esm checkpoints need nothing "
                "else; this file was not written by fair-esm or by esm-contacts."
            ) from None
        raise ValueError(f"{path}: not a readable PyTorch checkpoint ({reason.splitlines()[0]})") from None
    except Exception as error:  # torch.load raises many types for files that are not checkpoints
        raise ValueError(f"{path}: not a readable PyTorch checkpoint ({type(error).__name__}: {error})") from None
    if not isinstance(data, dict) or "model" not in data:
        raise ValueError(f"{path}: not a fair-esm checkpoint (no 'model' state dict)")
    return data


def _download(url: str, destination: Path) -> None:
    """Fetch ``url`` into ``destination`` with a progress bar (torch hub's downloader)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    # A short probe first: offline machines answer (or time out) quickly here instead
    # of inside the downloader, which has no timeout.
    request = urllib.request.Request(url, method="HEAD")
    urllib.request.urlopen(request, timeout=10).close()
    torch.hub.download_url_to_file(url, str(destination), progress=True)


def _missing_weights_message(name: str, model_path: Path, regression_path: Path, reason: str) -> str:
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
        if os.environ.get(OFFLINE_ENV, "") not in ("", "0"):
            reason = f"{path.name} is not in the cache and {OFFLINE_ENV} forbids downloads"
            raise WeightsNotFoundError(_missing_weights_message(name, model_path, regression_path, reason))
        try:
            _download(url.format(name=name), path)
        except (urllib.error.URLError, OSError, RuntimeError) as error:
            reason = f"{path.name} is not in the cache and the download failed: {error}"
            raise WeightsNotFoundError(_missing_weights_message(name, model_path, regression_path, reason)) from None
    return model_path, regression_path


def _is_esm2(model_data: dict) -> bool:
    return "cfg" in model_data and "args" not in model_data


def load_model(name_or_path: Union[str, Path], regression: Optional[Union[str, Path]] = None):
    """Build a fair-esm model with its contact regression, from a name or a file.

    Parameters
    ----------
    name_or_path : str or Path
        A fair-esm model name (see :data:`KNOWN_MODELS`) or the path of a ``.pt``
        checkpoint in fair-esm's layout (ESM-1/ESM-1b ``args`` or ESM-2 ``cfg``).
    regression : str or Path, optional
        A ``*-contact-regression.pt`` file to use instead of the one that belongs to the
        checkpoint (``NAME-contact-regression.pt`` beside it or in the hub cache).

    Returns
    -------
    model : torch.nn.Module
        ``esm.ProteinBertModel`` or ``esm.model.esm2.ESM2`` in eval mode, on the CPU.
    alphabet : esm.data.Alphabet
    name : str
        The model's name (file stem for local checkpoints).
    """
    import esm.pretrained  # deferred: importing fair-esm is slow

    text = str(name_or_path)
    if text.endswith(".pt") or os.sep in text or Path(text).is_file():
        model_path = Path(text).expanduser()
        if not model_path.is_file():
            raise WeightsNotFoundError(f"{model_path}: no such checkpoint file")
        name = model_path.stem
        default_regression = model_path.with_name(f"{name}-contact-regression.pt")
    else:
        name = text
        model_path, default_regression = fetch_weights(name)
    regression_path = Path(regression).expanduser() if regression is not None else default_regression
    if not regression_path.is_file():
        raise WeightsNotFoundError(
            f"{regression_path}: contact-regression weights not found for {model_path}; "
            "without them the contact head would be random. Put the file there or pass "
            "regression=PATH (--regression PATH)."
        )
    model_data = safe_load(model_path)
    regression_data = safe_load(regression_path)
    # fair-esm picks the ESM-2 builder by the model name's prefix.
    core_name = name if not _is_esm2(model_data) or name.startswith("esm2") else f"esm2_{name}"
    try:
        model, alphabet = esm.pretrained.load_model_and_alphabet_core(core_name, model_data, regression_data)
    except (RuntimeError, KeyError, AttributeError, ValueError) as error:
        raise ValueError(f"{model_path}: not a usable fair-esm checkpoint ({error})") from None
    from esm.model.esm2 import ESM2

    if not isinstance(model, (esm.ProteinBertModel, ESM2)):
        # e.g. the MSA Transformer: its attention is over alignments, not one sequence.
        raise ValueError(f"{model_path}: a {type(model).__name__}; contacts from single sequences need an "
                         "ESM-1, ESM-1b or ESM-2 model")
    return model.eval(), alphabet, name


def resolve_device(device: Union[str, torch.device, None] = "auto") -> torch.device:
    """``"auto"``: CUDA, else Apple MPS, else CPU; anything else is passed to torch."""
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
            raise ValueError(f"device {device!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    if resolved.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ValueError(f"device {device!r} requested but Apple MPS is not available here")
    return resolved
