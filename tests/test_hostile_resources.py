"""Hostile requests for resources: memory, option ranges, killed writers, full disks (issue 10).

Each class is attacked several ways through the command line (``cli.main`` in-process),
the Python API and, for option values, the PyMOL commands:

- memory: a request whose estimate exceeds the limit is refused before any work, with
  the estimate in the message; long sequences list their top pairs without the map, and
  those pairs equal a dense map ranked here with ``numpy.lexsort``;
- option values: every numeric option of every sub-command refuses NaN, infinities and
  out-of-range values on one line, with the same words as PyMOL;
- killed writers: their ``.part`` files are recognisable and removed by the next write
  into the folder, a live writer's never;
- full disk: checked before predicting, and a failed write names the records written and not.
"""

import errno
import math
import os
import shutil
import signal
import subprocess
import sys
import time
import tracemalloc
import warnings
from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest

import esm_contacts.io as io
import esm_contacts.resources as resources
from esm_contacts import ContactPredictor
from esm_contacts.cli import main
from esm_contacts.messages import size_text
from esm_contacts.options import check_option
from esm_contacts.resources import MemoryLimitError

ROOT = Path(__file__).resolve().parent.parent
AMINO = np.array(list("ACDEFGHIKLMNPQRSTVWY"))


def random_sequence(length: int, seed: int = 0) -> str:
    return "".join(np.random.default_rng(seed).choice(AMINO, length))


@pytest.fixture(scope="module")
def windowed(tiny_esm1b):
    """The tiny ESM-1b: a 64-residue context, so a few hundred residues make several windows."""
    predictor = ContactPredictor.from_pretrained(str(tiny_esm1b), device="cpu")
    assert predictor.max_length == 64
    return predictor


def ranked_by_lexsort(P: np.ndarray, min_sep: int, count: int):
    """The top ``count`` pairs i < j, j - i >= min_sep of a dense map: probability, then i, then
    j."""
    i, j = np.nonzero(np.triu(np.ones(P.shape, dtype=bool), k=min_sep))
    order = np.lexsort((j, i, -P[i, j].astype(np.float64)))[:count]
    return i[order], j[order], P[i[order], j[order]].astype(np.float64)


def write_fasta(path: Path, records) -> Path:
    path.write_text("".join(f">{name}\n{sequence}\n" for name, sequence in records))
    return path


# -- memory -------------------------------------------------------------------------


def test_estimate_counts_the_full_map():
    # A 100,000-residue map alone is 4e10 bytes; windows, ranking and slack come on top.
    estimate = resources.estimate_memory([100_000], context=1022, heads=20, embed_dim=1280)
    assert estimate >= 4 * 100_000**2
    assert estimate < 4 * 4 * 100_000**2  # and not absurdly more
    # A batch returns every map: two sequences need the two maps.
    one = resources.estimate_memory([5000], context=1022, heads=20)
    two = resources.estimate_memory([5000, 5000], context=1022, heads=20)
    assert two - one >= 4 * 5000**2
    # The sparse path never counts L x L: doubling L adds only the kept pairs (64 bytes each, twice
    # while merging).
    sparse = resources.estimate_memory(
        [100_000], context=1022, heads=20, listed=[100_000], sparse=True
    )
    half = resources.estimate_memory([50_000], context=1022, heads=20, listed=[50_000], sparse=True)
    assert sparse < 4 * 100_000**2 / 40 and sparse - half <= 1.25 * 2 * 64 * 50_000 + 1


def test_available_memory_reads_meminfo():
    text = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    line = next((line for line in text.splitlines() if line.startswith("MemAvailable:")), None)
    if line is None:
        pytest.skip("no MemAvailable on this system")
    # MemAvailable moves while we read; a 10 % window is an independent check of the units (kB ->
    # bytes).
    assert (
        abs(resources.available_memory() - int(line.split()[1]) * 1024)
        < 0.1 * int(line.split()[1]) * 1024
    )


