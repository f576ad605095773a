"""Issue 11: drawings you can read in the real PyMOL (pymol2, no mocks).

The object tree, recolouring, thickness bins, the legend object, contrast of the dashes
against PyMOL's default green cartoon in ray-traced images (also for deuteranopes), and
the dialogs (Qt offscreen): a contact file drawn from the Predict dialog, the chain of a
two-chain object asked in the Check dialog.
"""

import os

import numpy as np
import pymol2  # noqa: E402  (the pymol extra: a missing PyMOL fails, never skips)
import pytest
from pymol import CmdException  # noqa: E402

import esm_contacts as ec  # noqa: E402
from esm_contacts.structure import homodimer_contacts, load_structure, true_contacts  # noqa: E402
from pymol_plugin import check, commands, drawing  # noqa: E402

#: Machado, Oliveira & Fernandes (2009), deuteranopia at severity 1.0, on linear RGB.
MACHADO_DEUTERANOPIA = np.array(
    [
        [0.367322, 0.860646, -0.227968],
        [0.280085, 0.672501, 0.047413],
        [-0.011820, 0.042940, 0.968881],
    ]
)
#: CIE76 colour difference from which two colours are told apart at a glance (2.3 is just
#: noticeable).
DISTINCT = 20.0


@pytest.fixture(scope="module")
def instance(pymol_cmd):
    """This module's headless PyMOL (conftest's ``pymol_cmd``)."""
    return pymol_cmd


@pytest.fixture
def cmd(instance):
    instance.delete("all")
    instance.bg_color("black")
    instance.set("ray_opaque_background", 1)
    yield instance
    instance.delete("all")


@pytest.fixture
def fresh():
    """A new PyMOL: its first object gets PyMOL's first carbon colour (green), as a user's would."""
    pymol = pymol2.PyMOL()
    pymol.start()
    commands.register(pymol.cmd)
    pymol.cmd.set("ray_opaque_background", 1)
    yield pymol.cmd
    pymol.stop()


@pytest.fixture(scope="module")
def hvr(shared_data, tmp_path_factory):
    """1hvr chain A: an RR file with true, homodimer and false pairs at distinct probabilities."""
    path = shared_data / "1hvr.pdb"
    structure = load_structure(path)
    T, X = true_contacts(structure, "A"), homodimer_contacts(structure, "A")
    L = T.shape[0]
    i, j = np.triu_indices(L, k=6)
    rng = np.random.default_rng(11)
    P = np.triu(rng.random((L, L)) * 0.1, 1)
    for mask, count, low, high in (
        ((T[i, j] == 1), 30, 0.4, 0.98),
        ((T[i, j] == 0) & (X[i, j] == 1), 10, 0.3, 0.9),
        ((T[i, j] == 0) & (X[i, j] == 0), 20, 0.2, 0.95),
    ):
        chosen = rng.permutation(np.flatnonzero(mask))[:count]
        P[i[chosen], j[chosen]] = rng.uniform(low, high, count)
    P = (P + P.T).astype(np.float32)
    rr = tmp_path_factory.mktemp("hvr") / "1hvr_A.rr"
    ec.write_contacts(rr, P, sequence=ec.chain_sequence(structure, "A"))
    return rr, path, P, structure


def load_hvr(cmd, hvr, **options):
    rr, path, _, _ = hvr
    cmd.load(str(path), "1hvr")
    cmd.hide("everything")
    cmd.show("cartoon")
    cmd.orient("1hvr and chain A")
    return commands.esm_contacts_load(str(rr), "1hvr and chain A", top="60", **options, _self=cmd)


def group_of(cmd, obj):
    return next(n[6] for n in cmd.get_session(obj)["names"] if n and n[0] == obj)


def members(cmd, group):
    """Objects directly in a group, from the session."""
    return sorted(n[0] for n in cmd.get_session()["names"] if n and n[6] == group)


def dash_pairs(cmd, obj):
    """Residue numbers (resv) of both ends of each dash of a distance object."""
    session = cmd.get_session(obj)
    entry = next(n for n in session["names"] if n and n[0] == obj)
    points = np.concatenate(
        [np.asarray(s[1], float).reshape(-1, 3)[: s[0]] for s in entry[5][2] if s]
    )
    rows = []
    cmd.iterate_state(
        1,
        "1hvr and (name CB or (resn GLY and name CA))",
        "rows.append((chain, resv, x, y, z))",
        space={"rows": rows},
    )
    xyz = np.array([r[2:] for r in rows])
    ends = [rows[int(np.argmin(np.linalg.norm(xyz - p, axis=1)))][:2] for p in points]
    return [tuple(ends[k : k + 2]) for k in range(0, len(ends), 2)]


