"""The contact-map panel in PyMOL's real Qt window, under a virtual X server (Xvfb).

PyMOL starts with the plugin (``esm-contacts pymol-install`` into a temporary HOME) and a
driver script: it draws contacts of 1hvr chain A from a file with ``esm_contacts_load``
(the panel must open by itself, docked on the right of the main window), moves and
clicks the real mouse (``QTest``) on the canvas pixel of a known pair, refreshes with a
selection, closes the dock and reopens it with ``esm_contacts_map``, saves a
screenshot of the X screen, and checks that the Predict dialog's drawing opens a panel
too. Set ``ESM_CONTACTS_GUI_IMAGES=DIR`` to keep the image.
"""

from pathlib import Path

import numpy as np
import pytest
from pymol_window import run_in_pymol_window, write_noisy_rr

import esm_contacts as ec  # noqa: E402

pytestmark = pytest.mark.gui

ROOT = Path(__file__).resolve().parent.parent

DRIVER = r'''
import json, os, time, traceback
import pymol
from pymol import cmd
from pymol.Qt import QtCore, QtWidgets
from PyQt5.QtTest import QTest

OUT = os.environ["ESM_GUI_OUT"]
report = {}


def finish(ok):
    report["ok"] = ok
    with open(os.path.join(OUT, "report.json"), "w") as stream:
        json.dump(report, stream, indent=1)
    cmd.quit()


def guarded(function):
    def step():
        try:
            function()
        except Exception:
            report["error"] = traceback.format_exc()
            finish(False)
    return step


def dock():
    found = [w for w in QtWidgets.QApplication.allWidgets() if isinstance(w, QtWidgets.QDockWidget)
             and w.objectName() == "esm_contacts_map_dock_file"]
    return found[0] if found else None


@guarded
def draw():
    cmd.load(os.environ["ESM_GUI_PDB"], "1hvr")
    cmd.hide("everything")
    cmd.show("cartoon")
    cmd.do(f"esm_contacts_load {os.environ['ESM_GUI_RR']}, 1hvr and chain A, top=50, name=file")
    QtCore.QTimer.singleShot(1000, check_dock)


def pixel(panel, row, column):
    """The canvas widget point (logical pixels) at the centre of a cell."""
    panel.canvas.draw()
    x, y = panel.axes.transData.transform((column, row))
    ratio = panel.canvas.devicePixelRatioF()
    return QtCore.QPoint(int(round(x / ratio)), int(round(panel.canvas.height() - y / ratio)))


@guarded
def check_dock():
    window = pymol.gui.get_qtwindow()
    holder = dock()
    report["dock"] = holder is not None
    report["visible"] = holder.isVisible()
    report["floating"] = holder.isFloating()
    report["area"] = int(window.dockWidgetArea(holder))
    report["right_area"] = int(QtCore.Qt.RightDockWidgetArea)
    report["title"] = holder.windowTitle()
    panel = holder.widget()
    report["canvas_size"] = [panel.canvas.width(), panel.canvas.height()]
    from pymol_plugin import commands
    rows = commands.esm_contacts_pairs("file", quiet=1)
    row = next(r for r in rows if r["category"] == "inter")
    a, b = row["position_1"] - 1, row["position_2"] - 1
    report["pair"] = row
    point = pixel(panel, a, b)
    before = panel.status.text()
    QTest.mouseMove(panel.canvas, point)
    # The pointer moves through the X server: wait for its event to come back.
    deadline = time.time() + 10
    while panel.status.text() == before and time.time() < deadline:
        QtWidgets.QApplication.processEvents()
        time.sleep(0.02)
    report["hover"] = panel.status.text()
    QTest.mouseClick(panel.canvas, QtCore.Qt.LeftButton, QtCore.Qt.NoModifier, point)
    QtWidgets.QApplication.processEvents()
    report["pick_atoms"] = cmd.count_atoms("file_pick")
    picked = cmd.get_model("file_pick").atom
    report["pick_residues"] = sorted({(atom.chain, atom.resi) for atom in picked})
    has_dist = "file_pick_dist" in cmd.get_names("all")
    report["pick_dist_type"] = cmd.get_type("file_pick_dist") if has_dist else None
    report["status_after_click"] = panel.status.text()
    cmd.select("sele", "1hvr and chain A and resi 25-27")
    refresh = [b for b in panel.findChildren(QtWidgets.QPushButton) if b.text() == "Refresh"][0]
    QTest.mouseClick(refresh, QtCore.Qt.LeftButton)
    report["highlighted"] = panel.highlighted
    cmd.hide("everything", "1hvr and chain B")
    cmd.show("cartoon", "1hvr and chain B")
    cmd.orient("1hvr", animate=0)
    QtCore.QTimer.singleShot(800, grab)


@guarded
def grab():
    # A grab of the X screen can come back empty while the server is busy: try again.
    for _ in range(10):
        screen = QtWidgets.QApplication.primaryScreen().grabWindow(0)
        if screen.save(os.path.join(OUT, "gui_map_screen.png")):
            break
        QtWidgets.QApplication.processEvents()
        time.sleep(0.3)
    dock().close()
    QtWidgets.QApplication.processEvents()
    report["closed"] = not dock().isVisible()
    cmd.do("esm_contacts_map file")
    QtCore.QTimer.singleShot(300, reopened)


@guarded
def reopened():
    report["reopened"] = dock().isVisible()
    cmd.do("esm_contacts_clear file")
    QtCore.QTimer.singleShot(300, cleared)


@guarded
def cleared():
    report["gone_after_clear"] = dock() is None or not dock().isVisible()
    # The Predict dialog's drawing step (what runs in the GUI thread when its worker
    # reports), with the file's map as the worker's result: the panel opens for it too.
    from esm_contacts.io import read_contacts
    from pymol_plugin import commands, dialog
    window = dialog.show_dialog()
    window.name.setText("dlg")
    P, sequence = read_contacts(os.environ["ESM_GUI_RR"])
    target = commands.prepare_target("1hvr and chain A", "none")
    window.finish(((P, sequence, "file model"), None), target, window.options(), None)
    QtCore.QTimer.singleShot(500, from_dialog)


@guarded
def from_dialog():
    found = [w for w in QtWidgets.QApplication.allWidgets() if isinstance(w, QtWidgets.QDockWidget)
             and w.objectName() == "esm_contacts_map_dock_dlg"]
    report["dialog_dock"] = bool(found) and found[0].isVisible()
    # A second drawing's panel shares the dock area as a tab.
    cmd.do(f"esm_contacts_load {os.environ['ESM_GUI_RR']}, 1hvr and chain A, top=10, name=second")
    QtWidgets.QApplication.processEvents()
    window = pymol.gui.get_qtwindow()
    report["tabs"] = sorted(w.objectName() for w in window.tabifiedDockWidgets(found[0]))
    finish(True)


QtCore.QTimer.singleShot(300, draw)
'''


