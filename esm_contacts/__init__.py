"""Protein residue-residue contacts from ESM attention maps, checked against structures.

The public names are imported lazily so that ``import esm_contacts`` (and the PyMOL
plugin that imports it at start-up) does not pay for importing torch or fair-esm.
The export table is built from the modules' own ``__all__`` lists (read from their
source, without importing them), so the package and its modules cannot disagree.
No module is named like one of its exports: importing ``esm_contacts.validation``
sets the package attribute ``validation``, never ``validate``.
"""

import ast
import importlib
import re
from pathlib import Path
from typing import Any, Dict

__version__ = "0.1.0"

#: The modules whose ``__all__`` the package exports.
_MODULES = (
    "attention",
    "batch",
    "catalog",
    "checkpoints",
    "files",
    "hf",
    "io",
    "formats",
    "messages",
    "metrics",
    "models",
    "msa",
    "msa_transformer",
    "options",
    "progress",
    "plot",
    "predictor",
    "regression",
    "resources",
    "sequence",
    "structure",
    "validation",
)


def _module_all(module: str) -> list:
    """A module's ``__all__`` list literal, read from its source (a regular expression finds
    it: parsing whole modules would slow every ``import esm_contacts``)."""
    text = Path(__file__).with_name(f"{module}.py").read_text(encoding="utf-8")
    found = re.search(r"^__all__\s*=\s*(\[.*?\])", text, re.MULTILINE | re.DOTALL)
    if found is None:
        raise ImportError(f"esm_contacts.{module} has no literal __all__")
    return list(ast.literal_eval(found.group(1)))


def _export_table() -> Dict[str, str]:
    table: Dict[str, str] = {}
    for module in _MODULES:
        for name in _module_all(module):
            if name in table:
                raise ImportError(
                    f"{name!r} is exported by both esm_contacts.{table[name]} and"
                    f" esm_contacts.{module}"
                )
            if name in _MODULES:
                raise ImportError(f"esm_contacts.{module} exports {name!r}, the name of a module")
            table[name] = module
    return table


_EXPORTS = _export_table()

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'esm_contacts' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later accesses find it directly
    return value


def __dir__():
    return sorted(list(globals()) + __all__)
