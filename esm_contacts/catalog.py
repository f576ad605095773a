"""The models esm-contacts knows by name, and the settings every part reads: no torch here.

The PyMOL plugin reads this module at start-up (the default model, the model list, whether a
model takes alignments), so it must stay importable without torch, fair-esm or Biotite.
"""

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional, Union

__all__ = [
    "DEFAULT_MODEL",
    "OFFLINE_ENV",
    "ModelInfo",
    "KNOWN_MODELS",
    "HUB_IDS",
    "model_info",
    "takes_alignments",
    "offline",
    "env_flag",
]

DEFAULT_MODEL = "esm1b_t33_650M_UR50S"
MODEL_URL = "https://dl.fbaipublicfiles.com/fair-esm/models/{name}.pt"
REGRESSION_URL = "https://dl.fbaipublicfiles.com/fair-esm/regression/{name}-contact-regression.pt"
#: Setting this environment variable to 1 forbids any download attempt.
OFFLINE_ENV = "ESM_CONTACTS_OFFLINE"


@dataclass(frozen=True)
class ModelInfo:
    """What a fair-esm model with a contact head is.

    Attributes
    ----------
    name : str
        fair-esm's model name, e.g. ``esm2_t6_8M_UR50D``.
    family : str
        ``ESM-1``, ``ESM-1b``, ``ESM-2`` or ``MSA Transformer``.
    layers : int
        Transformer layers.
    heads : int
        Attention heads per layer.
    parameters : str
        Size as fair-esm names it, e.g. ``650M``.
    context : int
        Residues per forward pass, BOS/EOS excluded (1022; 1023 per row for the MSA Transformer).
    hub_id : str or None
        The same weights on the Hugging Face Hub (safetensors), if published.
    """

    name: str
    family: str
    layers: int
    heads: int
    parameters: str
    context: int  # residues per forward pass (BOS/EOS excluded)
    hub_id: Optional[str] = (
        None  # the same weights on the Hugging Face Hub (safetensors), if published
    )


def _info(
    name: str, family: str, layers: int, heads: int, parameters: str, hub: bool = False
) -> ModelInfo:
    return ModelInfo(
        name, family, layers, heads, parameters, 1022, f"facebook/{name}" if hub else None
    )


#: Every fair-esm model released with contact-regression weights (ESM-1v and ESM-IF have none),
#: with its Hugging Face Hub ID where the Hub has it (ESM-1b and ESM-2, contact head included);
#: the MSA Transformer takes alignments (``ContactPredictor.predict_msa``).
KNOWN_MODELS: Dict[str, ModelInfo] = {
    info.name: info
    for info in (
        _info("esm1b_t33_650M_UR50S", "ESM-1b", 33, 20, "650M", hub=True),
        _info("esm1_t34_670M_UR50S", "ESM-1", 34, 20, "670M"),
        _info("esm1_t34_670M_UR50D", "ESM-1", 34, 20, "670M"),
        _info("esm1_t34_670M_UR100", "ESM-1", 34, 20, "670M"),
        _info("esm1_t12_85M_UR50S", "ESM-1", 12, 12, "85M"),
        _info("esm1_t6_43M_UR50S", "ESM-1", 6, 16, "43M"),
        _info("esm2_t6_8M_UR50D", "ESM-2", 6, 20, "8M", hub=True),
        _info("esm2_t12_35M_UR50D", "ESM-2", 12, 20, "35M", hub=True),
        _info("esm2_t30_150M_UR50D", "ESM-2", 30, 20, "150M", hub=True),
        _info("esm2_t33_650M_UR50D", "ESM-2", 33, 20, "650M", hub=True),
        _info("esm2_t36_3B_UR50D", "ESM-2", 36, 40, "3B", hub=True),
        _info("esm2_t48_15B_UR50D", "ESM-2", 48, 40, "15B", hub=True),
        # Alignments in (esm_contacts.msa_transformer); one BOS and no EOS: 1023 residues a row.
        ModelInfo("esm_msa1b_t12_100M_UR50S", "MSA Transformer", 12, 12, "100M", 1023),
    )
}
#: The Hub IDs of :data:`KNOWN_MODELS` (the same table, keyed by ``hub_id``).
HUB_IDS: Dict[str, ModelInfo] = {info.hub_id: info for info in KNOWN_MODELS.values() if info.hub_id}


def takes_alignments(name_or_path: Union[str, Path]) -> bool:
    """Whether a model name (or a checkpoint file named after one) is an MSA Transformer, before
    loading.

    Known names only (:data:`KNOWN_MODELS`); a loaded predictor knows for any checkpoint
    (``ContactPredictor.is_msa_transformer``).

    Parameters
    ----------
    name_or_path : str or Path
        A fair-esm model name, or the path of a ``.pt`` checkpoint whose file name is one.

    Returns
    -------
    msa : bool
        True for the MSA Transformer; False for sequence models and unknown names.

    Examples
    --------
    >>> takes_alignments("esm_msa1b_t12_100M_UR50S")
    True
    >>> takes_alignments("weights/esm_msa1b_t12_100M_UR50S.pt")
    True
    >>> takes_alignments("esm2_t6_8M_UR50D")
    False
    """
    text = str(name_or_path).strip()
    info = KNOWN_MODELS.get(text) or KNOWN_MODELS.get(
        Path(text).stem if text.endswith(".pt") else ""
    )
    return info is not None and info.family == "MSA Transformer"


def model_info(name: str) -> Optional[ModelInfo]:
    """The :data:`KNOWN_MODELS` entry of a fair-esm name or a Hugging Face Hub ID; None for others.

    Parameters
    ----------
    name : str
        A fair-esm model name (``esm2_t6_8M_UR50D``) or a Hub ID (``facebook/esm2_t6_8M_UR50D``).

    Returns
    -------
    info : ModelInfo or None
        The model's entry, or None when the name is not a known model.

    Examples
    --------
    >>> info = model_info("facebook/esm2_t6_8M_UR50D")
    >>> info.name, info.family, info.layers, info.heads
    ('esm2_t6_8M_UR50D', 'ESM-2', 6, 20)
    >>> model_info("my_model") is None
    True
    """
    return KNOWN_MODELS.get(str(name)) or HUB_IDS.get(str(name))


def env_flag(variable: str) -> bool:
    """Whether an on/off environment variable is on: set to anything but empty, 0, false, no or off.

    Parameters
    ----------
    variable : str
        The variable's name.

    Returns
    -------
    on : bool
        True when the variable is set to a value that does not mean off.
    """
    return os.environ.get(variable, "").strip().lower() not in ("", "0", "false", "no", "off")


def offline() -> bool:
    """Whether :data:`OFFLINE_ENV` forbids downloads (of weights and of PDB entries alike).

    Returns
    -------
    forbidden : bool
        True when no download may be attempted.
    """
    return env_flag(OFFLINE_ENV)
