"""MSA reading, sequence selection and ensembling (esm_contacts.msa,
ContactPredictor.predict_msa)."""

import itertools

import numpy as np
import pytest

from esm_contacts.cli import main
from esm_contacts.msa import (
    check_msa,
    ensemble_maps,
    fasta_records,
    read_msa,
    select_sequences,
    ungap,
)
from esm_contacts.predictor import ContactPredictor

# Gaps at the start, inside, at the end, and a row with a single residue.
ROWS = [
    "MKTAYIAKQR",
    "-KTA-IAKQ-",
    "MK--YIA--R",
    "---AYIAKQR",
    "----Y-----",
]


def residue_index(row: str, column: int) -> int:
    """Independent: index of the residue at `column` among the row's residues, or -1."""
    if row[column] == "-":
        return -1
    return sum(1 for char in row[:column] if char != "-")


def encoding_maps(sequences, sequence_row=None):
    """Stand-in map function: cell (a, b) of row r holds r * 10000 + a * 100 + b + 1.

    r is the sequence's row number in `sequence_row` (default: that of ROWS)."""
    maps = []
    for sequence in sequences:
        row = (SEQUENCE_ROW if sequence_row is None else sequence_row)[sequence]
        n = len(sequence)
        a, b = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        maps.append((row * 10000 + a * 100 + b + 1).astype(np.float64))
    return maps


SEQUENCE_ROW = {row.replace("-", ""): index for index, row in enumerate(ROWS)}


def test_each_value_lands_in_its_aligned_cell():
    length = len(ROWS[0])
    for r, row in enumerate(ROWS):
        P = ensemble_maps([row], encoding_maps)
        for x, y in itertools.product(range(length), repeat=2):
            a, b = residue_index(row, x), residue_index(row, y)
            expected = r * 10000 + a * 100 + b + 1 if a >= 0 and b >= 0 else 0.0
            assert P[x, y] == expected, (row, x, y)


@pytest.mark.parametrize("chunk_size", [1, 2, 5])
def test_pairs_are_averaged_over_rows_with_both_residues(chunk_size):
    calls = []

    def recording(sequences):
        calls.append(len(sequences))
        return encoding_maps(sequences)

    P = ensemble_maps(ROWS, recording, chunk_size=chunk_size)
    assert max(calls) <= chunk_size and sum(calls) == len(ROWS)
    length = len(ROWS[0])
    for x, y in itertools.product(range(length), repeat=2):
        values = [
            r * 10000 + residue_index(row, x) * 100 + residue_index(row, y) + 1
            for r, row in enumerate(ROWS)
            if row[x] != "-" and row[y] != "-"
        ]
        assert P[x, y] == pytest.approx(np.mean(values), rel=1e-6), (x, y)
    # Column 0 pairs only the query (rows 0 and 2 have M there; row 2 lacks column 3).
    assert P[0, 3] == pytest.approx(0 * 10000 + 0 * 100 + 3 + 1)


def test_all_gap_rows_are_skipped():
    rows = ["MKTA", "----", "MK-A"]
    seen = []
    P = ensemble_maps(
        rows, lambda seqs: seen.extend(seqs) or [np.ones((len(s), len(s))) for s in seqs]
    )
    assert seen == ["MKTA", "MKA"]
    assert np.all(P == 1.0)


@pytest.mark.parametrize("chunk_size", [1, 2, 16])
def test_checkpoints_equal_separate_ensembles(chunk_size):
    rows = ROWS + ["MKTAYIAKQ-", "-KTAYIAKQR"]
    calls = []
    # A local copy of the row numbers with the two extra rows (the module's table stays as it is).
    sequence_row = {
        **SEQUENCE_ROW,
        **{row.replace("-", ""): index for index, row in enumerate(rows) if index >= len(ROWS)},
    }

    def encoding(sequences):
        return encoding_maps(sequences, sequence_row)

    def recording(sequences):
        calls.append(len(sequences))
        return encoding(sequences)

    P, snapshots = ensemble_maps(rows, recording, chunk_size=chunk_size, checkpoints=(3, 1, 5, 64))
    assert sum(calls) == len(rows)  # one pass: every row predicted once
    assert sorted(snapshots) == [1, 3, 5, 64]
    for n in (1, 3, 5):
        # Independent: a separate ensemble of the first n rows (re-using the same row numbers).
        np.testing.assert_array_equal(snapshots[n], ensemble_maps(rows[:n], encoding))
    np.testing.assert_array_equal(snapshots[64], P)
    np.testing.assert_array_equal(P, ensemble_maps(rows, encoding))
    with pytest.raises(ValueError, match="checkpoints"):
        ensemble_maps(rows, encoding, checkpoints=(0,))


