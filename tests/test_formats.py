"""Contact file formats (issue 13, part 2): the format table, each reader against hand-made
files that follow ConKit's descriptions (comments, headers, separators, variants), round
trips, hostile files, ``--format`` on every command, ChimeraX pseudobonds and the README table.

Expected maps are built here by hand from the files' text (a pair per line, NaN elsewhere),
never by the readers under test.
"""

import json
import os
import re
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from esm_contacts import formats
from esm_contacts.cli import main
from esm_contacts.formats import CONTACT_FORMATS, MAX_MAP_RESIDUES, find_format, is_contact_file
from esm_contacts.io import read_contacts, write_contacts

ROOT = Path(__file__).resolve().parent.parent
SEQUENCE = "MKTAYIAKQRQISFVKSHFSRQLEERLGLI"
MAX_MESSAGE = 400


def expected_map(length, pairs):
    """(L, L) NaN map with the listed 1-based pairs set symmetrically: the contact-file
    semantics."""
    P = np.full((length, length), np.nan, dtype=np.float32)
    for a, b, p in pairs:
        P[a - 1, b - 1] = P[b - 1, a - 1] = p
    return P


def same_map(P, Q):
    """Same NaN pattern and the same values to the printed precision."""
    assert P.shape == Q.shape
    np.testing.assert_array_equal(np.isnan(P), np.isnan(Q))
    np.testing.assert_allclose(P[~np.isnan(P)], Q[~np.isnan(Q)], atol=5e-7, rtol=0)


def one_line_error(call, *words):
    with pytest.raises(ValueError) as error:
        call()
    message = str(error.value)
    assert "\n" not in message and len(message) < MAX_MESSAGE, message
    for word in words:
        assert word in message, message
    return message


# -- the table -----------------------------------------------------------------------


def test_table_rows_are_complete_and_extensions_unique():
    names = [spec.name for spec in CONTACT_FORMATS]
    assert names == [
        "rr",
        "csv",
        "npy",
        "psicov",
        "ccmpred",
        "plmdca",
        "evfold",
        "freecontact",
        "chimerax",
        "trrosetta",
    ]
    suffixes = [s for spec in CONTACT_FORMATS for s in spec.extensions]
    assert len(suffixes) == len(set(suffixes))
    for spec in CONTACT_FORMATS:
        assert spec.layout in ("sparse", "dense") and (spec.reader or spec.writer)
    assert formats.FORMATS[".mat"] == "ccmpred" and formats.FORMATS[".npz"] == "trrosetta"


def test_find_format_by_extension_name_alias_and_mode():
    assert find_format("x.MAT").name == "ccmpred"
    assert find_format("x.txt", "PlmDCA").name == "plmdca"
    assert find_format("x.txt", "gremlin").name == "ccmpred"
    assert find_format("x.rr", "evcouplings").name == "evfold"
    one_line_error(
        lambda: find_format("x.txt"), "unknown contact file extension '.txt'", "--format"
    )
    one_line_error(lambda: find_format("x.rr", "nope"), "unknown contact format 'nope'", "psicov")
    one_line_error(lambda: find_format("x.pb", mode="read"), "written, not read")
    one_line_error(lambda: find_format("x.npz", mode="write"), "read, not written")


def test_contact_file_tests_follow_the_table():
    from esm_contacts.formats import contact_suffixes, file_dialog_filter

    readable = contact_suffixes("read")
    assert ".mat" in readable and ".npz" in readable and ".pb" not in readable
    assert (
        is_contact_file("a/b.PSICOV")
        and not is_contact_file("model.pdb")
        and not is_contact_file("x.pb")
    )
    dialog = file_dialog_filter()
    assert all(f"*{suffix}" in dialog for suffix in readable) and "*.pb" not in dialog


def test_readme_shows_the_format_table():
    assert formats.format_table_markdown() in (ROOT / "README.md").read_text()


