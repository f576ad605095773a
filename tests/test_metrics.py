"""Precision tables, AUC, calibration and false-positive analyses against slow references."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from esm_contacts.metrics import (
    RANGES,
    calibration,
    classify_pairs,
    evaluate,
    evaluate_set,
    false_positive_distances,
    format_table,
    homodimer_explained,
    parse_top,
    precision_at,
    range_mask,
    range_of,
    table_columns,
    top_pairs,
)

# --- independent slow references (loops straight from DESIGN.md) -------------------


def reference_precision(P, T, low, high, count):
    """Loop over every pair, sort by (-p, i, j), take ``count``; missing ones are false."""
    L = len(P)
    candidates = []
    for i in range(L):
        for j in range(i + 1, L):
            s = j - i
            if s >= low and (high is None or s < high) and T[i][j] != -1:
                candidates.append((-float(P[i][j]), i, j))
    candidates.sort()
    if count == 0:
        return float("nan")
    return sum(1 for _, i, j in candidates[:count] if T[i][j] == 1) / count


def reference_table(P, T):
    L = len(P)
    table = {}
    for name, (low, high) in RANGES.items():
        row = {
            top: reference_precision(P, T, low, high, L // k)
            for top, k in (("L", 1), ("L/2", 2), ("L/5", 5))
        }
        steps = [
            reference_precision(P, T, low, high, math.floor(m * L / 10 + 1e-9))
            for m in range(1, 11)
        ]
        steps = [s for s in steps if not math.isnan(s)]
        row["auc"] = sum(steps) / len(steps) if steps else float("nan")
        table[name] = row
    return table


def assert_tables_equal(actual, expected):
    assert list(actual) == list(expected)
    for name in expected:
        assert list(actual[name]) == list(expected[name])
        for column, value in expected[name].items():
            if math.isnan(value):
                assert math.isnan(actual[name][column]), (name, column)
            else:
                assert actual[name][column] == pytest.approx(value, abs=1e-9), (name, column)


def random_case(seed, L, unknown=0.1, coarse=False):
    rng = np.random.default_rng(seed)
    T = (rng.random((L, L)) < 0.15).astype(np.int8)
    T[rng.random((L, L)) < unknown] = -1
    T = np.triu(T, 1)
    T = T + T.T
    # Coarse probabilities make many ties, which the ranking must break by (i, j).
    P = rng.integers(0, 4, (L, L)) / 4 if coarse else rng.random((L, L))
    P = np.triu(P, 1)
    return (P + P.T).astype(np.float32), T


# --- ranges and top ----------------------------------------------------------------


@pytest.mark.parametrize(
    "separation, name",
    [
        (0, "-"),
        (2, "-"),
        (3, "local"),
        (5, "local"),
        (6, "short"),
        (11, "short"),
        (12, "medium"),
        (23, "medium"),
        (24, "long"),
        (500, "long"),
        (-30, "long"),
    ],
)
def test_range_of(separation, name):
    assert range_of(separation) == name


def test_range_mask_agrees_with_range_of():
    separations = np.arange(0, 200)
    for signed in (separations, -separations):
        for name, (low, high) in RANGES.items():
            expected = np.array([range_of(s) == name for s in signed])
            mask = range_mask(signed, low, high)
            assert mask.dtype == bool and mask.shape == signed.shape
            np.testing.assert_array_equal(mask, expected, err_msg=name)
    # (L, L) arrays keep their shape; no range at all below 3.
    grid = np.subtract.outer(np.arange(30), np.arange(30))
    assert range_mask(grid, 24, None).shape == (30, 30)
    assert not any(range_mask(np.arange(3), low, high).any() for low, high in RANGES.values())


@pytest.mark.parametrize(
    "top, expected",
    [
        ("L", 99),
        ("L/2", 49),
        ("L/5", 19),
        ("l/10", 9),
        (" L / 3 ", 33),
        (7, 7),
        ("12", 12),
        ("all", None),
        (None, None),
        ("2L", 198),
        (" 3 l ", 297),
        ("2L/5", 39),
    ],
)
def test_parse_top(top, expected):
    assert parse_top(top, 99) == expected


@pytest.mark.parametrize(
    "top", ["L/0", "0", 0, -3, "-3", "L/2.5", "half", "0L", "2.5L", "L2", "", True]
)
def test_parse_top_rejects(top):
    with pytest.raises(ValueError, match="top"):
        parse_top(top, 99)


def test_top_pairs_order_ties_filters():
    P = np.zeros((10, 10))
    for (i, j), p in {(0, 7): 0.5, (1, 8): 0.9, (0, 9): 0.5, (2, 9): 0.5, (0, 3): 0.95}.items():
        P[i, j] = P[j, i] = p
    i, j, p = top_pairs(P, top=4, min_sep=6)
    assert list(zip(i, j)) == [(1, 8), (0, 7), (0, 9), (2, 9)]
    np.testing.assert_allclose(p, [0.9, 0.5, 0.5, 0.5])
    assert i.dtype == np.int64 and j.dtype == np.int64
    # Unknown pairs are skipped before the cut, so the 5th pair moves up.
    T = np.zeros((10, 10), dtype=np.int8)
    T[0, 7] = T[7, 0] = -1
    i, j, _ = top_pairs(P, top=4, min_sep=6, T=T)
    assert list(zip(i, j))[:3] == [(1, 8), (0, 9), (2, 9)] and len(i) == 4
    i, j, _ = top_pairs(P, top="all", min_sep=3, threshold=0.9)
    assert list(zip(i, j)) == [(0, 3), (1, 8)]
    i, j, _ = top_pairs(P, top="all", min_sep=3, max_sep=7)
    assert all(3 <= b - a < 7 for a, b in zip(i, j)) and (0, 3) == (i[0], j[0])


def reference_top_pairs(P, top, min_sep, threshold=None, max_sep=None, T=None):
    """Loop over every pair, filter (NaN: unlisted, never a candidate), sort by (-p, i, j) in
    plain Python, then cut."""
    L = len(P)
    candidates = []
    for i in range(L):
        for j in range(i + max(min_sep, 1), L):
            p = float(P[i][j])
            if max_sep is not None and j - i >= max_sep:
                continue
            if T is not None and T[i][j] < 0:
                continue
            if math.isnan(p) or (threshold is not None and not p >= threshold):
                continue
            candidates.append((-p, i, j))
    candidates.sort()
    count = parse_top(top, L)
    chosen = candidates[:count]
    return (
        np.array([c[1] for c in chosen], dtype=np.int64),
        np.array([c[2] for c in chosen], dtype=np.int64),
    )


@settings(max_examples=60, deadline=None)
@given(
    L=st.integers(1, 40),
    seed=st.integers(0, 10_000),
    levels=st.sampled_from([1, 2, 3, 5, 1000]),
    top=st.sampled_from(["L", "L/2", "L/5", "all", 1, 3, 50, 2000]),
    min_sep=st.integers(1, 8),
    threshold=st.sampled_from([None, 0.0, 0.5]),
    max_sep=st.sampled_from([None, 12]),
    with_truth=st.booleans(),
    with_nan=st.booleans(),
)
def test_top_pairs_matches_ranking_everything(
    L, seed, levels, top, min_sep, threshold, max_sep, with_truth, with_nan
):
    """The partial sort gives exactly the full ranking's top pairs, ties (few levels) included."""
    rng = np.random.default_rng(seed)
    P = (rng.integers(0, levels, (L, L)) / levels).astype(np.float32)
    if with_nan and L > 1:
        P[rng.random((L, L)) < 0.1] = np.nan
    T = (
        np.where(rng.random((L, L)) < 0.2, -1, rng.integers(0, 2, (L, L))).astype(np.int8)
        if with_truth
        else None
    )
    i, j, p = top_pairs(P, top=top, min_sep=min_sep, threshold=threshold, max_sep=max_sep, T=T)
    ri, rj = reference_top_pairs(P, top, min_sep, threshold, max_sep, T)
    np.testing.assert_array_equal(i, ri)
    np.testing.assert_array_equal(j, rj)
    np.testing.assert_array_equal(p, P[ri, rj].astype(np.float64))
    assert i.dtype == np.int64 and j.dtype == np.int64