# -- object tree -------------------------------------------------------------------------


def test_object_tree_two_levels_short_names_no_empty_group(cmd, hvr):
    drawn = load_hvr(cmd, hvr)
    names = [n for n in cmd.get_names("all") if n.startswith("esm")]
    # Depth: each object's chain of groups up to the drawing.
    for obj in names:
        depth, group = 0, group_of(cmd, obj)
        while group:
            depth, group = depth + 1, group_of(cmd, group)
        assert depth <= 2, (obj, depth)
    assert members(cmd, "esm") == sorted(["esm_key", "esm_tp", "esm_fp", "esm_inter"])
    for kind in ("tp", "fp", "inter"):
        inside = members(cmd, f"esm_{kind}")
        assert inside and all(cmd.get_type(n) == "object:measurement" for n in inside)
        assert all(n in {f"esm_{kind}{k}" for k in range(1, 5)} for n in inside), inside
    # Short names: none longer than 10 characters, and the last 2 tell the siblings apart.
    assert max(len(n) for n in names) <= 10
    # No empty group or object: every group holds something, every distance object dashes.
    for group in cmd.get_names_of_type("object:group"):
        assert members(cmd, group), group
    assert sum(drawn["objects"].values()) == 60


def test_no_empty_category_group(cmd, tmp_path):
    cmd.fab("A" * 20, "hel", ss=1, chain="A")
    P = np.zeros((20, 20), dtype=np.float32)
    P[0, 15] = P[15, 0] = 0.9  # one false positive only
    np.save(tmp_path / "m.npy", P)
    commands.esm_contacts_load(str(tmp_path / "m.npy"), "hel", top="1", _self=cmd)
    assert members(cmd, "esm") == ["esm_fp", "esm_key"]
    assert "esm_tp" not in cmd.get_names("all") and "esm_inter" not in cmd.get_names("all")
    assert drawing.is_drawing("esm", cmd)
    assert commands.esm_contacts_clear("esm", _self=cmd) == ["esm"]
    assert [n for n in cmd.get_names("all") if not n.startswith("_pk")] == ["hel"]


# -- thickness -------------------------------------------------------------------------


def test_thickness_bins_are_quartiles_of_the_drawn_probabilities(cmd, hvr):
    _, _, P, structure = hvr
    drawn = load_hvr(cmd, hvr)
    position = {r[1]: k for k, r in enumerate(ec.residue_identities(structure, "A"))}
    by_bin = {}
    for obj in drawn["objects"]:
        k = int(obj[-1])
        for (_, ra), (_, rb) in dash_pairs(cmd, obj):
            by_bin.setdefault(k, []).append(float(P[position[ra], position[rb]]))
    drawn_p = np.concatenate([v for v in by_bin.values()])
    assert len(drawn_p) == 60
    edges = np.percentile(drawn_p, [25, 50, 75])  # independent of the plugin's function
    np.testing.assert_allclose(drawn["edges"], edges, rtol=1e-5)
    bounds = np.concatenate([[-np.inf], edges, [np.inf]])
    for k, values in by_bin.items():
        assert all(bounds[k - 1] - 1e-6 <= v < bounds[k] + 1e-6 for v in values), (k, values, edges)
    # Each quarter holds about a quarter of the dashes (distinct probabilities).
    assert sorted(len(v) for v in by_bin.values()) == [15, 15, 15, 15]
    radii = [
        float(cmd.get_setting_text("dash_radius", f"esm_tp{k}"))
        for k in range(1, 5)
        if f"esm_tp{k}" in drawn["objects"]
    ]
    assert radii == sorted(radii) and len(set(radii)) == len(radii)
    # The log states the bins.
    for k in sorted(by_bin):
        values = by_bin[k]
        assert f"{k}: p {min(values):.2f}-{max(values):.2f} ({len(values)})" in drawn["summary"]


# -- colours ---------------------------------------------------------------------------