def test_pymol_side_uses_the_table():
    from esm_contacts.metrics import CATEGORY_COLORS
    from pymol_plugin import check, commands, drawing
    from pymol_plugin.dialog import contact_file_filter

    assert not hasattr(check, "CONTACT_SUFFIXES")
    for spec in CONTACT_FORMATS:
        for suffix in spec.extensions:
            assert commands.is_contact_file(f"pred{suffix}") == (spec.reader is not None)
    assert contact_file_filter() == formats.file_dialog_filter("read")
    # One colour table: the .pb colours are the drawing's default palette.
    assert {
        kind: "#%02x%02x%02x" % rgb
        for kind, (_, rgb) in drawing.PALETTES[drawing.DEFAULT_PALETTE].items()
    } == CATEGORY_COLORS


# -- readers against hand-made files ----------------------------------------------------


def test_psicov_with_comments_and_blank_lines(tmp_path):
    path = tmp_path / "pred.psicov"
    path.write_text("# PSICOV output\n\n1 5 0 8 0.912\n 2 9 0 8 0.5 \n\n9 3 0 8 0.25\n")
    P, sequence = read_contacts(path)
    assert sequence is None
    same_map(P, expected_map(9, [(1, 5, 0.912), (2, 9, 0.5), (3, 9, 0.25)]))


def test_raw_scores_are_rescaled_keeping_order(tmp_path):
    path = tmp_path / "raw.psicov"
    path.write_text("1 10 0 8 2.5\n2 8 0 8 -0.5\n3 9 0 8 1.0\n")
    P, _ = read_contacts(path)
    # (s - min) / (max - min) with min -0.5, max 2.5, computed by hand
    same_map(P, expected_map(10, [(1, 10, 1.0), (2, 8, 0.0), (3, 9, 0.5)]))


def test_ccmpred_matrix_tabs_spaces_comments(tmp_path):
    rows = [[0.0, 0.1, 0.2, 0.3], [0.1, 0.0, 0.4, 0.5], [0.2, 0.4, 0.0, 0.6], [0.3, 0.7, 0.6, 0.0]]
    text = "# CCMpred\n" + "\n".join(
        ("\t" if k % 2 else "  ").join(str(v) for v in row) for k, row in enumerate(rows)
    )
    path = tmp_path / "pred.mat"
    path.write_text(text + "\n\n")
    P, sequence = read_contacts(path)
    expected = np.array(rows, dtype=np.float32)
    expected = np.maximum(expected, expected.T)  # an asymmetric entry: the larger one, as for .npy
    assert sequence is None
    np.testing.assert_allclose(P, expected, atol=1e-7)


def test_gremlin_matrix_of_raw_scores_is_rescaled(tmp_path):
    path = tmp_path / "scores.txt"
    path.write_text("0 2 4\n2 0 1\n4 1 0\n")
    P, _ = read_contacts(path, format="gremlin")
    np.testing.assert_allclose(P, np.array([[0, 0.5, 1], [0.5, 0, 0.25], [1, 0.25, 0]]), atol=1e-7)


@pytest.mark.parametrize(
    "text",
    [
        "1,5,0.3\n2,9,0.7\n",
        "i,j,score\n1,5,0.3\n2,9,0.7\n",
        "1 5 0.3\n2\t9\t0.7\n",
        "# plmDCA\n1, 5, 0.3\n\n2 ,9 ,0.7\n",
    ],
)
def test_plmdca_variants(tmp_path, text):
    path = tmp_path / "pred.plmdca"
    path.write_text(text)
    P, sequence = read_contacts(path)
    assert sequence is None
    same_map(P, expected_map(9, [(1, 5, 0.3), (2, 9, 0.7)]))


def test_evfold_letters_give_the_sequence_when_complete(tmp_path):
    seq = "MKTAY"
    lines = [
        f"{a} {seq[a - 1]} {b} {seq[b - 1]} 0 {p}"
        for a, b, p in [(1, 3, 0.9), (2, 4, 0.2), (3, 5, 0.4)]
    ]
    path = tmp_path / "pred.evfold"
    path.write_text("\n".join(lines) + "\n")
    P, sequence = read_contacts(path)
    assert sequence == seq
    same_map(P, expected_map(5, [(1, 3, 0.9), (2, 4, 0.2), (3, 5, 0.4)]))
    path.write_text("1 M 5 Y 0 0.9\n")  # positions 2-4 never appear: no sequence
    assert read_contacts(path)[1] is None