def test_ungap_replaces_unknown_letters():
    sequence, columns = ungap("-MJ-Ka.", alphabet=frozenset("MKAX"))
    assert sequence == "MXKA"
    assert columns.tolist() == [1, 2, 4, 5]


# -- reading ---------------------------------------------------------------------------


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a3m_insertions_removed(tmp_path):
    path = write(
        tmp_path,
        "x.a3m",
        ">query desc\nMKTAYIAK\n>hit1\nMK-AYyyIAK\n>hit2\n-KTaAY..IA-\n>\nMKTAYIAX\n",
    )
    msa = read_msa(path)
    assert msa == [
        ("query", "MKTAYIAK"),
        ("hit1", "MK-AYIAK"),
        ("hit2", "-KTAYIA-"),
        ("record4", "MKTAYIAX"),
    ]


def test_aligned_fasta_query_gap_columns_dropped(tmp_path):
    path = write(tmp_path, "x.fasta", ">q\nMK-TA\n>a\nMKSTA\n>b\nM-S-A\n")
    assert read_msa(path) == [("q", "MKTA"), ("a", "MKTA"), ("b", "M--A")]
    lower = write(tmp_path, "y.fasta", ">q\nmk-ta\n>a\nmkst-\n")
    assert read_msa(lower) == [("q", "MKTA"), ("a", "MKT-")]


def test_stockholm_blocks_joined(tmp_path):
    text = (
        "# STOCKHOLM 1.0\n#=GF ID test\nq    MKT-A\nh1   MK.SA\n#=GC RF xxx.x\n\n"
        "q    YIAK\nh1   YI-K\n//\n"
    )
    path = write(tmp_path, "x.sto", text)
    assert read_msa(path) == [("q", "MKTAYIAK"), ("h1", "MK-AYI-K")]


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty alignment file"),
        ("  \n\n", "empty alignment file"),
        ("# just a comment\n", "no query"),
        (">q\n---\n>a\nMKT\n", "line 1: no query"),
        ("MKT\n>q\nMKT\n", "line 1: sequence before the first '>' header"),
        (">q\nMKTA\n>a\nMKT\n>b\nMKTA\n", "line 3: record 'a' has 3 aligned columns"),
        (">q\nMKTA\n>a\nMKTAy\n>b\nMKTAYY\n", "line 5: record 'b' has 6"),
        (">q\nMKTA\n>bad\nMK1A\n", "line 3: record 'bad' contains '1'"),
        ("# STOCKHOLM 1.0\nq MKTA\nh MKT\n//\n", "line 3: record 'h' has 3"),
    ],
)
def test_bad_alignments(tmp_path, text, message):
    path = write(tmp_path, "bad.a3m", text)
    with pytest.raises(ValueError, match=message.replace("(", r"\(")) as error:
        read_msa(path)
    assert str(path) in str(error.value)


def test_fasta_records_as_written():
    text = "; comment\n>first protein\nMKTA YI\nakqr\n>\nGSH\n# note\n>third\n"
    assert fasta_records(text, "in.fa") == [
        ("first", "MKTAYIakqr"),
        ("record2", "GSH"),
        ("third", ""),
    ]
    with pytest.raises(ValueError, match="in.fa, line 1: sequence before the first '>' header"):
        fasta_records("MKT\n>q\nMKT\n", "in.fa")
    with pytest.raises(ValueError, match="in.fa: no FASTA records"):
        fasta_records("; only a comment\n", "in.fa")


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such alignment file"):
        read_msa(tmp_path / "absent.a3m")