def test_top_pairs_and_false_positive_distances_memory():
    """Only the top count is sorted, and separations are int32: no (L^2 / 2) int64 index arrays."""
    import tracemalloc

    P, T = random_case(5, 1500)
    for function, bound in (
        (lambda: top_pairs(P, "L", T=T), 2),
        (lambda: false_positive_distances(P, T), 6),
    ):
        tracemalloc.start()
        try:
            function()
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        # The full ranking needs ~5 P-sized arrays for top_pairs, ~9 for false_positive_distances.
        assert peak < bound * P.nbytes, (peak / P.nbytes, bound)


# --- precision: hand-computed cases -----------------------------------------------------


def test_precision_hand_computed_ties_and_missing_candidates():
    L = 30
    P = np.zeros((L, L))
    T = np.zeros((L, L), dtype=np.int8)

    def put(M, i, j, value):
        M[i, j] = M[j, i] = value

    # Long range (>= 24): 21 candidate pairs exist; L/5 = 6.
    put(P, 0, 29, 0.9)
    put(T, 0, 29, 1)  # rank 1, true
    put(P, 0, 28, 0.8)  # rank 2, false
    put(P, 1, 29, 0.8)  # ties with (0, 28): lower i first -> rank 2 is (0, 28), rank 3 is (1, 29)
    put(T, 1, 29, 1)
    put(P, 2, 28, 0.7)
    put(T, 2, 28, -1)  # unknown: not a candidate
    put(T, 3, 27, 1)  # p = 0: ties with all other zeros, ordered by (i, j)
    table = evaluate(P, T)
    # Ranking of known long-range pairs: (0,29) T, (0,28) F, (1,29) T, then zeros in (i, j)
    # order: (0,24) (0,25) (0,26) (0,27) (1,25) .. (1,28) (2,26) (2,27) (2,29) (3,27): the
    # 12th zero, rank 15 overall, so exactly inside the top L/2 = 15.
    assert table["long"]["L/5"] == pytest.approx(2 / 6)
    assert table["long"]["L/2"] == pytest.approx(3 / 15)
    # L = 30 > 20 known long-range candidates: (3, 27) is within them, so 3 hits out of 30.
    assert table["long"]["L"] == pytest.approx(3 / 30)
    # Medium/short/local: no contacts at all.
    assert table["medium"]["L"] == 0 and table["local"]["L/5"] == 0


