"""scripts/evaluate_dataset.py: input checks before the model, one-pass MSA sizes, atomic CSV."""

import csv
import importlib.util
from pathlib import Path

import pytest

from esm_contacts.metrics import evaluate
from esm_contacts.msa import read_msa
from esm_contacts.predictor import ContactPredictor
from esm_contacts.structure import load_structure, true_contacts

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


@pytest.fixture(scope="module")
def evaluate_dataset():
    spec = importlib.util.spec_from_file_location(
        "evaluate_dataset", SCRIPTS / "evaluate_dataset.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0], err
    return err[0]


def test_bad_inputs_fail_before_the_model(evaluate_dataset, shared_data, tmp_path, capsys):
    # The model path does not exist: each error must be found before the model is loaded.
    model = ["--model", str(tmp_path / "no-model.pt"), "--csv", str(tmp_path / "out.csv")]
    good = [f"{shared_data / '1l2y.pdb'}:A"] * 9
    assert evaluate_dataset.main([str(tmp_path / "absent.pdb") + ":A", *model]) == 2
    assert "absent.pdb" in one_error_line(capsys)
    # A bad 10th entry fails at once, naming the chain and the chains there are.
    assert evaluate_dataset.main([*good, f"{shared_data / '1hvr.pdb'}:Z", *model]) == 2
    line = one_error_line(capsys)
    assert "1hvr.pdb has no protein chain 'Z'; its chains: A, B" in line
    assert (
        evaluate_dataset.main(
            [*good, f"{shared_data / '1a3a.pdb'}:A:{tmp_path / 'absent.a3m'}", *model]
        )
        == 2
    )
    assert "absent.a3m: no such alignment file" in one_error_line(capsys)
    assert evaluate_dataset.main(["1l2y.pdb", *model]) == 2
    assert "expected STRUCTURE:CHAIN" in one_error_line(capsys)
    missing = [
        "--model",
        str(tmp_path / "no-model.pt"),
        "--csv",
        str(tmp_path / "absent" / "out.csv"),
    ]
    assert evaluate_dataset.main(good[:1] + missing) == 2
    assert "absent does not exist" in one_error_line(capsys)
    assert list(tmp_path.iterdir()) == []


def test_table_and_csv(evaluate_dataset, shared_data, tiny_esm2, tmp_path, capsys):
    a3m = shared_data / "1a3a_1_A.a3m"
    out = tmp_path / "table.csv"
    assert (
        evaluate_dataset.main(
            [
                f"{shared_data / '1l2y.pdb'}:A",
                f"{shared_data / '1a3a.pdb'}:A:{a3m}",
                "--model",
                str(tiny_esm2),
                "--device",
                "cpu",
                "--csv",
                str(out),
            ]
        )
        == 0
    )
    printed = capsys.readouterr()
    assert "PLUMBING ONLY" in printed.out and "one pass" in printed.out
    assert not [p for p in tmp_path.iterdir() if p.name != "table.csv"]  # no temporary left
    with open(out, newline="") as stream:
        rows = list(csv.DictReader(stream))
    variants = {row["variant"] for row in rows}
    # tiny_esm2 has 5 heads with a positive weight: top-10 is skipped, with a notice.
    assert variants == {
        "single sequence",
        "top-1 heads",
        "top-5 heads",
        "MSA s=16",
        "MSA s=32",
        "MSA s=64",
    }
    assert "top-10 heads skipped: only 5 heads" in printed.err
    assert {row["chain"] for row in rows if row["variant"].startswith("MSA")} == {
        "1a3a.pdb:A",
        "MEAN",
    }
    # Independent: each one-pass MSA row equals a separate predict_msa call of that size.
    predictor = ContactPredictor.from_pretrained(tiny_esm2, device="cpu")
    query = read_msa(a3m)[0][1]
    T = true_contacts(load_structure(shared_data / "1a3a.pdb"), "A", sequence=query)
    for s in (16, 32, 64):
        table = evaluate(predictor.predict_msa(a3m, num_seqs=s), T)
        row = next(
            r
            for r in rows
            if r["chain"] == "1a3a.pdb:A" and r["variant"] == f"MSA s={s}" and r["range"] == "long"
        )
        for top in ("L", "L/2", "L/5"):
            assert float(row[top]) == pytest.approx(table["long"][top], abs=1e-4)
    single = next(
        r
        for r in rows
        if r["chain"] == "1l2y.pdb:A"
        and r["variant"] == "single sequence"
        and r["range"] == "short"
    )
    assert single["length"] == "20"


def test_benchmark_structures_reports_every_row(shared_data):
    """`scripts/benchmark.py --structures` runs on the real data and prints one timed row per
    call."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "scripts" / "benchmark.py"
    result = subprocess.run(
        [sys.executable, str(script), "--structures", "--data", str(shared_data)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    rows = [
        line.split("|")
        for line in result.stdout.splitlines()
        if line.startswith("| ") and "---" not in line
    ]
    calls = [row[1].strip() for row in rows[1:]]
    assert calls == ["true_contacts", "true_contacts", "map_sequence", "load_structure"]
    assert all(float(row[3]) >= 0 for row in rows[1:])