def object_rgb(cmd, obj):
    return np.array(cmd.get_color_tuple(cmd.get_object_color_index(obj)))


def test_recolour_a_category(cmd, hvr, tmp_path):
    drawn = load_hvr(cmd, hvr)
    tp = [o for o in drawn["objects"] if o.startswith("esm_tp")]
    # PyMOL's own colour command on the category group reaches the dashes.
    cmd.color("orange", "esm_tp")
    for obj in tp:
        assert (
            cmd.get_setting_text("dash_color", obj) == "default"
        )  # the object's colour is the dashes'
        np.testing.assert_allclose(object_rgb(cmd, obj), cmd.get_color_tuple("orange"))
    # The documented command, for every drawing; the legend follows.
    commands.esm_contacts_color("fp", "yellow", _self=cmd)
    for obj in (o for o in drawn["objects"] if o.startswith("esm_fp")):
        np.testing.assert_allclose(object_rgb(cmd, obj), (1, 1, 0))
    for obj in tp:
        np.testing.assert_allclose(object_rgb(cmd, obj), cmd.get_color_tuple("orange"))
    cmd.disable("esm_tp* esm_fp* esm_inter* 1hvr")
    legend = render(cmd, str(tmp_path / "legend_only.png"))
    assert colour_count(legend, (255, 255, 0)) > 20  # the legend's fp sample is yellow now
    with pytest.raises(CmdException, match="category"):
        commands.esm_contacts_color("green", "blue", _self=cmd)
    with pytest.raises(CmdException, match="unknown colour"):
        commands.esm_contacts_color("tp", "nocolour", _self=cmd)


def test_palette_option(cmd, hvr):
    drawn = load_hvr(cmd, hvr, palette="classic")
    obj = next(o for o in drawn["objects"] if o.startswith("esm_tp"))
    np.testing.assert_allclose(object_rgb(cmd, obj), (0, 1, 0))
    with pytest.raises(CmdException, match="palette"):
        commands.esm_contacts_load(str(hvr[0]), "1hvr and chain A", palette="rainbow", _self=cmd)


# -- images ----------------------------------------------------------------------------


def render(cmd, path, width=600, height=450):
    import matplotlib.image

    assert cmd.png(path, width=width, height=height, ray=1) == 1 and os.path.isfile(path), path
    return (matplotlib.image.imread(path)[..., :3] * 255).astype(float)


def colour_count(image, rgb, tolerance=0.15, darkest=60):
    """Pixels of a colour as lit by the ray tracer: the same channel proportions (each
    pixel and the colour scaled to their brightest channel), not darker than ``darkest``."""
    rgb = np.asarray(rgb, float)
    top = image.max(axis=-1, keepdims=True)
    shape = image / np.maximum(top, 1)
    return int(
        np.sum(
            (np.abs(shape - rgb / rgb.max()).max(axis=-1) < tolerance) & (top[..., 0] >= darkest)
        )
    )


def lit(pixels):
    """The colour of an object's lit core: the median of its brightest quarter of pixels."""
    brightness = pixels.max(axis=-1)
    return np.median(pixels[brightness >= np.percentile(brightness, 75)], axis=0)


def to_linear(rgb):
    c = np.asarray(rgb, float) / 255
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def to_srgb(linear):
    c = np.clip(linear, 0, 1)
    return 255 * np.where(c <= 0.0031308, 12.92 * c, 1.055 * c ** (1 / 2.4) - 0.055)


def deuteranopia(rgb):
    return to_srgb(to_linear(rgb) @ MACHADO_DEUTERANOPIA.T)


def lab(rgb):
    xyz = (
        to_linear(rgb)
        @ np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]).T
    )
    xyz = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def delta_e(a, b):
    return float(np.linalg.norm(lab(a) - lab(b)))


def changed(image, reference, threshold=40):
    return np.linalg.norm(image - reference, axis=-1) > threshold


