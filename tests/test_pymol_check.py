"""``esm_contacts_check`` in a real headless PyMOL: support in b, colours, hints, ranking."""

import biotite.structure.io.pdb as pdb  # noqa: E402
import numpy as np
import pytest
from pymol import CmdException  # noqa: E402
from register_models import SEGMENT, SHIFT  # noqa: E402

from esm_contacts.io import read_contacts, write_contacts  # noqa: E402
from esm_contacts.structure import (
    chain_sequence,
    load_structure,
    map_sequence,  # noqa: E402
    residue_identities,
)
from esm_contacts.validation import validate  # noqa: E402
from pymol_plugin import check  # noqa: E402
from pymol_plugin.legend import CHECK_NO_EVIDENCE_COLOR  # noqa: E402


@pytest.fixture(scope="module")
def instance(pymol_cmd):
    """This module's headless PyMOL (conftest's ``pymol_cmd``)."""
    return pymol_cmd


@pytest.fixture(scope="module")
def files(tmp_path_factory, model_1a3a, prediction_1a3a, register_error_model):
    folder = tmp_path_factory.mktemp("check")
    write_contacts(folder / "pred.rr", prediction_1a3a, sequence=chain_sequence(model_1a3a, "A"))
    np.save(folder / "short.npy", prediction_1a3a[:100, :100])
    for name, atoms in (("correct", model_1a3a), ("shifted", register_error_model)):
        out = pdb.PDBFile()
        out.set_structure(atoms)
        out.write(str(folder / f"{name}.pdb"))
    return folder


@pytest.fixture
def cmd(instance, files):
    instance.delete("all")
    instance.load(str(files / "correct.pdb"), "correct")
    instance.load(str(files / "shifted.pdb"), "shifted")
    yield instance
    instance.delete("all")


def ca_rows(cmd, obj):
    rows = []
    cmd.iterate(f"%{obj} and name CA", "rows.append((int(resv), b, color))", space={"rows": rows})
    return rows


def test_support_in_b_factors_and_colours(cmd, files, model_1a3a, prediction_1a3a):
    results = check.esm_contacts_check("correct", str(files / "pred.rr"), _self=cmd)
    expected = validate(prediction_1a3a, model_1a3a, "A")
    assert len(results) == 1 and results[0].agreement == pytest.approx(expected.agreement)
    rows = ca_rows(cmd, "correct")
    assert len(rows) == len(expected.support)
    residue_numbers = sorted({int(r) for r in model_1a3a.res_id})
    by_resv = {resv: (b, color) for resv, b, color in rows}
    grey = cmd.get_color_index(CHECK_NO_EVIDENCE_COLOR)
    for position, support in enumerate(expected.support):
        b, color = by_resv[residue_numbers[position]]
        if np.isnan(support):
            assert b == check.NO_EVIDENCE and color == grey
        else:
            assert b == pytest.approx(support, abs=1e-3)
            rgb = np.array(cmd.get_color_tuple(color))
            if support > 0.999:
                np.testing.assert_allclose(rgb, [0, 0, 1], atol=0.05)  # blue: supported
    assert "esm_check_hints" not in cmd.get_names("selections")


def test_register_error_hinted_and_ranked(cmd, files, capsys):
    results = check.esm_contacts_check("correct or shifted", str(files / "pred.rr"), _self=cmd)
    by_name = {r.name: r for r in results}
    assert by_name["correct"].hints == []
    assert any(h.shift == SHIFT for h in by_name["shifted"].hints)
    hinted = []
    cmd.iterate(
        "esm_check_hints and name CA", "hinted.append((model, int(resv)))", space={"hinted": hinted}
    )
    assert {m for m, _ in hinted} == {"shifted"}
    first_residue = min(ca_rows(cmd, "shifted"))[0]
    positions = {resv - first_residue for _, resv in hinted}
    assert len(positions & set(range(*SEGMENT))) >= 0.6 * len(positions)
    shifted_segment = [
        b
        for resv, b, _ in ca_rows(cmd, "shifted")
        if SEGMENT[0] <= resv - first_residue < SEGMENT[1]
    ]
    assert np.mean([b for b in shifted_segment if b >= 0]) < 0.7
    out = capsys.readouterr().out
    ranking = out[out.index("rank") :].splitlines()
    assert ranking[1].split()[:2] == ["1", "correct"] and ranking[2].split()[:2] == ["2", "shifted"]
    assert "shift +2" in out


def test_predict_with_a_model(cmd, tiny_esm1b):
    results = check.esm_contacts_check("correct", str(tiny_esm1b), top="L/2", _self=cmd)
    assert len(results) == 1 and results[0].num_predicted == 145 // 2
    b_values = np.array([b for _, b, _ in ca_rows(cmd, "correct")])
    support = results[0].support
    np.testing.assert_allclose(
        b_values, np.where(np.isnan(support), check.NO_EVIDENCE, support), atol=1e-3
    )