def test_list_and_file_alignments_drop_query_gap_columns(tiny_esm1b, tmp_path):
    msa = [("q", "ACDE--FGHIKLMNPQ"), ("s", "ACDEWWFGHIKLMNPQ"), ("t", "AC-EWWFGHIK-MNPQ")]
    path = write(tmp_path, "gaps.fasta", "".join(f">{name}\n{row}\n" for name, row in msa))
    expected = [("q", "ACDEFGHIKLMNPQ"), ("s", "ACDEFGHIKLMNPQ"), ("t", "AC-EFGHIK-MNPQ")]
    assert check_msa(msa) == read_msa(path) == expected
    predictor = ContactPredictor.from_pretrained(tiny_esm1b, device="cpu")
    single = predictor.predict_msa(msa, num_seqs=1)
    assert single.shape == (14, 14)
    assert np.array_equal(single, predictor.predict("ACDEFGHIKLMNPQ"))
    np.testing.assert_array_equal(
        predictor.predict_msa(msa, num_seqs=3), predictor.predict_msa(path, num_seqs=3)
    )


def test_predict_msa_sizes_equal_separate_calls(tiny_esm2):
    rng = np.random.default_rng(7)
    query = "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQ"
    rows = [query]
    for _ in range(9):
        row = [rng.choice(list("ACDEFGHIKLMNPQRSTVWY")) if rng.random() < 0.3 else c for c in query]
        row = ["-" if rng.random() < 0.15 else c for c in row]
        rows.append("".join(row))
    msa = [(f"r{k}", row) for k, row in enumerate(rows)]
    predictor = ContactPredictor.from_pretrained(tiny_esm2, device="cpu")
    for strategy in ("first", "diverse"):
        maps = predictor.predict_msa_sizes(msa, sizes=(2, 5, 16), strategy=strategy)
        assert list(maps) == [2, 5, 16]
        for s, P in maps.items():
            np.testing.assert_allclose(
                P, predictor.predict_msa(msa, num_seqs=s, strategy=strategy), rtol=0, atol=1e-6
            )
    assert not np.allclose(maps[2], maps[5])
    with pytest.raises(ValueError, match="at least 1"):
        predictor.predict_msa_sizes(msa, sizes=(0, 4))


def test_predict_msa_rejects_bad_rows(tiny_esm2):
    predictor = ContactPredictor.from_pretrained(tiny_esm2, device="cpu")
    with pytest.raises(ValueError, match="record 2 \\('b'\\) has 3 columns"):
        predictor.predict_msa([("a", "MKTA"), ("b", "MKT")])
    with pytest.raises(ValueError, match="no query"):
        predictor.predict_msa([])


# -- selection -------------------------------------------------------------------------


def test_select_first_and_diverse():
    msa = [("q", "AAAA"), ("near", "AAAC"), ("gaps", "----"), ("far", "CCCC"), ("half", "AACC")]
    assert [n for n, _ in select_sequences(msa, 3)] == ["q", "near", "far"]
    # far: 4 from q; then near (1 + 3) and half (2 + 2) tie at 4: the earlier row wins.
    assert [n for n, _ in select_sequences(msa, 3, "diverse")] == ["q", "far", "near"]
    # All rows: still in greedy order, so any prefix is the choice of its size.
    assert [n for n, _ in select_sequences(msa, 10, "diverse")] == ["q", "far", "near", "half"]
    assert select_sequences(msa, 1, "diverse") == [("q", "AAAA")]
    with pytest.raises(ValueError, match="num_seqs"):
        select_sequences(msa, 0)
    with pytest.raises(ValueError, match="strategy"):
        select_sequences(msa, 2, "random")


def test_diverse_maximises_mean_distance():
    rng = np.random.default_rng(3)
    rows = ["".join(rng.choice(list("ACDE-"), size=12)) for _ in range(15)]
    msa = [(str(k), row) for k, row in enumerate(rows)]
    chosen = [int(n) for n, _ in select_sequences(msa, 6, "diverse")]

    def distance(a, b):
        return sum(x != y for x, y in zip(rows[a], rows[b]))

    for step in range(1, 6):
        scores = {
            k: sum(distance(k, c) for c in chosen[:step])
            for k in range(15)
            if k not in chosen[:step]
        }
        assert scores[chosen[step]] == max(scores.values())