def test_fewer_candidates_than_l_count_as_false():
    L = 30  # long-range candidates: pairs with j - i >= 24 -> 21 of them
    T = np.zeros((L, L), dtype=np.int8)
    i, j = np.triu_indices(L, 24)
    T[i, j] = T[j, i] = 1
    P = np.full((L, L), 0.5)
    table = evaluate(P, T)
    assert table["long"]["L"] == pytest.approx(21 / 30)
    assert table["long"]["L/2"] == 1.0 and table["long"]["L/5"] == 1.0


def test_unknown_residues_are_not_candidates():
    L = 40
    P, T = random_case(1, L, unknown=0)
    T[5, :] = T[:, 5] = -1
    P[5, :] = P[:, 5] = 1.0  # the highest probabilities, but unknown
    table = evaluate(P, T)
    T2 = T.copy()
    P2 = P.copy()
    P2[5, :] = P2[:, 5] = 0.0
    assert_tables_equal(table, evaluate(P2, T2))
    assert_tables_equal(table, reference_table(P, T))


def test_short_sequence_gives_nan_not_crash():
    P, T = random_case(3, 4)
    table = evaluate(P, T)
    assert math.isnan(table["long"]["L/5"]) and table["long"]["L"] == 0.0


def test_perfect_prediction_is_one_everywhere():
    P, T = random_case(4, 80, unknown=0)
    table = evaluate((T == 1).astype(float), T)
    # Only where a range has at least floor(L/k) contacts.
    for name, (low, high) in RANGES.items():
        sep = np.subtract.outer(np.arange(80), np.arange(80))
        n = int(np.sum(np.triu((T == 1) & (sep <= -low) & ((sep > -high) if high else True))))
        assert table[name]["L/5"] == pytest.approx(min(n, 16) / 16)


