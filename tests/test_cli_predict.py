"""`esm-contacts predict` and `esm-contacts models` end to end with a tiny checkpoint."""

import subprocess
import sys

import numpy as np
import pytest

from esm_contacts.cli import main
from esm_contacts.io import read_contacts
from esm_contacts.predictor import ContactPredictor

SEQUENCE = "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQ"


@pytest.fixture(scope="module")
def predictor(tiny_esm1b):
    return ContactPredictor.from_pretrained(str(tiny_esm1b), device="cpu")


def table_rows(text):
    return [
        line.split()
        for line in text.splitlines()
        if line and not line.startswith("#") and line.split()[0].isdigit()
    ]


def test_sequence_to_stdout_lists_the_top_l_pairs(capsys, tiny_esm1b, predictor):
    assert main(["predict", SEQUENCE.lower(), "--model", str(tiny_esm1b), "--device", "cpu"]) == 0
    rows = table_rows(capsys.readouterr().out)
    assert len(rows) == len(SEQUENCE)
    P = predictor.predict(SEQUENCE)
    # Independent ranking: every pair with separation >= 6, sorted by probability.
    expected = sorted(
        ((P[i, j], i, j) for i in range(len(SEQUENCE)) for j in range(i + 6, len(SEQUENCE))),
        key=lambda t: (-t[0], t[1], t[2]),
    )[: len(SEQUENCE)]
    assert [(int(r[0]) - 1, int(r[1]) - 1) for r in rows] == [(i, j) for _, i, j in expected]
    for row in rows:
        i, j = int(row[0]) - 1, int(row[1]) - 1
        assert row[2] == SEQUENCE[i] and row[3] == SEQUENCE[j]
        assert float(row[4]) == pytest.approx(P[i, j], abs=5e-5)


def test_top_and_min_sep(capsys, tiny_esm1b):
    main(["predict", SEQUENCE, "--model", str(tiny_esm1b), "--top", "L/5", "--min-sep", "24"])
    rows = table_rows(capsys.readouterr().out)
    assert len(rows) == len(SEQUENCE) // 5
    assert all(int(r[1]) - int(r[0]) >= 24 for r in rows)


def test_fasta_records_one_file_each(tmp_path, tiny_esm1b, predictor):
    fasta = tmp_path / "in.fasta"
    fasta.write_text(">first protein\nMKTAYIAKQR\nQISFVKSHFS\n>second\nGSHMLEDPVDAFQ*\n")
    code = main(
        [
            "predict",
            str(fasta),
            "--model",
            str(tiny_esm1b),
            "--out",
            str(tmp_path / "{name}.csv"),
            "--min-sep",
            "1",
        ]
    )
    assert code == 0
    for name, sequence in (("first", "MKTAYIAKQRQISFVKSHFS"), ("second", "GSHMLEDPVDAFQ")):
        P, read_sequence = read_contacts(tmp_path / f"{name}.csv")
        assert read_sequence == sequence
        expected = predictor.predict(sequence)
        mask = ~np.eye(len(sequence), dtype=bool)
        np.testing.assert_allclose(P[mask], expected[mask], atol=5e-7)


