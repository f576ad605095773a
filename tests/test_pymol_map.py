"""The pair list, the drawing registry and the contact-map panel in a real headless PyMOL.

PyMOL runs as a ``pymol2`` instance; the panel is a real Qt widget on Qt's offscreen
platform, driven through matplotlib's own event API at the data coordinates of a cell.
Expected pairs, residue names and Cb-Cb distances are computed here with numpy from the
map written to the file and the structure's backbone atoms.
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pymol2  # noqa: E402  (the pymol extra: a missing PyMOL fails, never skips)
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pymol import CmdException  # noqa: E402

import esm_contacts as ec  # noqa: E402
from pymol_plugin import commands, drawing, registry  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TOP = 30


@pytest.fixture(scope="module")
def app():
    from pymol.Qt import QtWidgets

    return QtWidgets.QApplication.instance() or QtWidgets.QApplication([])


@pytest.fixture(scope="module")
def instance(app):
    pymol = pymol2.PyMOL()
    pymol.start()
    commands.register(pymol.cmd)
    yield pymol.cmd
    pymol.stop()


@pytest.fixture
def cmd(instance):
    instance.delete("all")
    yield instance
    commands.esm_contacts_clear(_self=instance)
    instance.delete("all")


# -- independent computations ------------------------------------------------------


def chain_residues(path, chain):
    """Per observed residue of a chain: (label "B:52A PRO", virtual Cb), straight from the atoms."""
    atoms = ec.load_structure(path)
    atoms = atoms[atoms.chain_id == chain]
    keys = list(dict.fromkeys(zip(atoms.res_id.tolist(), atoms.ins_code.tolist())))
    labels, cb = [], []
    for res_id, ins in keys:
        residue = atoms[(atoms.res_id == res_id) & (atoms.ins_code == ins)]
        xyz = {name: residue.coord[residue.atom_name == name][0] for name in ("N", "CA", "C")}
        b, c = xyz["CA"] - xyz["N"], xyz["C"] - xyz["CA"]
        cb.append(-0.58273431 * np.cross(b, c) + 0.56802827 * b - 0.54067466 * c + xyz["CA"])
        labels.append(f"{chain}:{res_id}{ins} {residue.res_name[0]}")
    return labels, np.asarray(cb, dtype=np.float64)


def planted_map(labels, cb, seed=7):
    """A map whose top pairs include true contacts at the insertion-code residues."""
    length = len(labels)
    rng = np.random.default_rng(seed)
    P = rng.random((length, length)) * 0.3
    P = ((P + P.T) / 2).astype(np.float32)
    inserted = [k for k, label in enumerate(labels) if label.split()[0][-1].isalpha()]
    distance = np.linalg.norm(cb[:, None] - cb[None], axis=-1)
    planted = []
    for k in inserted:
        partners = [m for m in np.argsort(distance[k]) if abs(m - k) >= 6][:2]
        planted += [(min(k, m), max(k, m)) for m in partners]
    for n, (a, b) in enumerate(planted):
        P[a, b] = P[b, a] = np.float32(0.95 - 0.01 * n)
    return P, planted


def expected_top(P, top, min_sep=6):
    """Top pairs by probability (ties: lower i, then lower j), as DESIGN ranks them."""
    i, j = np.triu_indices(P.shape[0], k=min_sep)
    order = np.lexsort((j, i, -P[i, j].astype(np.float64)))[:top]
    return list(zip(i[order].tolist(), j[order].tolist()))


@pytest.fixture(scope="module")
def igy(shared_data, tmp_path_factory):
    """1igy chain B (insertion codes 52A, 82A-C): labels, virtual Cb, a planted .npy map."""
    path = shared_data / "1igy.cif"
    labels, cb = chain_residues(path, "B")
    P, planted = planted_map(labels, cb)
    npy = tmp_path_factory.mktemp("igy") / "1igy_B.npy"
    np.save(npy, P)
    return {"path": path, "labels": labels, "cb": cb, "P": P, "planted": planted, "npy": npy}


def load_igy_chain_b(cmd, igy):
    cmd.load(str(igy["path"]), "igy")
    cmd.remove("igy and not chain B")  # no partner chain: the categories are intra-chain only
    return commands.esm_contacts_load(
        str(igy["npy"]), "igy and chain B", top=TOP, assembly="none", map=0, _self=cmd
    )


# -- esm_contacts_pairs ----------------------------------------------------------------


def test_pairs_match_file_and_structure(cmd, igy, capsys):
    load_igy_chain_b(cmd, igy)
    rows = commands.esm_contacts_pairs("esm", _self=cmd)
    printed = capsys.readouterr().out
    labels, cb, P = igy["labels"], igy["cb"], igy["P"]
    expected = expected_top(P, TOP)
    assert [(r["position_1"] - 1, r["position_2"] - 1) for r in rows] == expected
    assert set(igy["planted"]) <= set(expected)
    for row, (a, b) in zip(rows, expected):
        distance = float(np.linalg.norm(cb[a] - cb[b]))
        assert row["residue_1"] == labels[a] and row["residue_2"] == labels[b]
        assert row["probability"] == float(P[a, b])
        assert row["distance"] == pytest.approx(distance, abs=1e-3)
        assert row["category"] == ("tp" if distance < 8 else "fp")
        assert row["inter_distance"] is None  # the chain has no partner here
        assert f"{labels[a]:<12} {labels[b]:<12} {P[a, b]:6.3f} {distance:7.2f}" in printed
    # Insertion codes are in the names, as the structure has them.
    assert {"B:52A PRO", "B:82A SER", "B:82B SER"} <= {r["residue_1"] for r in rows} | {
        r["residue_2"] for r in rows
    }
    assert "esm_contacts_pairs: esm, igy chain B, 30 drawn pairs" in printed
    # quiet: the same list, nothing printed.
    assert commands.esm_contacts_pairs("esm", quiet=1, _self=cmd) == rows
    assert capsys.readouterr().out == ""


def test_pairs_report_homodimer_distances(cmd, shared_data, tmp_path):
    """1hvr chain A drawn with chain B present: homodimer pairs carry the partner distance."""
    structure = ec.load_structure(shared_data / "1hvr.pdb")
    T, X = ec.true_contacts(structure, "A"), ec.homodimer_contacts(structure, "A")
    P = np.zeros(T.shape, dtype=np.float32)
    i, j = np.triu_indices(T.shape[0], k=6)
    inter = np.flatnonzero((T[i, j] == 0) & (X[i, j] == 1))[:5]
    P[i[inter], j[inter]] = P[j[inter], i[inter]] = np.linspace(0.9, 0.8, 5)
    np.save(tmp_path / "hvr.npy", P)
    cmd.load(str(shared_data / "1hvr.pdb"), "1hvr")
    commands.esm_contacts_load(
        str(tmp_path / "hvr.npy"), "1hvr and chain A", top=5, map=0, _self=cmd
    )
    rows = commands.esm_contacts_pairs(_self=cmd)
    _, cb_a = chain_residues(shared_data / "1hvr.pdb", "A")
    _, cb_b = chain_residues(shared_data / "1hvr.pdb", "B")  # same numbering, 99 residues each
    assert [r["category"] for r in rows] == ["inter"] * 5
    for row, k in zip(rows, inter):
        a, b = int(i[k]), int(j[k])
        shortest = min(np.linalg.norm(cb_a[a] - cb_b[b]), np.linalg.norm(cb_a[b] - cb_b[a]))
        assert row["inter_distance"] == pytest.approx(float(shortest), abs=1e-3) and shortest < 8
        assert row["distance"] == pytest.approx(float(np.linalg.norm(cb_a[a] - cb_a[b])), abs=1e-3)
        assert row["distance"] >= 8
    # A homodimer pair is picked where its dash runs: one residue in A, its partner in B.
    for row, k in zip(rows, inter):
        a, b = int(i[k]), int(j[k])
        ends = min(((a, b), (b, a)), key=lambda e: np.linalg.norm(cb_a[e[0]] - cb_b[e[1]]))
        picked = registry.pick("esm", a, b, cmd)
        residues = set()
        cmd.iterate("esm_pick", "residues.add((chain, resv))", space={"residues": residues})
        assert residues == {
            ("A", ends[0] + 1),
            ("B", ends[1] + 1),
        }  # 1hvr numbers both chains 1..99
        assert (
            picked["dash"].startswith(f"A:{ends[0] + 1} ")
            and f" to B:{ends[1] + 1} " in picked["dash"]
        )
        assert cmd.get_type("esm_pick_dist") == "object:measurement"


def test_core_distances_agree_with_contacts(shared_data):
    """cb_distances / homodimer_distances are the numbers behind the contact maps."""
    for name, chain in (("1hvr.pdb", "A"), ("1a3a.pdb", "A"), ("1igy.cif", "B")):
        structure = ec.load_structure(shared_data / name)
        D, T = ec.cb_distances(structure, chain), ec.true_contacts(structure, chain)
        known = T >= 0
        assert np.array_equal(D[known] < 8, T[known] == 1) and np.isnan(D[~known]).all()
        DX, X = ec.homodimer_distances(structure, chain), ec.homodimer_contacts(structure, chain)
        assert np.array_equal(np.nan_to_num(DX, nan=99) < 8, X == 1)
        assert np.array_equal(np.isnan(DX), X == -1)


# -- the registry ------------------------------------------------------------------------


def test_registry_lifecycle(cmd, igy):
    load_igy_chain_b(cmd, igy)
    assert registry.names(cmd) == ["esm"]
    assert registry.get("esm", cmd).label == "igy chain B"
    registry.pick("esm", *igy["planted"][0], cmd)
    assert {"esm_pick", "esm_pick_dist"} <= set(cmd.get_names("all"))
    assert commands.esm_contacts_clear("esm", _self=cmd) == ["esm"]
    assert registry.names(cmd) == []
    assert not {"esm_pick", "esm_pick_dist"} & set(cmd.get_names("all"))
    with pytest.raises(CmdException, match="no contact drawing"):
        commands.esm_contacts_pairs("esm", _self=cmd)
    # A group deleted by other means leaves no stale record behind.
    load_igy_chain_b(cmd, igy)
    cmd.delete("esm")
    with pytest.raises(CmdException, match="no contact drawing named 'esm'"):
        commands.esm_contacts_pairs("esm", _self=cmd)
    assert registry.names(cmd) == []


def test_map_option_is_checked_before_drawing(cmd, igy):
    cmd.load(str(igy["path"]), "igy")
    before = cmd.get_names("all")
    with pytest.raises(CmdException, match="map must be 1 or 0"):
        commands.esm_contacts_load(str(igy["npy"]), "igy and chain B", map="maybe", _self=cmd)
    assert cmd.get_names("all") == before and registry.names(cmd) == []


def test_headless_pymol_has_no_panel(shared_data, tmp_path):
    """``pymol -cq``: the drawing works without a panel (the default), esm_contacts_map says why
    not."""
    P = np.full((99, 99), 0.1, dtype=np.float32)
    P[10, 30] = P[30, 10] = 0.9
    np.save(tmp_path / "p.npy", P)
    script = tmp_path / "run.py"
    script.write_text(
        "import sys\nimport pymol_plugin\nfrom pymol import cmd, CmdException\nfrom pymol_plugin"
        f" import commands\ncmd.load({str(shared_data / '1hvr.pdb')!r},"
        f" 'h')\ncmd.do('esm_contacts_load {tmp_path / 'p.npy'}, h and chain A,"
        " top=1')\nprint('QT', 'PyQt5' in sys.modules)\nprint('PAIRS',"
        " commands.esm_contacts_pairs(quiet=1)[0]['residue_1'])\ncmd.do('esm_contacts_map')\ntry:\n"
        "    commands.esm_contacts_map()\nexcept CmdException as e:\n    print('REFUSED', e)\n"
    )
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    run = subprocess.run(
        [sys.executable, "-m", "pymol", "-cq", str(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "PAIRS A:11 VAL" in run.stdout, run.stdout + run.stderr
    assert "QT False" in run.stdout  # no panel was built: Qt was not even imported
    assert "REFUSED" in run.stdout and "needs PyMOL's Qt window" in run.stdout


# -- the panel ---------------------------------------------------------------------------


def mouse(panel, kind, a, b, button=None):
    """A matplotlib mouse event at the centre of cell (row a, column b), processed by the canvas."""
    from matplotlib.backend_bases import MouseEvent

    panel.canvas.draw()
    x, y = panel.axes.transData.transform((b, a))
    event = MouseEvent(kind, panel.canvas, x, y, button=button)
    panel.canvas.callbacks.process(kind, event)
    return event


def measured_dash(cmd, obj):
    """The two end points of a one-dash distance object, read from the session."""
    entry = next(n for n in cmd.get_session(obj)["names"] if n and n[0] == obj)
    assert entry[4] == 4, f"{obj} is not a distance object"
    state = next(s for s in entry[5][2] if s)
    assert state[0] == 2
    return np.asarray(state[1], dtype=float).reshape(-1, 3)[:2]


def residue_atoms(cmd, obj, chain, resi):
    return cmd.count_atoms(f"%{obj} and chain {chain} and resi \\{resi}")


def test_panel_click_picks_the_pair(cmd, igy):
    from pymol_plugin import contact_map

    load_igy_chain_b(cmd, igy)
    panel = commands.esm_contacts_map("esm", _self=cmd) and contact_map.panel_of("esm", cmd)
    assert panel is not None and panel.entry.name == "esm"
    a, b = igy["planted"][0]  # B:52A PRO and a neighbour
    first, second = (igy["labels"][k].split()[0].split(":")[1] for k in (a, b))
    assert "52A" in (first, second)
    mouse(panel, "motion_notify_event", a, b)
    distance = float(np.linalg.norm(igy["cb"][a] - igy["cb"][b]))
    assert (
        panel.status.text()
        == f"{igy['labels'][a]} \u2013 {igy['labels'][b]} | p = {igy['P'][a, b]:.3f} | "
        f"Cb-Cb {distance:.1f} \u00c5 | true contact, drawn"
    )
    assert panel.canvas.toolTip() == panel.status.text()
    # The mirrored cell below the diagonal names the same pair.
    mouse(panel, "motion_notify_event", b, a)
    assert panel.status.text().startswith(f"{igy['labels'][a]} \u2013 {igy['labels'][b]}")

    mouse(panel, "button_press_event", a, b, button=1)
    expected = residue_atoms(cmd, "igy", "B", first) + residue_atoms(cmd, "igy", "B", second)
    assert expected > 10 and cmd.count_atoms("esm_pick") == expected
    assert cmd.count_atoms(f"esm_pick and chain B and resi \\{first}") == residue_atoms(
        cmd, "igy", "B", first
    )
    assert cmd.get_type("esm_pick_dist") == "object:measurement"
    # The measured distance is the drawn dash's: CB to CB (CA for Gly) of the two residues.
    ends = [
        f"igy and chain B and resi \\{r} and name"
        f" {'CA' if igy['labels'][k].endswith('GLY') else 'CB'}"
        for r, k in ((first, a), (second, b))
    ]
    dash = measured_dash(cmd, "esm_pick_dist")
    atoms = np.array([cmd.get_coords(e)[0] for e in ends], dtype=float)
    assert np.allclose(dash, atoms, atol=1e-3) or np.allclose(dash, atoms[::-1], atol=1e-3)
    assert panel.status.text().startswith("Picked esm_pick:")
    # The picked cell stays outlined in both halves, also after a refresh.
    panel.refresh()
    assert panel.picked == (a, b)
    assert sorted(tuple(m.get_offsets()[0]) for m in panel._pick_marks) == sorted([(b, a), (a, b)])
    # A click on the diagonal or outside the map picks nothing new.
    cmd.delete("esm_pick")
    mouse(panel, "button_press_event", a, a, button=1)
    assert "esm_pick" not in cmd.get_names("all")


def test_panel_highlights_sele_and_marks_categories(cmd, igy):
    from pymol_plugin import contact_map

    load_igy_chain_b(cmd, igy)
    panel = contact_map.show_map("esm", cmd)
    assert panel.highlighted == []
    cmd.select("sele", "igy and chain B and resi 82A+82B+90")
    panel.refresh()
    wanted = [
        k for k, label in enumerate(igy["labels"]) if label.split()[0] in ("B:82A", "B:82B", "B:90")
    ]
    assert len(wanted) == 3 and panel.highlighted == wanted
    # Drawn pairs are marked in the drawing's own colours (read from PyMOL's colour table).
    entry = registry.get("esm", cmd)
    colors = {kind: tuple(cmd.get_color_tuple(name)) for kind, name in drawing.COLORS.items()}
    marked = {
        tuple(np.round(c.get_facecolor()[0][:3], 3))
        for c in panel.axes.collections
        if len(c.get_offsets()) and c.get_facecolor().size
    }
    for kind in set(entry.kinds.tolist()):
        assert tuple(np.round(colors[kind], 3)) in marked, kind
    commands.esm_contacts_clear("esm", _self=cmd)
    assert contact_map.panel_of("esm", cmd) is None


def test_map_image_shows_homodimer_contacts(cmd, shared_data, tmp_path):
    """1hvr: the structure's half shows intra-chain contacts dark and homodimer-only ones in the
    inter colour."""
    from pymol_plugin import contact_map

    structure = ec.load_structure(shared_data / "1hvr.pdb")
    T, X = ec.true_contacts(structure, "A"), ec.homodimer_contacts(structure, "A")
    P = np.full(T.shape, 0.2, dtype=np.float32)
    np.save(tmp_path / "hvr.npy", P)
    cmd.load(str(shared_data / "1hvr.pdb"), "1hvr")
    commands.esm_contacts_load(
        str(tmp_path / "hvr.npy"), "1hvr and chain A", top=5, map=0, _self=cmd
    )
    entry = registry.get("", cmd)
    colors = {kind: contact_map.color_rgb(name, cmd) for kind, name in entry.colors.items()}
    image = contact_map.map_image(entry, colors)
    lower = np.tril(np.ones(T.shape, dtype=bool), -1)
    inter_only = lower & (X == 1) & (T == 0)
    assert inter_only.sum() > 20
    magenta = np.asarray(colors["inter"]) * 0.45 + 0.55
    assert np.allclose(image[inter_only], magenta)
    assert np.allclose(image[lower & (T == 1)], contact_map.CONTACT_RGB)
    upper = np.triu(np.ones(T.shape, dtype=bool), 1)
    assert np.allclose(image[upper], 1 - 0.85 * 0.2)


def test_prediction_command_records_its_pairs(cmd, shared_data, tiny_esm1b):
    """esm_contacts (a prediction, not a file) fills the same registry: the pair list is the
    drawing."""
    cmd.load(str(shared_data / "1hvr.pdb"), "1hvr")
    result = commands.esm_contacts(
        "1hvr and chain A",
        model=str(tiny_esm1b),
        top=20,
        device="cpu",
        name="pred",
        map="off",
        _self=cmd,
    )
    rows = commands.esm_contacts_pairs("pred", quiet=1, _self=cmd)
    counts = result["counts"]
    assert (
        len(rows)
        == counts["tp"] + counts["fp"] + counts["inter"]
        == sum(result["objects"].values())
    )
    for kind in ("tp", "fp", "inter"):
        assert sum(r["category"] == kind for r in rows) == counts[kind]
    labels = ec.residue_labels(ec.load_structure(shared_data / "1hvr.pdb"), "A", with_name=True)
    assert all(
        r["residue_1"] == labels[r["position_1"] - 1]
        and r["residue_2"] == labels[r["position_2"] - 1]
        for r in rows
    )
    probabilities = [r["probability"] for r in rows]
    assert probabilities == sorted(probabilities, reverse=True)


def test_open_panel_follows_a_redrawing(cmd, igy):
    """Redrawn under the same name (map=0), an open panel shows the new drawing's pairs."""
    from pymol_plugin import contact_map

    load_igy_chain_b(cmd, igy)
    panel = contact_map.show_map("esm", cmd)
    assert len(panel.entry.i) == TOP
    commands.esm_contacts_load(
        str(igy["npy"]), "igy and chain B", top=5, assembly="none", map=0, _self=cmd
    )
    assert contact_map.panel_of("esm", cmd) is panel and len(panel.entry.i) == 5
    assert [(int(a), int(b)) for a, b in zip(panel.entry.i, panel.entry.j)] == expected_top(
        igy["P"], 5
    )


