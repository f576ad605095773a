"""Whether PyMOL runs with its Qt window, and that window (importing this needs no Qt).

The commands ask it whether to open the contact-map panel; the dialogs and the panel
take the window as their parent.
"""

import sys

__all__ = ["qt_running", "gui_running", "main_window"]


def qt_running() -> bool:
    """Whether a Qt application runs in this process (PyMOL's window, or one a script made).

    Returns
    -------
    running : bool
        False also where Qt was never imported (importing it now would not make a window).
    """
    if not any(binding in sys.modules for binding in ("PyQt5", "PySide2", "PyQt6", "PySide6")):
        return False  # no Qt imported: importing it now would not make a window
    try:
        from pymol.Qt import QtWidgets
    except ImportError:
        return False
    return QtWidgets.QApplication.instance() is not None


def gui_running() -> bool:
    """Whether PyMOL's own Qt window runs (not ``pymol -c``, not a ``pymol2`` instance): the
    panel then opens after each drawing by default.

    Returns
    -------
    running : bool
    """
    if not qt_running():
        return False
    return main_window() is not None


def main_window():
    """PyMOL's Qt main window, or None (commands-only PyMOL).

    Returns
    -------
    window : QtWidgets.QMainWindow or None
    """
    try:
        from pymol.gui import get_qtwindow

        return get_qtwindow()
    except ImportError:
        return None
