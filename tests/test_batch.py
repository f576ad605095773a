"""Batch runs (esm_contacts.batch, `esm-contacts predict-many`): local and Ray engines, resuming,
error rows."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from register_models import SEGMENT, noisy_prediction

from esm_contacts.batch import predict_many, read_contacts_table, read_summary
from esm_contacts.cli import main
from esm_contacts.predictor import ContactPredictor

ROOT = Path(__file__).resolve().parent.parent
LETTERS = list("ACDEFGHIKLMNPQRSTVWY")
#: Small batches (a few records each) so that a run has many parts to be killed between.
MAX_TOKENS = 4000


def make_records(count=14, seed=0):
    rng = np.random.default_rng(seed)
    lengths = list(rng.integers(14, 60, count - 2)) + [
        90,
        130,
    ]  # the last two beyond the tiny context (64)
    return [(f"rec{k}", "".join(rng.choice(LETTERS, n))) for k, n in enumerate(lengths)]


def write_fasta(path, records):
    path.write_text(
        "".join(f">{name} description\n{seq[:40]}\n{seq[40:]}\n" for name, seq in records)
    )
    return path


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread: on a shared 2-core machine two threads make each tiny forward pass ~30x
    slower."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def predictor(tiny_esm1b):
    return ContactPredictor.from_pretrained(str(tiny_esm1b), device="cpu")


def expected_pairs(predictor, sequence, count, min_sep=6, min_probability=None):
    """Top pairs by an independent ranking of ``predict``'s map (pairs no window covers are no
    prediction)."""
    P = predictor.predict(sequence)
    covered = predictor.coverage(len(sequence))
    i, j = np.triu_indices(len(sequence), k=min_sep)
    keep = covered[i, j]
    i, j = i[keep], j[keep]
    p = P[i, j].astype(np.float64)
    order = sorted(range(len(i)), key=lambda k: (-p[k], i[k], j[k]))[:count]
    rows = [(i[k] + 1, j[k] + 1, p[k]) for k in order]
    if min_probability is not None:
        rows = [row for row in rows if row[2] >= min_probability]
    return rows


def written_pairs(out):
    table = read_contacts_table(out).to_pydict()
    rows = {}
    for name, i, j, p in zip(table["name"], table["i"], table["j"], table["probability"]):
        rows.setdefault(name, []).append((i, j, p))
    return rows


def assert_same_as_predict(out, records, predictor, top_factor=2, **kwargs):
    rows = written_pairs(out)
    for name, seq in records:
        expected = expected_pairs(predictor, seq, top_factor * len(seq), **kwargs)
        got = rows.get(name, [])
        assert [(i, j) for i, j, _ in got] == [(i, j) for i, j, _ in expected], name
        np.testing.assert_allclose(
            [p for _, _, p in got], [p for _, _, p in expected], atol=1e-6, err_msg=name
        )
    assert set(rows) <= {name for name, _ in records}


@pytest.mark.filterwarnings("ignore:.*lie in no window")
def test_local_engine_equals_predict_one_by_one(tmp_path, tiny_esm1b, predictor):
    records = make_records()
    fasta = write_fasta(tmp_path / "in.fasta", records)
    result = predict_many(
        fasta, tmp_path / "out", str(tiny_esm1b), device="cpu", max_tokens=MAX_TOKENS, maps=True
    )
    assert (result.records, result.ok, result.errors, result.resumed) == (
        len(records),
        len(records),
        0,
        0,
    )
    assert_same_as_predict(tmp_path / "out", records, predictor)
    summary = read_summary(tmp_path / "out").to_pydict()
    assert summary["name"] == [name for name, _ in records]
    assert summary["length"] == [len(seq) for _, seq in records]
    assert set(summary["status"]) == {"ok"} and set(summary["worker"]) == {"local"}
    assert summary["pairs"] == [
        len(expected_pairs(predictor, seq, 2 * len(seq))) for _, seq in records
    ]
    assert (
        len(list((tmp_path / "out" / "contacts").glob("part-*.parquet"))) > 2
    )  # streamed in several parts
    with np.load(tmp_path / "out" / "maps" / "rec3.npz", allow_pickle=False) as saved:
        assert str(saved["sequence"]) == records[3][1]
        np.testing.assert_allclose(saved["map"], predictor.predict(records[3][1]), atol=1e-6)


@pytest.mark.filterwarnings("ignore:.*lie in no window")
def test_min_probability_and_top(tmp_path, tiny_esm1b, predictor):
    records = make_records(6, seed=3)
    fasta = write_fasta(tmp_path / "in.fasta", records)
    predict_many(
        fasta,
        tmp_path / "out",
        str(tiny_esm1b),
        device="cpu",
        top="L",
        min_probability=0.5,
        min_sep=4,
    )
    assert_same_as_predict(
        tmp_path / "out", records, predictor, top_factor=1, min_sep=4, min_probability=0.5
    )


@pytest.mark.filterwarnings("ignore:.*lie in no window")
def test_error_rows_and_the_run_goes_on(tmp_path, tiny_esm1b, predictor):
    records = make_records(5, seed=1)
    fasta = tmp_path / "in.fasta"
    write_fasta(fasta, records)
    long = "".join(np.random.default_rng(5).choice(LETTERS, 400))
    with open(fasta, "a") as stream:
        stream.write(">badletter\nACDEFJKL\n>huge\n" + long + "\n>rec0\nACDEFGHIKL\n")
    # A limit between a short record's estimate and the 400-residue one's, both as predict_top would
    # need them.
    small = predictor.estimate_memory([130], listed=[260], sparse=True)
    big = predictor.estimate_memory([400], listed=[800], sparse=True)
    assert small < big
    with pytest.warns(UserWarning) as caught:
        result = predict_many(
            fasta, tmp_path / "out", str(tiny_esm1b), device="cpu", max_memory=(small + big) / 2
        )
    assert (result.ok, result.errors, result.skipped) == (5, 2, 1)
    summary = {
        name: row for name, *row in zip(*read_summary(tmp_path / "out").to_pydict().values())
    }
    assert len(read_summary(tmp_path / "out")) == 8
    assert "invalid character 'J' at position 6" in summary["badletter"][2]
    assert summary["badletter"][1] == "error" and "memory" in summary["huge"][2].lower()
    assert any("badletter" in str(w.message) for w in caught)
    assert_same_as_predict(tmp_path / "out", records, predictor)  # rec0 once, from its first record


def test_cli_exit_codes_and_changed_options(tmp_path, tiny_esm1b, capsys):
    bad = tmp_path / "bad.fasta"
    bad.write_text(">a\nACDJ\n>b\nXXXZZ1\n")
    assert (
        main(
            [
                "predict-many",
                str(bad),
                "--out",
                str(tmp_path / "bad"),
                "--model",
                str(tiny_esm1b),
                "--device",
                "cpu",
            ]
        )
        == 1
    )
    err = capsys.readouterr().err
    assert "2 records: 0 ok, 2 errors" in err and "warning: a: invalid character 'J'" in err
    fasta = write_fasta(tmp_path / "in.fasta", make_records(4))
    out = tmp_path / "out"
    args = [
        "predict-many",
        str(fasta),
        "--out",
        str(out),
        "--model",
        str(tiny_esm1b),
        "--device",
        "cpu",
    ]
    assert main(args) == 0
    assert "4 records: 4 ok, 0 errors" in capsys.readouterr().err
    manifest = out / "manifest.json"
    before = manifest.read_text()
    assert main(args + ["--top", "L", "--min-probability", "0.2"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("esm-contacts predict-many: error:") and len(err.splitlines()) == 1
    assert 'top was "2L", now "L"' in err and "min_probability was null, now 0.2" in err
    assert manifest.read_text() == before
    assert main(args + ["--workers", "0"]) == 2
    assert "--workers must be at least 1" in capsys.readouterr().err
    assert main(args + ["--workers", "2"]) == 2
    assert "need the ray engine (--engine ray)" in capsys.readouterr().err
    assert main(args) == 0
    assert "4 complete from an earlier run" in capsys.readouterr().err


KILLED_RUN = """
import os, signal, sys
import esm_contacts.batch as batch