def test_min_sep_drops_and_cuts_ranges():
    P, T = random_case(5, 60)
    table = evaluate(P, T, min_sep=6)
    assert list(table) == ["short", "medium", "long"]
    assert_tables_equal(table, {k: v for k, v in evaluate(P, T).items() if k != "local"})
    cut = evaluate(P, T, min_sep=30)
    assert list(cut) == ["long"]
    assert cut["long"]["L"] == pytest.approx(reference_precision(P, T, 30, None, 60))


def test_shape_and_value_errors():
    P, T = random_case(6, 20)
    with pytest.raises(ValueError, match="20 x 20 but the true contacts are 19 x 19"):
        evaluate(P, T[:19, :19])
    with pytest.raises(ValueError, match="only 1"):
        evaluate(P, T * 2)
    with pytest.raises(ValueError, match="square"):
        evaluate(P[:3], T)


# --- precision: random cases against the slow reference -----------------------------------


@pytest.mark.parametrize(
    "seed, L, coarse", [(0, 37, False), (1, 64, True), (2, 101, False), (3, 23, True)]
)
def test_evaluate_matches_reference(seed, L, coarse):
    P, T = random_case(seed, L, coarse=coarse)
    assert_tables_equal(evaluate(P, T), reference_table(P, T))


@settings(max_examples=40, deadline=None)
@given(
    L=st.integers(1, 45),
    seed=st.integers(0, 2**32 - 1),
    unknown=st.sampled_from([0.0, 0.3, 0.9]),
    coarse=st.booleans(),
)
def test_evaluate_matches_reference_hypothesis(L, seed, unknown, coarse):
    P, T = random_case(seed, L, unknown=unknown, coarse=coarse)
    assert_tables_equal(evaluate(P, T), reference_table(P, T))


def test_auc_is_mean_of_ten_cutoffs():
    P, T = random_case(7, 50)
    table = evaluate(P, T)
    for name, (low, high) in RANGES.items():
        expected = np.mean([reference_precision(P, T, low, high, k * 5) for k in range(1, 11)])
        assert table[name]["auc"] == pytest.approx(expected, abs=1e-12)


# --- evaluate_set and formatting -------------------------------------------------------


def test_evaluate_set_means_and_variants():
    cases = [random_case(seed, L) for seed, L in ((10, 30), (11, 45), (12, 3))]
    rows = [(f"p{k}", P, T) for k, (P, T) in enumerate(cases)]
    per_protein, mean = evaluate_set(rows)
    assert [r["name"] for r in per_protein] == ["p0", "p1", "p2"] and per_protein[1]["length"] == 45
    for name in RANGES:
        # The 3-residue protein has NaN at L/5 and is left out of that mean only.
        assert mean[name]["L/5"] == pytest.approx(
            np.mean([evaluate(*c)[name]["L/5"] for c in cases[:2]])
        )
        assert mean[name]["L"] == pytest.approx(np.mean([evaluate(*c)[name]["L"] for c in cases]))
    dict_rows = [
        {"name": n, "variant": v, "P": P, "T": T}
        for n, (P, T) in (("a", cases[0]), ("b", cases[1]))
        for v in ("esm", "noise")
    ]
    dict_rows[1]["P"] = np.zeros_like(cases[0][0])
    per_protein, variants = evaluate_set(dict_rows)
    assert list(variants) == ["esm", "noise"]
    assert variants["esm"]["long"]["L"] == pytest.approx(
        np.mean([evaluate(*cases[0])["long"]["L"], evaluate(*cases[1])["long"]["L"]])
    )
    text = format_table(variants)
    lines = text.splitlines()
    assert lines[2].startswith("esm") and lines[3].startswith("noise") and len(lines) == 4
    with pytest.raises(ValueError, match="p9: predicted map is 30 x 30"):
        evaluate_set([("p9", cases[0][0], cases[1][1])])
    with pytest.raises(ValueError, match="no proteins"):
        evaluate_set([])