@pytest.mark.parametrize(
    "call", ["predict", "predict_batch", "predict_msa", "predict_top", "constructor"]
)
def test_api_refuses_over_max_memory_with_the_estimate(windowed, tiny_esm1b, call):
    sequence = random_sequence(300)
    estimate = windowed.estimate_memory([300], msa=call == "predict_msa")
    limit = 1e5
    with pytest.raises(MemoryLimitError) as caught:
        if call == "predict":
            windowed.predict(sequence, max_memory=limit)
        elif call == "predict_batch":
            windowed.predict_batch([sequence, sequence[:50]], max_memory=limit)
        elif call == "predict_msa":
            windowed.predict_msa([("query", sequence), ("other", sequence[::-1])], max_memory=limit)
        elif call == "predict_top":
            windowed.predict_top(sequence, top="L", max_memory=limit)
        else:
            ContactPredictor.from_pretrained(
                str(tiny_esm1b), device="cpu", max_memory=limit
            ).predict(sequence)
    message = str(caught.value)
    assert isinstance(caught.value, ValueError)
    assert "needs about" in message and "more than the memory limit (100.0 kB)" in message
    if call in ("predict", "predict_msa", "constructor"):
        assert size_text(estimate) in message


@pytest.mark.parametrize("limit", [0, -1, float("nan"), float("inf"), "lots"])
def test_api_max_memory_must_be_a_positive_number(windowed, limit):
    with pytest.raises(ValueError, match=r"^max_memory must be a positive finite number, got "):
        windowed.predict("MKTAYIAKQR", max_memory=limit)


def test_api_refuses_a_huge_sequence_before_any_work(windowed, monkeypatch):
    # Today: a 37 GiB allocation and a MemoryError traceback. The limit is the memory
    # available (pinned here at 16 GB so the test does not depend on this machine).
    monkeypatch.setattr(resources, "available_memory", lambda: 16 * 10**9)
    forward = []
    monkeypatch.setattr(windowed, "_forward", lambda *a: forward.append(a))
    with pytest.raises(
        MemoryLimitError,
        match=r"100000 residues needs about [0-9.]+ GB of memory, more than the "
        r"memory available now \(16.0 GB\); .*predict_top",
    ):
        windowed.predict("A" * 100_000)
    assert forward == []  # refused before any forward pass


def test_pymol_refuses_over_the_limit_with_the_estimate(
    pymol_cmd, windowed, tiny_esm1b, monkeypatch
):
    from pymol import CmdException

    from pymol_plugin import commands

    monkeypatch.setattr(resources, "available_memory", lambda: 10**5)
    sequence = random_sequence(300)
    with pytest.raises(CmdException) as caught:
        commands.predict(sequence, model=str(tiny_esm1b), device="cpu")
    assert (
        caught.value.message == "predicting 1 sequence(s) of up to 300 residues needs about "
        f"{size_text(windowed.estimate_memory([300]))} of memory, more than the memory available "
        "now (100.0 kB); for sequences this long list the top pairs window by window (predict_top; "
        "esm-contacts predict --top K --out FILE.rr or .csv)"
    )