def test_evfold_letter_conflict_names_both_lines(tmp_path):
    path = tmp_path / "pred.evfold"
    path.write_text("1 M 3 T 0 0.9\n1 K 4 A 0 0.5\n")
    one_line_error(lambda: read_contacts(path), "line 2", "residue 1 is K here but M on line 1")


@pytest.mark.parametrize("column, values", [("cn", (0.8, 0.3)), ("probability", (0.95, 0.1))])
def test_evcouplings_csv(tmp_path, column, values):
    header = "i,A_i,j,A_j,fn,cn,segment_i,segment_j" + (
        ",probability" if column == "probability" else ""
    )
    extra = [",0.95", ",0.1"] if column == "probability" else ["", ""]
    path = tmp_path / "CouplingScores.csv"
    path.write_text(
        f"{header}\n1,M,4,A,0.5,0.8,A_1,A_1{extra[0]}\n2,K,5,Y,0.2,0.3,A_1,A_1{extra[1]}\n"
    )
    P, sequence = read_contacts(path, format="evcouplings")
    assert sequence is None  # position 3 never appears
    same_map(P, expected_map(5, [(1, 4, values[0]), (2, 5, values[1])]))


def test_freecontact_takes_the_fifth_column(tmp_path):
    path = tmp_path / "pred.freecontact"
    path.write_text("1 M 3 T 0.25 3.1\n2 K 3 T 0.75 9.0\n")
    P, sequence = read_contacts(path)
    assert sequence == "MKT"
    same_map(P, expected_map(3, [(1, 3, 0.25), (2, 3, 0.75)]))


def trrosetta_npz(path, dist, fortran=False, **extra):
    np.savez(path, dist=np.asfortranarray(dist) if fortran else dist, **extra)
    return path


@pytest.mark.parametrize("fortran", [False, True])
def test_trrosetta_probability_of_contact(tmp_path, fortran):
    rng = np.random.default_rng(5)
    L = 12
    dist = rng.random((L, L, 37)).astype(np.float32)
    dist /= dist.sum(-1, keepdims=True)
    dist = (dist + dist.transpose(1, 0, 2)) / 2
    path = trrosetta_npz(
        tmp_path / "t.npz", dist, fortran, omega=np.zeros((L, L, 25)), theta=np.zeros((L, L, 25))
    )
    P, sequence = read_contacts(path)
    # Bin 0: > 20 A; bin k >= 1 covers [2 + (k-1)/2, 2 + k/2): the bins entirely below 8 A.
    below = [k for k in range(1, 37) if 2 + k / 2 <= 8.0]
    assert below == list(range(1, 13))
    expected = np.zeros((L, L))
    for a in range(L):
        for b in range(L):
            expected[a, b] = sum(float(dist[a, b, k]) for k in below)
    assert sequence is None
    np.testing.assert_allclose(P, expected, atol=1e-6)


def test_trrosetta_refusals(tmp_path):
    one_line_error(
        lambda: read_contacts(trrosetta_npz(tmp_path / "a.npz", np.zeros((4, 4, 36)))), "(L, L, 37)"
    )
    np.savez(tmp_path / "b.npz", theta=np.zeros((4, 4, 25)))
    one_line_error(lambda: read_contacts(tmp_path / "b.npz"), "no 'dist'", "theta")
    np.savez(
        tmp_path / "c.npz", dist=np.array([[None]], dtype=object)
    )  # needs pickle: never loaded
    one_line_error(lambda: read_contacts(tmp_path / "c.npz"), "dist")
    (tmp_path / "d.npz").write_text("not a zip")
    one_line_error(lambda: read_contacts(tmp_path / "d.npz"), "not a NumPy .npz file")
    bad = np.full((3, 3, 37), 0.5)  # bins summing to 6: not probabilities
    one_line_error(lambda: read_contacts(trrosetta_npz(tmp_path / "e.npz", bad)), "probabilities")