@pytest.mark.slow
@pytest.mark.parametrize("palette", ["okabe-ito"])
def test_dashes_stand_out_from_the_default_cartoon(fresh, hvr, tmp_path, palette):
    """Ray-traced, PyMOL's default colours (green carbons, black background): each
    category's dashes are found in its colour and differ from the cartoon, also for a
    deuteranope."""
    cmd = fresh
    load_hvr(cmd, hvr, palette=palette)
    cmd.zoom("1hvr and chain A")
    cmd.disable("*")
    background = render(cmd, str(tmp_path / "empty.png"))
    cmd.enable("*")
    cmd.disable("esm_key esm_tp* esm_fp* esm_inter*")
    cartoon_only = render(cmd, str(tmp_path / "cartoon.png"))
    cartoon = lit(cartoon_only[changed(cartoon_only, background, 10)])
    carbon = np.array(cmd.get_color_tuple("carbon")) * 255
    assert delta_e(cartoon, carbon) < 10, (cartoon, carbon)  # PyMOL's green carbons, lit
    measured = {}
    for kind in ("tp", "fp", "inter"):
        cmd.enable(f"esm_{kind}*")
        image = render(cmd, str(tmp_path / f"{kind}.png"))
        cmd.disable(f"esm_{kind}*")
        dashes = image[changed(image, cartoon_only)]
        assert len(dashes) > 100, kind
        nominal = drawing.PALETTES[palette][kind][1]
        # The category's colour is among the pixels (lit from the front: close to nominal).
        assert colour_count(image, nominal) > 30, kind
        observed = lit(dashes)
        measured[kind] = (
            observed,
            delta_e(observed, cartoon),
            delta_e(deuteranopia(observed), deuteranopia(cartoon)),
        )
        assert delta_e(observed, cartoon) > DISTINCT, (kind, observed, cartoon)
        assert delta_e(deuteranopia(observed), deuteranopia(cartoon)) > DISTINCT, (
            kind,
            observed,
            cartoon,
        )
    # The categories differ from one another too, also for a deuteranope.
    for a, b in (("tp", "fp"), ("tp", "inter"), ("fp", "inter")):
        assert delta_e(measured[a][0], measured[b][0]) > DISTINCT
        assert delta_e(deuteranopia(measured[a][0]), deuteranopia(measured[b][0])) > 10
    print(
        {k: (np.round(v[0]).tolist(), round(v[1], 1), round(v[2], 1)) for k, v in measured.items()},
        cartoon,
    )


def test_classic_green_vanishes_on_the_default_cartoon():
    """Why the default changed: the old green on PyMOL's green carbons, for a deuteranope."""
    green, carbon = np.array([0, 255, 0]), np.array([51, 255, 51])
    assert delta_e(deuteranopia(green), deuteranopia(carbon)) < DISTINCT
    blue = np.array(drawing.PALETTES["okabe-ito"]["tp"][1])
    assert delta_e(deuteranopia(blue), deuteranopia(carbon)) > DISTINCT


def test_legend_in_png_and_removed_by_clear(cmd, hvr, tmp_path):
    drawn = load_hvr(cmd, hvr)
    assert drawn["legend"] == "esm_key" and cmd.get_type("esm_key") == "object:cgo"
    assert group_of(cmd, "esm_key") == "esm"
    with_legend = render(cmd, str(tmp_path / "with.png"))
    cmd.disable("esm_key")
    without = render(cmd, str(tmp_path / "without.png"))
    cmd.enable("esm_key")
    legend = changed(with_legend, without)
    assert legend.sum() > 2000
    columns = np.flatnonzero(legend.any(axis=0))
    # Beside the structure (to its right), in its own region of the image.
    structure = changed(without, np.zeros_like(without), 10)
    assert np.median(columns) > np.median(np.flatnonzero(structure.any(axis=0)))
    # White text on the black background, and each category's sample colour.
    region = with_legend[:, columns.min() : columns.max() + 1]
    bright_grey = (region.min(axis=-1) > 150) & (np.ptp(region, axis=-1) < 30)
    assert bright_grey.sum() > 200
    for kind in ("tp", "fp", "inter"):
        assert colour_count(region, drawing.PALETTES["okabe-ito"][kind][1]) > 10, kind
    # Removed with the drawing.
    commands.esm_contacts_clear("esm", _self=cmd)
    assert "esm_key" not in cmd.get_names("all")
    # legend=0: none drawn.
    load_hvr(cmd, hvr, legend="0")
    assert "esm_key" not in cmd.get_names("all") and drawing.is_drawing("esm", cmd)


