"""The plugin in PyMOL's real Qt window, under a virtual X server (Xvfb).

The plugin is installed with ``esm-contacts pymol-install`` into a temporary HOME; PyMOL
then starts with it, and a driver script (run by PyMOL at start-up, steps chained with
Qt timers so the GUI keeps running) finds *Plugin > Predict ESM contacts*, fills and runs
the dialog on 1hvr with a tiny checkpoint and a few hundred MSA sequences (a worker of
seconds), records a 50 ms Qt timer's ticks while the worker runs (the GUI must not
freeze), waits for the worker thread, and saves a screenshot (``QWidget.grab``) and a
ray-traced ``cmd.png`` of contacts drawn from a file.
Set ``ESM_CONTACTS_GUI_IMAGES=DIR`` to keep the images.
"""

from pathlib import Path

import numpy as np
import pytest
from pymol_window import run_in_pymol_window, write_noisy_rr
from tiny_models import write_tiny_esm1b  # noqa: E402

import esm_contacts as ec  # noqa: E402
from pymol_plugin.drawing import DEFAULT_PALETTE, PALETTES  # noqa: E402

PALETTE = PALETTES[DEFAULT_PALETTE]

pytestmark = pytest.mark.gui

ROOT = Path(__file__).resolve().parent.parent
#: Sequences of the MSA the dialog runs on (query included): with :func:`slow_model`, a
#: worker of a few seconds on 2 CPU cores.
NUM_SEQS = 256
#: The driver's timer ticks every 50 ms; a gap above this means the GUI froze.
MAX_GAP = 0.5