original, calls = batch._write_parquet, [0]

def write_then_die(path, table):
    original(path, table)
    calls[0] += 1
    if calls[0] == 3 and path.parent.name == "contacts":
        # The worst moment: the part file is in place, the journal does not name it yet.
        os.kill(os.getpid(), signal.SIGKILL)

batch._write_parquet = write_then_die
batch.predict_many(sys.argv[1], sys.argv[2], sys.argv[3], device="cpu", max_tokens=int(sys.argv[4]))
"""


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:.*lie in no window")
def test_resume_after_kill_redoes_only_unfinished_records(tmp_path, tiny_esm1b, predictor):
    records = make_records()
    fasta = write_fasta(tmp_path / "in.fasta", records)
    out = tmp_path / "out"
    script = tmp_path / "killed.py"
    script.write_text(KILLED_RUN)
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    killed = subprocess.run(
        [sys.executable, str(script), str(fasta), str(out), str(tiny_esm1b), str(MAX_TOKENS)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    parts = list((out / "contacts").glob("part-*.parquet"))
    assert len(parts) == 3  # the third one written, never recorded
    journal = [json.loads(line) for line in (out / "complete.jsonl").read_text().splitlines()]
    finished = {row["name"] for entry in journal for row in entry["records"]}
    assert len(journal) == 2 and 0 < len(finished) < len(records)
    result = predict_many(fasta, out, str(tiny_esm1b), device="cpu", max_tokens=MAX_TOKENS)
    assert result.resumed == len(finished) and result.ok == len(records)
    # The records of the first two parts were not predicted again: no later journal line names them.
    later = [json.loads(line) for line in (out / "complete.jsonl").read_text().splitlines()][2:]
    assert not finished & {row["name"] for entry in later for row in entry["records"]}
    table = read_contacts_table(out).to_pydict()
    pairs = list(zip(table["name"], table["i"], table["j"]))
    expected = sum(len(expected_pairs(predictor, seq, 2 * len(seq))) for _, seq in records)
    assert len(pairs) == len(set(pairs)) == expected  # no duplicate rows
    assert_same_as_predict(out, records, predictor)


def test_a_record_with_another_sequence_is_refused(tmp_path, tiny_esm1b):
    records = make_records(3)
    out = tmp_path / "out"
    predict_many(write_fasta(tmp_path / "a.fasta", records), out, str(tiny_esm1b), device="cpu")
    changed = [(name, seq[::-1]) for name, seq in records]
    with pytest.raises(ValueError, match="rec0.*another sequence"):
        predict_many(write_fasta(tmp_path / "b.fasta", changed), out, str(tiny_esm1b), device="cpu")


# --- Ray engine (a local cluster of 2 CPUs, started once for these tests) -----------------------


@pytest.fixture(scope="module")
def ray_cluster():
    # Loopback only, no usage statistics: set before Ray starts (see esm_contacts.batch.start_ray).
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    import ray

    assert ray.util.get_node_ip_address() == "127.0.0.1"
    already = ray.is_initialized()
    if not already:
        # Workers import this tree's package: PYTHONPATH, inherited by the cluster's processes. Not
        # a
        # runtime_env: Ray cannot give the idle workers it starts with the cluster to actors and
        # tasks with one, so each would wait for (and pay) a fresh process (measured, ray 2.60).
        saved = os.environ.get("PYTHONPATH")
        os.environ["PYTHONPATH"] = str(ROOT)
        try:
            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        finally:
            if saved is None:
                del os.environ["PYTHONPATH"]
            else:
                os.environ["PYTHONPATH"] = saved
    assert ray.util.get_node_ip_address() == "127.0.0.1"
    assert {node["NodeManagerAddress"] for node in ray.nodes()} == {"127.0.0.1"}
    yield ray
    if not already:
        ray.shutdown()  # only the Ray this fixture started


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:.*lie in no window")
def test_ray_engine_equals_predict_one_by_one_with_an_actor_killed_mid_run(
    tmp_path, tiny_esm1b, predictor, ray_cluster, monkeypatch
):
    """Pairs and probabilities as ``predict`` one by one, every record once, though worker 0 dies
    mid-run.

    One run for both checks: each Ray run costs actor processes (imports, model load), the bulk
    of this module's time; a run without a kill is validate-many's Ray test.
    """
    import esm_contacts.batch as batch

    ray = ray_cluster
    records = make_records(20, seed=7)
    fasta = write_fasta(tmp_path / "in.fasta", records)
    original, killed = batch._Folder.write, []

    def write_and_kill(self, results, maps):
        original(self, results, maps)
        if not killed:  # after the first batch is written: kill worker 0's process
            name = next(
                n
                for n in ray.util.list_named_actors()
                if n.startswith("esm-contacts-worker-") and n.endswith("-0")
            )
            pid = ray.get(ray.get_actor(name).pid.remote())
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    monkeypatch.setattr(batch._Folder, "write", write_and_kill)
    result = predict_many(
        fasta,
        tmp_path / "out",
        str(tiny_esm1b),
        device="cpu",
        engine="ray",
        workers=2,
        max_tokens=1000,
    )
    assert killed and (result.ok, result.errors) == (len(records), 0)
    table = read_contacts_table(tmp_path / "out").to_pydict()
    pairs = list(zip(table["name"], table["i"], table["j"]))
    assert len(pairs) == len(set(pairs))  # every record once
    assert_same_as_predict(tmp_path / "out", records, predictor)
    summary = read_summary(tmp_path / "out").to_pydict()
    assert summary["name"] == [name for name, _ in records]
    assert set(summary["status"]) == {"ok"} and set(summary["worker"]) == {"ray-0", "ray-1"}
    journal = [
        json.loads(line) for line in (tmp_path / "out" / "complete.jsonl").read_text().splitlines()
    ]
    names = [row["name"] for entry in journal for row in entry["records"]]
    assert sorted(names) == sorted(name for name, _ in records)


# --- validate-many ---------------------------------------------------------------------------


class TruthPredictor:
    """A good predictor for 1a3a (its true contacts with noise) in the tiny model's clothes;
    counts its calls."""

    def __init__(self, real, maps):
        self.real, self.maps, self.calls = real, maps, []
        self.max_length = 10_000  # no windows: the map is the whole sequence's

    def __getattr__(self, name):
        return getattr(self.real, name)

    def check_memory(self, *args, **kwargs):
        return 0

    def predict_batch(self, sequences, **kwargs):
        self.calls.append(list(sequences))
        return [self.maps[seq] for seq in sequences]


@pytest.fixture(scope="module")
def models_1a3a(model_1a3a, register_error_model, tmp_path_factory):
    """1a3a chain A as it is, and a copy whose segment is built two residues out of register
    (same sequence), as PDB files (conftest's models)."""
    import biotite.structure.io.pdb as pdb

    folder = tmp_path_factory.mktemp("models")
    for name, atoms in (("a_shifted.pdb", register_error_model), ("b_correct.pdb", model_1a3a)):
        out = pdb.PDBFile()
        out.set_structure(atoms)
        out.write(str(folder / name))
    return folder


def truth_map(structure_path):
    from esm_contacts.structure import chain_sequence, load_structure, true_contacts

    structure = load_structure(structure_path)
    return chain_sequence(structure, "A"), noisy_prediction(true_contacts(structure, "A"))


def test_validate_many_ranks_register_shift_below_and_shares_one_prediction(
    tmp_path, models_1a3a, tiny_esm1b, predictor
):
    from esm_contacts.batch import validate_many
    from esm_contacts.structure import load_structure, residue_labels

    sequence, P = truth_map(models_1a3a / "b_correct.pdb")
    truth = TruthPredictor(predictor, {sequence: P})
    out = tmp_path / "out"
    result = validate_many([models_1a3a], out, str(tiny_esm1b), predictor=truth, device="cpu")
    assert (result.records, result.ok, result.errors) == (2, 2, 0)
    assert truth.calls == [[sequence]]  # one prediction for both models
    rows = pq.read_table(out / "validation.parquet").to_pylist()
    by_name = {Path(row["structure"]).name: row for row in rows}
    shifted, correct = by_name["a_shifted.pdb"], by_name["b_correct.pdb"]
    assert shifted["sequence_id"] == correct["sequence_id"]
    assert (correct["rank"], shifted["rank"]) == (1, 2)
    assert shifted["agreement"] < correct["agreement"] and shifted["hints"] >= 1
    labels = residue_labels(load_structure(models_1a3a / "a_shifted.pdb"), "A")
    assert any(label in shifted["first_hint"] for label in labels[SEGMENT[0] - 3 : SEGMENT[1] + 3])
    ranking = (out / "ranking.tsv").read_text().splitlines()
    assert [line.split("\t")[1:3] for line in ranking[1:]] == [
        ["1", correct["structure"]],
        ["2", shifted["structure"]],
    ]
    # Resumed: nothing predicted again, the same rows.
    again = validate_many([models_1a3a], out, str(tiny_esm1b), predictor=truth, device="cpu")
    assert again.resumed == 2 and truth.calls == [[sequence]]
    assert pq.read_table(out / "validation.parquet").to_pylist() == rows


def test_cli_validate_many_tsv_and_errors(tmp_path, models_1a3a, tiny_esm1b, capsys):
    listing = tmp_path / "models.tsv"
    listing.write_text(
        f"structure\tchain\n{models_1a3a / 'b_correct.pdb'}\tA\n"
        f"{models_1a3a / 'b_correct.pdb'}\tZ\n"
    )
    out = tmp_path / "out"
    assert (
        main(
            [
                "validate-many",
                str(listing),
                str(models_1a3a / "*.pdb"),
                "--out",
                str(out),
                "--model",
                str(tiny_esm1b),
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    err = capsys.readouterr().err
    assert "4 models: 3 ok, 1 errors" in err
    rows = pq.read_table(out / "validation.parquet").to_pylist()
    assert [(Path(r["structure"]).name, r["chain"], r["status"]) for r in rows] == [
        ("b_correct.pdb", "A", "ok"),
        ("b_correct.pdb", "Z", "error"),
        ("a_shifted.pdb", "A", "ok"),
        ("b_correct.pdb", "A", "ok"),
    ]
    assert (
        "Z" in rows[1]["error"]
        and len({r["sequence_id"] for r in rows if r["status"] == "ok"}) == 1
    )
    assert (
        main(
            [
                "validate-many",
                str(tmp_path / "missing*.pdb"),
                "--out",
                str(out),
                "--model",
                str(tiny_esm1b),
            ]
        )
        == 2
    )
    assert "no file matches" in capsys.readouterr().err


def comparable(rows):
    """Rows without the worker column, NaN as None (NaN != NaN would fail any comparison)."""
    return [
        {
            key: None if isinstance(value, float) and np.isnan(value) else value
            for key, value in row.items()
            if key != "worker"
        }
        for row in rows
    ]


@pytest.mark.slow
def test_ray_validate_many_validates_in_ray_tasks_with_the_local_rows(
    tmp_path, models_1a3a, shared_data, tiny_esm1b, ray_cluster
):
    from esm_contacts.batch import validate_many

    # Two models of one sequence (one prediction, one task for both) and another protein.
    inputs = [models_1a3a, shared_data / "1A8O.cif.gz"]
    kwargs = dict(device="cpu", max_tokens=MAX_TOKENS)
    local = validate_many(inputs, tmp_path / "local", str(tiny_esm1b), **kwargs)
    remote = validate_many(inputs, tmp_path / "ray", str(tiny_esm1b), engine="ray", **kwargs)
    assert (
        (local.records, local.ok, local.errors)
        == (remote.records, remote.ok, remote.errors)
        == (3, 3, 0)
    )
    local_rows = pq.read_table(tmp_path / "local" / "validation.parquet").to_pylist()
    ray_rows = pq.read_table(tmp_path / "ray" / "validation.parquet").to_pylist()
    assert comparable(ray_rows) == comparable(local_rows)
    assert len({row["sequence_id"] for row in ray_rows}) == 2
    assert (tmp_path / "ray" / "ranking.tsv").read_text() == (
        tmp_path / "local" / "ranking.tsv"
    ).read_text()
    # Validated outside this (the driver's) process: the pid each task reported from inside itself.
    assert {row["worker"] for row in local_rows} == {"local"}
    assert all(row["worker"].startswith("ray-task-") for row in ray_rows)
    assert os.getpid() not in {int(row["worker"][len("ray-task-") :]) for row in ray_rows}
    # Resumed: every model complete, nothing validated again, the same rows.
    again = validate_many(inputs, tmp_path / "ray", str(tiny_esm1b), engine="ray", **kwargs)
    assert again.resumed == 3
    assert pq.read_table(tmp_path / "ray" / "validation.parquet").to_pylist() == ray_rows


@pytest.mark.slow
def test_ray_validate_many_refuses_a_cluster_the_actors_fill(
    tmp_path, models_1a3a, tiny_esm1b, ray_cluster, capsys
):
    from esm_contacts.batch import validate_many

    # 2 CPUs, both held by the actors: the validation tasks would wait for ever.
    with pytest.raises(ValueError, match="2 CPUs: 2 worker.* leave none for the validation tasks"):
        validate_many(
            [models_1a3a], tmp_path / "out", str(tiny_esm1b), device="cpu", engine="ray", workers=2
        )
    assert not (tmp_path / "out").exists()  # refused before anything is written
    assert (
        main(
            [
                "validate-many",
                str(models_1a3a),
                "--out",
                str(tmp_path / "out"),
                "--model",
                str(tiny_esm1b),
                "--engine",
                "ray",
                "--workers",
                "2",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert (
        err.startswith("esm-contacts validate-many: error: the Ray cluster has 2 CPUs")
        and "\n" not in err
    )
    assert not (tmp_path / "out").exists()
    assert ray_cluster.is_initialized()  # the fixture's Ray, left running for the other tests


@pytest.mark.slow
def test_ray_structure_reading_tasks_keep_the_input_order(shared_data, ray_cluster, monkeypatch):
    import esm_contacts.batch as batch

    small = str(shared_data / "1A8O.cif.gz")
    monkeypatch.setattr(
        batch, "SCAN_CHUNK", (2, 2)
    )  # tasks of two inputs: few files make several tasks
    inputs = [(small, "A"), (small, "Z"), (small, None)] * 2
    rows, sequences = batch._scan_in_ray(ray_cluster, inputs, 1.0)
    expected_rows, expected_sequences = batch._scan_models(inputs)  # in this process, one by one
    assert comparable(rows) == comparable(expected_rows) and sequences == expected_sequences
    assert [row["chain"] for row in rows] == ["A", "Z", "A"] * 2
    assert [row["status"] for row in rows] == ["ok", "error", "ok"] * 2
