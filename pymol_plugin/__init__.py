# Plugin-Name: ESM contacts
# Version: 0.1.0
# Description: Predict residue-residue contacts with ESM protein language models and draw them on
# the structure (sky blue: in the structure, vermillion: not, reddish purple: with another chain of
# the same sequence; a legend in the scene says so).
# Author: esm-contacts
# Citation-Required: No
# License: MIT
# Requires: esm-contacts (pip install esm-contacts)
"""ESM contacts for PyMOL.

*Plugin > Predict ESM contacts* opens a dialog; the commands ``esm_contacts``,
``esm_contacts_load``, ``esm_contacts_clear`` and ``esm_contacts_color`` do the same from the
command line
(``help esm_contacts``). ``esm_contacts_pairs`` lists a drawing's pairs and
``esm_contacts_map`` opens its linked contact map (which opens by itself after each
drawing in PyMOL's window). Prediction, structure reading and scoring come from the
``esm_contacts`` package; this package only talks to PyMOL.

Installing: ``esm-contacts pymol-install`` (registers this folder with PyMOL's plugin
manager), or *Plugin > Plugin Manager > Install New Plugin* with the zip that
``esm-contacts pymol-plugin --zip esm_contacts_plugin.zip`` writes, or ``import pymol_plugin``
in a PyMOL session where the package is pip-installed.
"""

__version__ = "0.1.0"

#: Menu entries under PyMOL's Plugin menu: (label, "module:function" of this package).
MENU_ITEMS = [
    ("Predict ESM contacts", "dialog:show_dialog"),
    ("Check model with ESM contacts", "dialog:show_check_dialog"),
]


def _pymol_present() -> bool:
    """Whether PyMOL can be imported (``esm-contacts pymol-plugin`` imports :mod:`.install`
    from a Python without it: there is nothing to register then)."""
    import importlib.util

    return importlib.util.find_spec("pymol") is not None


def _register_commands() -> None:
    import importlib.util

    from pymol import cmd

    from . import check
    from .commands import register

    if importlib.util.find_spec("esm_contacts") is None:
        # Installed from a zip into a PyMOL whose Python lacks the core package.
        print(
            " ESM contacts plugin: the esm_contacts package is missing from PyMOL's Python; "
            "run 'pip install esm-contacts' with that Python (the commands will fail until then)"
        )
    register(cmd)
    check.register(cmd)


def _menu_callback(target: str):
    module_name, function_name = target.split(":")

    def open_entry():
        import importlib

        module = importlib.import_module(f"{__name__}.{module_name}")
        getattr(module, function_name)()

    return open_entry


def __init_plugin__(app=None) -> None:  # noqa: N807 (the name PyMOL looks for)
    """Called by PyMOL's plugin manager: add the entries to the Plugin menu.

    Parameters
    ----------
    app : object or None
        The PyMOL application PyMOL's plugin manager passes (unused).
    """
    from pymol import plugins

    for label, target in MENU_ITEMS:
        try:
            plugins.addmenuitemqt(label, _menu_callback(target))
        except plugins.QtNotAvailableError:  # PyMOL without its Qt window: commands only
            return


if _pymol_present():
    _register_commands()