def test_partial_selection_leaves_ligands_and_waters_alone(instance, shared_data, files):
    """Only the chain's protein residues are written: waters keep B and colour; unscored residues
    grey."""
    cmd = instance
    cmd.delete("all")
    cmd.load(str(shared_data / "1a3a.pdb"), "m")
    cmd.color("yellow", "m and not polymer.protein")
    waters_before = []
    cmd.iterate(
        "m and chain A and not polymer.protein",
        "waters_before.append((b, color))",
        space={"waters_before": waters_before},
    )
    assert waters_before, "1a3a chain A should carry waters or ligands"
    sequence_file = files / "pred.rr"
    # The prediction covers the whole chain; the selection only residues 1-60, so its
    # sequence is aligned into the prediction's and the rest of the chain is not scored.
    results = check.esm_contacts_check("m and chain A and resi 1-60", str(sequence_file), _self=cmd)
    assert len(results) == 1
    waters_after = []
    cmd.iterate(
        "m and chain A and not polymer.protein",
        "waters_after.append((b, color))",
        space={"waters_after": waters_after},
    )
    assert waters_after == waters_before
    outside = []
    cmd.iterate(
        "m and chain A and polymer.protein and resi 90-100 and name CA",
        "outside.append((b, color))",
        space={"outside": outside},
    )
    grey = cmd.get_color_index(CHECK_NO_EVIDENCE_COLOR)
    assert outside and all(b == check.NO_EVIDENCE and color == grey for b, color in outside)
    # Residues 1-60: each holds the support of the prediction position aligned to it, by
    # position in the prediction's sequence; residues without one, "no evidence".
    rr_sequence = read_contacts(sequence_file)[1]
    structure = load_structure(shared_data / "1a3a.pdb")
    selected = structure[
        (structure.chain_id == "A") & (structure.res_id >= 1) & (structure.res_id <= 60)
    ]
    residues = residue_identities(selected, "A")
    mapping = map_sequence(rr_sequence, selected, "A")
    support = results[0].support
    assert len(support) == len(rr_sequence) and (mapping >= 0).sum() == len(residues)
    expected = {res_id: check.NO_EVIDENCE for _, res_id, _, _ in residues}
    for position, residue in enumerate(mapping):
        if residue >= 0 and not np.isnan(support[position]):
            expected[residues[residue][1]] = float(support[position])
    assert any(b >= 0 for b in expected.values())
    inside = []
    cmd.iterate(
        "m and chain A and resi 1-60 and name CA",
        "inside.append((int(resv), b))",
        space={"inside": inside},
    )
    assert sorted(resv for resv, _ in inside) == sorted(expected)
    for resv, b in inside:
        assert b == pytest.approx(expected[resv], abs=1e-3), resv
    cmd.delete("all")


def test_unsupported_residues_are_red(cmd, files):
    check.esm_contacts_check("shifted", str(files / "pred.rr"), _self=cmd)
    rows = ca_rows(cmd, "shifted")
    red = [color for _, b, color in rows if b == 0.0]
    assert red, "the register-shifted segment should hold residues with support 0"
    for color in red:
        np.testing.assert_allclose(cmd.get_color_tuple(color), [1, 0, 0], atol=0.05)


def test_errors_leave_the_session_unchanged(cmd, files):
    before_names = cmd.get_names("all")
    before_b = ca_rows(cmd, "correct")
    with pytest.raises(CmdException, match="covers 100 residues but chain A"):
        check.esm_contacts_check("correct", str(files / "short.npy"), _self=cmd)
    with pytest.raises(CmdException, match="no protein"):
        check.esm_contacts_check("resn HOH", str(files / "pred.rr"), _self=cmd)
    with pytest.raises(CmdException, match="missing.rr"):
        check.esm_contacts_check("correct", str(files / "missing.rr"), _self=cmd)
    with pytest.raises(CmdException, match="top"):
        check.esm_contacts_check("correct", str(files / "pred.rr"), top="L/0", _self=cmd)
    assert cmd.get_names("all") == before_names
    assert ca_rows(cmd, "correct") == before_b


