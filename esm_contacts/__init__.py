"""Protein residue-residue contacts from ESM attention maps, checked against structures.

The public names are imported lazily so that ``import esm_contacts`` (and the PyMOL
plugin that imports it at start-up) does not pay for importing torch or fair-esm.
"""

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "ContactPredictor": "predictor",
    "load_structure": "structure",
    "chain_ids": "structure",
    "entity_sequence": "structure",
    "prediction_sequence": "structure",
    "chain_sequence": "structure",
    "residue_identities": "structure",
    "map_sequence": "structure",
    "true_contacts": "structure",
    "interchain_contacts": "structure",
    "homodimer_partners": "structure",
    "homodimer_contacts": "structure",
    "load_assembly": "structure",
    "list_assemblies": "structure",
    "cb_coordinates": "structure",
    "evaluate": "metrics",
    "evaluate_set": "metrics",
    "format_table": "metrics",
    "calibration": "metrics",
    "false_positive_distances": "metrics",
    "homodimer_explained": "metrics",
    "read_msa": "msa",
    "select_sequences": "msa",
    "ContactRegression": "regression",
    "load_regression": "regression",
    "train_regression": "regression",
    "validate": "validate",
    "plot_contact_map": "plot",
    "plot_residue_support": "plot",
    "plot_head_weights": "plot",
    "read_contacts": "io",
    "write_contacts": "io",
    "write_pairs": "io",
    "MemoryLimitError": "resources",
    "estimate_memory": "resources",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'esm_contacts' has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__():
    return sorted(list(globals()) + __all__)
