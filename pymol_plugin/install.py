"""Installing this plugin into PyMOL: the archive of PyMOL's Plugin Manager, and PyMOL's own
installer run from a terminal.

``esm-contacts pymol-plugin`` and ``esm-contacts pymol-install`` call these functions (the
command line only parses and prints). Writing the archive needs no PyMOL;
:func:`install_plugin` imports PyMOL's installer. Errors are :class:`InstallError`, whose
message is the one line the command prints.
"""

import sys
import tempfile
import types
import zipfile
from pathlib import Path
from typing import List, Optional, Union

__all__ = ["PLUGIN_PACKAGE", "InstallError", "plugin_folder", "write_plugin_zip", "install_plugin"]

#: The package name PyMOL installs the plugin under (the folder inside the archive).
PLUGIN_PACKAGE = "pymol_plugin"


class InstallError(RuntimeError):
    """The plugin could not be written or installed; the message says why in one line."""


def plugin_folder() -> Path:
    """The folder of this package: what the archive holds.

    Returns
    -------
    folder : Path
        The ``pymol_plugin`` package folder this module was imported from.
    """
    return Path(__file__).parent


def _plugin_files(folder: Path) -> List[Path]:
    """The package's files, without byte-code caches."""
    return sorted(
        f
        for f in folder.rglob("*")
        if f.is_file() and "__pycache__" not in f.parts and f.suffix != ".pyc"
    )


def write_plugin_zip(path: Union[str, Path]) -> Path:
    """Write the plugin as PyMOL's Plugin Manager installs it: ``pymol_plugin/__init__.py`` ...

    Parameters
    ----------
    path : str or Path
        The ``.zip`` to write (atomically: no partial archive on failure).

    Returns
    -------
    path : Path
        The archive written.

    Raises
    ------
    InstallError
        `path` does not end in ``.zip``.
    """
    from esm_contacts.io import atomic_write

    path = Path(path)
    if path.suffix.lower() != ".zip":
        raise InstallError(f"{path}: the plugin archive must end in .zip")
    folder = plugin_folder()
    with (
        atomic_write(path, "wb") as stream,
        zipfile.ZipFile(stream, "w", zipfile.ZIP_DEFLATED) as archive,
    ):
        for file in _plugin_files(folder):
            archive.write(file, f"{PLUGIN_PACKAGE}/{file.relative_to(folder).as_posix()}")
    return path


class _AnswerYes:
    """Stands in for the ``tkMessageBox`` module PyMOL's installer asks its questions with.

    The installer confirms a reinstallation and reports the outcome in dialogs; run from
    a terminal, the user has already said yes, and the messages are kept for the caller.
    """

    def __init__(self):
        self.messages = []

    def showinfo(self, title, message, parent=None, **kwargs):
        self.messages.append((title, message))
        return "ok"

    def askyesno(self, title, message, parent=None, **kwargs):
        return True

    askokcancel = askyesno

    def as_module(self) -> types.ModuleType:
        """A ``tkMessageBox`` module whose functions are this object's answers.

        Returns
        -------
        module : types.ModuleType
            With ``showinfo``, ``askyesno`` and ``askokcancel``.
        """
        shim = types.ModuleType("tkMessageBox")
        shim.showinfo, shim.askyesno, shim.askokcancel = (
            self.showinfo,
            self.askyesno,
            self.askokcancel,
        )
        return shim


def _default_plugin_dir(plugins, installation) -> str:
    """PyMOL's first user plugin directory, else its default (``~/.pymol/startup``)."""
    user_dirs = plugins.get_startup_path(True)
    return user_dirs[0] if user_dirs else installation.get_default_user_plugin_path()


def install_plugin(plugin_dir: Optional[Union[str, Path]] = None) -> Path:
    """Install the plugin through ``pymol.plugins.installation.installPluginFromFile``.

    Parameters
    ----------
    plugin_dir : str or Path, optional
        Where to install; default PyMOL's first user plugin directory, else
        ``~/.pymol/startup``. It is added to PyMOL's plugin path (``~/.pymolpluginsrc.py``).

    Returns
    -------
    folder : Path
        The installed plugin folder.

    Raises
    ------
    InstallError
        PyMOL is not importable, the directory is not writable, or PyMOL's installer
        reported a failure.
    """
    try:
        from pymol import plugins
        from pymol.plugins import installation
    except ImportError as error:
        raise InstallError(
            f"PyMOL is not importable from this Python ({error}); install pymol-open-source "
            "or run this command with PyMOL's Python"
        ) from None
    if plugin_dir is None:
        plugin_dir = _default_plugin_dir(plugins, installation)
    plugin_dir = Path(plugin_dir).expanduser().resolve()
    plugin_dir.mkdir(parents=True, exist_ok=True)
    if not installation.is_writable(str(plugin_dir)):
        raise InstallError(f"{plugin_dir}: plugin directory is not writable")
    answers = _AnswerYes()
    saved = sys.modules.get("tkMessageBox")
    sys.modules["tkMessageBox"] = answers.as_module()  # legacysupport imports this name first
    try:
        with tempfile.TemporaryDirectory() as folder:
            archive = write_plugin_zip(Path(folder) / f"{PLUGIN_PACKAGE}.zip")
            # parent: any non-None value keeps the installer from looking for a Tk window.
            installation.installPluginFromFile(
                str(archive), parent=answers, plugdir=str(plugin_dir)
            )
    finally:
        if saved is None:
            sys.modules.pop("tkMessageBox", None)
        else:
            sys.modules["tkMessageBox"] = saved
    installed = plugin_dir / PLUGIN_PACKAGE
    failures = [message for title, message in answers.messages if title != "Success"]
    if failures or not (installed / "__init__.py").is_file():
        raise InstallError(
            f"PyMOL's plugin installer failed: {' '.join(failures) or 'no plugin folder written'}"
        )
    return installed