DRIVER = r"""
import json, os, sys, time, traceback
import pymol
from pymol import cmd
from pymol.Qt import QtCore, QtWidgets

OUT = os.environ["ESM_GUI_OUT"]
report = {"steps": []}


def finish(ok):
    report["ok"] = ok
    with open(os.path.join(OUT, "report.json"), "w") as stream:
        json.dump(report, stream, indent=1)
    cmd.quit()


def guarded(function):
    def step():
        try:
            report["steps"].append(function.__name__)
            function()
        except Exception:
            report["error"] = traceback.format_exc()
            finish(False)
    return step


def menu_path(menu, label, path=()):
    for action in menu.actions():
        here = path + (action.text().replace("&", ""),)
        if action.menu() is not None:
            found = menu_path(action.menu(), label, here)
            if found:
                return found
        elif here[-1] == label:
            return here, action
    return None


@guarded
def open_from_menu():
    window = pymol.gui.get_qtwindow()
    cmd.load(os.environ["ESM_GUI_PDB"], "1hvr")
    cmd.hide("everything")
    cmd.show("cartoon")
    found = menu_path(window.menuBar(), "Predict ESM contacts")
    report["menu"] = list(found[0]) if found else None
    checker = menu_path(window.menuBar(), "Check model with ESM contacts")
    report["check_menu"] = list(checker[0]) if checker else None
    found[1].trigger()
    QtCore.QTimer.singleShot(200, run_dialog)


@guarded
def run_dialog():
    dialog = [w for w in QtWidgets.QApplication.topLevelWidgets()
              if w.objectName() == "esm_contacts_dialog" and w.isVisible()][0]
    report["title"] = dialog.windowTitle()
    report["choices"] = [dialog.selection.itemText(k) for k in range(dialog.selection.count())]
    dialog.selection.setCurrentText("1hvr and chain A")
    dialog.device.setCurrentText("cpu")
    dialog.top.setCurrentText("L/2")
    # First a checkpoint that does not exist: the worker fails, a message box says why.
    report["names_before_error"] = cmd.get_names("all")
    dialog.model.setCurrentText(os.path.join(OUT, "missing.pt"))
    dialog.run_button.click()
    report["started"] = time.time()
    QtCore.QTimer.singleShot(50, lambda: close_error(dialog))


def close_error(dialog):
    box = QtWidgets.QApplication.activeModalWidget()
    if not isinstance(box, QtWidgets.QMessageBox):
        if time.time() - report["started"] < 20:
            QtCore.QTimer.singleShot(50, lambda: close_error(dialog))
        else:
            report["error"] = "no message box for the missing checkpoint"
            finish(False)
        return
    report["error_box"] = box.text()
    report["error_status"] = dialog.status.text()
    box.accept()
    report["names_after_error"] = cmd.get_names("all")
    QtCore.QTimer.singleShot(50, guarded(lambda: run_for_real(dialog)))


def run_for_real(dialog):
    # A slower checkpoint and a large MSA: the worker runs for seconds, long enough to see
    # whether the event loop keeps going meanwhile.
    dialog.model.setCurrentText(os.environ["ESM_GUI_MODEL"])
    dialog.msa.setText(os.environ["ESM_GUI_MSA"])
    dialog.num_seqs.setValue(int(os.environ["ESM_GUI_NUM_SEQS"]))
    ticks, statuses = report.setdefault("ticks", []), set()
    timer = QtCore.QTimer(dialog)
    timer.setInterval(50)

    def tick():  # runs only when the GUI thread gets back to its event loop
        job = dialog._job
        if job is not None and job.isRunning():
            ticks.append(time.time())
            statuses.add(dialog.status.text())
            report["statuses"] = sorted(statuses)

    timer.timeout.connect(tick)
    timer.start()
    dialog.run_button.click()
    busy = dialog.progress.maximum() == 0 and not dialog.run_button.isEnabled()
    report["busy_while_running"] = busy
    report["started"] = time.time()
    QtCore.QTimer.singleShot(50, lambda: wait(dialog, timer))


def wait(dialog, timer):
    if dialog._job is not None and time.time() - report["started"] < 150:
        QtCore.QTimer.singleShot(50, lambda: wait(dialog, timer))
        return
    timer.stop()
    guarded(lambda: screenshots(dialog))()


def screenshots(dialog):
    report["status"] = dialog.status.text()
    report["progress"] = [dialog.progress.value(), dialog.progress.maximum()]
    report["objects"] = sorted(cmd.get_names("all"))
    cmd.orient("1hvr", animate=0)
    window = pymol.gui.get_qtwindow()
    dialog.move(window.x() + window.width() + 10, window.y())
    # Let the window repaint before grabbing it.
    QtCore.QTimer.singleShot(800, guarded(lambda: grab(dialog)))


def save_screen(path, attempts=10):
    # A grab of the X screen can come back empty while the server is busy: try again.
    for _ in range(attempts):
        if QtWidgets.QApplication.primaryScreen().grabWindow(0).save(path):
            return True
        QtWidgets.QApplication.processEvents()
        time.sleep(0.3)
    return False


def grab(dialog):
    # QWidget.grab of the dialog; the whole X screen for the window, whose OpenGL
    # viewport QWidget.grab does not capture under Xvfb (it comes back as noise).
    dialog.grab().save(os.path.join(OUT, "gui_dialog.png"))
    report["screen_saved"] = save_screen(os.path.join(OUT, "gui_screen.png"))

    # Contacts from a file, ray-traced on the homodimer.
    cmd.do("esm_contacts_clear esm")
    report["cleared"] = "esm" not in cmd.get_names("all")
    cmd.do(f"esm_contacts_load {os.environ['ESM_GUI_RR']}, 1hvr and chain A, top=50, name=file")
    report["file_objects"] = sorted(n for n in cmd.get_names("all") if n.startswith("file"))
    cmd.bg_color("white")
    cmd.set("ray_opaque_background", 1)
    cmd.color("grey80", "1hvr and chain A")
    cmd.color("lightblue", "1hvr and chain B")
    cmd.set("cartoon_transparency", 0.4)
    cmd.orient("1hvr", animate=0)
    cmd.png(os.path.join(OUT, "contacts_1hvr.png"), width=1000, height=750, ray=1)
    finish(True)


QtCore.QTimer.singleShot(300, open_from_menu)
"""


def _colour_pixels(image, rgb, tolerance=0.12):
    return int(np.sum(np.all(np.abs(image[..., :3] - np.asarray(rgb)) < tolerance, axis=-1)))


def slow_model(folder):
    """A tiny ESM-1b still, but deeper and wider than conftest's, with a context that
    holds 1hvr's 99 residues whole (no windows)."""
    return write_tiny_esm1b(
        folder, name="slow_esm1b", layers=6, heads=8, embed_dim=64, max_positions=130
    )