def test_format_table_layout():
    P, T = random_case(13, 40)
    table = evaluate(P, T)
    text = format_table(table)
    header, columns, row = text.splitlines()
    assert [w for w in header.replace("|", " ").split()] == ["local", "short", "medium", "long"]
    assert columns.replace("|", " ").split() == ["L", "L/2", "L/5"] * 4
    values = [float(v) for v in row.replace("|", " ").split()[1:]]
    assert values == pytest.approx(
        [round(100 * table[r][c], 1) for r in table for c in ("L", "L/2", "L/5")], abs=0.051
    )
    fractions = format_table(table, percent=False, columns=("L", "auc"), label="mine").splitlines()[
        2
    ]
    assert fractions.split()[0] == "mine" and f"{table['long']['auc']:.3f}" in fractions
    short = format_table(evaluate(*random_case(14, 4)))
    assert short.splitlines()[2].split()[3] == "-"  # local L/5 of a 4-residue chain
    flat = table_columns(table)
    assert flat["long_L/2"] == table["long"]["L/2"] and len(flat) == 16


# --- calibration, false positives, homodimer ----------------------------------------------


def test_calibration_against_loop():
    P, T = random_case(20, 60)
    result = calibration(P, T, bins=10, min_sep=6)
    sums = {}
    for i in range(60):
        for j in range(i + 6, 60):
            if T[i, j] >= 0:
                b = min(int(P[i, j] * 10), 9)
                sums.setdefault(b, []).append((float(P[i, j]), T[i, j] == 1))
    assert result["counts"].sum() == sum(len(v) for v in sums.values())
    errors = []
    for b in range(10):
        if b in sums:
            assert result["observed"][b] == pytest.approx(np.mean([t for _, t in sums[b]]))
            assert result["mean_predicted"][b] == pytest.approx(np.mean([p for p, _ in sums[b]]))
            errors.append(
                (np.mean([t for _, t in sums[b]]) - np.mean([p for p, _ in sums[b]])) ** 2
            )
        else:
            assert result["counts"][b] == 0 and np.isnan(result["observed"][b])
    assert result["mse"] == pytest.approx(np.mean(errors))
    np.testing.assert_allclose(result["bin_centers"], np.arange(0.05, 1, 0.1))


def test_calibration_of_a_calibrated_predictor_is_small():
    rng = np.random.default_rng(21)
    L = 300
    P = rng.random((L, L))
    P = np.triu(P, 1) + np.triu(P, 1).T
    T = (rng.random((L, L)) < P).astype(np.int8)
    T = np.triu(T, 1) + np.triu(T, 1).T
    assert calibration(P, T)["mse"] < 2e-3
    assert calibration(np.clip(P * 0.3, 0, 1), T)["mse"] > 0.05


def test_false_positive_distances_against_brute_force():
    P, T = random_case(30, 50)
    distances = false_positive_distances(P, T, top="L", min_sep=6)
    i, j, _ = top_pairs(P, "L", 6, T=T)
    fp = [(a, b) for a, b in zip(i, j) if T[a, b] == 0]
    contacts = [(a, b) for a in range(50) for b in range(50) if T[a, b] == 1 and abs(a - b) >= 6]
    expected = [min(abs(a - c) + abs(b - d) for c, d in contacts) for a, b in fp]
    np.testing.assert_array_equal(distances, expected)
    assert len(distances) == len(fp) and distances.min() >= 1


