"""The package's public names (issue 9 section 4): one object per name, on every access."""

import importlib
import inspect
import pkgutil
import subprocess
import sys
import types

import pytest

import esm_contacts


def _import_every_module():
    for info in pkgutil.iter_modules(esm_contacts.__path__):
        if info.name != "__main__":
            importlib.import_module(f"esm_contacts.{info.name}")


def test_validate_is_the_function_on_every_access():
    first = esm_contacts.validate
    importlib.import_module(
        "esm_contacts.validation"
    )  # sets the package attribute "validation", not "validate"

    _import_every_module()
    for _ in range(3):
        assert esm_contacts.validate is first
        assert callable(esm_contacts.validate) and not isinstance(
            esm_contacts.validate, types.ModuleType
        )
    assert inspect.signature(esm_contacts.validate).parameters["P"]


def test_every_export_is_one_object_on_repeated_access():
    _import_every_module()
    for name in esm_contacts.__all__:
        first = getattr(esm_contacts, name)
        assert not isinstance(first, types.ModuleType), name
        assert getattr(esm_contacts, name) is first, name
        module = importlib.import_module(f"esm_contacts.{esm_contacts._EXPORTS[name]}")
        assert getattr(module, name) is first, name


def test_exports_agree_with_the_modules_all():
    exported = set(esm_contacts.__all__)
    listed = set()
    for module in esm_contacts._MODULES:
        names = importlib.import_module(f"esm_contacts.{module}").__all__
        listed.update(names)
        for name in names:
            assert hasattr(importlib.import_module(f"esm_contacts.{module}"), name), (module, name)
    assert exported == listed
    # Every library module (all but the command line) is in the table.
    modules = {info.name for info in pkgutil.iter_modules(esm_contacts.__path__)} - {
        "cli",
        "__main__",
    }
    assert modules == set(esm_contacts._MODULES)
    for name in (
        "list_assemblies",
        "prediction_sequence",
        "format_ranking",
        "window_starts",
        "nonzero_heads",
        "fetch_weights",
        "UnknownModelError",
        "map_sequence",
        "same_protein",
        "residue_labels",
        "SequenceMismatchError",
        "load_models",
    ):
        assert name in exported, name


def test_public_functions_of_each_module_are_listed():
    """A public function or class defined in a library module is in its __all__."""
    for module_name in esm_contacts._MODULES:
        module = importlib.import_module(f"esm_contacts.{module_name}")
        public = {
            name
            for name, value in vars(module).items()
            if not name.startswith("_")
            and (inspect.isfunction(value) or inspect.isclass(value))
            and value.__module__ == module.__name__
        }
        assert public <= set(module.__all__), (module_name, sorted(public - set(module.__all__)))


def test_catalog_and_plugin_commands_import_without_torch():
    """The plugin reads the default model and the model list at PyMOL's start-up: no torch then."""
    code = (
        "import sys\n"
        "import esm_contacts.catalog as catalog\n"
        "import pymol_plugin.commands as commands\n"
        "assert commands.DEFAULT_MODEL is catalog.DEFAULT_MODEL\n"
        "assert commands.model_names() == list(catalog.KNOWN_MODELS)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'esm', 'biotite')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_one_offline_rule_for_weights_and_structures(monkeypatch, tmp_path):
    """ESM_CONTACTS_OFFLINE means the same for the weights, the Hub and RCSB (catalog.env_flag)."""
    from esm_contacts.catalog import OFFLINE_ENV, offline
    from esm_contacts.structure import load_structure

    for value, on in (
        ("", False),
        ("0", False),
        ("off", False),
        ("false", False),
        ("1", True),
        ("yes", True),
    ):
        monkeypatch.setenv(OFFLINE_ENV, value)
        assert offline() is on, value
    monkeypatch.setenv(OFFLINE_ENV, "yes")
    with pytest.raises(FileNotFoundError, match=f"{OFFLINE_ENV} forbids fetching"):
        load_structure("9zzz", cache_dir=tmp_path)


def test_one_default_minimum_separation_everywhere():
    """Every min_sep default of the library, the plugin and the command line is metrics.MIN_SEP."""
    import argparse

    import pymol_plugin.check
    import pymol_plugin.commands
    import pymol_plugin.drawing
    from esm_contacts.cli import build_parser
    from esm_contacts.metrics import MIN_SEP, RANGES

    assert MIN_SEP == RANGES["short"][0] == 6  # DESIGN.md: short range starts at 6
    _import_every_module()
    modules = [importlib.import_module(f"esm_contacts.{name}") for name in esm_contacts._MODULES]
    modules += [pymol_plugin.check, pymol_plugin.commands, pymol_plugin.drawing]
    defaults = {}
    for module in modules:
        for name, value in vars(module).items():
            for function in (value, *vars(value).values()) if inspect.isclass(value) else (value,):
                if (
                    not callable(function)
                    or getattr(function, "__module__", None) != module.__name__
                ):
                    continue
                try:
                    parameter = inspect.signature(function).parameters.get("min_sep")
                except (TypeError, ValueError):
                    continue
                if parameter is not None and parameter.default is not inspect.Parameter.empty:
                    defaults[f"{module.__name__}.{getattr(function, '__qualname__', name)}"] = (
                        parameter.default
                    )
    assert len(defaults) >= 15
    assert {key: value for key, value in defaults.items() if value not in (MIN_SEP, None)} == {}
    subcommands = next(
        a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)
    )
    cli_defaults = {
        name: action.default
        for name, parser in subcommands.choices.items()
        for action in parser._actions
        if "--min-sep" in action.option_strings
    }
    # convert-contacts converts every listed pair unless told otherwise: its default is 1.
    assert cli_defaults.pop("convert-contacts") == 1
    assert len(cli_defaults) >= 6 and set(cli_defaults.values()) == {MIN_SEP}


def test_category_words_have_one_home():
    """The words for true/false/homodimer contacts: metrics' tables, read by plots and PyMOL."""
    import esm_contacts.plot as plot
    import pymol_plugin.registry as registry
    import pymol_plugin.style as style
    from esm_contacts.metrics import CATEGORY_LABELS, CATEGORY_MEANINGS, CATEGORY_PALETTES

    assert plot.CATEGORY_LABELS is CATEGORY_LABELS and registry.CATEGORY_LABELS is CATEGORY_LABELS
    assert style.MEANINGS is CATEGORY_MEANINGS
    for palette in CATEGORY_PALETTES.values():
        assert set(palette) == set(CATEGORY_MEANINGS) <= set(CATEGORY_LABELS)
