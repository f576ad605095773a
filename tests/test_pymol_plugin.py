"""The PyMOL plugin in a real headless PyMOL (pymol2 instances, no GUI).

Drawn dashes are read back from the distance objects' states in ``cmd.get_session``
(open-source PyMOL has no ``get_raw_distances``) and checked against distances computed
here from the atoms PyMOL holds.
"""

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from pymol import CmdException  # noqa: E402

import esm_contacts as ec  # noqa: E402
from esm_contacts.structure import homodimer_contacts, load_structure, true_contacts  # noqa: E402
from pymol_plugin import commands, drawing  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
HELIX = "A" * 20


@pytest.fixture(scope="module")
def instance(pymol_cmd):
    """This module's headless PyMOL (conftest's ``pymol_cmd``)."""
    return pymol_cmd


@pytest.fixture
def cmd(instance):
    instance.delete("all")
    yield instance
    instance.delete("all")


# -- reading drawings back ----------------------------------------------------------


def dash_segments(cmd, obj):
    """(n, 2, 3) end points of the dashes of a distance object (all states)."""
    session = cmd.get_session(obj)
    entry = next(n for n in session["names"] if n and n[0] == obj)
    assert entry[4] == 4, f"{obj} is not a distance object"
    points = []
    for state in entry[5][2]:
        if state:
            points.append(np.asarray(state[1], dtype=float).reshape(-1, 3)[: state[0]])
    points = np.concatenate(points) if points else np.zeros((0, 3))
    return points.reshape(-1, 2, 3)


def visible_reps(cmd, obj):
    session = cmd.get_session(obj)
    entry = next(n for n in session["names"] if n and n[0] == obj)
    return entry[5][0][3]


def group_of(cmd, obj):
    """The group an object is in ('' at the top level), from the session."""
    return next(n[6] for n in cmd.get_session(obj)["names"] if n and n[0] == obj)


def measurement_objects(cmd, name):
    return {
        n: len(dash_segments(cmd, n))
        for n in cmd.get_names_of_type("object:measurement")
        if n.startswith(f"{name}_")
    }


def atom_table(cmd, selection):
    """{(chain, resv, name): xyz} of a selection."""
    rows = []
    cmd.iterate_state(
        -1, selection, "rows.append((chain, resv, name, x, y, z))", space={"rows": rows}
    )
    return {(c, r, n): np.array([x, y, z]) for c, r, n, x, y, z in rows}


def end_residue(table, point, tol=1e-3):
    hits = [key for key, xyz in table.items() if np.linalg.norm(xyz - point) < tol]
    assert len(hits) == 1, f"no unique atom at {point}: {hits}"
    return hits[0]


def unchanged(cmd, call):
    """Run a failing call; the session's object list must not change."""
    before = (cmd.get_names("all"), cmd.count_atoms("all"))
    with pytest.raises(CmdException) as error:
        call()
    assert (cmd.get_names("all"), cmd.count_atoms("all")) == before
    return str(error.value.message)


def build_helix(cmd, name="hel", chain="A"):
    cmd.fab(HELIX, name, ss=1, chain=chain)
    return name


# -- 1hvr: a real homodimer ------------------------------------------------------------


@pytest.fixture
def hvr_file(shared_data, tmp_path):
    """A noisy-truth RR file for 1hvr chain A with planned tp / inter / fp pairs."""
    path = shared_data / "1hvr.pdb"
    structure = load_structure(path)
    T = true_contacts(structure, "A")
    X = homodimer_contacts(structure, "A")
    L = T.shape[0]
    i, j = np.triu_indices(L, k=6)
    rng = np.random.default_rng(1)
    tp = rng.permutation(np.flatnonzero(T[i, j] == 1))[:10]
    inter = rng.permutation(np.flatnonzero((T[i, j] == 0) & (X[i, j] == 1)))[:6]
    fp = rng.permutation(np.flatnonzero((T[i, j] == 0) & (X[i, j] == 0)))[:8]
    P = (rng.random((L, L)) * 0.2).astype(np.float32)  # noise below every planned pair
    P = np.maximum(P, P.T)
    for chosen, probability in ((tp, 0.9), (inter, 0.6), (fp, 0.3)):
        P[i[chosen], j[chosen]] = P[j[chosen], i[chosen]] = probability
    rr = tmp_path / "1hvr_A.rr"
    ec.write_contacts(rr, P, sequence=ec.chain_sequence(structure, "A"))
    planned = {
        "tp": set(zip(i[tp], j[tp])),
        "inter": set(zip(i[inter], j[inter])),
        "fp": set(zip(i[fp], j[fp])),
    }
    return rr, path, planned, structure