def test_false_positive_distances_hand_case():
    L = 40
    T = np.zeros((L, L), dtype=np.int8)
    T[5, 30] = T[30, 5] = 1
    P = np.zeros((L, L))
    P[5, 30] = P[30, 5] = 0.9  # true positive
    P[8, 34] = P[34, 8] = 0.8  # 3 + 4 = 7 away
    P[0, 20] = P[20, 0] = 0.7  # 5 + 10 = 15
    np.testing.assert_array_equal(false_positive_distances(P, T, top=3), [7, 15])
    assert np.isinf(false_positive_distances(P, np.zeros_like(T), top=2)).all()


def test_classify_pairs_and_homodimer_explained():
    L = 30
    T = np.zeros((L, L), dtype=np.int8)
    X = np.zeros((L, L), dtype=np.int8)
    P = np.zeros((L, L))
    entries = {
        (0, 20): (0.9, 1, 0),
        (1, 25): (0.8, 0, 1),
        (2, 26): (0.7, 0, 0),
        (3, 27): (0.6, -1, 1),
        (4, 28): (0.5, 0, 1),
    }
    for (i, j), (p, t, x) in entries.items():
        P[i, j] = P[j, i] = p
        T[i, j] = T[j, i] = t
        X[i, j] = X[j, i] = x
    i = np.array([a for a, _ in entries])
    j = np.array([b for _, b in entries])
    assert classify_pairs(i, j, T, X).tolist() == ["tp", "inter", "fp", "unknown", "inter"]
    assert classify_pairs(i, j, T).tolist() == ["tp", "fp", "fp", "unknown", "fp"]
    result = homodimer_explained(P, T, X, top=4, min_sep=6)
    # Unknown (3, 27) is skipped before the cut: the top 4 known are rows 0, 1, 2, 4.
    assert result["pairs"] == [(1, 25), (4, 28)]
    assert (
        result["count"] == 2
        and result["false_positives"] == 3
        and result["fraction"] == pytest.approx(2 / 3)
    )
    with pytest.raises(ValueError, match="inter-chain"):
        classify_pairs(i, j, T, X[:5, :5])


@settings(max_examples=60, deadline=None)
@given(
    L=st.integers(1, 40),
    seed=st.integers(0, 10_000),
    coarse=st.booleans(),
    top=st.sampled_from(["L", "L/2", "L/5", 1, 7, 500]),
    bounds=st.sampled_from([(6, None), (1, None), (3, 6), (6, 12), (12, 24), (24, None), (2, 30)]),
)
def test_precision_at_matches_the_loop_reference(L, seed, coarse, top, bounds):
    P, T = random_case(seed, L, coarse=coarse)
    low, high = bounds
    hits, count = precision_at(P, T, top=top, min_sep=low, max_sep=high)
    assert isinstance(hits, int) and isinstance(count, int)
    assert count == parse_top(top, L) and 0 <= hits <= count
    expected = reference_precision(P, T, low, high, count)
    if count == 0:
        assert hits == 0 and math.isnan(expected)
    else:
        assert hits / count == pytest.approx(expected, abs=1e-12)


def test_precision_at_agrees_with_evaluate_and_counts_all():
    P, T = random_case(11, 57, coarse=True)
    table = evaluate(P, T)
    for name, (low, high) in RANGES.items():
        for top in ("L", "L/2", "L/5"):
            hits, count = precision_at(P, T, top=top, min_sep=low, max_sep=high)
            assert hits / count == table[name][top]
    # "all": every known pair of the band, so the count is the number of candidates.
    hits, count = precision_at(P, T, top="all", min_sep=24)
    known = [(i, j) for i in range(57) for j in range(i + 24, 57) if T[i, j] >= 0]
    assert count == len(known) and hits == sum(int(T[i, j] == 1) for i, j in known)


# -- unlisted pairs (NaN) take no place in any ranking ----------------------------------------


def sparse_case(L=40, seed=3):
    """A truth with known contacts and a map listing 5 pairs (NaN elsewhere, diagonal too)."""
    rng = np.random.default_rng(seed)
    T = np.triu((rng.random((L, L)) < 0.3).astype(np.int8), 1)
    T = T + T.T
    T[0, 30] = T[30, 0] = -1  # one unknown pair
    P = np.full((L, L), np.nan, dtype=np.float32)
    listed = {(0, 30): 0.95, (2, 35): 0.9, (5, 12): 0.8, (1, 9): 0.6, (10, 39): 0.4}
    for (i, j), p in listed.items():
        P[i, j] = P[j, i] = p
    return P, T, listed


