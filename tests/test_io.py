"""Contact files: RR, CSV and .npy round trips and their errors."""

import numpy as np
import pytest

from esm_contacts.formats import parse_probability
from esm_contacts.io import (
    atomic_write,
    check_output_path,
    read_contacts,
    write_contacts,
)
from esm_contacts.metrics import ranked_pairs

SEQUENCE = "MKTAYIAKQRQISFVKSHFSRQLEERLGLI"


@pytest.fixture
def contact_map():
    rng = np.random.default_rng(3)
    A = rng.random((len(SEQUENCE), len(SEQUENCE)))
    return ((A + A.T) / 2).astype(np.float32)


@pytest.mark.parametrize("suffix", [".rr", ".casp", ".csv"])
def test_text_round_trip_to_printed_precision(tmp_path, contact_map, suffix):
    path = tmp_path / f"pred{suffix}"
    write_contacts(path, contact_map, sequence=SEQUENCE, min_sep=1)
    P, sequence = read_contacts(path)
    assert sequence == SEQUENCE
    off_diagonal = ~np.eye(len(SEQUENCE), dtype=bool)
    np.testing.assert_allclose(P[off_diagonal], contact_map[off_diagonal], atol=5e-7, rtol=0)
    assert np.all(np.isnan(np.diag(P)))  # the diagonal is never listed: not a prediction


def test_npy_round_trip_is_exact(tmp_path, contact_map):
    write_contacts(tmp_path / "pred.npy", contact_map)
    P, sequence = read_contacts(tmp_path / "pred.npy")
    assert sequence is None
    np.testing.assert_array_equal(P, contact_map)


def test_rr_layout(tmp_path, contact_map):
    path = tmp_path / "pred.rr"
    long_sequence = SEQUENCE * 2
    big = np.kron(np.ones((2, 2)), contact_map).astype(np.float32)
    write_contacts(
        path, big, sequence=long_sequence, pairs=(np.array([0, 3]), np.array([59, 9])), target="T1"
    )
    lines = path.read_text().splitlines()
    assert lines[:5] == [
        "PFRMAT RR",
        "TARGET T1",
        "AUTHOR esm-contacts",
        "METHOD ESM attention contacts (esm-contacts)",
        "MODEL 1",
    ]
    assert lines[5] == long_sequence[:50] and lines[6] == long_sequence[50:]
    assert lines[7] == f"1 60 0 8 {big[0, 59]:.6f}"
    assert lines[8] == f"4 10 0 8 {big[3, 9]:.6f}"
    assert lines[-1] == "END"


def test_default_pairs_ranked_with_ties_by_index(tmp_path):
    P = np.zeros((10, 10), dtype=np.float32)
    P[2, 9] = P[9, 2] = 0.5
    P[0, 8] = P[8, 0] = 0.5
    P[1, 7] = P[7, 1] = 0.9
    i, j = ranked_pairs(P, min_sep=6)
    assert list(zip(i[:3], j[:3])) == [(1, 7), (0, 8), (2, 9)]
    assert all(b - a >= 6 for a, b in zip(i, j))
    assert len(i) == sum(1 for a in range(10) for b in range(a + 6, 10))
    write_contacts(tmp_path / "p.csv", P, sequence="ACDEFGHIKL")
    rows = (tmp_path / "p.csv").read_text().splitlines()
    assert rows[:2] == ["# sequence: ACDEFGHIKL", "i,j,res_i,res_j,probability"]
    assert rows[2:5] == ["2,8,C,I,0.900000", "1,9,A,K,0.500000", "3,10,D,L,0.500000"]


def test_csv_without_every_position_has_no_sequence(tmp_path):
    (tmp_path / "p.csv").write_text("i,j,res_i,res_j,probability\n1,8,M,K,0.7\n")
    P, sequence = read_contacts(tmp_path / "p.csv")
    assert sequence is None and P.shape == (8, 8) and P[0, 7] == P[7, 0] == pytest.approx(0.7)


@pytest.mark.parametrize(
    "name, text, message",
    [
        (
            "a.rr",
            "PFRMAT RR\nMKTAY\n1 x 0 8 0.5\nEND\n",
            r"a.rr, line 3: residue index 'x' is not an integer",
        ),
        (
            "b.rr",
            "PFRMAT RR\nMKTAY\n1 4 0 8 1.5\nEND\n",
            r"b.rr, line 3: probability 1.5 outside \[0, 1\]",
        ),
        (
            "c.rr",
            "PFRMAT RR\nMKTAY\n1 9 0 8 0.5\nEND\n",
            r"c.rr, line 3: residue index 9 out of range 1..5",
        ),
        ("d.rr", "PFRMAT RR\nMKTAY\n1 2 3 4\n", r"d.rr, line 3: expected 'i j 0 8 p'"),
        ("e.csv", "a,b,c\n1,2,3\n", r"e.csv, line 1: expected the header"),
        (
            "f.csv",
            "i,j,res_i,res_j,probability\n1,5,M,K\n",
            r"f.csv, line 2: expected 5 fields, got 4",
        ),
        (
            "g.csv",
            "i,j,res_i,res_j,probability\n1,5,M,K,high\n",
            r"g.csv, line 2: probability 'high' is not a number",
        ),
        ("h.rr", "\n\n", r"h.rr: empty contact file"),
        ("i.txt", "1 2 0 8 0.5\n", r"unknown contact file extension '.txt'"),
    ],
)
def test_bad_files_name_file_and_line(tmp_path, name, text, message):
    (tmp_path / name).write_text(text)
    with pytest.raises(ValueError, match=message):
        read_contacts(tmp_path / name)


