"""Contact regression: fair-esm file layout, L1 training, top-k heads (esm_contacts.regression)."""

import numpy as np
import pytest
import torch
from esm.modules import apc as esm_apc
from esm.modules import symmetrize as esm_symmetrize

from esm_contacts.cli import main
from esm_contacts.models import load_model
from esm_contacts.predictor import ContactPredictor
from esm_contacts.regression import (
    ContactRegression,
    choose_solver,
    estimate_fit_memory,
    fit_l1_logistic,
    load_regression,
    pair_features,
    train_regression,
    training_pairs,
)

SEQUENCE = "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQAPILSRVGDGTQDNLSGAEKAVQVKVKALPDAQ"


def fair_esm_features(model_path, sequence):
    """Independent: fair-esm's own forward pass, stacked attention, its symmetrize and APC.

    Returns (layers, heads, L, L) float32.
    """
    model, alphabet, _ = load_model(model_path)
    _, _, tokens = alphabet.get_batch_converter()([("q", sequence)])
    with torch.no_grad():
        attentions = model(tokens, repr_layers=[], need_head_weights=True)["attentions"][0]
    residues = attentions[..., 1 : len(sequence) + 1, 1 : len(sequence) + 1].float()
    return esm_apc(esm_symmetrize(residues)).numpy()


# -- synthetic -------------------------------------------------------------------------


def planted(seed, n=3000, features=48):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, features)).astype(np.float32)
    logit = -2 + 2.5 * X[:, 5] + 1.5 * X[:, 20] - 2.0 * X[:, 33]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int8)
    return X, y


@pytest.mark.parametrize("seed", [0, 1])
def test_l1_fit_recovers_planted_heads(seed):
    X, y = planted(seed)
    weight, bias = fit_l1_logistic(X, y, C=0.15)
    # Weak penalty at n = 3000: the planted weights come back near their values...
    np.testing.assert_allclose(weight[[5, 20, 33]], [2.5, 1.5, -2.0], atol=0.35)
    assert bias == pytest.approx(-2, abs=0.3)
    noise = np.delete(weight, [5, 20, 33])
    assert np.abs(noise).max() < 0.25
    # ...and a strong L1 penalty zeroes every other head exactly.
    sparse, _ = fit_l1_logistic(X, y, C=0.01)
    assert np.flatnonzero(sparse).tolist() == [5, 20, 33]
    assert np.sign(sparse[[5, 20, 33]]).tolist() == [1, 1, -1]


