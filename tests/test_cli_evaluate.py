"""`esm-contacts evaluate` and `evaluate-set` on real structures with noisy copies of their
truth."""

import csv
import json

import numpy as np
import pytest

from esm_contacts.cli import main  # noqa: E402
from esm_contacts.io import write_contacts  # noqa: E402
from esm_contacts.metrics import evaluate, top_pairs  # noqa: E402
from esm_contacts.structure import (  # noqa: E402
    chain_sequence,
    homodimer_contacts,
    load_structure,
    true_contacts,
)


def noisy_copy(T, seed, noise=0.25):
    """P = clip(T + noise), symmetric: a prediction that is good but not perfect."""
    rng = np.random.default_rng(seed)
    N = np.triu(rng.normal(0, noise, T.shape), 1)
    P = np.clip(0.6 * (T == 1) + 0.1 + N + N.T, 0, 1).astype(np.float32)
    np.fill_diagonal(P, 0)
    return P


@pytest.fixture(scope="module")
def hvr(shared_data):
    path = shared_data / "1hvr.pdb"
    structure = load_structure(path)
    return path, structure


def numbers(line):
    return [float(v) for v in line.replace("|", " ").split()[1:]]


def test_evaluate_rr_with_sequence_prints_table_and_plot(tmp_path, capsys, hvr):
    path, structure = hvr
    sequence = chain_sequence(structure, "A")
    T = true_contacts(structure, "A")
    P = noisy_copy(T, 0)
    # The file's probabilities have 6 decimals: evaluate what the file holds.
    P = np.round(P, 6)
    write_contacts(tmp_path / "pred.rr", P, sequence=sequence, min_sep=1)
    plot = tmp_path / "map.png"
    assert (
        main(
            [
                "evaluate",
                str(tmp_path / "pred.rr"),
                "--structure",
                str(path),
                "--chain",
                "A",
                "--plot",
                str(plot),
            ]
        )
        == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ["short", "|", "medium", "|", "long"]
    table = evaluate(P, T, min_sep=6)
    expected = [
        100 * table[r][c] for r in ("short", "medium", "long") for c in ("L", "L/2", "L/5", "auc")
    ]
    assert numbers(lines[3]) == pytest.approx(expected, abs=0.051)
    assert "homodimer partners B" in lines[4]
    assert plot.is_file() and plot.read_bytes()[:4] == b"\x89PNG"


def test_evaluate_json_maps_a_longer_sequence(tmp_path, capsys, hvr):
    """A prediction over the construct (4 extra N-terminal residues) is aligned to the chain."""
    path, structure = hvr
    observed = chain_sequence(structure, "A")
    construct = "GSHM" + observed
    T = true_contacts(structure, "A")
    L = len(construct)
    # Independent expectation: the truth embedded at offset 4, the extra rows unknown.
    T_construct = np.full((L, L), -1, dtype=np.int8)
    T_construct[4:, 4:] = T
    P = np.round(noisy_copy(T_construct.clip(0, 1), 1), 6)
    write_contacts(tmp_path / "construct.csv", P, sequence=construct, min_sep=1)
    code = main(
        [
            "evaluate",
            str(tmp_path / "construct.csv"),
            "--structure",
            str(path),
            "--chain",
            "A",
            "--json",
            "--min-sep",
            "3",
        ]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert (
        result["length"] == L
        and result["sequence"] == construct
        and result["residues_observed"] == 99
    )
    expected = evaluate(P, T_construct, min_sep=3)
    assert list(result["precision"]) == ["local", "short", "medium", "long"]
    for name in expected:
        for column, value in expected[name].items():
            assert result["precision"][name][column] == pytest.approx(value, abs=1e-12)
    # Homodimer: which top-L false positives are inter-chain contacts, 1-based pairs.
    X = homodimer_contacts(structure, "A", sequence=construct)
    i, j, _ = top_pairs(P, "L", 3, T=T_construct)
    inter = [[a + 1, b + 1] for a, b in zip(i, j) if T_construct[a, b] == 0 and X[a, b] == 1]
    assert result["homodimer"]["partners"] == ["B"] and result["homodimer"]["pairs"] == inter
    assert result["homodimer"]["inter_chain"] == len(inter)
    # The same pairs named by the structure's residues (1hvr numbers chain A 1-99; the construct
    # adds 4).
    assert result["homodimer"]["residue_pairs"] == [[f"A:{a - 4}", f"A:{b - 4}"] for a, b in inter]


def test_evaluate_npy_in_structure_indices(tmp_path, capsys, hvr):
    path, structure = hvr
    T = true_contacts(structure, "B")
    np.save(tmp_path / "b.npy", noisy_copy(T, 2))
    assert (
        main(
            [
                "evaluate",
                str(tmp_path / "b.npy"),
                "--structure",
                str(path),
                "--chain",
                "B",
                "--json",
            ]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    expected = evaluate(noisy_copy(T, 2), T, min_sep=6)
    assert result["precision"]["long"]["L/2"] == pytest.approx(expected["long"]["L/2"])
    assert result["sequence"] is None


@pytest.mark.parametrize(
    "setup, arguments, message",
    [
        ("short_npy", [], "the prediction covers 50 residues but chain A has 99 observed"),
        ("short_npy", ["--sequence-from", "PRED"], "carries no sequence"),
        (
            "rr",
            ["--chain", "Z"],
            "chain 'Z' is not a protein chain of this structure; chains: A, B",
        ),
        ("rr", ["--structure", "missing.pdb"], "missing.pdb"),
        ("rr", ["--plot", "out.jpg"], "unknown figure extension '.jpg'"),
        ("missing", [], "no such file"),
        ("rr", ["--min-sep", "0"], "--min-sep must be at least 1"),
    ],
)
def test_evaluate_errors_one_line_exit_2(
    tmp_path, monkeypatch, capsys, hvr, setup, arguments, message
):
    path, structure = hvr
    monkeypatch.chdir(tmp_path)
    if setup == "short_npy":
        np.save(tmp_path / "pred.npy", np.zeros((50, 50), dtype=np.float32))
        prediction = "pred.npy"
    elif setup == "rr":
        T = true_contacts(structure, "A")
        write_contacts(
            tmp_path / "pred.rr", noisy_copy(T, 3), sequence=chain_sequence(structure, "A")
        )
        prediction = "pred.rr"
    else:
        prediction = "absent.rr"
    options = {"--structure": str(path), "--chain": "A"}
    for flag, value in zip(arguments[::2], arguments[1::2]):
        options[flag] = value
    argv = ["evaluate", prediction] + [x for item in options.items() for x in item]
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert message in error
    assert error.count("\n") == 1 and error.startswith("esm-contacts evaluate: error:")
    assert not (tmp_path / "out.jpg").exists()


@pytest.mark.parametrize(
    "command, arguments, message",
    [
        ("evaluate", ["--plot", "out.jpg"], "unknown figure extension '.jpg'"),
        ("evaluate", ["--plot", "absent/out.png"], "the folder absent does not exist"),
        ("validate", ["--plot", "out.jpg"], "unknown figure extension '.jpg'"),
        ("validate", ["--plot", "absent/out.png"], "the folder absent does not exist"),
        ("validate", ["--min-sep", "0"], "--min-sep must be at least 1"),
        ("validate", ["--top", "L/0"], "top 'L/0': k in L/k must be at least 1"),
    ],
)
def test_option_errors_come_before_any_file_is_read(
    tmp_path, monkeypatch, capsys, command, arguments, message
):
    """The prediction and structure do not exist: the option error is what is reported."""
    monkeypatch.chdir(tmp_path)
    inputs = (
        ["missing.rr", "--structure", "missing.pdb"]
        if command == "evaluate"
        else ["missing.rr", "missing.pdb"]
    )
    assert main([command, *inputs, "--chain", "A", *arguments]) == 2
    error = capsys.readouterr().err
    assert message in error and "missing" not in error
    assert error.count("\n") == 1 and error.startswith(f"esm-contacts {command}: error:")
    assert list(tmp_path.iterdir()) == []


@pytest.fixture()
def evaluation_list(tmp_path, shared_data, hvr):
    path, structure = hvr
    folder = tmp_path / "set"
    (folder / "pred").mkdir(parents=True)
    truths = {}
    for chain, seed in (("A", 10), ("B", 11)):
        T = true_contacts(structure, chain)
        truths[chain] = T
        for variant, noise in (("good", 0.15), ("noisy", 0.45)):
            write_contacts(
                folder / "pred" / f"1hvr_{chain}_{variant}.rr",
                noisy_copy(T, seed, noise),
                sequence=chain_sequence(structure, chain),
                min_sep=1,
            )
    lines = ["# prediction\tstructure\tchain\tvariant", ""]
    for chain in "AB":
        for variant in ("good", "noisy"):
            lines.append(f"pred/1hvr_{chain}_{variant}.rr\t{path}\t{chain}\t{variant}  # comment")
    (folder / "list.tsv").write_text("\n".join(lines) + "\n")
    return folder / "list.tsv", truths


def test_evaluate_set_mean_table_and_csv(tmp_path, capsys, evaluation_list):
    listing, truths = evaluation_list
    out = tmp_path / "rows.csv"
    assert main(["evaluate-set", str(listing), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    mean_lines = text.split("\n\n")[0].splitlines()
    assert [line.split()[0] for line in mean_lines[3:]] == ["good", "noisy"]
    rows = list(csv.DictReader(out.open()))
    assert [(r["name"], r["variant"], r["chain"]) for r in rows] == [
        ("1hvr_A_good", "good", "A"),
        ("1hvr_A_noisy", "noisy", "A"),
        ("1hvr_B_good", "good", "B"),
        ("1hvr_B_noisy", "noisy", "B"),
    ]
    for row in rows:
        from esm_contacts.io import read_contacts

        P, _ = read_contacts(row["prediction"])
        expected = evaluate(P, truths[row["chain"]], min_sep=6)
        assert float(row["long_L"]) == pytest.approx(expected["long"]["L"], abs=1e-6)
        assert float(row["medium_auc"]) == pytest.approx(expected["medium"]["auc"], abs=1e-6)
        assert int(row["length"]) == 99
    good = numbers(mean_lines[3])
    mean_long_L = np.mean([float(r["long_L"]) for r in rows if r["variant"] == "good"])
    assert good[6] == pytest.approx(100 * mean_long_L, abs=0.051)
    noisy = numbers(mean_lines[4])
    assert good[6] > noisy[6]
    assert "1hvr_B_noisy [noisy]" in text.split("\n\n")[1]


def test_evaluate_set_errors_name_file_and_line(tmp_path, capsys, evaluation_list):
    listing, _ = evaluation_list
    text = listing.read_text().splitlines()
    bad = listing.parent / "bad.tsv"
    bad.write_text("\n".join(text[:3] + ["pred/absent.rr\tx.pdb\tA"]) + "\n")
    assert main(["evaluate-set", str(bad)]) == 2
    error = capsys.readouterr().err
    assert f"{bad}, line 4" in error and "absent.rr" in error and error.count("\n") == 1
    bad.write_text("only-two\tfields\n")
    assert main(["evaluate-set", str(bad)]) == 2
    assert f"{bad}, line 1: expected" in capsys.readouterr().err
    bad.write_text("# nothing\n\n")
    assert main(["evaluate-set", str(bad)]) == 2
    assert "no entries" in capsys.readouterr().err
    assert main(["evaluate-set", str(tmp_path / "none.tsv")]) == 2
    assert "none.tsv: no such file" in capsys.readouterr().err


def mutated(sequence, fraction, seed):
    """`sequence` with `fraction` of its letters changed to another amino acid."""
    rng = np.random.default_rng(seed)
    letters = list(sequence)
    for k in rng.choice(len(letters), int(fraction * len(letters)), replace=False):
        letters[k] = "W" if letters[k] != "W" else "A"
    return "".join(letters)


def test_poor_sequence_match_is_refused_unless_lowered(tmp_path, capsys, hvr):
    """70% identity: not the same protein by DESIGN's rule (exit 2, one line); --min-identity 0.7
    accepts it."""
    path, structure = hvr
    T = true_contacts(structure, "A")
    write_contacts(
        tmp_path / "pred.rr",
        noisy_copy(T, 4),
        sequence=mutated(chain_sequence(structure, "A"), 0.3, 0),
    )
    args = ["evaluate", str(tmp_path / "pred.rr"), "--structure", str(path), "--chain", "A"]
    assert main(args) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and captured.err.startswith(
        "esm-contacts evaluate: error:"
    )
    assert (
        f"{(99 - 29) / 99:.0%} identity" in captured.err
        and "cover 100%" in captured.err
        and not captured.out
    )
    assert main(args + ["--min-identity", "0.7"]) == 0
    captured = capsys.readouterr()
    assert "L = 99" in captured.out and not captured.err


@pytest.mark.parametrize(
    "content, message",
    [
        (
            "wxyz\n",
            (
                "the sequence (4 residues) and the 99 observed residues of chain A are not the same"
                " protein"
            ),
        ),
        ("PFRMAT RR\nMODEL 1\nWXYZ\nEND\n", "are not the same protein"),
        # J is no letter of the models: refused as such, the file named
        # (esm_contacts.sequence.clean_sequence)
        ("junk\n", "invalid character 'J' at position 1 of the sequence of "),
        (
            None,
            "identity over the aligned positions (at least 90% needed)",
        ),  # 40% identity over the whole chain
        (
            "1a3a",
            (
                "the sequence (99 residues) and the 145 observed residues of chain A are not the"
                " same protein"
            ),
        ),
    ],
)
def test_a_sequence_that_is_not_the_chain_is_refused(
    tmp_path, capsys, shared_data, hvr, content, message
):
    path, structure = hvr
    structure_path = path
    if content is None:
        T = true_contacts(structure, "A")
        write_contacts(
            tmp_path / "pred.rr",
            noisy_copy(T, 5),
            sequence=mutated(chain_sequence(structure, "A"), 0.6, 1),
        )
    elif content == "1a3a":  # 1hvr's chain A against another protein
        T = true_contacts(structure, "A")
        write_contacts(
            tmp_path / "pred.rr", noisy_copy(T, 5), sequence=chain_sequence(structure, "A")
        )
        structure_path = shared_data / "1a3a.pdb"
    else:
        (tmp_path / "pred.rr").write_text(content)
    assert (
        main(
            [
                "evaluate",
                str(tmp_path / "pred.rr"),
                "--structure",
                str(structure_path),
                "--chain",
                "A",
            ]
        )
        == 2
    )
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("esm-contacts evaluate: error:")
    assert message in error and "--sequence-from structure" in error


def test_a_refused_sequence_can_be_ignored_and_a_domain_is_accepted(tmp_path, capsys, hvr):
    path, structure = hvr
    T = true_contacts(structure, "A")
    P = np.round(noisy_copy(T, 6), 6)
    write_contacts(
        tmp_path / "pred.rr", P, sequence=mutated(chain_sequence(structure, "A"), 0.6, 1), min_sep=1
    )
    argv = [
        "evaluate",
        str(tmp_path / "pred.rr"),
        "--structure",
        str(path),
        "--chain",
        "A",
        "--json",
    ]
    assert main(argv + ["--sequence-from", "structure"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["precision"]["long"]["L"] == pytest.approx(evaluate(P, T)["long"]["L"])
    # A prediction of residues 11-50 only: a fragment of the chain, not a mismatch.
    write_contacts(
        tmp_path / "domain.rr",
        P[10:50, 10:50],
        sequence=chain_sequence(structure, "A")[10:50],
        min_sep=1,
    )
    assert (
        main(
            [
                "evaluate",
                str(tmp_path / "domain.rr"),
                "--structure",
                str(path),
                "--chain",
                "A",
                "--json",
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert json.loads(captured.out)["length"] == 40 and captured.err == ""


def test_evaluate_set_refuses_a_wrong_sequence(tmp_path, capsys, hvr):
    path, _ = hvr
    (tmp_path / "junk.rr").write_text("wxyz\n")
    (tmp_path / "list.tsv").write_text(f"junk.rr\t{path}\tA\n")
    assert main(["evaluate-set", str(tmp_path / "list.tsv")]) == 2
    error = capsys.readouterr().err
    assert (
        f"{tmp_path / 'list.tsv'}, line 1" in error
        and "junk.rr: the sequence (4 residues)" in error
    )
    assert "are not the same protein" in error and error.count("\n") == 1
    assert error.count("\n") == 1


# --- 4JSV: the first assembly (chains B, D) does not hold chain A ---------------------


@pytest.fixture(scope="module")
def jsv(shared_data):
    path = shared_data / "4JSV.pdb"
    return path, load_structure(path)


def test_evaluate_chain_outside_the_first_assembly(tmp_path, capsys, jsv):
    path, structure = jsv
    T = true_contacts(structure, "A")
    P = noisy_copy(T, 7)
    np.save(tmp_path / "a.npy", P)
    assert (
        main(
            [
                "evaluate",
                str(tmp_path / "a.npy"),
                "--structure",
                str(path),
                "--chain",
                "A",
                "--json",
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert captured.err == ""
    assert result["length"] == 1058 and result["precision"]["long"]["L/5"] == pytest.approx(
        evaluate(P, T)["long"]["L/5"]
    )
    # Assembly 2 holds A with the peptide C, a different protein: no homodimer partner.
    assert result["homodimer"]["partners"] == []


def test_evaluate_falls_back_to_the_file_chains_when_no_assembly_holds_the_chain(
    tmp_path, capsys, jsv
):
    path, structure = jsv
    text = path.read_text()
    assert text.count("APPLY THE FOLLOWING TO CHAINS: A, C") == 1
    edited = tmp_path / "4jsv_no_a.pdb"
    edited.write_text(
        text.replace("APPLY THE FOLLOWING TO CHAINS: A, C", "APPLY THE FOLLOWING TO CHAINS: C   ")
    )
    T = true_contacts(structure, "A")
    np.save(tmp_path / "a.npy", noisy_copy(T, 8))
    assert (
        main(
            [
                "evaluate",
                str(tmp_path / "a.npy"),
                "--structure",
                str(edited),
                "--chain",
                "A",
                "--json",
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and captured.err.startswith(
        "esm-contacts evaluate: warning:"
    )
    assert "assembly" in captured.err and "file's own chains" in captured.err
    # In the file itself, B is the same protein as A.
    result = json.loads(captured.out)
    assert result["homodimer"]["partners"] == ["B"]
    X = homodimer_contacts(structure, "A")
    top_i, top_j, _ = top_pairs(noisy_copy(T, 8), "L", 6, T=T)
    inter = [[a + 1, b + 1] for a, b in zip(top_i, top_j) if T[a, b] == 0 and X[a, b] == 1]
    assert result["homodimer"]["pairs"] == inter


# -- a contact file lists predictions: unlisted pairs are not predictions -------------------


def three_pair_rr(path, structure, chain="A"):
    """An RR file for a real chain listing 3 long-range pairs (two contacts, one not), by hand.

    Returns the 1-based pairs with their probabilities and whether each is a contact.
    """
    T = true_contacts(structure, chain)
    L = T.shape[0]
    contacts = [(i, j) for i in range(L) for j in range(i + 24, L) if T[i, j] == 1]
    others = [(i, j) for i in range(L) for j in range(i + 24, L) if T[i, j] == 0]
    chosen = [(contacts[0], 0.9), (others[len(others) // 2], 0.8), (contacts[-1], 0.7)]
    sequence = chain_sequence(structure, chain)
    lines = ["PFRMAT RR", "TARGET t", "MODEL 1"] + [sequence[k : k + 50] for k in range(0, L, 50)]
    lines += [f"{i + 1} {j + 1} 0 8 {p}" for (i, j), p in chosen] + ["END"]
    path.write_text("\n".join(lines) + "\n")
    return [((i, j), p, T[i, j] == 1) for (i, j), p in chosen]


@pytest.fixture(scope="module")
def a3a(shared_data):
    path = shared_data / "1a3a.pdb"
    return path, load_structure(path)


def test_sparse_rr_scores_unlisted_pairs_as_misses(tmp_path, capsys, a3a):
    """3 long-range pairs: short and medium precision 0 (nothing predicted there), long-range
    P@L = true among the 3 / floor(L); the table says how many pairs the file lists."""
    path, structure = a3a
    pairs = three_pair_rr(tmp_path / "three.rr", structure)
    L = len(chain_sequence(structure, "A"))
    assert (
        main(
            [
                "evaluate",
                str(tmp_path / "three.rr"),
                "--structure",
                str(path),
                "--chain",
                "A",
                "--json",
            ]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert result["pairs_listed"] == 3
    # Independent: the file's pairs in its order (probability), hits counted by a loop.
    hits_at = []
    for depth in range(1, L + 1):
        hits_at.append(sum(1 for k, (_, _, true) in enumerate(pairs) if k < depth and true))
    true_total = sum(1 for _, _, true in pairs if true)
    assert true_total == 2
    for k, name in ((1, "L"), (2, "L/2"), (5, "L/5")):
        assert result["precision"]["long"][name] == pytest.approx(hits_at[L // k - 1] / (L // k))
        assert result["precision"]["short"][name] == 0 and result["precision"]["medium"][name] == 0
    steps = [hits_at[m * L // 10 - 1] / (m * L // 10) for m in range(1, 11)]
    assert result["precision"]["long"]["auc"] == pytest.approx(sum(steps) / len(steps))
    assert result["precision"]["short"]["auc"] == 0
    # The text table: the same numbers and one line saying the file lists 3 pairs.
    assert (
        main(["evaluate", str(tmp_path / "three.rr"), "--structure", str(path), "--chain", "A"])
        == 0
    )
    out = capsys.readouterr().out.splitlines()
    assert (
        sum(
            "the file lists 3 pairs with separation >= 6, fewer than L = 145" in line
            for line in out
        )
        == 1
    )
    row = numbers(next(line for line in out if line.startswith("three.rr")))
    assert row[:8] == [0.0] * 8 and row[8] == pytest.approx(100 * 2 / L, abs=0.051)


def test_dense_file_says_nothing_about_listed_pairs(tmp_path, capsys, hvr):
    path, structure = hvr
    T = true_contacts(structure, "A")
    write_contacts(
        tmp_path / "all.rr", np.round(noisy_copy(T, 4), 6), sequence=chain_sequence(structure, "A")
    )
    assert (
        main(["evaluate", str(tmp_path / "all.rr"), "--structure", str(path), "--chain", "A"]) == 0
    )
    assert "the file lists" not in capsys.readouterr().out
    assert (
        main(
            [
                "evaluate",
                str(tmp_path / "all.rr"),
                "--structure",
                str(path),
                "--chain",
                "A",
                "--json",
            ]
        )
        == 0
    )
    L = T.shape[0]
    assert json.loads(capsys.readouterr().out)["pairs_listed"] == (L - 6) * (L - 5) // 2


def test_predict_top_file_lists_its_pairs(tmp_path, capsys, shared_data, tiny_esm1b):
    """An RR written by predict --top 10: evaluate ranks those 10 pairs only."""
    out = tmp_path / "top10.csv"
    pdb = shared_data / "1hvr.pdb"
    assert (
        main(
            [
                "predict",
                str(pdb),
                "--chain",
                "A",
                "--model",
                str(tiny_esm1b),
                "--top",
                "10",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["evaluate", str(out), "--structure", str(pdb), "--chain", "A", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["pairs_listed"] == 10
    structure = load_structure(pdb)
    T = true_contacts(structure, "A")
    rows = out.read_text().splitlines()[2:]
    listed = [(int(r.split(",")[0]) - 1, int(r.split(",")[1]) - 1) for r in rows]
    assert len(listed) == 10
    L = T.shape[0]
    long_hits = sum(1 for i, j in listed if j - i >= 24 and T[i, j] == 1)
    assert result["precision"]["long"]["L"] == pytest.approx(long_hits / L)
    assert main(["evaluate", str(out), "--structure", str(pdb), "--chain", "A"]) == 0
    assert (
        "# the file lists 10 pairs with separation >= 6, fewer than L = 99"
        in capsys.readouterr().out
    )


@pytest.mark.slow
def test_full_construct_npy_evaluates_like_rr(tmp_path, capsys, shared_data, tiny_esm2):
    """4JSV chain A: predict writes the full construct (1174 residues, 1058 observed); as .npy
    (no sequence) it is mapped through the construct and gives the RR file's table."""
    pdb = shared_data / "4JSV.pdb"
    for suffix in (".npy", ".rr"):
        assert (
            main(
                [
                    "predict",
                    str(pdb),
                    "--chain",
                    "A",
                    "--model",
                    str(tiny_esm2),
                    "--out",
                    str(tmp_path / f"full{suffix}"),
                ]
            )
            == 0
        )
    capsys.readouterr()
    tables = {}
    for suffix in (".npy", ".rr"):
        assert (
            main(
                [
                    "evaluate",
                    str(tmp_path / f"full{suffix}"),
                    "--structure",
                    str(pdb),
                    "--chain",
                    "A",
                    "--json",
                ]
            )
            == 0
        )
        tables[suffix] = json.loads(capsys.readouterr().out)
    assert tables[".npy"]["length"] == tables[".rr"]["length"] == 1174
    assert tables[".npy"]["sequence"] == tables[".rr"]["sequence"]
    for name, row in tables[".rr"]["precision"].items():
        for column, value in row.items():
            assert tables[".npy"]["precision"][name][column] == pytest.approx(value, abs=0.002), (
                name,
                column,
            )
    # The observed-length meaning is kept: a map of 1058 is in observed order.
    np.save(tmp_path / "observed.npy", np.zeros((1058, 1058), dtype=np.float32))
    assert (
        main(
            [
                "evaluate",
                str(tmp_path / "observed.npy"),
                "--structure",
                str(pdb),
                "--chain",
                "A",
                "--json",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["sequence"] is None
    np.save(tmp_path / "other.npy", np.zeros((1100, 1100), dtype=np.float32))
    assert (
        main(["evaluate", str(tmp_path / "other.npy"), "--structure", str(pdb), "--chain", "A"])
        == 2
    )
    error = capsys.readouterr().err
    assert (
        "covers 1100 residues but chain A has 1058 observed or the 1174 of its full construct"
        in error
    )


@pytest.mark.parametrize("top", ["L", "all"])
def test_validate_uses_only_the_listed_pairs(tmp_path, capsys, a3a, top):
    path, structure = a3a
    three_pair_rr(tmp_path / "three.rr", structure)
    assert (
        main(
            [
                "validate",
                str(tmp_path / "three.rr"),
                str(path),
                "--chain",
                "A",
                "--top",
                top,
                "--json",
            ]
        )
        == 0
    )
    (result,) = json.loads(capsys.readouterr().out)
    assert result["predicted_contacts"] == 3 and result["agreement"] == pytest.approx(2 / 3)


@pytest.mark.slow
def test_validate_maps_a_full_construct_npy(tmp_path, capsys, shared_data):
    """4JSV chain A: a .npy of the full construct (1174) is validated through it, like its RR."""
    pdb = shared_data / "4JSV.pdb"
    structure = load_structure(pdb)
    from esm_contacts.structure import entity_sequence

    full = entity_sequence(structure, "A")
    T = true_contacts(structure, "A", sequence=full)
    P = np.round(noisy_copy(T, 5), 6)
    np.save(tmp_path / "full.npy", P)
    write_contacts(tmp_path / "full.rr", P, sequence=full)
    results = []
    for name in ("full.npy", "full.rr"):
        assert main(["validate", str(tmp_path / name), str(pdb), "--chain", "A", "--json"]) == 0
        results.append(json.loads(capsys.readouterr().out)[0])
    assert results[0]["predicted_contacts"] == results[1]["predicted_contacts"] == 1174
    assert results[0]["agreement"] == pytest.approx(results[1]["agreement"])