def test_bad_npy(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"a.npy: expected a square"):
        read_contacts(tmp_path / "a.npy")
    np.save(tmp_path / "b.npy", np.full((3, 3), 2.0))
    with pytest.raises(
        ValueError, match=r"b.npy: contact probabilities must be finite and in \[0, 1\]"
    ):
        read_contacts(tmp_path / "b.npy")
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_contacts(tmp_path / "absent.npy")


def test_write_errors_leave_no_file(tmp_path, contact_map):
    with pytest.raises(ValueError, match="sequence has 3 residues"):
        write_contacts(tmp_path / "x.rr", contact_map, sequence="MKT")
    with pytest.raises(ValueError, match="square"):
        write_contacts(tmp_path / "x.csv", np.zeros((2, 3)))
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_removes_partial_file_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError):
        with atomic_write(target) as stream:
            stream.write("half")
            raise RuntimeError("disk full")
    assert list(tmp_path.iterdir()) == []
    with atomic_write(target) as stream:
        stream.write("whole")
    assert target.read_text() == "whole" and list(tmp_path.iterdir()) == [target]


@pytest.mark.parametrize("sequence", ["MKTAY", "MKXTAYIAKQRXQISFVK"])
def test_csv_keeps_short_sequences_and_x(tmp_path, sequence):
    """A sequence too short for any pair at min_sep 6, or holding X, still round-trips."""
    L = len(sequence)
    rng = np.random.default_rng(L)
    P = rng.random((L, L)).astype(np.float32)
    P = (P + P.T) / 2
    write_contacts(tmp_path / "s.csv", P, sequence=sequence)
    read, read_sequence = read_contacts(tmp_path / "s.csv")
    assert read_sequence == sequence and read.shape == (L, L)
    far = np.abs(np.subtract.outer(np.arange(L), np.arange(L))) >= 6
    np.testing.assert_allclose(read[far], P[far], atol=5e-7)


def test_csv_sequence_line_must_match_the_pairs(tmp_path):
    (tmp_path / "m.csv").write_text(
        "# sequence: MKTAYIAK\ni,j,res_i,res_j,probability\n1,8,M,W,0.7\n"
    )
    with pytest.raises(
        ValueError, match=r"m.csv: residue 8 is 'W' in the pairs but K in the '# sequence:' line"
    ):
        read_contacts(tmp_path / "m.csv")
    (tmp_path / "b.csv").write_text("# sequence: MKT\ni,j,res_i,res_j,probability\n1,8,M,K,0.7\n")
    with pytest.raises(
        ValueError, match=r"b.csv: residue 8 of the pairs lies beyond the 3 residues"
    ):
        read_contacts(tmp_path / "b.csv")


def test_check_output_path_messages(tmp_path):
    target = tmp_path / "out.rr"
    assert check_output_path(str(target)) == target
    with pytest.raises(IsADirectoryError) as error:
        check_output_path(tmp_path)
    assert str(error.value) == f"{tmp_path}: is a folder; give a file name"
    missing = tmp_path / "absent" / "out.rr"
    with pytest.raises(FileNotFoundError) as error:
        check_output_path(missing)
    assert str(error.value) == f"{missing}: the folder {tmp_path / 'absent'} does not exist"
    # A bare file name goes into the working folder, which exists.
    assert check_output_path("out.rr").name == "out.rr"
    # atomic_write refuses the same paths, with the same messages, and writes nothing.
    for path, kind in ((tmp_path, IsADirectoryError), (missing, FileNotFoundError)):
        with pytest.raises(kind, match="is a folder|does not exist"):
            with atomic_write(path):
                pass
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "token, value", [("0", 0.0), ("1", 1.0), ("0.25", 0.25), (" 0.5 ", 0.5), ("1e-3", 0.001)]
)
def test_parse_probability(token, value):
    assert parse_probability(token) == value


@pytest.mark.parametrize(
    "token, message",
    [
        ("abc", "probability 'abc' is not a number"),
        ("", "probability '' is not a number"),
        ("1.5", "probability 1.5 outside [0, 1]"),
        ("-0.1", "probability -0.1 outside [0, 1]"),
        ("nan", "probability nan outside [0, 1]"),
    ],
)
def test_parse_probability_messages(token, message):
    with pytest.raises(ValueError) as error:
        parse_probability(token)
    assert str(error.value) == message