def test_panel_docks_after_drawing(shared_data, tmp_path):
    structure = ec.load_structure(shared_data / "1hvr.pdb")
    rr = write_noisy_rr(shared_data / "1hvr.pdb", tmp_path / "1hvr_A.rr")
    report, out, _ = run_in_pymol_window(
        DRIVER,
        tmp_path,
        size=(1300, 800),
        timeout=120,
        ESM_GUI_PDB=shared_data / "1hvr.pdb",
        ESM_GUI_RR=rr,
    )

    # Opened by the drawing itself, docked on the right of PyMOL's window.
    assert report["dock"] and report["visible"] and not report["floating"]
    assert report["area"] == report["right_area"] and report["title"] == "Contact map: file"
    assert min(report["canvas_size"]) > 200
    # The real mouse over the cell of a homodimer pair names it; a click picks the two residues.
    pair = report["pair"]
    labels = ec.residue_labels(structure, "A", with_name=True)
    a, b = pair["position_1"] - 1, pair["position_2"] - 1
    assert report["hover"].startswith(
        f"{labels[a]} \u2013 {labels[b]} | p = {pair['probability']:.3f}"
    )
    assert "homodimer contact, drawn" in report["hover"]
    # The click picks where the magenta dash runs: one residue in A, the other in B (1hvr
    # numbers both chains 1..99), the shorter of the two realisations.
    cb_a, cb_b = ec.cb_coordinates(structure, "A"), ec.cb_coordinates(structure, "B")
    own, other = min(((a, b), (b, a)), key=lambda e: np.linalg.norm(cb_a[e[0]] - cb_b[e[1]]))
    assert report["pick_residues"] == [["A", str(own + 1)], ["B", str(other + 1)]]
    assert f"dash A:{own + 1} " in report["status_after_click"]
    assert report["pick_atoms"] > 8 and report["pick_dist_type"] == "object:measurement"
    assert report["status_after_click"].startswith("Picked file_pick:")
    assert report["highlighted"] == [24, 25, 26]
    assert report["closed"] and report["reopened"] and report["gone_after_clear"]
    assert report["dialog_dock"]
    assert report["tabs"] == ["esm_contacts_map_dock_second"]

    import matplotlib.image

    screen = matplotlib.image.imread(out / "gui_map_screen.png")
    assert screen.shape[:2] == (1000, 1600) and screen[..., :3].std() > 0.05