def test_trrosetta_huge_header_is_refused_before_allocation(tmp_path):
    """A 'dist' header declaring (10^6, 10^6, 37) in a few bytes: refused from the header."""
    header = repr({"descr": "<f4", "fortran_order": False, "shape": (10**6, 10**6, 37)}).encode(
        "latin1"
    )
    header += b" " * (64 - (10 + len(header) + 1) % 64) + b"\n"
    with zipfile.ZipFile(tmp_path / "huge.npz", "w") as archive:
        archive.writestr(
            "dist.npy", b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + b"\0" * 64
        )
    one_line_error(
        lambda: read_contacts(tmp_path / "huge.npz"),
        "huge.npz",
        f"at most {MAX_MAP_RESIDUES} residues",
    )
    L = 50  # plausible size, truncated data
    header = repr({"descr": "<f4", "fortran_order": False, "shape": (L, L, 37)}).encode("latin1")
    header += b" " * (64 - (10 + len(header) + 1) % 64) + b"\n"
    with zipfile.ZipFile(tmp_path / "short.npz", "w") as archive:
        archive.writestr(
            "dist.npy", b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + b"\0" * 64
        )
    one_line_error(
        lambda: read_contacts(tmp_path / "short.npz"), "'dist' declares 370.0 kB of data"
    )


# -- round trips ------------------------------------------------------------------------

WRITABLE = [spec for spec in CONTACT_FORMATS if spec.writer and spec.reader]


@pytest.fixture
def full_map():
    rng = np.random.default_rng(3)
    A = rng.random((len(SEQUENCE), len(SEQUENCE)))
    return ((A + A.T) / 2).astype(np.float32)


@pytest.mark.parametrize("spec", WRITABLE, ids=lambda spec: spec.name)
def test_round_trip_of_a_full_map(tmp_path, full_map, spec):
    path = tmp_path / f"pred{spec.extensions[0]}"
    write_contacts(path, full_map, sequence=SEQUENCE, min_sep=1)
    P, sequence = read_contacts(path)
    assert sequence == (SEQUENCE if spec.name in ("rr", "csv", "evfold", "freecontact") else None)
    expected = full_map.copy()
    if not spec.dense:
        np.fill_diagonal(expected, np.nan)  # the diagonal is never listed
    same_map(P, expected)


@pytest.mark.parametrize("spec", [s for s in WRITABLE if not s.dense], ids=lambda spec: spec.name)
def test_round_trip_keeps_the_unlisted_pairs(tmp_path, full_map, spec):
    """A sparse map (NaN = unlisted) written and read back lists the same pairs, in any format."""
    sparse = full_map.copy()
    rng = np.random.default_rng(8)
    drop = np.triu(rng.random(sparse.shape) < 0.6, 1)
    sparse[drop | drop.T] = np.nan
    np.fill_diagonal(sparse, np.nan)
    sparse[:, -1] = sparse[-1, :] = np.nan
    sparse[0, -1] = sparse[-1, 0] = (
        0.5  # the last residue listed once: L stays the same without a sequence
    )
    path = tmp_path / f"pred{spec.extensions[0]}"
    write_contacts(path, sparse, min_sep=1)
    P, _ = read_contacts(path)
    same_map(P, sparse)


@pytest.mark.parametrize("spec", [s for s in WRITABLE if s.dense], ids=lambda spec: spec.name)
def test_dense_formats_refuse_unlisted_pairs(tmp_path, full_map, spec):
    full_map[2, 5] = full_map[5, 2] = np.nan
    path = tmp_path / f"pred{spec.extensions[0]}"
    one_line_error(lambda: write_contacts(path, full_map), "2 NaN values", "lists every pair")
    assert not path.exists()


def test_writers_follow_the_documented_lines(tmp_path):
    P = np.full((5, 5), np.nan, dtype=np.float32)
    P[0, 3] = P[3, 0] = 0.75
    written = {}
    for name in ("psicov", "plmdca", "evfold", "freecontact"):
        path = tmp_path / f"out.{name}"
        write_contacts(path, P, sequence="MKTAY", min_sep=1)
        written[name] = path.read_text().splitlines()
    assert written == {
        "psicov": ["1 4 0 8 0.750000"],
        "plmdca": ["1,4,0.750000"],
        "evfold": ["1 M 4 A 0 0.750000"],
        "freecontact": ["1 M 4 A 0.750000 0"],
    }
    write_contacts(tmp_path / "out.mat", np.eye(2, dtype=np.float32))
    assert (tmp_path / "out.mat").read_text().splitlines() == [
        "1.000000\t0.000000",
        "0.000000\t1.000000",
    ]