def test_read_errors_prefix_the_probability_message_with_file_and_line(tmp_path):
    path = tmp_path / "bad.rr"
    path.write_text("PFRMAT RR\nMKTAYIAKQR\n1 8 0 8 0.5\n2 9 0 8 high\nEND\n")
    with pytest.raises(ValueError) as error:
        read_contacts(path)
    assert str(error.value) == f"{path}, line 4: probability 'high' is not a number"


# -- a contact file lists predictions ------------------------------------------------------


@pytest.mark.parametrize("suffix", [".rr", ".csv"])
def test_sparse_file_gives_nan_for_unlisted_pairs(tmp_path, suffix):
    path = tmp_path / f"three{suffix}"
    if suffix == ".rr":
        path.write_text(
            "PFRMAT RR\nMKTAYIAKQRQISFVKSHF\n1 19 0 8 0.9\n2 15 0 8 0.0\n3 10 0 8 0.4\nEND\n"
        )
    else:
        path.write_text(
            "# sequence:"
            " MKTAYIAKQRQISFVKSHF\ni,j,res_i,res_j,probability\n1,19,M,F,0.9\n2,15,K,V,0\n"
            "3,10,T,R,0.4\n"
        )
    P, sequence = read_contacts(path)
    assert P.shape == (19, 19) and sequence == "MKTAYIAKQRQISFVKSHF"
    listed = {(0, 18): 0.9, (1, 14): 0.0, (2, 9): 0.4}
    for a in range(19):
        for b in range(19):
            pair = (min(a, b), max(a, b))
            if pair in listed:
                assert P[a, b] == pytest.approx(listed[pair])  # a listed 0 stays a prediction
            else:
                assert np.isnan(P[a, b]), (a, b)


def test_sparse_map_round_trips_through_rr_and_csv(tmp_path):
    P = np.full((30, 30), np.nan, dtype=np.float32)
    for (i, j), p in {(0, 29): 0.9, (4, 11): 0.25, (7, 20): 0.5}.items():
        P[i, j] = P[j, i] = p
    for suffix in (".rr", ".csv"):
        write_contacts(tmp_path / f"s{suffix}", P, sequence=SEQUENCE)
        again, _ = read_contacts(tmp_path / f"s{suffix}")
        np.testing.assert_array_equal(np.isnan(again), np.isnan(P))
        np.testing.assert_allclose(again[~np.isnan(P)], P[~np.isnan(P)], atol=5e-7)
        assert (
            sum(line[0].isdigit() for line in (tmp_path / f"s{suffix}").read_text().splitlines())
            == 3
        )
    # Explicit pairs: unlisted ones are not written.
    write_contacts(tmp_path / "p.rr", P, pairs=([0, 1, 4], [29, 2, 11]))
    assert [line for line in (tmp_path / "p.rr").read_text().splitlines() if line[0].isdigit()] == [
        "1 30 0 8 0.900000",
        "5 12 0 8 0.250000",
    ]


def test_npy_of_a_sparse_map_is_refused_and_npy_nan_is_an_error(tmp_path):
    P = np.full((5, 5), np.nan, dtype=np.float32)
    P[0, 4] = P[4, 0] = 0.5
    with pytest.raises(
        ValueError, match=r"s.npy: contact probabilities must be finite and in \[0, 1\] \(23 NaN"
    ):
        write_contacts(tmp_path / "s.npy", P)
    assert not (tmp_path / "s.npy").exists()
    np.save(tmp_path / "n.npy", P)
    with pytest.raises(ValueError, match=r"n.npy: contact probabilities must be finite"):
        read_contacts(tmp_path / "n.npy")
    Q = np.full((5, 5), 0.5, dtype=np.float32)
    Q[1, 3] = np.inf
    for suffix in (".rr", ".npy"):
        with pytest.raises(ValueError, match="infinite"):
            write_contacts(tmp_path / f"i{suffix}", Q)


@pytest.mark.parametrize("dtype", [np.bool_, np.uint8, np.int16, np.float16, ">f8"])
def test_npy_of_real_numeric_dtypes_is_read(tmp_path, dtype):
    A = np.eye(6, k=3) + np.eye(6, k=-3)
    np.save(tmp_path / "m.npy", A.astype(dtype))
    P, sequence = read_contacts(tmp_path / "m.npy")
    assert P.dtype == np.float32 and sequence is None
    np.testing.assert_array_equal(P, A)
    np.save(tmp_path / "f.npy", np.asfortranarray(np.triu(np.arange(36.0).reshape(6, 6) / 36)))
    np.testing.assert_allclose(read_contacts(tmp_path / "f.npy")[0][0, 5], 5 / 36)