def test_load_file_on_homodimer(cmd, hvr_file, capsys):
    rr, pdb, planned, structure = hvr_file
    assert len(planned["inter"]) == 6 and len(planned["tp"]) == 10 and len(planned["fp"]) == 8
    cmd.load(str(pdb), "1hvr")
    result = commands.esm_contacts_load(str(rr), "1hvr and chain A", top="24", _self=cmd)

    assert result["counts"] == {"tp": 10, "fp": 8, "inter": 6, "unknown": 0, "undrawn": 0}
    assert measurement_objects(cmd, "esm") == {"esm_tp4": 10, "esm_inter3": 6, "esm_fp2": 8}
    assert cmd.get_type("esm") == "object:group"
    for group in ("esm_tp", "esm_fp", "esm_inter"):
        assert cmd.get_type(group) == "object:group" and group_of(cmd, group) == "esm"
    assert [group_of(cmd, obj) for obj in ("esm_tp4", "esm_inter3", "esm_fp2")] == [
        "esm_tp",
        "esm_inter",
        "esm_fp",
    ]
    # Okabe-Ito colours by default; the dashes take the object's colour (dash_color unset).
    for obj, kind in (("esm_tp4", "tp"), ("esm_inter3", "inter"), ("esm_fp2", "fp")):
        assert cmd.get_setting_text("dash_color", obj) == "default"
        rgb = np.array(cmd.get_color_tuple(cmd.get_object_color_index(obj))) * 255
        np.testing.assert_allclose(rgb, drawing.PALETTES["okabe-ito"][kind][1], atol=1)
        reps = visible_reps(cmd, obj)
        assert not reps & (1 << cmd.repres["labels"]) and reps & (1 << cmd.repres["dashes"])
    # Higher-probability bins get thicker dashes.
    assert float(cmd.get_setting_text("dash_radius", "esm_tp4")) > float(
        cmd.get_setting_text("dash_radius", "esm_fp2")
    )

    # Every dash joins the planned residues' Cb atoms (1hvr has every CB except Gly: CA).
    atoms = atom_table(cmd, "1hvr and name CB or (1hvr and resn GLY and name CA)")
    residues = [r for r in ec.residue_identities(structure, "A")]
    position = {r[1]: k for k, r in enumerate(residues)}
    for kind, obj in (("tp", "esm_tp4"), ("fp", "esm_fp2"), ("inter", "esm_inter3")):
        seen = set()
        for a, b in dash_segments(cmd, obj):
            (ca, ra, _), (cb, rb, _) = end_residue(atoms, a), end_residue(atoms, b)
            distance = np.linalg.norm(a - b)
            if kind == "inter":
                # Drawn to the partner chain; the pair is (own residue, partner residue).
                assert {ca, cb} == {"A", "B"}
                assert distance < 9.0
            else:
                assert ca == cb == "A"
                assert distance < 9.0 if kind == "tp" else distance > 7.0
            seen.add(tuple(sorted((position[ra], position[rb]))))
        assert seen == planned[kind]
    summary = capsys.readouterr().out
    assert re.search(r"10 true contacts", summary) and re.search(r"8 false positives", summary)
    assert re.search(r"6 homodimer", summary)
    hits, count = design_precision(ec.read_contacts(rr)[0], true_contacts(structure, "A"), 24, 6)
    assert (hits, count) == (10, 24) and result["precision"] == pytest.approx(hits / count)
    assert f"precision at top 24: {hits / count:.3f} ({hits}/{count};" in summary
    assert "drawn pairs that are contacts: 10/24 (0.417); with homodimer contacts 0.667" in summary
    assert summary == result["summary"] + "\n"


def test_file_on_other_chain_and_subset(cmd, hvr_file):
    """A sequence-carrying file is aligned to a selection that is part of a chain."""
    rr, pdb, planned, structure = hvr_file
    cmd.load(str(pdb), "1hvr")
    result = commands.esm_contacts_load(
        str(rr), "1hvr and chain B and resi 1-60", top="24", name="sub", _self=cmd
    )
    c = result["counts"]
    # Pairs with a residue outside the selection are unobserved: counted, not drawn.
    inside = {k: sum(1 for a, b in pairs if a < 60 and b < 60) for k, pairs in planned.items()}
    assert c["unknown"] == 24 - sum(inside.values())
    drawn = measurement_objects(cmd, "sub")
    assert sum(drawn.values()) == c["tp"] + c["fp"] + c["inter"] == sum(inside.values())
    assert f"{c['unknown']:5d} with unobserved residues" in result["summary"]


# -- fab-built structures ---------------------------------------------------------------


def test_helix_npy_and_anchors(cmd, tmp_path):
    """A file without a sequence: indices are the selection's residues in order."""
    build_helix(cmd)
    cmd.remove("hel and resi 5 and name CB")  # an Ala without CB: virtual Cb pseudoatom
    L = len(HELIX)
    P = np.zeros((L, L), dtype=np.float32)
    for a in range(L - 3):
        P[a, a + 3] = 0.9
    for a in range(L - 4):
        P[a, a + 4] = 0.55
    for a in range(L - 12):
        P[a, a + 12] = 0.3
    P = np.maximum(P, P.T)
    path = tmp_path / "helix.npy"
    np.save(path, P)
    result = commands.esm_contacts_load(
        str(path), "hel", top="all", min_sep="3", threshold="0.25", _self=cmd
    )

    # Independent truth: the helix's own CB atoms (CB of residue 5 taken before removal
    # is not needed: its pairs are among the i+3/i+4 ones, all < 8 A in an ideal helix).
    assert result["counts"] == {"tp": 17 + 16, "fp": 8, "inter": 0, "unknown": 0, "undrawn": 0}
    assert measurement_objects(cmd, "esm") == {"esm_tp4": 17, "esm_tp3": 16, "esm_fp1": 8}
    assert cmd.count_atoms("esm_vcb") == 1
    assert group_of(cmd, "esm_vcb") == "esm"
    vcb = cmd.get_coords("esm_vcb")[0]
    ca = cmd.get_coords("hel and resi 5 and name CA")[0]
    assert 1.4 < np.linalg.norm(vcb - ca) < 1.65  # a Cb's distance from its CA
    for a, b in dash_segments(cmd, "esm_tp4"):
        assert np.linalg.norm(a - b) < 8.0
    for a, b in dash_segments(cmd, "esm_fp1"):
        assert np.linalg.norm(a - b) >= 8.0


def test_strand_with_glycines_uses_ca(cmd, tmp_path):
    cmd.fab("GAGAGAGAGAGA", "strand", ss=3, chain="A")
    L = 12
    P = np.zeros((L, L), dtype=np.float32)
    P[0, 6] = P[6, 0] = 0.8  # Gly1-Gly7 in an extended strand: ~20 A apart
    P[1, 8] = P[8, 1] = 0.7  # Ala2-Gly9
    path = tmp_path / "strand.rr"
    ec.write_contacts(path, P, sequence="GAGAGAGAGAGA")
    result = commands.esm_contacts_load(str(path), "strand", top="2", _self=cmd)
    assert result["counts"]["fp"] == 2
    atoms = atom_table(cmd, "strand and name CA+CB")
    ends = sorted(
        sorted(end_residue(atoms, p)[1:] for p in pair) for pair in dash_segments(cmd, "esm_fp4")
    )
    assert ends == [[(1, "CA"), (7, "CA")]]
    ends = sorted(
        sorted(end_residue(atoms, p)[1:] for p in pair) for pair in dash_segments(cmd, "esm_fp1")
    )
    assert ends == [[(2, "CB"), (9, "CA")]]
    assert "esm_vcb" not in cmd.get_names("all")