def test_format_overrides_the_extension(tmp_path, full_map):
    write_contacts(tmp_path / "pred.txt", full_map, sequence=SEQUENCE, format="evfold", min_sep=1)
    P, sequence = read_contacts(tmp_path / "pred.txt", format="evfold")
    assert sequence == SEQUENCE
    one_line_error(lambda: read_contacts(tmp_path / "pred.txt"), "unknown contact file extension")


# -- hostile files -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, text, words",
    [
        (
            "a.psicov",
            "1 5 0 8 0.5\n3 123456789012 0 8 0.5\n",
            ["line 2", "residue index 123456789012", f"at most {MAX_MAP_RESIDUES}"],
        ),
        ("a.plmdca", "1,99999999,0.5\n", ["line 1", f"at most {MAX_MAP_RESIDUES}"]),
        ("a.evfold", "1 M 99999999 K 0 0.5\n", ["line 1", f"at most {MAX_MAP_RESIDUES}"]),
        (
            "a.freecontact",
            "0 M 3 K 0.5 0\n",
            ["line 1", "residue index 0 out of range", "indices start at 1"],
        ),
        ("a.psicov", "1 5 0 8 0.5\n" + "x" * 5000 + "\n", ["line 2", "5000 characters"]),
        ("a.psicov", "1 5 0 8 zz\n", ["line 1", "score 'zz' is not a number"]),
        ("a.psicov", "1 5 0 8 nan\n", ["line 1", "not finite"]),
        ("a.psicov", "3 3 0 8 0.5\n", ["line 1", "paired with itself"]),
        ("a.plmdca", "1,2\n", ["line 1", "expected 'i,j,score'"]),
        ("a.evfold", "1 M 3\n", ["line 1", "expected 'i A_i j A_j 0 score'"]),
        ("a.evfold", "1 MK 3 T 0 0.5\n", ["line 1", "'MK' is not one letter"]),
        ("a.mat", "0 1\n1 0\n1 1\n", ["line 3", "more than 2 rows"]),
        ("a.mat", "0.0 1.0 2.0\n1.0 0.0\n", ["line 2", "expected 3 numbers"]),
        ("a.mat", "0 1\n1 x\n", ["line 2", "'x' is not a number"]),
        ("a.mat", "0.0 1.0 2.0\n1.0 0.0 2.0\n", ["2 rows but 3 columns"]),
        ("a.mat", "0 inf\ninf 0\n", ["line 1", "not finite"]),
        (
            "a.mat",
            " ".join(["0"] * (MAX_MAP_RESIDUES + 1)) + "\n",
            ["line 1", f"at most {MAX_MAP_RESIDUES}"],
        ),
        (
            "a.mat",
            " ".join(["0"] * 5000) + "\n",
            ["line 1", "5000 x 5000 matrix of at least 50.0 MB"],
        ),
        ("a.psicov", "\n# only a comment\n", ["no sequence and no contacts"]),
        ("a.evfold", "   \n", ["empty contact file"]),
    ],
)
def test_hostile_text_files(tmp_path, name, text, words):
    path = tmp_path / name
    path.write_text(text)
    one_line_error(lambda: read_contacts(path), str(path), *words)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@pytest.mark.parametrize("suffix", [".psicov", ".mat", ".npz", ".evfold"])
def test_non_regular_files_are_refused_unopened(tmp_path, suffix):
    fifo = tmp_path / f"pipe{suffix}"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="is a FIFO"):
        read_contacts(fifo)
    with pytest.raises(ValueError, match="is a folder"):
        read_contacts(tmp_path, format="psicov")


# -- commands ------------------------------------------------------------------------------