# -- predictions -----------------------------------------------------------------------


def test_single_sequence_and_identical_rows_equal_predict(tiny_esm1b):
    predictor = ContactPredictor.from_pretrained(tiny_esm1b, device="cpu")
    sequence = "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQ"
    P = predictor.predict(sequence)
    assert np.array_equal(predictor.predict_msa([("q", sequence)]), P)
    same = predictor.predict_msa([(f"r{k}", sequence) for k in range(5)], num_seqs=5)
    np.testing.assert_allclose(same, P, rtol=0, atol=1e-7)
    # Letters outside the alphabet are predicted as X.
    odd = predictor.predict_msa([("q", sequence[:5] + "J" + sequence[6:])])
    assert np.array_equal(odd, predictor.predict(sequence[:5] + "X" + sequence[6:]))


def brute_force_msa(predictor, rows):
    """Independent: predict each ungapped row, average each column pair with loops."""
    length = len(rows[0])
    sums = np.zeros((length, length))
    counts = np.zeros((length, length))
    for row in rows:
        sequence = row.replace("-", "")
        if not sequence:
            continue
        P = predictor.predict(sequence)
        covered = predictor.coverage(len(sequence))
        columns = [c for c, char in enumerate(row) if char != "-"]
        for a, x in enumerate(columns):
            for b, y in enumerate(columns):
                if covered[a, b]:
                    sums[x, y] += P[a, b]
                    counts[x, y] += 1
    return np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)


def test_real_a3m_1a3a_tiny_esm2(shared_data, tiny_esm2):
    msa = read_msa(shared_data / "1a3a_1_A.a3m")
    assert len(msa) == 1024
    assert {len(row) for _, row in msa} == {145}
    assert "-" not in msa[0][1] and any("X" in row for _, row in msa)
    predictor = ContactPredictor.from_pretrained(tiny_esm2, device="cpu")
    P = predictor.predict_msa(shared_data / "1a3a_1_A.a3m", num_seqs=6)
    expected = brute_force_msa(predictor, [row for _, row in select_sequences(msa, 6)])
    np.testing.assert_allclose(P, expected, rtol=0, atol=1e-6)
    assert np.array_equal(P, P.T) and P.min() >= 0 and P.max() <= 1
    assert not np.allclose(P, predictor.predict(msa[0][1]))


def test_real_a3m_4zey_windows_tiny_esm1b(shared_data, tiny_esm1b):
    path = shared_data / "4zey_A_bfd_uniclust_hits.a3m"
    msa = read_msa(path)
    assert len(msa) == 401 and {len(row) for _, row in msa} == {84}
    assert (
        msa[0][1]
        == "GMEGPLNLAHQQSRRADRLLAAGKYEEAISCHKKAAAYLSEAMKLTQSEQAHLSLELQRDSHMKQLLLIQERWKRAQREERLKA"
    )
    predictor = ContactPredictor.from_pretrained(tiny_esm1b, device="cpu")  # context 64: windows
    with pytest.warns(UserWarning, match="longer than the model context"):
        P = predictor.predict_msa(path, num_seqs=5, strategy="diverse")
    with pytest.warns(UserWarning):
        expected = brute_force_msa(
            predictor, [row for _, row in select_sequences(msa, 5, "diverse")]
        )
    np.testing.assert_allclose(P, expected, rtol=0, atol=1e-6)


def test_cli_predict_msa(shared_data, tiny_esm2, tmp_path):
    path = shared_data / "4zey_A_bfd_uniclust_hits.a3m"
    query = read_msa(path)[0][1]
    out = tmp_path / "msa.npy"
    assert (
        main(
            [
                "predict",
                query,
                "--model",
                str(tiny_esm2),
                "--device",
                "cpu",
                "--msa",
                str(path),
                "--num-seqs",
                "4",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    predictor = ContactPredictor.from_pretrained(tiny_esm2, device="cpu")
    np.testing.assert_allclose(
        np.load(out), predictor.predict_msa(path, num_seqs=4), rtol=0, atol=1e-7
    )