def write_mutant_msa(path, query, count, rate=0.2, seed=3):
    """An a3m of ``query`` and ``count - 1`` random substitution variants of it."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("ACDEFGHIKLMNPQRSTVWY"))
    rows = [query]
    for _ in range(count - 1):
        row = np.array(list(query))
        changed = rng.random(len(row)) < rate
        row[changed] = rng.choice(letters, int(changed.sum()))
        rows.append("".join(row))
    path.write_text("".join(f">seq{k}\n{row}\n" for k, row in enumerate(rows)))
    return path


def test_dialog_in_pymol_window(shared_data, tmp_path):
    rr = write_noisy_rr(shared_data / "1hvr.pdb", tmp_path / "1hvr_A.rr")
    sequence = ec.chain_sequence(ec.load_structure(shared_data / "1hvr.pdb"), "A")
    report, out, log = run_in_pymol_window(
        DRIVER,
        tmp_path,
        size=(850, 700),
        timeout=240,
        ESM_GUI_PDB=shared_data / "1hvr.pdb",
        ESM_GUI_MODEL=slow_model(tmp_path / "models"),
        ESM_GUI_NUM_SEQS=NUM_SEQS,
        ESM_GUI_RR=rr,
        ESM_GUI_MSA=write_mutant_msa(tmp_path / "1hvr_A.a3m", sequence, NUM_SEQS),
    )

    assert report["menu"] == ["Plugin", "Predict ESM contacts"]
    assert report["check_menu"] == ["Plugin", "Check model with ESM contacts"]
    assert "1hvr and chain A" in report["choices"] and "1hvr and chain B" in report["choices"]
    assert "missing.pt" in report["error_box"] and report["error_status"].startswith("Error:")
    assert report["names_after_error"] == report["names_before_error"] == ["1hvr"]
    assert "Predict ESM contacts: Error: cannot load model" in log  # the log has it too
    assert report["busy_while_running"]
    assert report["status"].startswith("Drew esm:"), report["status"]
    assert report["progress"] == [1, 1]
    assert {"esm", "esm_tp", "esm_fp", "esm_inter"} <= set(report["objects"])
    assert report["cleared"]
    assert {"file", "file_tp", "file_fp", "file_inter", "file_tp4", "file_key"} <= set(
        report["file_objects"]
    )
    assert "esm_contacts: 1hvr chain A, 99 residues, model slow_esm1b, MSA" in log
    assert "1hvr_A.a3m" in log

    # The worker ran for seconds, and the event loop kept ticking all along: the 50 ms
    # timer fired at least at half its rate and never paused for MAX_GAP or more.
    ticks = np.asarray(report["ticks"])
    running = ticks[-1] - report["started"]
    gaps = np.diff(np.concatenate([[report["started"]], ticks]))
    print(f"worker >= {running:.2f} s, {len(ticks)} ticks, largest gap {gaps.max():.3f} s")
    assert running >= 1.0, running
    assert len(ticks) >= 0.5 * running / 0.05, (len(ticks), running)
    assert gaps.max() < MAX_GAP, gaps.max()
    # The worker's stage messages reached the dialog while it ran.
    assert f"predicting {NUM_SEQS} MSA sequences" in report["statuses"], report["statuses"]

    import matplotlib.image

    assert report["screen_saved"], "the X screen could not be grabbed"
    screen = matplotlib.image.imread(out / "gui_screen.png")
    assert screen.shape[:2] == (1000, 1600) and screen[..., :3].std() > 0.05
    # The viewport shows the drawn dashes: vermillion, as a random tiny model's picks are false.
    assert _colour_pixels(screen, np.array(PALETTE["fp"][1]) / 255, 0.3) > 100
    dialog = matplotlib.image.imread(out / "gui_dialog.png")
    assert dialog.shape[0] > 200 and dialog[..., :3].std() > 0.05
    contacts = matplotlib.image.imread(out / "contacts_1hvr.png")
    assert contacts.shape[:2] == (750, 1000)
    # The dashes are there in their colours: sky blue, vermillion, reddish purple.
    for kind in ("tp", "fp", "inter"):
        assert _colour_pixels(contacts, np.array(PALETTE[kind][1]) / 255, 0.3) > 200, kind