@pytest.fixture
def hvr(shared_data):
    from esm_contacts.structure import chain_sequence, load_structure, true_contacts

    path = shared_data / "1hvr.pdb"
    structure = load_structure(path)
    sequence = chain_sequence(structure, "A")
    rng = np.random.default_rng(2)
    A = rng.random((len(sequence), len(sequence)))
    P = ((A + A.T) / 2).astype(np.float32)
    T = true_contacts(structure, "A")
    P[T == 1] = np.minimum(P[T == 1] + 0.5, 1)  # some signal
    return path, structure, sequence, P


def evaluate_json(capsys, pred, structure, *extra):
    capsys.readouterr()
    assert (
        main(
            ["evaluate", str(pred), "--structure", str(structure), "--chain", "A", "--json", *extra]
        )
        == 0
    )
    return json.loads(capsys.readouterr().out)["precision"]


def test_evaluate_reads_every_format_and_format_names_it(tmp_path, capsys, hvr):
    path, _, sequence, P = hvr
    write_contacts(tmp_path / "ref.rr", P, sequence=sequence)
    reference = evaluate_json(capsys, tmp_path / "ref.rr", path)
    for spec in WRITABLE:
        out = tmp_path / f"pred{spec.extensions[0]}"
        write_contacts(out, P, sequence=sequence, min_sep=6 if not spec.dense else 1)
        assert evaluate_json(capsys, out, path) == reference, spec.name
        renamed = out.with_suffix(".txt")
        out.rename(renamed)
        assert evaluate_json(capsys, renamed, path, "--format", spec.name) == reference, spec.name
    capsys.readouterr()
    assert main(["evaluate", str(renamed), "--structure", str(path), "--chain", "A"]) == 2
    assert "unknown contact file extension '.txt'" in capsys.readouterr().err