def test_sparse_top_pairs_equal_the_dense_map_ranked(windowed):
    # 300 residues over a 64-residue context: 9 windows, overlaps averaged.
    sequence = random_sequence(300, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        P = windowed.predict(sequence)
        for count, min_sep in ((300, 6), (1, 24), (2000, 12), (None, 6)):
            i, j, p = windowed.predict_top(sequence, top=count, min_sep=min_sep)
            ei, ej, ep = ranked_by_lexsort(P, min_sep, count)
            if count is None:  # every pair: those no window covers (0 in the map) are not listed
                covered = windowed.coverage(len(sequence))[ei, ej]
                assert not np.any(ep[~covered])
                ei, ej, ep = ei[covered], ej[covered], ep[covered]
            np.testing.assert_array_equal(i, ei)
            np.testing.assert_array_equal(j, ej)
            np.testing.assert_array_equal(p, ep)


def test_sparse_path_never_holds_the_map(windowed):
    length = 1000
    sequence = random_sequence(length, seed=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        windowed.predict_top(sequence[:200], top=10)  # warm-up
        tracemalloc.start()
        try:
            i, j, p = windowed.predict_top(sequence, top="L")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert len(i) == length and np.all(j - i >= 6)
    assert peak < 4 * length * length / 4  # the dense map alone is 4 MB


def test_cli_refuses_over_max_memory_before_the_model_loads(tmp_path, capsys):
    fasta = write_fasta(tmp_path / "long.fa", [("long", random_sequence(3000))])
    out = tmp_path / "long.npy"
    # The model file does not exist: the memory check comes first, so it is never read.
    code = main(
        [
            "predict",
            str(fasta),
            "--model",
            str(tmp_path / "absent.pt"),
            "--out",
            str(out),
            "--max-memory",
            "0.01",
        ]
    )
    error = capsys.readouterr().err
    assert code == 2 and error.count("\n") == 1
    assert error.startswith(
        "esm-contacts predict: error: predicting 1 sequence(s) of up to 3000 residues needs about"
    )
    assert "more than the memory limit (10.0 MB)" in error
    assert "--top K (not all) with --out FILE.rr or .csv" in error
    assert not out.exists()


def test_cli_refuses_over_available_memory(tmp_path, capsys, monkeypatch, tiny_esm1b):
    monkeypatch.setattr(resources, "available_memory", lambda: 2 * 10**6)
    fasta = write_fasta(tmp_path / "s.fa", [("s", random_sequence(400))])
    code = main(
        ["predict", str(fasta), "--model", str(tiny_esm1b), "--out", str(tmp_path / "s.npy")]
    )
    error = capsys.readouterr().err
    assert code == 2 and error.count("\n") == 1
    assert "needs about" in error and "more than the memory available now (2.0 MB)" in error
    assert list(tmp_path.iterdir()) == [fasta]


@pytest.mark.filterwarnings("ignore:sequence of 320 residues")
def test_cli_lists_the_top_pairs_of_a_long_sequence_without_the_map(
    tmp_path, capsys, windowed, tiny_esm1b, monkeypatch
):
    sequence = random_sequence(320, seed=5)
    fasta = write_fasta(tmp_path / "q.fa", [("q", sequence)])
    out = tmp_path / "q.csv"
    # The dense path is not taken: predict_batch gets no sequence.
    batches = []
    original = ContactPredictor.predict_batch
    monkeypatch.setattr(
        ContactPredictor,
        "predict_batch",
        lambda self, seqs, **kw: batches.append(list(seqs)) or original(self, seqs, **kw),
    )
    assert (
        main(["predict", str(fasta), "--model", str(tiny_esm1b), "--top", "50", "--out", str(out)])
        == 0
    )
    assert batches == [[]]
    monkeypatch.setattr(ContactPredictor, "predict_batch", original)
    rows = np.genfromtxt(out, delimiter=",", skip_header=2, dtype=None, encoding=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        i, j, p = ranked_by_lexsort(windowed.predict(sequence), 6, 50)
    np.testing.assert_array_equal([r[0] - 1 for r in rows], i)
    np.testing.assert_array_equal([r[1] - 1 for r in rows], j)
    np.testing.assert_allclose([r[4] for r in rows], p, atol=5e-7)
    assert out.read_text().startswith(f"# sequence: {sequence}\n")


# -- option values ------------------------------------------------------------------

BASE = {
    "predict": ["predict", "MKTAYIAKQR"],
    "evaluate": ["evaluate", "p.rr", "--structure", "s.pdb", "--chain", "A"],
    "evaluate-set": ["evaluate-set", "list.tsv"],
    "validate": ["validate", "p.rr", "m.pdb", "--chain", "A"],
    "train-regression": [
        "train-regression",
        "--model",
        "m.pt",
        "--structures",
        "a.pdb:A",
        "--out",
        "r.pt",
    ],
}
NUMERIC_OPTIONS = [
    ("predict", "--min-sep", ["0", "-3", "nan", "2.5"]),
    ("predict", "--num-seqs", ["0", "inf", "x"]),
    ("predict", "--max-memory", ["0", "-1", "nan", "inf"]),
    ("evaluate", "--min-sep", ["0", "nan"]),
    ("evaluate-set", "--min-sep", ["-1", "1e3"]),
    ("validate", "--min-sep", ["0"]),
    ("validate", "--threshold", ["nan", "2", "-1", "inf", "1.0001"]),
    ("train-regression", "--C", ["0", "-0.1", "nan", "inf"]),
    ("train-regression", "--validation", ["1", "-0.2", "nan"]),
    ("train-regression", "--memory-limit", ["nan", "0", "-inf"]),
    ("train-regression", "--max-pairs", ["0", "nan"]),
    ("train-regression", "--top-heads", ["0", "1.5"]),
    ("train-regression", "--seed", ["-1", str(2**32), "nan"]),
    ("train-regression", "--min-sep", ["0"]),
]


@pytest.mark.parametrize(
    "command, option, value", [(c, o, v) for c, o, values in NUMERIC_OPTIONS for v in values]
)
def test_bad_option_values_exit_2_on_one_line(
    tmp_path, monkeypatch, capsys, command, option, value
):
    monkeypatch.chdir(tmp_path)
    assert main([*BASE[command], f"{option}={value}"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1, error
    assert error.startswith(f"esm-contacts {command}: error: {option} must be ")
    assert error.rstrip().endswith(f"got {value!r}")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "command, option, value",
    [
        ("validate", "--threshold", "0"),
        ("validate", "--threshold", "1"),
        ("train-regression", "--validation", "0"),
        ("train-regression", "--seed", str(2**32 - 1)),
        ("predict", "--max-memory", "1e-9"),
    ],
)
def test_edge_values_pass_the_check(tmp_path, monkeypatch, capsys, command, option, value):
    monkeypatch.chdir(tmp_path)
    assert (
        main([*BASE[command], option, value]) == 2
    )  # the files are absent: a later error, not the option's
    assert f"{option} must be" not in capsys.readouterr().err


PYMOL_CASES = [
    ("esm_contacts", "threshold", "probability", "nan"),
    ("esm_contacts", "threshold", "probability", "1.5"),
    ("esm_contacts", "min_sep", "count", "0"),
    ("esm_contacts", "min_sep", "count", "2.5"),
    ("esm_contacts", "num_seqs", "count", "nan"),
    ("esm_contacts", "num_seqs", "count", "-4"),
    ("esm_contacts_load", "threshold", "probability", "-1"),
    ("esm_contacts_load", "min_sep", "count", "inf"),
    ("esm_contacts_check", "threshold", "probability", "inf"),
    ("esm_contacts_check", "min_sep", "count", "-2"),
]


@pytest.mark.parametrize("command, option, kind, value", PYMOL_CASES)
def test_pymol_refuses_the_same_values_with_the_same_words(
    pymol_cmd, tmp_path, capsys, command, option, kind, value
):
    from pymol import CmdException

    from pymol_plugin import check, commands

    pymol_cmd.delete("all")
    pymol_cmd.fab("ACDEFGHIKL", "pep")
    before = pymol_cmd.get_names("all")
    function = {
        "esm_contacts": lambda **kw: commands.esm_contacts("pep", _self=pymol_cmd, **kw),
        "esm_contacts_load": lambda **kw: commands.esm_contacts_load(
            str(tmp_path / "x.rr"), "pep", _self=pymol_cmd, **kw
        ),
        "esm_contacts_check": lambda **kw: check.esm_contacts_check("pep", _self=pymol_cmd, **kw),
    }[command]
    with pytest.raises(CmdException) as caught:
        function(**{option: value})
    assert caught.value.message == f"{option} must be {resources_kind_text(kind)}, got {value!r}"
    assert pymol_cmd.get_names("all") == before
    # The command line says the same after its own option name.
    cli_option = "--" + option.replace("_", "-")
    with pytest.raises(ValueError) as cli:
        check_option(kind, cli_option, value)
    assert str(cli.value) == cli_option + caught.value.message[len(option) :]


def resources_kind_text(kind: str) -> str:
    from esm_contacts.options import KINDS

    return KINDS[kind].description


# -- killed writers -----------------------------------------------------------------


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_stale_part_files_are_removed_and_live_ones_kept(tmp_path, windowed):
    old = time.time() - 3600
    stale = tmp_path / f".map.npy.esm-contacts-{dead_pid()}.k3j_x9aa.part"
    ours = tmp_path / f".other.csv.esm-contacts-{os.getpid()}.ab12cd34.part"
    foreign = tmp_path / ".map.npy.someone-else.part"  # not our naming: never touched
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        # pid reused: a live process that started after the file was last written.
        reused = tmp_path / f".map.rr.esm-contacts-{sleeper.pid}.zz99zz99.part"
        # a live writer's file, however old its content: it may still be writing.
        live = tmp_path / f".map.rr.esm-contacts-{sleeper.pid}.yy88yy88.part"
        for path in (stale, ours, foreign, reused, live):
            path.write_bytes(b"partial")
        for path in (stale, reused):
            os.utime(path, (old, old))
        time.sleep(0.05)
        os.utime(live, None)  # written after the sleeper started
        io.write_contacts(tmp_path / "map.npy", np.eye(3, dtype=np.float32))
        remaining = sorted(p.name for p in tmp_path.iterdir())
    finally:
        sleeper.kill()
        sleeper.wait()
    assert remaining == sorted(["map.npy", ours.name, foreign.name, live.name])


def test_part_files_are_named_for_the_process():
    path = Path("/some/folder/out.rr")
    assert io.PART_PATTERN.match(io.part_prefix(path) + "abcd1234.part")
    assert str(os.getpid()) in io.part_prefix(path) and io.part_prefix(path).startswith(
        ".out.rr.esm-contacts-"
    )


WRITER = """
import sys, time
from esm_contacts.io import atomic_write
with atomic_write(sys.argv[1], "wb") as stream:
    stream.write(b"x" * 1_000_000)
    stream.flush()
    print("writing", flush=True)
    time.sleep(60)
"""


def test_kill_9_mid_write_leaves_a_part_file_that_the_next_write_removes(tmp_path):
    target = tmp_path / "big.npy"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE, env=env, text=True
    )
    try:
        assert writer.stdout.readline().strip() == "writing"
        parts = [p for p in tmp_path.iterdir() if io.PART_PATTERN.match(p.name)]
        assert len(parts) == 1 and f"esm-contacts-{writer.pid}." in parts[0].name
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    finally:
        if writer.poll() is None:
            writer.kill()
        writer.stdout.close()
    assert parts[0].exists() and not target.exists()
    io.write_contacts(tmp_path / "next.rr", np.eye(8, dtype=np.float32) * 0 + 0.5, min_sep=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["next.rr"]


# -- full disk ----------------------------------------------------------------------


def test_full_disk_mid_set_names_the_records_written_and_not(
    tmp_path, capsys, monkeypatch, tiny_esm1b
):
    records = [("a", "MKTAYIAKQR"), ("b", "GSHMLEDPVA"), ("c", "ACDEFGHIKL")]
    fasta = write_fasta(tmp_path / "set.fa", records)
    calls = []
    original = io.write_contacts

    def full_disk(path, *args, **kwargs):
        calls.append(Path(path).name)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return original(path, *args, **kwargs)

    monkeypatch.setattr(io, "write_contacts", full_disk)
    code = main(
        ["predict", str(fasta), "--model", str(tiny_esm1b), "--out", str(tmp_path / "{name}.npy")]
    )
    error = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and calls == ["a.npy", "b.npy"]
    assert error[0].startswith("a: 10 residues, the contact map written to") and len(error) == 2
    assert (
        error[1] == f"esm-contacts predict: error: {tmp_path / 'b.npy'}: No space left on device; "
        f"written: {tmp_path / 'a.npy'}; not written: {tmp_path / 'b.npy'}, {tmp_path / 'c.npy'}"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npy", "set.fa"]


DiskUsage = namedtuple("DiskUsage", "total used free")


@pytest.mark.parametrize(
    "suffix, length, free",
    [(".npy", 3000, 30_000_000), (".rr", 2000, 1_000_000), (".csv", 2000, 1_000_000)],
)
def test_disk_space_is_checked_before_predicting(
    tmp_path, capsys, monkeypatch, suffix, length, free
):
    # Two records of `length` residues: a .npy map is 4 L^2 bytes (36 MB each at 3000); an RR/CSV
    # with --top all lists ~L^2/2 lines. The model file is absent: the check comes before it is
    # read.
    fasta = write_fasta(
        tmp_path / "set.fa", [("a", random_sequence(length)), ("b", random_sequence(length, 1))]
    )
    monkeypatch.setattr(shutil, "disk_usage", lambda path: DiskUsage(10**12, 10**12 - free, free))
    code = main(
        [
            "predict",
            str(fasta),
            "--model",
            str(tmp_path / "absent.pt"),
            "--out",
            str(tmp_path / f"{{name}}{suffix}"),
            "--max-memory",
            "1000",
        ]
    )
    error = capsys.readouterr().err
    assert code == 2 and error.count("\n") == 1
    assert f"{tmp_path}: the output files need about" in error
    assert f"but the disk has only {size_text(free)} free" in error
    assert sorted(p.name for p in tmp_path.iterdir()) == ["set.fa"]


def test_enough_disk_space_passes(tmp_path, capsys, monkeypatch, tiny_esm1b):
    fasta = write_fasta(tmp_path / "set.fa", [("a", "MKTAYIAKQR"), ("b", "GSHMLEDPVA")])
    # Two 10-residue maps: 2 x (128 + 400) bytes.
    monkeypatch.setattr(shutil, "disk_usage", lambda path: DiskUsage(10**9, 10**9 - 2000, 2000))
    assert (
        main(
            [
                "predict",
                str(fasta),
                "--model",
                str(tiny_esm1b),
                "--out",
                str(tmp_path / "{name}.npy"),
            ]
        )
        == 0
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npy", "b.npy", "set.fa"]
    assert not math.isnan(float(np.load(tmp_path / "a.npy").sum()))


@pytest.mark.parametrize(
    "suffix, top", [(".rr", "L"), (".csv", "all"), (".npy", None), (".mat", None)]
)
def test_output_bytes_bounds_the_written_file(tmp_path, suffix, top):
    """resources.output_bytes (the disk check of predict) against files really written."""
    import numpy as np

    from esm_contacts.formats import find_format
    from esm_contacts.io import write_contacts
    from esm_contacts.metrics import parse_top, top_pairs
    from esm_contacts.resources import output_bytes

    length = 300
    rng = np.random.default_rng(1)
    P = rng.random((length, length)).astype(np.float32)
    P = (P + P.T) / 2
    path = tmp_path / f"out{suffix}"
    spec = find_format(path, mode="write")
    pairs = None if spec.dense else top_pairs(P, top=top, min_sep=6)[:2]
    write_contacts(path, P, sequence="A" * length, pairs=pairs)
    estimate = output_bytes(spec, length, None if top is None else parse_top(top, length), 6)
    assert path.stat().st_size <= estimate <= 2 * path.stat().st_size + 1024


def test_check_prediction_resources_is_the_library_rule():
    from esm_contacts.formats import find_format
    from esm_contacts.resources import MemoryLimitError, check_prediction_resources, estimate_memory

    rr = find_format("x.rr", mode="write")
    # Longer than the context with a bounded top: the sparse way; --top all or an MSA: the map.
    assert check_prediction_resources([3000, 100], "L", 1022, 20, spec=rr) == [True, False]
    assert check_prediction_resources([3000], "all", 1022, 20, spec=rr) == [False]
    assert check_prediction_resources([3000], "L", 1022, 20, spec=rr, msa=True) == [False]
    need = estimate_memory([500], context=1022, heads=20, listed=[500], sparse=[False])
    with pytest.raises(MemoryLimitError, match="predicting 1 sequence"):
        check_prediction_resources([500], "L", 1022, 20, spec=rr, max_memory=need - 1)
    assert check_prediction_resources([500], "L", 1022, 20, spec=rr, max_memory=need) == [False]