def test_predict_end_to_end(cmd, tiny_esm1b, tmp_path, capsys):
    build_helix(cmd)
    plot = tmp_path / "map.png"
    result = commands.esm_contacts(
        "hel",
        model=str(tiny_esm1b),
        top="L/2",
        device="cpu",
        name="pred",
        plot=str(plot),
        _self=cmd,
    )
    out = capsys.readouterr().out
    assert "Error" not in out, out
    predictor = ec.ContactPredictor.from_pretrained(str(tiny_esm1b), device="cpu")
    P = predictor.predict(HELIX)
    # Independent ranking (DESIGN.md): every pair 6 apart or more by P, ties to lower i, then j.
    i, j = np.triu_indices(len(HELIX), 6)
    order = np.lexsort((j, i, -P[i, j].astype(np.float64)))[: len(HELIX) // 2]
    i, j = i[order], j[order]
    assert result["name"] == "pred" and sum(result["objects"].values()) == 10
    objects = measurement_objects(cmd, "pred")
    assert sum(objects.values()) == 10
    atoms = atom_table(cmd, "hel and name CB")
    drawn = set()
    for obj in objects:
        for a, b in dash_segments(cmd, obj):
            drawn.add(tuple(sorted((end_residue(atoms, a)[1] - 1, end_residue(atoms, b)[1] - 1))))
    assert drawn == set(zip(i.tolist(), j.tolist()))
    assert "model tiny_esm1b" in out and "top L/2 (10 pairs)" in out
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# -- failures leave the session untouched ----------------------------------------------


def test_failures_leave_session_unchanged(cmd, tmp_path, tiny_esm1b):
    build_helix(cmd)
    cmd.fab("AAAAAAAAAA", "other", ss=1, chain="B")
    cmd.create("dimer", "hel or other")
    cmd.pseudoatom("ps")
    good = tmp_path / "good.npy"
    np.save(good, np.full((20, 20), 0.5, dtype=np.float32))
    commands.esm_contacts_load(
        str(good), "hel", name="keep", _self=cmd
    )  # an earlier drawing survives failures

    def load(*args, **kwargs):
        return lambda: commands.esm_contacts_load(*args, _self=cmd, **kwargs)

    def predict(*args, **kwargs):
        return lambda: commands.esm_contacts(*args, _self=cmd, **kwargs)

    messages = [
        unchanged(cmd, predict("hel", model=str(tmp_path / "missing.pt"))),
        unchanged(cmd, predict("hel and resi 999", model=str(tiny_esm1b))),
        unchanged(cmd, predict("ps", model=str(tiny_esm1b))),
        unchanged(cmd, predict("dimer", model=str(tiny_esm1b))),
        unchanged(cmd, predict("hel or other", model=str(tiny_esm1b))),
        unchanged(cmd, predict("hel", model=str(tiny_esm1b), top="half")),
        unchanged(cmd, predict("hel", model=str(tiny_esm1b), range="far")),
        unchanged(cmd, predict("hel", model=str(tiny_esm1b), threshold="2")),
        unchanged(cmd, predict("hel", model=str(tiny_esm1b), name="hel")),
        unchanged(cmd, predict("hel", model=str(tiny_esm1b), msa=str(tmp_path / "none.a3m"))),
    ]
    for needle, message in zip(
        [
            "missing.pt",
            "is empty",
            "no protein",
            "several protein chains (A, B)",
            "several objects",
            "half",
            "range",
            "threshold",
            "'hel' is taken",
            "none.a3m",
        ],
        messages,
    ):
        assert needle in message, message

    bad = tmp_path / "bad.rr"
    bad.write_text("PFRMAT RR\nAAAAAAAAAAAAAAAAAAAA\n1 9 0 8 0.5\n2 x 0 8 0.4\nEND\n")
    assert "line 4" in unchanged(cmd, load(str(bad), "hel"))
    other = tmp_path / "other.rr"
    ec.write_contacts(
        other, np.full((20, 20), 0.5, dtype=np.float32), sequence="WYWYWYWYWYWYWYWYWYWY"
    )
    assert "does not match" in unchanged(cmd, load(str(other), "hel"))
    big = tmp_path / "big.npy"
    np.save(big, np.zeros((30, 30), dtype=np.float32))
    assert "30 residues" in unchanged(cmd, load(str(big), "hel"))
    assert "no such file" in unchanged(cmd, load(str(tmp_path / "none.csv"), "hel"))
    assert "no contact drawing" in unchanged(
        cmd, lambda: commands.esm_contacts_clear("nothing", _self=cmd)
    )
    assert "plot" in unchanged(cmd, load(str(good), "hel", plot=str(tmp_path / "map.txt")))
    # A user's own group, or objects with the names a drawing would take, are never replaced.
    cmd.group("mine", "other")
    assert "'mine' is taken" in unchanged(cmd, load(str(good), "hel", name="mine"))
    cmd.create("pred_fp3", "other")
    assert "pred_fp3" in unchanged(cmd, load(str(good), "hel", name="pred"))
    assert "no contact drawing" in unchanged(
        cmd, lambda: commands.esm_contacts_clear("mine", _self=cmd)
    )
    assert measurement_objects(cmd, "keep")  # the earlier drawing is intact


def test_replace_and_clear(cmd, tmp_path):
    build_helix(cmd)
    path = tmp_path / "m.npy"
    P = np.zeros((20, 20), dtype=np.float32)
    P[0, 10] = P[10, 0] = 0.9
    np.save(path, P)
    first = commands.esm_contacts_load(str(path), "hel", top="1", _self=cmd)
    second = commands.esm_contacts_load(str(path), "hel", top="1", _self=cmd)
    assert first["objects"] == second["objects"] == {"esm_fp4": 1}
    commands.esm_contacts_load(str(path), "hel", top="1", name="other", _self=cmd)
    assert commands.esm_contacts_clear("esm", _self=cmd) == ["esm"]
    assert not [n for n in cmd.get_names("all") if n.startswith("esm")]
    assert "other" in cmd.get_names("all")
    cmd.do("esm_contacts_clear")
    # fab leaves PyMOL's own hidden _pk* objects; no temporary of a drawing is left.
    assert cmd.get_names() == ["hel"]
    assert [n for n in cmd.get_names("all") if not n.startswith("_pk")] == ["hel"]


def test_command_completion_and_help(cmd):
    build_helix(cmd)
    selection, _, _ = cmd.auto_arg[0]["esm_contacts"]
    assert selection().interpret("he") == "hel"
    assert cmd.auto_arg[1]["esm_contacts_load"][0]().interpret("he") == "hel"
    models = cmd.auto_arg[1]["esm_contacts"][0]()
    assert models.interpret("esm1b") == "esm1b_t33_650M_UR50S"
    ranges = cmd.auto_arg[4]["esm_contacts"][0]()
    assert sorted(ranges.interpret("lo")) == ["local", "long"] and ranges.interpret("lon") == "long"
    assert "esm_contacts_load" not in cmd.auto_arg[0]  # file names: PyMOL's own completion
    for name in ("esm_contacts", "esm_contacts_load", "esm_contacts_clear"):
        assert "USAGE" in cmd.keyword[name][0].__doc__


def test_default_model_is_the_core_default():
    """commands.DEFAULT_MODEL is a copy (the plugin does not import torch to read it)."""
    from esm_contacts.catalog import DEFAULT_MODEL

    assert commands.DEFAULT_MODEL == DEFAULT_MODEL
    assert commands.model_names()[0] == DEFAULT_MODEL


# -- packaging and installation ---------------------------------------------------------


def test_plugin_metadata_header():
    """PyMOL reads '# Key: value' lines at the top of the plugin's __init__.py."""
    from pymol.plugins import PluginInfo

    info = PluginInfo("pymol_plugin", str(ROOT / "pymol_plugin" / "__init__.py"))
    metadata = info.get_metadata()
    assert metadata["Version"] == info.get_version() == "0.1.0"
    assert "ESM" in metadata["Plugin-Name"] and not info.get_citation_required()


def test_plugin_zip_and_pymol_install(tmp_path):
    env = dict(os.environ, HOME=str(tmp_path), PYTHONPATH=str(ROOT), APPDATA="")
    env.pop("APPDATA")
    archive = tmp_path / "plugin.zip"

    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "esm_contacts.cli", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    done = run("pymol-plugin", "--zip", str(archive))
    assert done.returncode == 0, done.stderr
    names = zipfile.ZipFile(archive).namelist()
    assert "pymol_plugin/__init__.py" in names and "pymol_plugin/dialog.py" in names
    assert not [n for n in names if "__pycache__" in n or not n.startswith("pymol_plugin/")]
    assert run("pymol-plugin", "--zip", str(tmp_path / "x.tar")).returncode == 2

    done = run("pymol-install")
    assert done.returncode == 0, done.stderr
    installed = tmp_path / ".pymol" / "startup" / "pymol_plugin"
    assert (installed / "__init__.py").read_bytes() == (
        ROOT / "pymol_plugin" / "__init__.py"
    ).read_bytes()
    assert str(installed.parent) in (tmp_path / ".pymolpluginsrc.py").read_text()
    assert run("pymol-install").returncode == 0  # reinstalling replaces it

    # At the next start PyMOL's plugin system finds and loads it: the commands exist.
    check = (
        "import pymol; pymol.finish_launching(['pymol', '-cq']); from pymol import cmd, plugins; "
        "plugins.initialize(-1); print(sorted(plugins.plugins)); "
        "print(plugins.plugins['pymol_plugin'].loaded, 'esm_contacts_load' in cmd.keyword)"
    )
    done = subprocess.run(
        [sys.executable, "-c", check],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "True True", done.stdout


#: Runs the command line with PyMOL made unimportable (as in a Python without pymol-open-source).
WITHOUT_PYMOL = (
    "import sys; sys.modules['pymol'] = None; from esm_contacts.cli import main; "
    "sys.exit(main(sys.argv[1:]))"
)


def test_plugin_zip_without_pymol(tmp_path):
    """The archive needs no PyMOL: the installer module imports the plugin package, which
    then registers nothing; installing needs PyMOL and says so in one line."""
    env = dict(os.environ, HOME=str(tmp_path), PYTHONPATH=str(ROOT))
    archive = tmp_path / "plugin.zip"
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_PYMOL, "pymol-plugin", "--zip", str(archive)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    expected = sorted(
        f"pymol_plugin/{f.relative_to(ROOT / 'pymol_plugin').as_posix()}"
        for f in (ROOT / "pymol_plugin").rglob("*.py")
        if "__pycache__" not in f.parts
    )
    assert sorted(n for n in zipfile.ZipFile(archive).namelist() if n.endswith(".py")) == expected
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_PYMOL, "pymol-install"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("esm-contacts pymol-install: error: PyMOL is not importable"), (
        done.stderr
    )
    assert len(done.stderr.strip().splitlines()) == 1 and not (tmp_path / ".pymol").exists()


def test_predict_with_msa(cmd, shared_data, tiny_esm1b):
    """An MSA's query (here chain A's observed sequence, with X) is mapped onto the chain."""
    cmd.load(str(shared_data / "1a3a.pdb"), "1a3a")
    result = commands.esm_contacts(
        "1a3a and chain A",
        model=str(tiny_esm1b),
        msa=str(shared_data / "1a3a_1_A.a3m"),
        num_seqs="3",
        top="L/5",
        device="cpu",
        _self=cmd,
    )
    from esm_contacts.msa import read_msa

    query = read_msa(shared_data / "1a3a_1_A.a3m")[0][1]
    c = result["counts"]
    assert c["tp"] + c["fp"] + c["inter"] + c["unknown"] == len(query) // 5
    assert (
        sum(measurement_objects(cmd, "esm").values())
        == c["tp"] + c["fp"] + c["inter"] - c["undrawn"]
    )
    assert "MSA" in result["model"] and "1a3a_1_A.a3m" in result["summary"]


# -- partners from the biological assembly ----------------------------------------------


@pytest.fixture
def monomer_file(shared_data, tmp_path):
    """1A8O: one chain in the file, a homodimer in its assembly (copy A:1).

    The RR file plans every pair that is a contact only with the symmetry copy, plus a
    few true and false contacts; the truth comes from the core on the file itself.
    """
    from esm_contacts.structure import homodimer_partners, load_assembly

    path = shared_data / "1A8O.cif.gz"
    structure = load_structure(path)
    assembly = load_assembly(path)
    assert ec.chain_ids(structure) == ["A"] and homodimer_partners(
        structure, "A", assembly=assembly
    ) == ["A:1"]
    T = true_contacts(structure, "A")
    X = homodimer_contacts(structure, "A", assembly=assembly)
    assert not homodimer_contacts(structure, "A").any()  # without the assembly: no partner
    L = T.shape[0]
    i, j = np.triu_indices(L, k=6)
    inter = np.flatnonzero((T[i, j] == 0) & (X[i, j] == 1))
    tp = np.flatnonzero(T[i, j] == 1)[:5]
    fp = np.flatnonzero((T[i, j] == 0) & (X[i, j] == 0))[:3]
    P = np.zeros((L, L), dtype=np.float32)
    for chosen, probability in ((tp, 0.9), (inter, 0.6), (fp, 0.3)):
        P[i[chosen], j[chosen]] = probability
    P = np.maximum(P, P.T)
    rr = tmp_path / "1a8o_A.rr"
    ec.write_contacts(rr, P, sequence=ec.chain_sequence(structure, "A"))
    planned = {"tp": len(tp), "inter": len(inter), "fp": len(fp)}
    return rr, path, planned, set(zip(i[inter].tolist(), j[inter].tolist()))


def test_partner_copy_from_assembly(cmd, monomer_file):
    rr, path, planned, inter_pairs = monomer_file
    assert planned["inter"] >= 2
    cmd.load(str(path), "mono")
    cmd.remove("mono and not chain A")
    # Moved away from the file's frame: the partner copy must follow the object.
    cmd.rotate("x", 70, "mono", camera=0, origin=[0, 0, 0])
    cmd.translate([12.0, -4.0, 3.0], "mono", camera=0)
    total = sum(planned.values())
    drawn = commands.esm_contacts_load(
        str(rr), "mono and chain A", top=str(total), assembly=str(path), _self=cmd
    )

    assert drawn["counts"] == {
        "tp": planned["tp"],
        "fp": planned["fp"],
        "inter": planned["inter"],
        "unknown": 0,
        "undrawn": 0,
    }
    inter = {n: c for n, c in measurement_objects(cmd, "esm").items() if n.startswith("esm_inter")}
    assert sum(inter.values()) == planned["inter"]
    assert (
        cmd.get_type("esm_partner") == "object:molecule" and group_of(cmd, "esm_partner") == "esm"
    )
    assert (
        cmd.count_atoms("esm_partner") == load_structure(path).array_length()
    )  # the whole copy of chain A
    assert cmd.get_chains("esm_partner") == ["A"] and {
        a.segi for a in cmd.get_model("esm_partner and name CA").atom
    } == {"A1"}
    own = atom_table(cmd, "mono and (name CB or (resn GLY and name CA))")
    partner = atom_table(cmd, "esm_partner and (name CB or (resn GLY and name CA))")
    residues = ec.residue_identities(load_structure(path), "A")
    position = {r[1]: k for k, r in enumerate(residues)}
    seen = set()
    for obj in inter:
        for a, b in dash_segments(cmd, obj):
            # One end on the chain, the other on an atom of the partner copy; a contact there.
            if not any(np.linalg.norm(xyz - a) < 1e-3 for xyz in own.values()):
                a, b = b, a
            ra, rb = end_residue(own, a), end_residue(partner, b)
            assert np.linalg.norm(a - b) < 8.0
            seen.add(tuple(sorted((position[ra[1]], position[rb[1]]))))
    assert seen == inter_pairs
    # The partner copy is the symmetry mate, not the chain itself, in the moved frame.
    assert (
        np.linalg.norm(
            cmd.get_coords("esm_partner and name CA").mean(0)
            - cmd.get_coords("mono and name CA").mean(0)
        )
        > 10
    )
    assert "homodimer partner: assembly 1 of" in drawn["summary"] and "copy A:1" in drawn["summary"]
    assert "esm_partner" in drawn["summary"]
    commands.esm_contacts_clear("esm", _self=cmd)
    assert cmd.get_names("all") == ["mono"]


def without_cb(source, residues, path):
    """Write an mmCIF copy of ``source`` whose residues ``residues`` (author numbers) lack
    their CB atoms; the rest of the file (the assembly definitions too) is kept."""
    import gzip

    import biotite.structure.io.pdbx as pdbx

    opener = gzip.open if str(source).endswith(".gz") else open
    with opener(source, "rt") as stream:
        file = pdbx.CIFFile.read(stream)
    site = file.block["atom_site"]
    keep = ~(
        (site["label_atom_id"].as_array(str) == "CB")
        & np.isin(site["auth_seq_id"].as_array(int), list(residues))
    )
    assert (~keep).sum() > 0

    def kept(column):
        return pdbx.CIFColumn(
            column.data.array[keep], None if column.mask is None else column.mask.array[keep]
        )

    file.block["atom_site"] = pdbx.CIFCategory({key: kept(site[key]) for key in site.keys()})
    file.write(path)
    return path


def segi_table(cmd, selection):
    """{(segi, chain, resv, name): xyz} of a selection."""
    rows = []
    cmd.iterate_state(
        -1, selection, "rows.append((segi, chain, resv, name, x, y, z))", space={"rows": rows}
    )
    return {(s, c, r, n): np.array([x, y, z]) for s, c, r, n, x, y, z in rows}


def test_partner_copy_virtual_cb_pseudoatoms(cmd, monomer_file, tmp_path):
    """Residues of the inter-chain pairs without CB, in the object and in the assembly
    copy: each inter dash runs from the chain's own pseudoatom to one of the partner copy
    (its own segment ID), each at the virtual Cb of its residue's N, CA, C."""
    rr, path, planned, inter_pairs = monomer_file
    residues = ec.residue_identities(load_structure(path), "A")
    involved = {residues[k] for pair in inter_pairs for k in pair}
    assert any(r[3] != "GLY" for r in involved)
    modified = without_cb(path, {r[1] for r in involved}, tmp_path / "1a8o_no_cb.cif")
    cmd.load(str(modified), "mono")
    assert (
        cmd.count_atoms("mono and name CB and resi " + "+".join(str(r[1]) for r in involved)) == 0
    )
    cmd.rotate("y", 40, "mono", camera=0, origin=[0, 0, 0])
    cmd.translate([-6.0, 9.0, 2.0], "mono", camera=0)
    total = sum(planned.values())
    drawn = commands.esm_contacts_load(
        str(rr), "mono and chain A", top=str(total), assembly=str(modified), _self=cmd
    )
    assert drawn["counts"] == {
        "tp": planned["tp"],
        "fp": planned["fp"],
        "inter": planned["inter"],
        "unknown": 0,
        "undrawn": 0,
    }

    segi = drawing.copy_segi("A:1")
    assert (
        cmd.count_atoms(f"esm_partner and name CB and resi {'+'.join(str(r[1]) for r in involved)}")
        == 0
    )
    own_cb, partner_cb = virtual_cb(cmd, "mono"), virtual_cb(cmd, "esm_partner")
    pseudo = segi_table(cmd, "esm_vcb")
    own = {k[2]: xyz for k, xyz in pseudo.items() if k[0] == "VCB"}
    copy = {k[2]: xyz for k, xyz in pseudo.items() if k[0] == segi}
    assert len(own) + len(copy) == len(pseudo)  # no pseudoatom outside these two segments
    # Every pseudoatom sits on its own residue's virtual Cb, in its own frame.
    for table, expected in ((own, own_cb), (copy, partner_cb)):
        for resv, xyz in table.items():
            assert np.linalg.norm(xyz - expected[("A", resv)]) < 1e-2, resv
    glycine_ca = {
        key: segi_table(cmd, f"%{obj} and resn GLY and name CA")
        for key, obj in (("own", "mono"), ("copy", "esm_partner"))
    }
    own_ends = {**{k[2]: v for k, v in glycine_ca["own"].items()}, **own}
    copy_ends = {**{k[2]: v for k, v in glycine_ca["copy"].items()}, **copy}

    def lookup(table, point):
        hits = [resv for resv, xyz in table.items() if np.linalg.norm(xyz - point) < 1e-3]
        return hits[0] if len(hits) == 1 else None

    position = {r[1]: k for k, r in enumerate(residues)}
    names = {r[1]: r[3] for r in residues}
    seen, on_copy_pseudo = set(), 0
    for obj in (n for n in measurement_objects(cmd, "esm") if n.startswith("esm_inter")):
        for a, b in dash_segments(cmd, obj):
            if lookup(own_ends, a) is None:
                a, b = b, a
            ra, rb = lookup(own_ends, a), lookup(copy_ends, b)
            assert ra is not None and rb is not None, (a, b)
            assert lookup(own_ends, b) is None  # the partner end is not one of the chain's own
            # CB-less ends are pseudoatoms, Gly ends their CA, on both sides.
            assert (ra in own) == (names[ra] != "GLY") and (rb in copy) == (names[rb] != "GLY")
            on_copy_pseudo += rb in copy
            assert np.linalg.norm(a - b) < 8.0
            seen.add(tuple(sorted((position[ra], position[rb]))))
    assert seen == inter_pairs
    assert on_copy_pseudo >= 1
    print(
        f"{len(seen)} inter pairs, {on_copy_pseudo} dashes to copy pseudoatoms, {len(own)} own and"
        f" {len(copy)} copy pseudoatoms"
    )
    # The copy's pseudoatoms are not the chain's: the copy is the symmetry mate elsewhere.
    for resv in set(own) & set(copy):
        assert np.linalg.norm(own[resv] - copy[resv]) > 1.0
    commands.esm_contacts_clear("esm", _self=cmd)
    assert cmd.get_names("all") == ["mono"]


def test_assembly_found_for_fetched_object(cmd, monomer_file, tmp_path):
    """An object named after its entry, whose file PyMOL's fetch left in fetch_path."""
    rr, path, planned, _ = monomer_file
    folder = tmp_path / "fetched"
    folder.mkdir()
    (folder / "1a8o.cif.gz").symlink_to(path)
    old = cmd.get("fetch_path")
    cmd.set("fetch_path", str(folder))
    try:
        cmd.load(str(path), "1a8o")
        drawn = commands.esm_contacts_load(
            str(rr), "1a8o", top="all", min_sep="6", threshold="0.5", _self=cmd
        )
        assert drawn["counts"]["inter"] == planned["inter"] and drawn["partner"] == "esm_partner"
        assert "(found for the object)" in drawn["summary"]
        off = commands.esm_contacts_load(
            str(rr), "1a8o", top="all", threshold="0.5", assembly="none", name="off", _self=cmd
        )
        assert off["counts"]["inter"] == 0 and "off_partner" not in cmd.get_names("all")
    finally:
        cmd.set("fetch_path", old)


def test_bad_assembly_leaves_session_unchanged(cmd, monomer_file, shared_data, tmp_path):
    rr, path, _, _ = monomer_file
    cmd.load(str(path), "mono")

    def load(assembly):
        return lambda: commands.esm_contacts_load(str(rr), "mono", assembly=assembly, _self=cmd)

    assert "missing.cif: no such file" in unchanged(cmd, load(str(tmp_path / "missing.cif")))
    assert "does not match mono chain A" in unchanged(cmd, load(str(shared_data / "1hvr.pdb")))
    assert "no assembly '7'" in unchanged(cmd, load(f"{path}:7"))
    garbage = tmp_path / "garbage.cif"
    garbage.write_text("data_x\n_cell.length_a 1\n")
    assert "garbage.cif" in unchanged(cmd, load(str(garbage)))
    assert cmd.get_names("all") == ["mono"]


# -- anchors, edits while predicting, options, precision ---------------------------------


def virtual_cb(cmd, selection):
    """DESIGN.md's virtual Cb of every residue of a selection, from PyMOL's own atoms."""
    atoms = atom_table(cmd, f"({selection}) and name N+CA+C")
    result = {}
    for chain, resv, name in atoms:
        if name == "CA":
            n, ca, c = (atoms[(chain, resv, a)] for a in ("N", "CA", "C"))
            b, c_ = ca - n, c - ca
            a = np.cross(b, c_)
            result[(chain, resv)] = -0.58273431 * a + 0.56802827 * b - 0.54067466 * c_ + ca
    return result


def drawn_residue_pairs(cmd, name, table):
    """{sorted (resv, resv)} over every dash of a drawing; ends looked up in ``table``."""
    pairs = set()
    for obj in measurement_objects(cmd, name):
        for a, b in dash_segments(cmd, obj):
            pairs.add(tuple(sorted((end_residue(table, a)[1], end_residue(table, b)[1]))))
    return pairs


def sparse_map(length, pairs):
    """(L, L) float32 map with probability p at 0-based pairs {(i, j): p}, symmetric."""
    P = np.zeros((length, length), dtype=np.float32)
    for (a, b), p in pairs.items():
        P[a, b] = P[b, a] = p
    return P


def test_virtual_cb_pseudoatoms_reached_out_of_order(cmd, tmp_path):
    """PyMOL re-sorts a pseudoatom object by residue as atoms are added: ends must still
    be the residues asked for (CB-less residues 15, 10, 5 are reached in that order)."""
    build_helix(cmd)
    cmd.remove("hel and resi 5+10+15 and name CB")
    expected_cb = virtual_cb(cmd, "hel")
    path = tmp_path / "vcb.npy"
    np.save(path, sparse_map(20, {(1, 14): 0.9, (9, 19): 0.8, (4, 17): 0.7, (0, 9): 0.6}))
    result = commands.esm_contacts_load(str(path), "hel", top="4", _self=cmd)
    assert result["counts"]["undrawn"] == 0 and sum(result["objects"].values()) == 4
    vcb = atom_table(cmd, "esm_vcb")
    assert sorted(vcb) == [("A", 5, "CBV"), ("A", 10, "CBV"), ("A", 15, "CBV")]
    for (
        chain,
        resv,
        _,
    ), xyz in vcb.items():  # each pseudoatom sits on its own residue's virtual Cb
        assert np.linalg.norm(xyz - expected_cb[(chain, resv)]) < 1e-2
    table = {**atom_table(cmd, "hel and name CB"), **vcb}
    assert drawn_residue_pairs(cmd, "esm", table) == {(2, 15), (10, 20), (5, 18), (1, 10)}


def test_object_edited_during_prediction(cmd, tmp_path):
    """The dialog reads the target, the worker predicts, then it draws: atom indices may
    have changed in between (h_add), or residues gone (remove)."""
    build_helix(cmd)
    cmd.remove("hydro")
    P = sparse_map(20, {(1, 14): 0.9, (4, 17): 0.8})
    options = drawing.parse_options(top="2")
    target = commands.prepare_target("hel", _self=cmd)
    before = []
    cmd.iterate("hel and resi 15 and name CB", "before.append(index)", space={"before": before})
    assert len(before) == 1
    cmd.h_add("hel")
    found = []
    cmd.iterate("hel and resi 15 and name CB", "found.append(index)", space={"found": found})
    assert found != before  # the edit did renumber the atoms
    commands.draw_prediction(P, None, target, options, "test", _self=cmd)
    table = atom_table(cmd, "hel and name CB")
    assert drawn_residue_pairs(cmd, "esm", table) == {(2, 15), (5, 18)}
    assert "esm_vcb" not in cmd.get_names("all")

    target = commands.prepare_target("hel", _self=cmd)
    cmd.remove("hel and resi 7")
    message = unchanged(
        cmd, lambda: commands.draw_prediction(P, None, target, options, "test", _self=cmd)
    )
    assert (
        "hel changed" in message
        and "ALA 7 of chain A is missing" in message
        and "run again" in message
    )
    cmd.delete("hel")
    build_helix(cmd)
    target = commands.prepare_target("hel", _self=cmd)
    cmd.translate([5.0, 0, 0], "hel", camera=0)
    assert "moved" in unchanged(
        cmd, lambda: commands.draw_prediction(P, None, target, options, "test", _self=cmd)
    )
    cmd.delete("hel")
    assert "no longer exists" in unchanged(
        cmd, lambda: commands.draw_prediction(P, None, target, options, "t", _self=cmd)
    )


def test_altloc_anchor_per_residue(cmd, tmp_path):
    """Altlocs are chosen per residue as the core does (highest mean occupancy), not per
    atom: here CA alone favours A and CB alone favours B; the residue's mean, A."""
    build_helix(cmd)
    cmd.remove("hydro")
    lines = []
    for line in cmd.get_pdbstr("hel").splitlines():
        if line.startswith("ATOM") and int(line[22:26]) == 5:
            name = line[12:16].strip()
            for alt, shift, q in (
                ("A", 0.0, 0.3 if name == "CB" else 0.6),
                ("B", 0.8, 0.7 if name == "CB" else 0.4),
            ):
                x = float(line[30:38]) + shift
                lines.append(
                    f"{line[:16]}{alt}{line[17:30]}{x:8.3f}{line[38:54]}{q:6.2f}{line[60:]}"
                )
        elif line.startswith(("ATOM", "TER", "END")):
            lines.append(line)
    path = tmp_path / "alt.pdb"
    path.write_text("\n".join(lines) + "\n")
    cmd.delete("all")
    cmd.load(str(path), "altl")
    assert cmd.count_atoms("altl and resi 5 and alt B") == 5
    structure = load_structure(path)  # the core keeps altloc A of residue 5
    kept_cb = structure.coord[(structure.res_id == 5) & (structure.atom_name == "CB")][0]
    npy = tmp_path / "alt.npy"
    np.save(npy, sparse_map(20, {(4, 17): 0.9}))
    commands.esm_contacts_load(str(npy), "altl", top="1", _self=cmd)
    ((a, b),) = dash_segments(cmd, next(iter(measurement_objects(cmd, "esm"))))
    assert min(np.linalg.norm(a - kept_cb), np.linalg.norm(b - kept_cb)) < 1e-2


def test_range_sets_the_separation(cmd, tmp_path):
    assert drawing.parse_options().separations == (6, None)
    assert drawing.parse_options(range="local").separations == (3, 6)
    assert drawing.parse_options(range="local", min_sep="4").separations == (4, 6)
    assert drawing.parse_options(range="medium", min_sep="3").separations == (12, 24)
    assert drawing.parse_options(range="long", min_sep="30").separations == (30, None)
    assert drawing.parse_options(min_sep="2").separations == (2, None)
    for given, range_name in (("6", "local"), ("12", "short"), ("30", "medium")):
        with pytest.raises(CmdException) as error:
            drawing.parse_options(range=range_name, min_sep=given)
        assert f"min_sep {given}" in error.value.message and range_name in error.value.message

    build_helix(cmd)
    L = len(HELIX)
    path = tmp_path / "helix.npy"
    rng = np.random.default_rng(3)
    P = rng.random((L, L)).astype(np.float32)
    np.save(path, np.maximum(P, P.T))
    cmd.do(f"esm_contacts_load {path}, hel, top=all, range=local, name=loc")
    pairs = drawn_residue_pairs(cmd, "loc", atom_table(cmd, "hel and name CB"))
    assert {b - a for a, b in pairs} == {3, 4, 5} and len(pairs) == 17 + 16 + 15


def design_precision(P, T, count, low, high=None):
    """DESIGN.md: rank known pairs of the range by P (ties: lower i, then j), top count, hits /
    count."""
    i, j = np.triu_indices(P.shape[0], 1)
    keep = (j - i >= low) & (T[i, j] >= 0) & ((j - i < high) if high else True)
    i, j = i[keep], j[keep]
    order = np.lexsort((j, i, -P[i, j].astype(np.float64)))[:count]
    return int(np.sum(T[i[order], j[order]] == 1)), count


def test_summary_precision_follows_design(cmd, tmp_path):
    """Pairs of unknown truth are skipped before the cut and missing candidates count as
    false: not the fraction of drawn pairs that are contacts."""
    build_helix(cmd)
    cmd.remove("hel and resi 10 and name N+CA+C")  # residue 10: unknown truth
    pdb = tmp_path / "hel.pdb"
    cmd.save(str(pdb), "hel")
    T = true_contacts(load_structure(pdb), "A")
    assert (T[9] == -1).all()
    P = sparse_map(
        20,
        {
            (9, 12): 0.95,
            (0, 3): 0.9,
            (1, 4): 0.9,
            (2, 5): 0.9,
            (3, 6): 0.9,
            (0, 12): 0.8,
            (1, 13): 0.8,
            (2, 14): 0.8,
        },
    )
    path = tmp_path / "p.npy"
    np.save(path, P)
    result = commands.esm_contacts_load(str(path), "hel", top="5", min_sep="3", _self=cmd)
    hits, count = design_precision(P, T, 5, 3)
    assert (hits, count) == (4, 5)
    assert result["counts"]["tp"] == 4 and result["counts"]["unknown"] == 1
    assert result["precision"] == pytest.approx(0.8) and result["drawn_fraction"] == 1.0
    assert "precision at top 5: 0.800 (4/5;" in result["summary"]
    assert "drawn pairs that are contacts: 4/4" in result["summary"]
    # No pair of the range at all (a 20-residue chain has none 24 apart): 0 of floor(L/2).
    result = commands.esm_contacts_load(
        str(path), "hel", top="L/2", range="long", name="far", _self=cmd
    )
    assert result["precision"] == 0.0 and "precision at top L/2: 0.000 (0/10;" in result["summary"]


def test_npy_must_match_the_selection(cmd, tmp_path):
    build_helix(cmd)
    small = tmp_path / "small.npy"
    np.save(small, sparse_map(12, {(0, 8): 0.9}))
    message = unchanged(cmd, lambda: commands.esm_contacts_load(str(small), "hel", _self=cmd))
    assert "12 residues" in message and "20 observed residues" in message
    # An RR file without a sequence may stop at its largest index: padded, drawn.
    rr = tmp_path / "short.rr"
    rr.write_text("PFRMAT RR\n1 9 0 8 0.9\nEND\n")
    result = commands.esm_contacts_load(str(rr), "hel", top="1", _self=cmd)
    assert drawn_residue_pairs(cmd, "esm", atom_table(cmd, "hel and name CB")) == {(1, 9)}
    assert result["counts"]["tp"] + result["counts"]["fp"] == 1


def test_dialog_reports_unexpected_errors(cmd, monkeypatch):
    """Any exception while starting a run goes to the message box (here recorded), and
    the dialog stays ready for the next run."""
    monkeypatch.setenv("QT_QPA_PLATFORM", os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    from pymol.Qt import QtWidgets

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])  # noqa: F841
    from pymol_plugin import dialog

    build_helix(cmd)
    window = dialog.ContactsDialog(_self=cmd)
    window.range.setCurrentText("local")
    assert window.options().separations == (3, 6)  # a range starts at its own lower bound
    errors = []
    window.fail = errors.append

    def broken(*args, **kwargs):
        raise RuntimeError("unexpected")

    monkeypatch.setattr(commands, "prepare_target", broken)
    window.selection.setCurrentText("hel")
    window.run()
    assert (
        [type(e) for e in errors] == [RuntimeError]
        and window._job is None
        and window.run_button.isEnabled()
    )
    window.finish((None, None), None, window.options(), None)  # a malformed worker result
    assert len(errors) == 2 and isinstance(errors[1], TypeError) and window.run_button.isEnabled()
    window.deleteLater()


def three_pair_file(structure, path, chain="A"):
    """An RR file for a real chain listing 3 long-range pairs (two contacts, one not), by hand."""
    T = true_contacts(structure, chain)
    L = T.shape[0]
    contacts = [(i, j) for i in range(L) for j in range(i + 24, L) if T[i, j] == 1]
    others = [(i, j) for i in range(L) for j in range(i + 24, L) if T[i, j] == 0]
    chosen = [(contacts[0], 0.9), (others[len(others) // 2], 0.8), (contacts[-1], 0.7)]
    sequence = ec.chain_sequence(structure, chain)
    lines = ["PFRMAT RR"] + [sequence[k : k + 50] for k in range(0, L, 50)]
    path.write_text(
        "\n".join(lines + [f"{i + 1} {j + 1} 0 8 {p}" for (i, j), p in chosen] + ["END"]) + "\n"
    )
    return [pair for pair, _ in chosen], T


@pytest.mark.parametrize("top", ["L", "all", "L/2"])
def test_load_sparse_file_draws_only_its_pairs(cmd, shared_data, tmp_path, top):
    structure = load_structure(shared_data / "1hvr.pdb")
    pairs, T = three_pair_file(structure, tmp_path / "three.rr")
    cmd.load(str(shared_data / "1hvr.pdb"), "1hvr")
    result = commands.esm_contacts_load(
        str(tmp_path / "three.rr"), "1hvr and chain A", top=top, _self=cmd
    )
    assert sum(measurement_objects(cmd, "esm").values()) == 3
    c = result["counts"]
    assert c["tp"] + c["fp"] + c["inter"] + c["unknown"] == 3 and c["tp"] == 2
    atoms = atom_table(cmd, "1hvr and chain A and (name CB or (resn GLY and name CA))")
    position = {r[1]: k for k, r in enumerate(ec.residue_identities(structure, "A"))}
    drawn = set()
    for obj in measurement_objects(cmd, "esm"):
        for a, b in dash_segments(cmd, obj):
            drawn.add(
                tuple(
                    sorted((position[end_residue(atoms, a)[1]], position[end_residue(atoms, b)[1]]))
                )
            )
    # Inter-chain dashes end on chain B: only the tp/fp ones are in the chain-A table.
    assert {pair for pair in pairs if T[pair] == 1} <= drawn <= set(pairs)
    L = T.shape[0]
    count = L if top == "L" else (L // 2 if top == "L/2" else 3)
    assert result["precision_count"] == count
    assert result["precision"] == pytest.approx(2 / count)
    said = f"the map lists 3 pairs in these separations, fewer than {count}" in result["summary"]
    assert said == (count > 3)