def test_evaluate_set_and_validate_take_format(tmp_path, capsys, hvr):
    path, _, sequence, P = hvr
    write_contacts(tmp_path / "a.plmdca", P, sequence=sequence)
    (tmp_path / "a.txt").write_text((tmp_path / "a.plmdca").read_text())
    (tmp_path / "list.tsv").write_text(f"a.txt\t{path}\tA\n")
    capsys.readouterr()
    assert main(["evaluate-set", str(tmp_path / "list.tsv"), "--format", "plmdca"]) == 0
    assert "mean precision over 1" in capsys.readouterr().out
    assert main(["evaluate-set", str(tmp_path / "list.tsv"), "--format", "nope"]) == 2
    assert "unknown contact format 'nope'" in capsys.readouterr().err
    assert (
        main(
            [
                "validate",
                str(tmp_path / "a.txt"),
                str(path),
                "--chain",
                "A",
                "--format",
                "plmdca",
                "--json",
            ]
        )
        == 0
    )
    via_format = json.loads(capsys.readouterr().out)
    assert main(["validate", str(tmp_path / "a.plmdca"), str(path), "--chain", "A", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == via_format


def pb_lines(path):
    return [line for line in Path(path).read_text().splitlines() if not line.startswith(";")]


def test_convert_contacts_round_trip_and_errors(tmp_path, capsys, hvr):
    _, _, sequence, P = hvr
    write_contacts(tmp_path / "a.rr", P, sequence=sequence, min_sep=1)
    assert (
        main(
            [
                "convert-contacts",
                str(tmp_path / "a.rr"),
                "--out",
                str(tmp_path / "b.txt"),
                "--out-format",
                "freecontact",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "convert-contacts",
                str(tmp_path / "b.txt"),
                "--in-format",
                "freecontact",
                "--out",
                str(tmp_path / "c.csv"),
            ]
        )
        == 0
    )
    Q, seq = read_contacts(tmp_path / "c.csv")
    assert seq == sequence
    same_map(Q, read_contacts(tmp_path / "a.rr")[0])
    capsys.readouterr()
    assert main(["convert-contacts", str(tmp_path / "a.rr"), "--out", str(tmp_path / "d.npy")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "NaN values" in err and not (tmp_path / "d.npy").exists()
    assert main(["convert-contacts", str(tmp_path / "a.rr"), "--out", str(tmp_path / "d.pb")]) == 2
    assert "give --structure and --chain" in capsys.readouterr().err
    assert main(["convert-contacts", str(tmp_path / "d.pb"), "--out", str(tmp_path / "e.rr")]) == 2
    assert "written, not read" in capsys.readouterr().err


def test_pseudobonds_name_residues_and_colour_by_category(tmp_path, hvr):
    """Each .pb line: the structure's residue names (author numbers), CB (CA for Gly), the
    colour of the pair's category: checked against the truth and the chain's atoms here."""
    from esm_contacts.structure import homodimer_contacts, true_contacts

    path, structure, sequence, P = hvr
    write_contacts(tmp_path / "a.rr", P, sequence=sequence)
    assert (
        main(
            [
                "convert-contacts",
                str(tmp_path / "a.rr"),
                "--structure",
                str(path),
                "--chain",
                "A",
                "--out",
                str(tmp_path / "a.pb"),
                "--top",
                "60",
            ]
        )
        == 0
    )
    lines = pb_lines(tmp_path / "a.pb")
    assert len(lines) == 60
    chain = structure[structure.chain_id == "A"]
    res_ids = list(dict.fromkeys(chain.res_id.tolist()))
    glycines = {int(r) for r, n in zip(chain.res_id, chain.res_name) if n == "GLY"}
    T, X = true_contacts(structure, "A"), homodimer_contacts(structure, "A")
    order = np.argsort(-P[np.triu_indices(len(sequence), 6)], kind="stable")
    seen = set()
    for line in lines:
        match = re.fullmatch(r"/A:(\d+)@(CB|CA) /A:(\d+)@(CB|CA) (#[0-9a-f]{6})", line)
        assert match, line
        a, b = int(match.group(1)), int(match.group(3))
        assert match.group(2) == ("CA" if a in glycines else "CB")
        assert match.group(4) == ("CA" if b in glycines else "CB")
        i, j = res_ids.index(a), res_ids.index(b)
        # Okabe-Ito sky blue / reddish purple / vermillion, written out here (not read from the
        # code).
        colour = "#56b4e9" if T[i, j] == 1 else ("#cc79a7" if X[i, j] == 1 else "#d55e00")
        assert match.group(5) == colour
        seen.add((i, j))
    i, j = np.triu_indices(len(sequence), 6)
    assert seen == set(zip(i[order[:60]].tolist(), j[order[:60]].tolist()))  # the top 60 pairs


def test_predict_writes_pseudobonds_from_a_structure(tmp_path, capsys, shared_data, tiny_esm1b):
    out = tmp_path / "hvr.pb"
    assert (
        main(
            [
                "predict",
                str(shared_data / "1hvr.pdb"),
                "--chain",
                "A",
                "--model",
                str(tiny_esm1b),
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    lines = pb_lines(out)
    observed = 99  # 1hvr chain A; default top L for a drawing
    assert 0 < len(lines) <= observed
    assert all(
        re.fullmatch(r"/A:\d+@C[AB] /A:\d+@C[AB] (#56b4e9|#d55e00|#cc79a7)", line) for line in lines
    )
    capsys.readouterr()
    assert (
        main(
            [
                "predict",
                "MKTAYIAKQRQISFVKSHFSRQ",
                "--model",
                str(tiny_esm1b),
                "--out",
                str(tmp_path / "s.pb"),
            ]
        )
        == 2
    )
    assert "give a structure file or PDB ID as INPUT" in capsys.readouterr().err
    assert (
        main(
            [
                "predict",
                "MKTAYIAKQRQISFVKSHFSRQ",
                "--model",
                str(tiny_esm1b),
                "--out",
                str(tmp_path / "s.txt"),
                "--format",
                "psicov",
                "--quiet",
            ]
        )
        == 0
    )
    assert read_contacts(tmp_path / "s.txt", format="psicov")[0].shape == (22, 22)


# -- PyMOL ------------------------------------------------------------------------------


def test_pymol_load_reads_every_format(tmp_path, shared_data, hvr):
    import pymol2
    from pymol import CmdException

    from pymol_plugin import commands

    path, _, sequence, P = hvr
    pymol = pymol2.PyMOL()
    pymol.start()
    try:
        cmd = pymol.cmd
        cmd.load(str(path), "hvr")
        write_contacts(tmp_path / "ref.rr", P, sequence=sequence)
        reference = commands.esm_contacts_load(
            str(tmp_path / "ref.rr"), "hvr and chain A", _self=cmd
        )["counts"]
        for spec in WRITABLE:
            out = tmp_path / f"p{spec.extensions[0]}"
            write_contacts(out, P, sequence=sequence, min_sep=6 if not spec.dense else 1)
            assert (
                commands.esm_contacts_load(str(out), "hvr and chain A", _self=cmd)["counts"]
                == reference
            )
        (tmp_path / "p.txt").write_text((tmp_path / "p.plmdca").read_text())
        counts = commands.esm_contacts_load(
            str(tmp_path / "p.txt"), "hvr and chain A", format="plmdca", _self=cmd
        )
        assert counts["counts"] == reference
        before = (cmd.get_names("all"), cmd.count_atoms("all"))
        with pytest.raises(CmdException, match="unknown contact file extension"):
            commands.esm_contacts_load(str(tmp_path / "p.txt"), "hvr and chain A", _self=cmd)
        assert (cmd.get_names("all"), cmd.count_atoms("all")) == before
    finally:
        pymol.stop()


@pytest.mark.parametrize("command", ["evaluate", "validate", "evaluate-set"])
def test_commands_refuse_hostile_new_formats_on_one_line(tmp_path, capsys, shared_data, command):
    pdb = shared_data / "1hvr.pdb"
    bad = tmp_path / "bad.psicov"
    bad.write_text("1 5 0 8 0.5\n2 987654321987 0 8 0.5\n")
    (tmp_path / "list.tsv").write_text(f"bad.psicov\t{pdb}\tA\n")
    argv = {
        "evaluate": ["evaluate", str(bad), "--structure", str(pdb), "--chain", "A"],
        "validate": ["validate", str(bad), str(pdb), "--chain", "A"],
        "evaluate-set": ["evaluate-set", str(tmp_path / "list.tsv")],
    }[command]
    capsys.readouterr()
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert captured.err.startswith(f"esm-contacts {command}: error: ") and "line 2" in captured.err
    assert f"at most {MAX_MAP_RESIDUES}" in captured.err


@pytest.mark.parametrize("suffix", [".rr", ".psicov", ".plmdca"])
def test_sparse_file_without_sequence_that_stops_short_is_evaluated(tmp_path, capsys, hvr, suffix):
    """Indices of a sequence-less sparse file are the observed residues in order; a file whose
    largest index is below the chain's length (top pairs only) is evaluated as PyMOL draws it,
    with the same precision as the same pairs in a file that carries the sequence."""
    path, structure, sequence, P = hvr
    L = len(sequence)
    short = np.full_like(P, np.nan)
    i, j = np.triu_indices(L - 10, 6)  # no pair reaches the last 10 residues
    short[i, j] = short[j, i] = P[i, j]
    write_contacts(tmp_path / "ref.csv", short, sequence=sequence)
    reference = evaluate_json(capsys, tmp_path / "ref.csv", path)
    write_contacts(tmp_path / f"short{suffix}", short)  # no sequence: the file ends at index L - 10
    assert read_contacts(tmp_path / f"short{suffix}")[0].shape == (L - 10, L - 10)
    assert evaluate_json(capsys, tmp_path / f"short{suffix}", path) == reference
    assert (
        main(["validate", str(tmp_path / f"short{suffix}"), str(path), "--chain", "A", "--json"])
        == 0
    )
    ours = json.loads(capsys.readouterr().out)
    assert main(["validate", str(tmp_path / "ref.csv"), str(path), "--chain", "A", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["agreement"] == ours[0]["agreement"]


def test_scores_to_probabilities_keeps_order_and_probabilities():
    from esm_contacts.formats import scores_to_probabilities

    kept = np.array([0.0, 0.25, 1.0])
    np.testing.assert_array_equal(scores_to_probabilities(kept), kept)
    raw = np.array([3.0, -1.0, 3.0, 1.0])
    np.testing.assert_allclose(scores_to_probabilities(raw), [1.0, 0.0, 1.0, 0.5])  # ties stay ties
    np.testing.assert_array_equal(scores_to_probabilities(np.array([7.0, 7.0])), [1.0, 1.0])