GUI_DRIVER = r"""
import json, os, time, traceback
from pymol import cmd
from pymol.Qt import QtCore, QtWidgets
import pymol_plugin
from pymol_plugin.dialog import show_check_dialog

OUT = os.environ["ESM_GUI_OUT"]
report = {}


def finish(ok):
    report["ok"] = ok
    with open(os.path.join(OUT, "report.json"), "w") as stream:
        json.dump(report, stream)
    cmd.quit()


def step(function):
    def run():
        try:
            function()
        except Exception:
            report["error"] = traceback.format_exc()
            finish(False)
    return run


@step
def start():
    pymol_plugin.__init_plugin__()
    cmd.load(os.environ["ESM_CORRECT"], "correct")
    cmd.load(os.environ["ESM_SHIFTED"], "shifted")
    dialog = show_check_dialog()
    report["selection"] = dialog.selection.text()
    dialog.prediction.setText(os.environ["ESM_PRED"])
    dialog.run_button.click()
    report["file_status"] = dialog.status.text()
    report["hints"] = cmd.count_atoms("esm_check_hints and name CA")
    # Then with a model: the prediction runs in the worker thread.
    dialog.prediction.setText("")
    dialog.model.setCurrentText(os.environ["ESM_MODEL"])
    dialog.device.setCurrentText("cpu")
    report["started"] = time.time()
    dialog.run_button.click()
    report["busy"] = dialog.progress.maximum() == 0
    QtCore.QTimer.singleShot(100, lambda: wait(dialog))


def wait(dialog):
    try:
        if dialog._job is not None and time.time() - report["started"] < 30:
            QtCore.QTimer.singleShot(100, lambda: wait(dialog))
            return
        report["model_status"] = dialog.status.text()
        finish(True)
    except Exception:
        report["error"] = traceback.format_exc()
        finish(False)


QtCore.QTimer.singleShot(300, start)
"""


@pytest.mark.gui
def test_check_dialog_in_pymol_window(files, tiny_esm1b, tmp_path):
    import json
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    if shutil.which("xvfb-run") is None or shutil.which("Xvfb") is None:
        pytest.skip(
            "xvfb-run/Xvfb are not installed (apt-get install xvfb); the GUI test needs a virtual X"
            " server"
        )
    root = Path(__file__).resolve().parent.parent
    driver = tmp_path / "driver.py"
    driver.write_text(GUI_DRIVER)
    env = dict(
        os.environ,
        ESM_GUI_OUT=str(tmp_path),
        ESM_CORRECT=str(files / "correct.pdb"),
        ESM_SHIFTED=str(files / "shifted.pdb"),
        ESM_PRED=str(files / "pred.rr"),
        ESM_MODEL=str(tiny_esm1b),
        HOME=str(tmp_path),
        XDG_RUNTIME_DIR=str(tmp_path),
        LIBGL_ALWAYS_SOFTWARE="1",
        PYTHONPATH=os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
    )
    env.pop("QT_QPA_PLATFORM", None)  # the real window on Xvfb, not Qt's offscreen platform
    run = subprocess.run(
        ["xvfb-run", "-a", sys.executable, "-m", "pymol", "-q", str(driver)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    report_file = tmp_path / "report.json"
    assert report_file.is_file(), (
        f"PyMOL exited {run.returncode} without a report:\n{run.stdout}\n{run.stderr}"
    )
    report = json.loads(report_file.read_text())
    assert report["ok"], report.get("error")
    assert report["selection"] == "%correct or %shifted"
    assert report["file_status"].startswith(
        "Checked 2 model(s); best correct (agreement 1.00); 1 register-shift hint"
    )
    assert report["hints"] >= 12
    assert report["busy"]
    assert report["model_status"].startswith("Checked 2 model(s)"), report["model_status"]
    assert "rank  model" in run.stdout


@pytest.mark.parametrize("top", ["L", "all"])
def test_sparse_file_checks_only_its_pairs(cmd, files, model_1a3a, top, tmp_path, capsys):
    """A file listing 3 pairs: the model is scored on those 3, residues outside them show no
    evidence."""
    from esm_contacts.structure import true_contacts

    T = true_contacts(model_1a3a, "A")
    L = T.shape[0]
    contacts = [(i, j) for i in range(L) for j in range(i + 24, L) if T[i, j] == 1]
    others = [(i, j) for i in range(L) for j in range(i + 24, L) if T[i, j] == 0]
    chosen = [contacts[0], others[0], contacts[-1]]
    sequence = chain_sequence(model_1a3a, "A")
    text = (
        ["PFRMAT RR", sequence]
        + [f"{i + 1} {j + 1} 0 8 0.{9 - k}" for k, (i, j) in enumerate(chosen)]
        + ["END"]
    )
    (tmp_path / "three.rr").write_text("\n".join(text) + "\n")
    (result,) = check.esm_contacts_check("correct", str(tmp_path / "three.rr"), top=top, _self=cmd)
    assert result.num_predicted == 3 and result.agreement == pytest.approx(2 / 3)
    touched = {k for pair in chosen for k in pair}
    assert int(np.sum(~np.isnan(result.support))) == len(touched)
    b = [value for _, value, _ in ca_rows(cmd, "correct")]
    assert sum(value >= 0 for value in b) == len(touched)
