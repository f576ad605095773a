"""``esm_contacts_check`` in a real headless PyMOL: support in b, colours, hints, ranking."""

import numpy as np
import pytest

pymol2 = pytest.importorskip("pymol2", reason="pymol-open-source is not installed")

import biotite.structure.io.pdb as pdb  # noqa: E402
from pymol import CmdException  # noqa: E402

from esm_contacts.io import write_contacts  # noqa: E402
from esm_contacts.structure import chain_sequence, true_contacts  # noqa: E402
from esm_contacts.validate import validate  # noqa: E402
from pymol_plugin import check, commands  # noqa: E402
from test_validate import SEGMENT, SHIFT  # noqa: E402,F401  (fixtures below come from there too)
from test_validate import model_1a3a, prediction_1a3a, register_error_model  # noqa: E402,F401


@pytest.fixture(scope="module")
def instance():
    pymol = pymol2.PyMOL()
    pymol.start()
    commands.register(pymol.cmd)
    check.register(pymol.cmd)
    yield pymol.cmd
    pymol.stop()


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
    grey = cmd.get_color_index("grey70")
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
    cmd.iterate("esm_check_hints and name CA", "hinted.append((model, int(resv)))", space={"hinted": hinted})
    assert {m for m, _ in hinted} == {"shifted"}
    first_residue = min(ca_rows(cmd, "shifted"))[0]
    positions = {resv - first_residue for _, resv in hinted}
    assert len(positions & set(range(*SEGMENT))) >= 0.6 * len(positions)
    shifted_segment = [b for resv, b, _ in ca_rows(cmd, "shifted") if SEGMENT[0] <= resv - first_residue < SEGMENT[1]]
    assert np.mean([b for b in shifted_segment if b >= 0]) < 0.7
    out = capsys.readouterr().out
    ranking = out[out.index("rank"):].splitlines()
    assert ranking[1].split()[:2] == ["1", "correct"] and ranking[2].split()[:2] == ["2", "shifted"]
    assert "shift +2" in out


def test_predict_with_a_model(cmd, tiny_esm1b):
    cmd.do(f"esm_contacts_check correct, {tiny_esm1b}, top=L/2")
    b_values = [b for _, b, _ in ca_rows(cmd, "correct")]
    assert any(0.0 <= b <= 1.0 for b in b_values)


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
