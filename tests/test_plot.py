"""Figures: files exist, are the requested format, and show the marker colours."""

import numpy as np
import pytest
from matplotlib.colors import to_rgb
from matplotlib.image import imread

from esm_contacts.metrics import classify_pairs, top_pairs
from esm_contacts.plot import (
    MARKER_COLORS,
    check_figure_path,
    plot_contact_map,
    plot_head_weights,
    plot_residue_support,
)
from esm_contacts.validation import RegisterHint, Validation


def color_pixels(png, color, tolerance=1.5 / 255):
    image = imread(png)[..., :3]
    return int(np.all(np.abs(image - np.array(to_rgb(color))) <= tolerance, axis=-1).sum())


def synthetic_case(L=80, seed=0):
    """A helix-like band, a sheet-like anti-diagonal, one unknown residue, a dimer patch."""
    rng = np.random.default_rng(seed)
    a, b = np.indices((L, L))
    T = ((np.abs(a - b) < 4) | ((np.abs(a + b - 5 * L // 4) < 2) & (np.abs(a - b) > 10))).astype(
        np.int8
    )
    T[3 * L // 8, :] = T[:, 3 * L // 8] = -1
    X = np.zeros((L, L), dtype=np.int8)
    X[0:4, L - 8 : L] = 1
    X = np.maximum(X, X.T)
    P = np.clip(np.where(T == 1, 0.7, 0.1) + rng.normal(0, 0.2, (L, L)), 0, 1)
    P[0:4, L - 8 : L] = 0.99  # confidently predicted, satisfied only between chains
    P = np.triu(P, 1)
    return P + P.T, T, X


def test_contact_map_png_has_three_marker_colors(tmp_path):
    P, T, X = synthetic_case()
    path = plot_contact_map(P, T, tmp_path / "map.png", X=X, title="synthetic")
    assert path == tmp_path / "map.png" and path.stat().st_size > 10_000
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    i, j, _ = top_pairs(P, "L", 6, T=T)
    labels = classify_pairs(i, j, T, X)
    assert {"tp", "fp", "inter"} <= set(labels)
    with_dimer = {kind: color_pixels(path, color) for kind, color in MARKER_COLORS.items()}
    # Without the homodimer map the same pairs are plain false positives: the magenta left
    # is the legend swatch only, and red gains what magenta lost.
    plain = plot_contact_map(P, T, tmp_path / "plain.png", title="synthetic")
    without = {kind: color_pixels(plain, color) for kind, color in MARKER_COLORS.items()}
    per_marker = (with_dimer["inter"] - without["inter"]) / np.sum(labels == "inter")
    assert per_marker > 4  # each marker covers several pixels
    assert without["inter"] < with_dimer["inter"] / 4
    assert without["fp"] > with_dimer["fp"]
    assert with_dimer["tp"] == pytest.approx(without["tp"], rel=0.05)
    assert with_dimer["tp"] > 20 * with_dimer["inter"] / np.sum(labels == "inter")


def test_contact_map_svg_and_errors(tmp_path):
    P, T, X = synthetic_case(40)
    svg = plot_contact_map(P, T, tmp_path / "map.svg", X=X)
    text = svg.read_text()
    assert text.lstrip().startswith("<?xml") and "<svg" in text
    for color in MARKER_COLORS.values():
        assert color in text
    with pytest.raises(ValueError, match="unknown figure extension '.jpg'"):
        plot_contact_map(P, T, tmp_path / "map.jpg")
    with pytest.raises(ValueError, match="same"):
        plot_contact_map(P, T[:10, :10], tmp_path / "bad.png")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        plot_contact_map(P, T, tmp_path / "missing" / "map.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["map.svg"]


def test_no_pyplot_state(tmp_path):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    P, T, X = synthetic_case(30)
    plot_contact_map(P, T, tmp_path / "map.png", X=X)
    assert plt.get_fignums() == before


def validation(name, support, hints=()):
    L = len(support)
    return Validation(
        name=name,
        num_predicted=L,
        agreement=0.5,
        agreement_by_range={},
        model_supported={},
        support=np.asarray(support, dtype=float),
        predicted_per_residue=np.ones(L, int),
        satisfied_per_residue=np.ones(L, int),
        hints=list(hints),
    )


def test_residue_support_plot(tmp_path):
    rng = np.random.default_rng(2)
    good = rng.uniform(0.7, 1, 60)
    good[[5, 6, 20]] = np.nan
    bad = rng.uniform(0, 0.5, 60)
    hint = RegisterHint(start=10, end=21, shift=2, built=1, shifted=9, contacts=12)
    path = plot_residue_support(
        [validation("model_good", good), validation("model_shifted", bad, [hint])],
        tmp_path / "support.png",
    )
    image = imread(path)
    assert image.shape[1] > image.shape[0] > 300
    # Two lines in the first two default colours.
    assert color_pixels(path, "C0") > 100 and color_pixels(path, "C1") > 100
    svg = plot_residue_support([validation("m", good)], tmp_path / "support.svg")
    assert "<svg" in svg.read_text()
    with pytest.raises(ValueError, match="no validation results"):
        plot_residue_support([], tmp_path / "empty.png")


def test_head_weights_plot(tmp_path):
    import torch

    class Regression:
        weight = torch.zeros(6, 4)

    Regression.weight[5, 0] = 2.0  # deepest layer, first head: the darkest red
    Regression.weight[0, 3] = -2.0
    path = plot_head_weights(Regression(), tmp_path / "heads.png")
    red, blue = to_rgb("#67001f"), to_rgb("#053061")  # RdBu_r ends
    assert color_pixels(path, red, 3 / 255) > 100 and color_pixels(path, blue, 3 / 255) > 100
    # Layer 6 is drawn at the top (origin lower): the red cell lies above the blue one.
    image = imread(path)[..., :3]
    rows_red = np.nonzero(np.all(np.abs(image - red) <= 3 / 255, axis=-1))[0]
    rows_blue = np.nonzero(np.all(np.abs(image - blue) <= 3 / 255, axis=-1))[0]
    assert np.median(rows_red) < np.median(rows_blue)
    assert plot_head_weights(np.ones((3, 5)), tmp_path / "ones.svg").exists()
    with pytest.raises(ValueError, match="layers, heads"):
        plot_head_weights(np.ones(12), tmp_path / "flat.png")


def test_check_figure_path_messages(tmp_path):
    for name in ("a.png", "b.SVG", "c.pdf"):
        assert check_figure_path(str(tmp_path / name)) == tmp_path / name
    with pytest.raises(ValueError) as error:
        check_figure_path(tmp_path / "map.jpg")
    assert (
        str(error.value)
        == f"{tmp_path / 'map.jpg'}: unknown figure extension '.jpg'; use .png, .svg or .pdf"
    )
    missing = tmp_path / "absent" / "map.png"
    with pytest.raises(FileNotFoundError) as error:
        check_figure_path(missing)
    assert str(error.value) == f"{missing}: the folder {tmp_path / 'absent'} does not exist"
    folder = tmp_path / "folder.png"
    folder.mkdir()
    with pytest.raises(IsADirectoryError) as error:
        check_figure_path(folder)
    assert str(error.value) == f"{folder}: is a folder; give a file name"
    # The extension is checked first, even where the folder is missing too.
    with pytest.raises(ValueError, match="unknown figure extension"):
        check_figure_path(tmp_path / "absent" / "map.gif")


def test_contact_map_of_a_sparse_file(tmp_path, monkeypatch):
    """A file listing 3 pairs: 3 markers, unlisted cells empty (white), the title's P@L counts
    misses."""
    import esm_contacts.plot as plot_module
    from esm_contacts.io import read_contacts

    L = 60
    (tmp_path / "three.rr").write_text(
        "PFRMAT RR\n" + "A" * L + "\n1 40 0 8 0.9\n5 50 0 8 0.3\n10 17 0 8 0.2\nEND\n"
    )
    P, _ = read_contacts(tmp_path / "three.rr")
    T = np.zeros((L, L), dtype=np.int8)
    T[0, 39] = T[39, 0] = T[9, 16] = T[16, 9] = 1
    figures = []
    real = plot_module._figure
    monkeypatch.setattr(plot_module, "_figure", lambda *a: figures.append(real(*a)) or figures[-1])
    plot_contact_map(P, T, tmp_path / "sparse.png", top="L")
    axes = figures[0].axes[0]
    marked = np.concatenate([c.get_offsets() for c in axes.collections])
    assert sorted(map(tuple, marked.astype(int).tolist())) == [
        (17, 10),
        (40, 1),
        (50, 5),
    ]  # (j + 1, i + 1)
    image = np.asarray(axes.images[0].get_array())
    upper = np.triu(np.ones((L, L), dtype=bool), 1)
    unlisted = upper & np.isnan(P)
    assert np.all(image[unlisted] == 1.0)  # white
    assert image[0, 39, 0] == pytest.approx(0.1, abs=1e-6)  # 1 - 0.9
    assert axes.get_title().endswith(f"long-range P@L = {100 * 1 / L:.1f}%")