def test_pick_of_an_assembly_homodimer_pair(cmd, shared_data, tmp_path):
    """1A8O: one chain, its partner a copy from the assembly; a click picks the dash's two ends."""
    path = shared_data / "1A8O.cif.gz"
    structure, assembly = ec.load_structure(path), ec.load_assembly(path)
    T, X = (
        ec.true_contacts(structure, "A"),
        ec.homodimer_contacts(structure, "A", assembly=assembly),
    )
    i, j = np.triu_indices(T.shape[0], k=6)
    inter = np.flatnonzero((T[i, j] == 0) & (X[i, j] == 1))[:2]
    P = np.zeros(T.shape, dtype=np.float32)
    P[i[inter], j[inter]] = P[j[inter], i[inter]] = [0.9, 0.8]
    np.save(tmp_path / "mono.npy", P)
    cmd.load(str(path), "mono")
    commands.esm_contacts_load(
        str(tmp_path / "mono.npy"), "mono and chain A", top=2, assembly=str(path), map=0, _self=cmd
    )
    for k in inter:
        picked = registry.pick("esm", int(i[k]), int(j[k]), cmd)
        assert "(assembly copy A:1)" in picked["dash"]
        assert (
            cmd.count_atoms("esm_pick and mono") > 0
            and cmd.count_atoms("esm_pick and esm_partner") > 0
        )
        ends = [
            cmd.get_coords(f"esm_pick and {obj} and name CB")[0] for obj in ("mono", "esm_partner")
        ]
        assert (
            np.linalg.norm(ends[0] - ends[1]) < 9
        )  # the contact the dash shows (virtual Cb < 8 A)
        assert cmd.get_type("esm_pick_dist") == "object:measurement"