def test_npy_output_is_the_full_map(tmp_path, tiny_esm1b, predictor):
    out = tmp_path / "map.npy"
    assert main(["predict", SEQUENCE, "--model", str(tiny_esm1b), "--out", str(out)]) == 0
    np.testing.assert_array_equal(np.load(out), predictor.predict(SEQUENCE))


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["MKT1AY"], "invalid character '1' at position 4"),
        (["MKTAY", "--top", "L/0"], "top"),
        (["MKTAY", "--out", "x.txt"], "unknown contact file extension '.txt'"),
        (["missing/file.fasta"], "no such file"),
        (["MKTAY", "--model", "esm9_unknown"], "unknown model 'esm9_unknown'"),
        (
            ["MKTAY", "--model", "esm1b_t33_650M_UR50S"],
            "esm1b_t33_650M_UR50S-contact-regression.pt",
        ),
        (["MKTAY", "--min-sep", "0"], "--min-sep must be at least 1"),
    ],
)
def test_input_errors_exit_2_with_one_line(
    tmp_path, monkeypatch, capsys, tiny_esm1b, arguments, message
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    import torch

    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    if "--model" not in arguments:
        arguments = arguments + ["--model", str(tiny_esm1b)]
    assert (
        main(
            ["predict", *arguments, "--out", "out.csv"]
            if "--out" not in arguments
            else ["predict", *arguments]
        )
        == 2
    )
    error = capsys.readouterr().err
    assert message in error
    assert error.count("\n") == 1 and error.startswith("esm-contacts predict: error:")
    assert [p.name for p in tmp_path.iterdir() if p.name != "torch"] == []


def test_bad_fasta(tmp_path, capsys, tiny_esm1b):
    fasta = tmp_path / "bad.fa"
    fasta.write_text(">ok\nMKTAY\n>broken\nMK7AY\n")
    assert main(["predict", str(fasta), "--model", str(tiny_esm1b)]) == 2
    assert (
        "invalid character '7' at position 3 of the sequence of broken" in capsys.readouterr().err
    )


def test_command_line_process(tmp_path, tiny_esm1b):
    """The real process: exit status 2, no traceback, no file."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "esm_contacts.cli",
            "predict",
            "MK#TAY",
            "--model",
            str(tiny_esm1b),
            "--out",
            str(tmp_path / "o.rr"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert (
        "Traceback" not in result.stderr and "invalid character '#' at position 3" in result.stderr
    )
    assert not (tmp_path / "o.rr").exists()
    ok = subprocess.run(
        [sys.executable, "-m", "esm_contacts.cli", "models"], capture_output=True, text=True
    )
    assert (
        ok.returncode == 0 and "esm1b_t33_650M_UR50S" in ok.stdout and "not downloaded" in ok.stdout
    )


def test_structure_input_with_evaluation(capsys, shared_data, tiny_esm1b, predictor):
    from esm_contacts.metrics import evaluate, format_table
    from esm_contacts.structure import load_structure, prediction_sequence, true_contacts

    code = main(
        [
            "predict",
            str(shared_data / "1hvr.pdb"),
            "--chain",
            "A",
            "--model",
            str(tiny_esm1b),
            "--device",
            "cpu",
            "--evaluate",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "long" in out and "L/5" in out
    assert len(table_rows(out.split("\n\n")[0])) == 99  # top L, L = 99 residues
    # Independent: the chain's sequence predicted on its own, evaluated against its true contacts.
    structure = load_structure(shared_data / "1hvr.pdb")
    sequence = prediction_sequence(structure, "A")
    assert len(sequence) == 99
    with pytest.warns(
        UserWarning, match="longer than the model context"
    ):  # tiny ESM-1b: 64 residues
        P = predictor.predict(sequence)
    table = evaluate(P, true_contacts(structure, "A", sequence=sequence), min_sep=6)
    assert format_table(table, columns=("L", "L/2", "L/5", "auc"), label="1hvr_A") in out


def test_msa_input_must_be_the_query(tmp_path, capsys, shared_data, tiny_esm2):
    msa = shared_data / "4zey_A_bfd_uniclust_hits.a3m"
    assert (
        main(
            [
                "predict",
                "MKTAYIAKQR",
                "--model",
                str(tiny_esm2),
                "--msa",
                str(msa),
                "--out",
                str(tmp_path / "o.rr"),
            ]
        )
        == 2
    )
    error = capsys.readouterr().err
    assert "differs from the query of" in error and error.count("\n") == 1
    assert not (tmp_path / "o.rr").exists()


def test_msa_with_structure_input_evaluates_in_query_coordinates(
    tmp_path, capsys, shared_data, tiny_esm2
):
    """4zey: the MSA query is the entity sequence; the map, the file and the truth use its
    indices."""
    from esm_contacts.metrics import evaluate, format_table
    from esm_contacts.msa import read_msa
    from esm_contacts.structure import load_structure, true_contacts

    msa = shared_data / "4zey_A_bfd_uniclust_hits.a3m"
    query = read_msa(msa)[0][1]
    out = tmp_path / "ens.rr"
    assert (
        main(
            [
                "predict",
                str(shared_data / "4zey.cif"),
                "--chain",
                "A",
                "--model",
                str(tiny_esm2),
                "--msa",
                str(msa),
                "--num-seqs",
                "3",
                "--out",
                str(out),
                "--evaluate",
            ]
        )
        == 0
    )
    P, sequence = read_contacts(out)
    assert sequence == query and P.shape == (len(query), len(query))
    ensemble = ContactPredictor.from_pretrained(str(tiny_esm2), device="cpu").predict_msa(
        msa, num_seqs=3
    )
    far = (
        np.abs(np.subtract.outer(np.arange(len(query)), np.arange(len(query)))) >= 6
    )  # what the RR file lists
    np.testing.assert_allclose(P[far], ensemble[far], atol=5e-7)
    T = true_contacts(load_structure(shared_data / "4zey.cif"), "A", sequence=query)
    assert (
        format_table(
            evaluate(ensemble, T, min_sep=6), columns=("L", "L/2", "L/5", "auc"), label="4zey_A"
        )
        in capsys.readouterr().out
    )


def test_empty_npy_is_a_one_line_error(tmp_path, capsys, shared_data):
    empty = tmp_path / "empty.npy"
    empty.write_bytes(b"")
    assert (
        main(["evaluate", str(empty), "--structure", str(shared_data / "1hvr.pdb"), "--chain", "A"])
        == 2
    )
    error = capsys.readouterr().err
    assert "empty.npy: not a NumPy .npy file" in error and error.count("\n") == 1


@pytest.mark.slow
def test_structure_input_predicts_the_full_construct(tmp_path, capsys, shared_data, tiny_esm2):
    """4JSV chain A: SEQRES holds 1174 residues, 1058 observed; by default the full construct is
    predicted."""
    from esm_contacts.structure import chain_sequence, entity_sequence, load_structure

    structure = load_structure(shared_data / "4JSV.pdb")
    full, observed = entity_sequence(structure, "A"), chain_sequence(structure, "A")
    assert len(full) > len(observed)
    out = tmp_path / "full.rr"
    assert (
        main(
            [
                "predict",
                str(shared_data / "4JSV.pdb"),
                "--chain",
                "A",
                "--model",
                str(tiny_esm2),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert (
        f"predicting the full construct ({len(full)} residues, {len(observed)} observed"
        in capsys.readouterr().err
    )
    assert read_contacts(out)[1] == full
    out = tmp_path / "observed.rr"
    assert (
        main(
            [
                "predict",
                str(shared_data / "4JSV.pdb"),
                "--chain",
                "A",
                "--model",
                str(tiny_esm2),
                "--sequence-from",
                "observed",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert read_contacts(out)[1] == observed
    # With --msa the MSA's query is predicted, not the construct: no notice about it.
    msa = tmp_path / "full.a3m"
    msa.write_text(f">query\n{full}\n")
    assert (
        main(
            [
                "predict",
                str(shared_data / "4JSV.pdb"),
                "--chain",
                "A",
                "--model",
                str(tiny_esm2),
                "--msa",
                str(msa),
                "--num-seqs",
                "1",
                "--out",
                str(tmp_path / "msa.rr"),
            ]
        )
        == 0
    )
    assert "predicting the full construct" not in capsys.readouterr().err
    assert read_contacts(tmp_path / "msa.rr")[1] == full


@pytest.mark.parametrize(
    "make, arguments, message",
    [
        (
            lambda d: (d / "folder.rr").mkdir(),
            ["MKTAYIAKQR", "--out", "folder.rr"],
            "folder.rr: is a folder",
        ),
        (
            lambda d: None,
            ["MKTAYIAKQR", "--out", "absent/x.rr"],
            "the folder absent does not exist",
        ),
        (
            lambda d: (d / "dup.fa").write_text(">a\nMKTAY\n>a\nGSHML\n"),
            ["dup.fa", "--out", "{name}.csv"],
            "records 'a' and 'a' would both be written to a.csv",
        ),
        (lambda d: (d / "MKTAY").mkdir(), ["MKTAY"], "MKTAY: is a folder, not a sequence"),
        (lambda d: None, ["MKTAYIAKQR", "--top", "L/0"], "top 'L/0': k in L/k must be at least 1"),
        (lambda d: None, ["MKTAYIAKQR", "--device", "mps"], "MPS is not available"),
    ],
)
def test_output_and_option_errors_come_before_the_model(
    tmp_path, monkeypatch, capsys, tiny_esm1b, make, arguments, message
):
    """Each error names its cause in one line; the checkpoint is never read (it does not exist)."""
    monkeypatch.chdir(tmp_path)
    make(tmp_path)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    model = str(tmp_path / "absent.pt") if "--device" not in arguments else str(tiny_esm1b)
    assert main(["predict", *arguments, "--model", model]) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1 and "absent.pt" not in error
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