def test_top_pairs_gives_only_listed_pairs():
    P, T, listed = sparse_case()
    for top in ("L", "all", 3, None):
        i, j, p = top_pairs(P, top=top, min_sep=1)
        expected = sorted(listed, key=lambda pair: -listed[pair])[: parse_top(top, len(P))]
        assert list(zip(i.tolist(), j.tolist())) == expected
        assert not np.isnan(p).any()
    # With the truth: the unknown pair is skipped, only 4 listed known pairs remain.
    i, j, _ = top_pairs(P, top="L", min_sep=1, T=T)
    assert len(i) == 4 and (0, 30) not in set(zip(i.tolist(), j.tolist()))


def test_precision_keeps_floor_denominators_for_sparse_maps():
    P, T, listed = sparse_case()
    L = len(P)
    for top, k in (("L", 1), ("L/2", 2), ("L/5", 5)):
        hits, count = precision_at(P, T, top=top, min_sep=6)
        chosen = [
            pair
            for pair in sorted(listed, key=lambda q: -listed[q])
            if pair[1] - pair[0] >= 6 and T[pair] >= 0
        ]
        assert count == L // k
        assert hits == sum(1 for pair in chosen[: L // k] if T[pair] == 1)
    hits, count = precision_at(P, T, top="all", min_sep=6)
    assert (
        count == 4
    )  # all listed known pairs with separation >= 6: (2, 35), (5, 12), (1, 9), (10, 39)
    table = evaluate(P, T)
    for name, (low, high) in {"short": (6, 12), "medium": (12, 24), "long": (24, None)}.items():
        chosen = [
            pair
            for pair in sorted(listed, key=lambda q: -listed[q])
            if pair[1] - pair[0] >= low
            and (high is None or pair[1] - pair[0] < high)
            and T[pair] >= 0
        ]
        true = sum(1 for pair in chosen if T[pair] == 1)
        assert table[name]["L"] == pytest.approx(true / L)
        steps = [
            sum(1 for pair in chosen[: m * L // 10] if T[pair] == 1) / (m * L // 10)
            for m in range(1, 11)
        ]
        assert table[name]["auc"] == pytest.approx(np.mean(steps))


def test_infinite_values_are_refused_nan_is_not():
    P, T, _ = sparse_case()
    precision_at(P, T)  # NaN: unlisted, accepted
    P[3, 20] = np.inf
    for call in (
        lambda: precision_at(P, T),
        lambda: evaluate(P, T),
        lambda: top_pairs(P),
        lambda: calibration(P, T),
    ):
        with pytest.raises(ValueError, match="infinite"):
            call()


def test_calibration_and_false_positive_analyses_use_listed_pairs_only():
    P, T, listed = sparse_case()
    result = calibration(P, T, bins=10, min_sep=6)
    known = [pair for pair in listed if pair[1] - pair[0] >= 6 and T[pair] >= 0]
    assert int(result["counts"].sum()) == len(known) == 4
    false = [
        pair
        for pair in sorted(listed, key=lambda q: -listed[q])
        if pair[1] - pair[0] >= 6 and T[pair] == 0
    ]
    assert len(false_positive_distances(P, T, top="L", min_sep=6)) == len(false)
    X = np.zeros_like(T)
    for pair in false:
        X[pair] = X[pair[::-1]] = 1
    dimer = homodimer_explained(P, T, X, top="L", min_sep=6)
    assert dimer["false_positives"] == len(false) and dimer["pairs"] == false


def test_ranked_pairs_leaves_unlisted_out():
    from esm_contacts.metrics import ranked_pairs

    P, _, listed = sparse_case()
    i, j = ranked_pairs(P, min_sep=1)
    assert list(zip(i.tolist(), j.tolist())) == sorted(listed, key=lambda pair: -listed[pair])