def test_check_legend_and_colours(cmd, hvr, tmp_path):
    rr, path, _, _ = hvr
    cmd.load(str(path), "1hvr")
    check.esm_contacts_check("1hvr and chain A", str(rr), _self=cmd)
    assert cmd.get_type("esm_check_key") == "object:cgo"
    cmd.hide("everything")
    cmd.show("cartoon")
    image = render(cmd, str(tmp_path / "check.png"))
    # The spectrum's ends and the no-evidence grey are in the image (legend bar and sample).
    for rgb in ((255, 0, 0), (0, 0, 255)):
        assert colour_count(image, rgb) > 20, rgb
    grey = np.array(cmd.get_color_tuple(check.CHECK_NO_EVIDENCE_COLOR)) * 255
    assert delta_e(grey, (255, 255, 255)) > 2 * DISTINCT  # told apart from white "half support"
    assert commands.esm_contacts_clear("esm_check", _self=cmd) == ["esm_check_key"]
    assert "esm_check_key" not in cmd.get_names("all")


# -- dialogs (Qt offscreen) ---------------------------------------------------------------


@pytest.fixture(scope="module")
def qt_app():
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from pymol.Qt import QtWidgets

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    yield app


def test_predict_dialog_draws_a_contact_file(cmd, hvr, qt_app, tmp_path):
    from pymol_plugin.dialog import ContactsDialog, status_text

    rr, path, _, _ = hvr
    cmd.load(str(path), "1hvr")
    dialog = ContactsDialog(_self=cmd)
    dialog.selection.setCurrentText("1hvr and chain A")
    dialog.model.setCurrentText(str(rr))
    dialog.top.setCurrentText("60")
    dialog.plot.setText(str(tmp_path / "map.png"))
    dialog.run_button.click()
    assert dialog._job is None  # no worker: a file is drawn at once
    assert status_text(dialog.status).startswith("Drew esm:"), status_text(dialog.status)
    assert "esm_contacts: 1hvr chain A, 99 residues, model file" in dialog.summary.toPlainText()
    assert "thickness: quartiles" in dialog.summary.toPlainText()
    assert sum(len(members(cmd, f"esm_{k}")) for k in ("tp", "fp", "inter")) >= 3
    assert (tmp_path / "map.png").stat().st_size > 1000
    # A long error path wraps instead of being clipped.
    dialog.model.setCurrentText(
        "/very/long/folder/name/that/goes/on/and/on/and/on/for/ever/and/ever/missing.rr"
    )
    from pymol.Qt import QtWidgets

    QtWidgets.QMessageBox.critical = staticmethod(lambda *args: None)  # no modal box offscreen
    dialog.show()
    dialog.run_button.click()
    qt_app.processEvents()
    assert status_text(dialog.status).startswith("Error:")
    assert dialog.status.heightForWidth(dialog.status.width()) <= dialog.status.height() + 2
    assert dialog.status.width() <= dialog.width()
    dialog.close()


def test_check_dialog_asks_for_the_chain(cmd, hvr, qt_app):
    from pymol_plugin.dialog import CheckDialog, status_text

    rr, path, _, _ = hvr
    cmd.load(str(path), "1hvr")
    dialog = CheckDialog(_self=cmd)
    assert dialog.selection.text() == "%1hvr"
    assert [dialog.chain.itemText(k) for k in range(dialog.chain.count())] == ["A", "B"]
    assert (
        "red" in dialog.meaning.text()
        and "blue" in dialog.meaning.text()
        and "grey" in dialog.meaning.text()
    )
    dialog.prediction.setText(str(rr))
    dialog.chain.setCurrentText("A")
    dialog.run_button.click()
    assert status_text(dialog.status).startswith("Checked 1 model(s); best 1hvr"), status_text(
        dialog.status
    )
    assert cmd.get_type("esm_check_key") == "object:cgo"


def test_dialog_states_the_colours(qt_app):
    from pymol.Qt import QtGui

    from pymol_plugin import style
    from pymol_plugin.dialog import legend_html

    document = QtGui.QTextDocument()
    document.setHtml(legend_html())
    text = document.toPlainText()
    for kind, meaning in style.MEANINGS.items():
        assert meaning in text, meaning  # "<" of "Cb-Cb < 8 A" shown, not taken for a tag
    for _, rgb in drawing.PALETTES["okabe-ito"].values():
        assert f"#{bytes(rgb).hex()}" in legend_html()