def unpenalized_intercept_reference(X, y, C):
    """Independent: liblinear on saga's objective. intercept_scaling = 100 turns liblinear's
    |b| penalty into |b| / 100, i.e. practically an unpenalized intercept."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(
        C=C, solver="liblinear", l1_ratio=1.0, intercept_scaling=100, tol=1e-8, max_iter=10_000
    )
    model.fit(X.astype(np.float64), y)
    return model.coef_.ravel(), float(model.intercept_[0])


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("scale", [1.0, 0.02])
@pytest.mark.parametrize("C", [0.15, 0.01])
def test_saga_matches_liblinear(seed, scale, C):
    # scale 0.02: APC-sized features (weights ~50x larger), the regime of real training.
    X, y = planted(seed)
    X = np.ascontiguousarray(X * scale)
    lib_w, lib_b = fit_l1_logistic(X, y, C=C, solver="liblinear")
    saga_w, saga_b = fit_l1_logistic(X, y, C=C, solver="saga")
    assert saga_w.dtype == np.float32
    # Same heads survive: the planted ones at strong penalties; with unit features and
    # C = 0.15 also noise heads, identical except for ones too small to matter (< 0.02).
    big = lambda w: set(np.flatnonzero(np.abs(w) > 0.02).tolist())  # noqa: E731
    assert big(saga_w) == big(lib_w)
    if C == 0.01 and scale == 1.0:
        assert np.flatnonzero(saga_w).tolist() == np.flatnonzero(lib_w).tolist() == [5, 20, 33]
    # On its own objective (unpenalized intercept) saga reaches the optimum: within 0.5% of
    # the largest weight and 0.01 in the bias (measured <= 0.08% and 0.004).
    ref_w, ref_b = unpenalized_intercept_reference(X, y, C)
    assert (
        np.abs(saga_w - ref_w).max() <= 5e-3 * np.abs(ref_w).max()
    )  # all zero at C=0.01, scale 0.02
    assert saga_b == pytest.approx(ref_b, abs=0.01)
    # Against the authors' liblinear the only difference is its |b| penalty, which matters
    # at small C * n (here 450 and 30; thousands to 10^5 in real training): measured up to
    # 1.7% of the largest weight and 0.05 in b at C = 0.15, 11% and 0.3 at C = 0.01.
    assert np.abs(saga_w - lib_w).max() <= (0.03 if C == 0.15 else 0.15) * np.abs(lib_w).max()
    assert saga_b == pytest.approx(lib_b, abs=0.1 if C == 0.15 else 0.4)


def test_saga_all_zero_weights_gets_the_log_odds_intercept():
    X, y = planted(0)
    weight, bias = fit_l1_logistic(X * 0.02, y, C=0.01, solver="saga")
    # Every feature below the L1 threshold: w = 0 and the best intercept is log-odds(y).
    assert not weight.any()
    assert bias == pytest.approx(np.log(y.mean() / (1 - y.mean())), abs=1e-6)


def test_choose_solver_by_memory():
    need = estimate_fit_memory(867_000, 660)
    # 4 (float32 features) + 8 (scikit-learn's float64 copy) + 16 + 16 (liblinear's row and
    # column copies) bytes per value, over 660 features + intercept + end marker per pair.
    assert need == 867_000 * 662 * 44
    assert need / 1024**3 == pytest.approx(23.5, abs=0.1)
    assert estimate_fit_memory(867_000, 660, "saga") < 2.2 * 1024**3
    assert choose_solver(867_000, 660)[0] == "saga"  # the 20 x 300 ESM-1b case, 8 GB
    assert choose_solver(867_000, 660, memory_limit=None)[0] == "liblinear"
    assert choose_solver(1000, 12)[0] == "liblinear"
    solver, reason = choose_solver(1000, 12, memory_limit=1000)
    assert solver == "saga" and "over the 1.0 kB memory limit" in reason  # messages.size_text
    assert choose_solver(867_000, 660, solver="liblinear")[0] == "liblinear"  # as asked
    with pytest.raises(ValueError, match="unknown solver 'newton'"):
        choose_solver(10, 10, solver="newton")


def test_fit_needs_both_classes():
    with pytest.raises(ValueError, match="all non-contacts"):
        fit_l1_logistic(np.ones((5, 2), dtype=np.float32), np.zeros(5))


def test_top_heads_picks_largest_weights():
    weight = np.array([[0.1, 0.5, -2.0], [0.5, 0.0, 0.3]], dtype=np.float32)
    top = ContactRegression(weight, 1.5, model="m").top_heads(3)
    # 0.5 at (0, 1) and (1, 0) tie: both in; then 0.3. The negative weight is not "large".
    expected = np.array([[0, 1, 0], [1, 0, 1]], dtype=np.float32) / 3
    np.testing.assert_allclose(top.weight, expected)
    assert top.bias == 0.0 and top.metadata["heads"] == [[0, 1], [1, 0], [1, 2]]
    assert ContactRegression(weight, 0).top_heads(1).metadata["heads"] == [[0, 1]]
    with pytest.raises(ValueError, match="between 1 and 6"):
        ContactRegression(weight, 0).top_heads(7)
    # Four heads have a positive weight: a fifth would be an arbitrary zero/negative one.
    with pytest.raises(
        ValueError, match="only 4 of 6 heads have a positive regression weight; choose k <= 4"
    ):
        ContactRegression(weight, 0).top_heads(5)
    assert top.metadata["calibrated"] is False and "not calibrated" in top.metadata["note"]


# fair-esm's released ESM-1b regression (esm1b_t33_650M_UR50S-contact-regression.pt): 33 layers x 20
# heads.
ESM1B_LAYERS, ESM1B_HEADS = 33, 20
ESM1B_REGRESSION_LAYOUT = {
    "contact_head.regression.weight": ((1, 660), torch.float32),
    "contact_head.regression.bias": ((1,), torch.float32),
}


def test_saved_regression_has_fair_esm_esm1b_layout(tmp_path):
    rng = np.random.default_rng(0)
    weight = rng.standard_normal((ESM1B_LAYERS, ESM1B_HEADS)).astype(np.float32)
    path = ContactRegression(weight, -1.25, model="esm1b_t33_650M_UR50S").save(
        tmp_path / "x-contact-regression.pt"
    )
    raw = torch.load(path, weights_only=True)
    assert set(raw["model"]) == set(ESM1B_REGRESSION_LAYOUT)
    for key, (shape, dtype) in ESM1B_REGRESSION_LAYOUT.items():
        assert tuple(raw["model"][key].shape) == shape and raw["model"][key].dtype == dtype
    # Layer-major order, as fair-esm's Linear(layers * heads, 1) reads its stacked attentions.
    np.testing.assert_array_equal(
        raw["model"]["contact_head.regression.weight"].numpy()[0], weight.reshape(-1)
    )
    assert raw["model"]["contact_head.regression.bias"].item() == -1.25
    assert load_regression(path).weight.shape == (33, 20)  # a known model: shape from its name too


# -- features and heads against fair-esm ---------------------------------------------------


@pytest.mark.parametrize("fixture", ["tiny_esm1b", "tiny_esm2"])
def test_pair_features_equal_fair_esm(fixture, request):
    path = request.getfixturevalue(fixture)
    predictor = ContactPredictor.from_pretrained(path, device="cpu")
    expected = fair_esm_features(path, SEQUENCE[:60])
    truth = np.zeros((60, 60), dtype=np.int8)
    truth[10:20, 30:50] = -1
    i, j = training_pairs(truth, min_sep=6)
    assert len(i) == sum(1 for a in range(60) for b in range(a + 6, 60) if truth[a, b] != -1)
    features = pair_features(predictor, SEQUENCE[:60], i, j)
    layers, heads = expected.shape[:2]
    assert features.shape == (len(i), layers * heads) and features.dtype == np.float32
    np.testing.assert_allclose(
        features, expected[:, :, i, j].reshape(layers * heads, -1).T, rtol=1e-4, atol=1e-6
    )


def test_with_top_heads_averages_apc_maps(tiny_esm2):
    predictor = ContactPredictor.from_pretrained(tiny_esm2, device="cpu")
    features = fair_esm_features(tiny_esm2, SEQUENCE)
    weight = predictor.weight.numpy().copy()
    bias = predictor.bias
    before = predictor.predict(SEQUENCE)
    for k in (1, 5):
        order = np.argsort(-weight.ravel(), kind="stable")[:k]
        mean = features.reshape(-1, len(SEQUENCE), len(SEQUENCE))[order].mean(0)
        P = predictor.with_top_heads(k).predict(SEQUENCE)
        np.testing.assert_allclose(P, 1 / (1 + np.exp(-mean)), atol=1e-5)
    # The original predictor is untouched: same weights, bias and prediction as before.
    assert np.array_equal(predictor.weight.numpy(), weight) and predictor.bias == bias
    assert np.array_equal(predictor.predict(SEQUENCE), before)


def test_train_regression_equals_fit_on_fair_esm_features(tiny_esm2):
    predictor = ContactPredictor.from_pretrained(tiny_esm2, device="cpu")
    rng = np.random.default_rng(4)
    sequences = [SEQUENCE, SEQUENCE[5:50]]
    truths = []
    for sequence in sequences:
        n = len(sequence)
        truth = (rng.random((n, n)) < 0.2).astype(np.int8)
        truth[rng.random((n, n)) < 0.1] = -1
        truths.append(np.maximum(truth, truth.T))
    trained = train_regression(predictor, sequences, truths, C=5.0)
    X, y = [], []
    for sequence, truth in zip(sequences, truths):
        features = fair_esm_features(tiny_esm2, sequence)
        i, j = np.triu_indices(len(sequence), k=6)
        keep = truth[i, j] != -1
        X.append(features[:, :, i[keep], j[keep]].reshape(12, -1).T)
        y.append(truth[i[keep], j[keep]])
    weight, bias = fit_l1_logistic(np.concatenate(X), np.concatenate(y), C=5.0)
    np.testing.assert_allclose(trained.weight.ravel(), weight, atol=2e-3)
    assert trained.bias == pytest.approx(bias, abs=2e-3)
    assert trained.metadata["pairs"] == len(np.concatenate(y))
    assert trained.nonzero_heads == trained.metadata["nonzero_heads"] == np.count_nonzero(weight)
    assert trained.metadata["solver"] == "liblinear"  # small: "auto" keeps the authors' solver
    sampled = train_regression(predictor, sequences, truths, C=5.0, max_pairs=500)
    assert sampled.metadata["pairs"] == 500


def test_train_regression_auto_solver_by_memory_limit(tiny_esm2, tmp_path, caplog):
    predictor = ContactPredictor.from_pretrained(tiny_esm2, device="cpu")
    n = len(SEQUENCE)
    truth = np.zeros((n, n), dtype=np.int8)
    for offset in (6, 7, 30):  # contacts on a few diagonals; the rest known non-contacts
        truth[np.arange(n - offset), np.arange(offset, n)] = 1
    truth = np.maximum(truth, truth.T)
    with caplog.at_level("INFO", logger="esm_contacts.regression"):
        lib = train_regression(predictor, [SEQUENCE], [truth], C=5.0)
        assert lib.metadata["solver"] == "liblinear" and "solver liblinear" in caplog.text
        with pytest.warns(UserWarning, match="saga fit needs about"):
            saga = train_regression(predictor, [SEQUENCE], [truth], C=5.0, memory_limit=1000)
        assert (
            saga.metadata["solver"] == "saga"
            and "over the 1.0 kB memory limit" in saga.metadata["solver_reason"]
        )
        assert "solver saga" in caplog.text
    assert saga.metadata["precision"] == "float32" and lib.metadata["precision"] == "float32"
    forced = train_regression(predictor, [SEQUENCE], [truth], C=5.0, solver="saga")
    assert forced.metadata["precision"] == "float64"  # the float64 copy fits in 8 GB
    np.testing.assert_allclose(forced.weight, saga.weight, atol=0.05 * np.abs(saga.weight).max())
    # Same fit within the solvers' difference (intercept penalty; 1891 pairs, C = 5).
    np.testing.assert_allclose(saga.weight, lib.weight, atol=0.05 * np.abs(lib.weight).max())
    path = saga.save(tmp_path / "saga-contact-regression.pt")
    assert load_regression(path).metadata["solver"] == "saga"
    with pytest.raises(ValueError, match="unknown solver 'lbfgs'"):
        train_regression(predictor, [SEQUENCE], [truth], solver="lbfgs")


def test_train_regression_rejects_bad_input(tiny_esm1b):
    predictor = ContactPredictor.from_pretrained(tiny_esm1b, device="cpu")
    with pytest.raises(ValueError, match="does not match its 10 residues"):
        train_regression(predictor, ["MKTAYIAKQR"], [np.zeros((9, 9), dtype=np.int8)])
    with pytest.raises(
        ValueError, match="training protein 1: 70 residues, longer than the model context"
    ):
        train_regression(predictor, ["A" * 70], [np.zeros((70, 70), dtype=np.int8)])


def test_train_regression_checks_every_protein_before_features(tiny_esm1b, monkeypatch):
    import esm_contacts.regression as regression

    predictor = ContactPredictor.from_pretrained(tiny_esm1b, device="cpu")
    computed = []
    real = regression.pair_features
    monkeypatch.setattr(
        regression,
        "pair_features",
        lambda p, seq, *a, **k: computed.append(seq) or real(p, seq, *a, **k),
    )
    good = np.zeros((20, 20), dtype=np.int8)
    good[0, 10] = good[10, 0] = 1
    sequences = [SEQUENCE[:20], SEQUENCE[:20], SEQUENCE[:65]]
    with pytest.raises(
        ValueError, match=r"long\.pdb:C: 65 residues, longer than the model context of .* \(64\)"
    ):
        train_regression(
            predictor,
            sequences,
            [good, good, np.zeros((65, 65), dtype=np.int8)],
            names=["a.pdb:A", "b.pdb:A", "long.pdb:C"],
        )
    bad = good.copy()
    bad[3, 12] = 3
    with pytest.raises(ValueError, match="training protein 2: contact map value 3"):
        train_regression(predictor, sequences[:2], [good, bad])
    assert computed == []  # neither error came after the first protein's features
    train_regression(predictor, sequences[:2], [good, good], C=5.0)
    assert len(computed) == 2  # the spy does see features when there are any
    with pytest.raises(ValueError, match=r"training protein 1: contact map value 2 at \(0, 7\)"):
        bad = np.zeros((10, 10), dtype=np.int8)
        bad[0, 7] = 2
        train_regression(predictor, ["MKTAYIAKQR"], [bad])
    with pytest.raises(ValueError, match="x.pdb:B: contact map value nan"):
        train_regression(predictor, ["MKTAYIAKQR"], [np.full((10, 10), np.nan)], names=["x.pdb:B"])
    with pytest.raises(ValueError, match="unknown range 'far'"):
        train_regression(
            predictor, ["MKTAYIAKQR"], [np.zeros((10, 10), dtype=np.int8)], ranges=("far",)
        )


# -- real structures, saved files ---------------------------------------------------


@pytest.fixture(scope="module")
def real_chains(shared_data):
    from esm_contacts.structure import chain_sequence, load_structure, true_contacts

    chains = []
    for name, chain in (("1hvr.pdb", "A"), ("1l2y.pdb", "A")):
        structure = load_structure(shared_data / name)
        chains.append((chain_sequence(structure, chain), true_contacts(structure, chain)))
    return chains


def test_train_on_structures_save_and_reload(real_chains, tiny_esm2, tmp_path):
    predictor = ContactPredictor.from_pretrained(tiny_esm2, device="cpu")
    sequences, truths = zip(*real_chains)
    default = train_regression(predictor, sequences, truths)  # the authors' C = 0.15
    pairs = sum(int(np.count_nonzero(np.triu(t != -1, k=6))) for t in truths)
    assert default.metadata["pairs"] == pairs and default.metadata["C"] == 0.15
    assert default.weight.shape == (3, 4) and default.weight.dtype == np.float32

    fitted = train_regression(predictor, sequences, truths, C=20.0)
    assert fitted.nonzero_heads > 0
    path = fitted.save(tmp_path / "trained-contact-regression.pt")
    saved = torch.load(path, weights_only=True)
    own = torch.load(tiny_esm2.with_name("esm2_tiny-contact-regression.pt"), weights_only=True)
    assert set(saved["model"]) == set(own["model"])
    for key in own["model"]:
        assert saved["model"][key].shape == own["model"][key].shape
        assert saved["model"][key].dtype == own["model"][key].dtype

    reloaded = ContactPredictor.from_pretrained(tiny_esm2, device="cpu", regression=path)
    np.testing.assert_array_equal(reloaded.weight.numpy(), fitted.weight)
    assert reloaded.bias == pytest.approx(fitted.bias)
    assert load_regression(path).metadata["pairs"] == pairs
    # fair-esm's own contact head with the saved file gives the same map.
    model, alphabet, _ = load_model(tiny_esm2, regression=path)
    _, _, tokens = alphabet.get_batch_converter()([("q", sequences[0])])
    with torch.no_grad():
        fair = model(tokens, return_contacts=True)["contacts"][0].numpy()
    np.testing.assert_allclose(reloaded.predict(sequences[0]), fair, atol=1e-5)
    np.testing.assert_allclose(
        predictor.with_regression(path).predict(sequences[0]), fair, atol=1e-5
    )


def test_range_specific_regressions(real_chains, tiny_esm2):
    predictor = ContactPredictor.from_pretrained(tiny_esm2, device="cpu")
    sequences, truths = zip(*real_chains)
    fits = train_regression(predictor, sequences, truths, ranges=("local", "long"), C=1.0)
    assert list(fits) == ["local", "long"]
    for name, (low, high) in (("local", (3, 6)), ("long", (24, 10**6))):
        count = sum(
            1
            for t in truths
            for i in range(len(t))
            for j in range(i + low, min(i + high, len(t)))
            if t[i, j] != -1
        )
        assert fits[name].metadata["pairs"] == count
    # C = 1 zeroes every head here (nothing to rank); C = 5 keeps three positive ones.
    with pytest.raises(ValueError, match="only 0 of 12 heads have a positive regression weight"):
        train_regression(predictor, sequences, truths, C=1.0, top_heads=2)
    top = train_regression(predictor, sequences, truths, C=5.0, top_heads=2)
    assert np.count_nonzero(top.weight) == 2 and top.bias == 0.0
    with pytest.raises(ValueError, match="only 3 of 12 heads"):
        train_regression(predictor, sequences, truths, C=5.0, top_heads=4)


def test_cli_train_regression(shared_data, tiny_esm2, tmp_path, capsys):
    out = tmp_path / "cli-contact-regression.pt"
    args = [
        "train-regression",
        "--model",
        str(tiny_esm2),
        "--device",
        "cpu",
        "--out",
        str(out),
        "--C",
        "5",
        "--structures",
        f"{shared_data / '1hvr.pdb'}:A",
        f"{shared_data / '1l2y.pdb'}:A",
        f"{shared_data / '1a3a.pdb'}:A",
        "--validation",
        "0.34",
    ]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "heads non-zero" in printed and "validation precision, 1 chain(s)" in printed
    assert "trained" in printed and "long" in printed
    assert "solver liblinear" in printed
    assert load_regression(out).weight.shape == (3, 4)
    assert load_regression(out).metadata["solver"] == "liblinear"
    assert main(args + ["--memory-limit", "1e-6"]) == 0
    captured = capsys.readouterr()
    assert "solver saga" in captured.out and load_regression(out).metadata["solver"] == "saga"
    # The warning is one line in the command's format, not Python's (with its source line).
    assert (
        captured.err.startswith("esm-contacts train-regression: warning: ")
        and captured.err.count("\n") == 1
    )
    # GB is 10^9 bytes here as in predict's --max-memory (messages.size_text writes it back).
    assert "over the 1.0 kB memory limit" in captured.err
    assert main(args[:-6] + ["--structures", "nocolon.pdb"]) == 2
    assert "FILE:CHAIN" in capsys.readouterr().err


def test_cli_train_regression_checks_outputs_before_fitting(
    shared_data, tiny_esm2, tmp_path, capsys
):
    out = tmp_path / "w-contact-regression.pt"
    base = [
        "train-regression",
        "--model",
        str(tiny_esm2),
        "--device",
        "cpu",
        "--C",
        "5",
        "--structures",
        f"{shared_data / '1hvr.pdb'}:A",
        f"{shared_data / '1l2y.pdb'}:A",
    ]
    assert main(base + ["--out", str(out), "--plot", str(tmp_path / "w.jpg")]) == 2
    err = capsys.readouterr().err
    assert "unknown figure extension '.jpg'" in err and len(err.strip().splitlines()) == 1
    assert not out.exists() and list(tmp_path.iterdir()) == []
    assert main(base + ["--out", str(tmp_path / "absent" / "x.pt")]) == 2
    assert "folder" in capsys.readouterr().err and list(tmp_path.iterdir()) == []
    assert main(base + ["--out", str(out), "--plot", str(tmp_path / "absent" / "w.png")]) == 2
    assert "absent does not exist" in capsys.readouterr().err and list(tmp_path.iterdir()) == []
    # The checks run before the model loads: a missing model is not what is reported.
    assert (
        main(
            [
                "train-regression",
                "--model",
                str(tmp_path / "no-model.pt"),
                "--out",
                str(out),
                "--plot",
                str(tmp_path / "w.jpg"),
                "--structures",
                f"{shared_data / '1l2y.pdb'}:A",
            ]
        )
        == 2
    )
    assert "w.jpg" in capsys.readouterr().err
    # So does the --validation range, before any structure is read (this one does not exist).
    assert (
        main(
            [
                "train-regression",
                "--model",
                str(tmp_path / "no-model.pt"),
                "--out",
                str(out),
                "--validation",
                "1",
                "--structures",
                f"{tmp_path / 'absent.pdb'}:A",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "--validation must be in [0, 1)" in err and "absent.pdb" not in err


def test_cli_train_regression_single_chain_skips_validation(
    shared_data, tiny_esm2, tmp_path, capsys
):
    out = tmp_path / "one-contact-regression.pt"
    assert (
        main(
            [
                "train-regression",
                "--model",
                str(tiny_esm2),
                "--device",
                "cpu",
                "--out",
                str(out),
                "--C",
                "5",
                "--structures",
                f"{shared_data / '1hvr.pdb'}:A",
            ]
        )
        == 0
    )  # default --validation 0.2
    printed = capsys.readouterr().out
    assert "one training chain: no validation" in printed and "validation precision" not in printed
    assert "trained on 1 chain(s)" in printed and load_regression(out).metadata["proteins"] == 1


def test_cli_train_regression_names_a_long_chain(shared_data, tiny_esm1b, tmp_path, capsys):
    out = tmp_path / "x-contact-regression.pt"
    # tiny_esm1b's context is 64 residues; 1hvr A has 99.
    assert (
        main(
            [
                "train-regression",
                "--model",
                str(tiny_esm1b),
                "--device",
                "cpu",
                "--out",
                str(out),
                "--validation",
                "0",
                "--structures",
                f"{shared_data / '1l2y.pdb'}:A",
                f"{shared_data / '1hvr.pdb'}:A",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "1hvr.pdb:A: 99 residues, longer than the model context" in err and not out.exists()
    assert (
        main(
            [
                "train-regression",
                "--model",
                str(tiny_esm1b),
                "--device",
                "cpu",
                "--out",
                str(out),
                "--structures",
                f"{shared_data / '1l2y.pdb'}:Z",
            ]
        )
        == 2
    )
    assert "1l2y.pdb:Z" in capsys.readouterr().err
