#!/usr/bin/env python
"""Throughput of ``predict_many``: the local engine against Ray with 1 and 2 workers.

Random sequences (lengths uniform in ``--min-length``..``--max-length``) are predicted into
a fresh folder per engine; the table gives records/s, residues/s, the peak resident
memory of each worker (the local engine: this process; Ray: each actor's process, read from
``/proc/PID/status`` ``VmHWM`` while it runs) and the load average before and after, then
the Ray engine's overhead on one worker against the local engine (the goal: within 10 %).
The model is a tiny random ESM-1b (the test fixture's architecture; 2,000 records by
default) unless ``--full-size`` (the 33-layer, 1280-wide ESM-1b architecture, random
weights, built once under ``--cache`` as ``scripts/benchmark.py`` does;
``--full-size-records``, 200 by default) or ``--model``. Random weights measure cost, never
accuracy. ``--load`` first runs ``scripts/benchmark.py --load`` on the same model (load peak
against the model's size) in a fresh process.

The same records (same seed) can be measured one engine per run, to keep each run short:
``--results FILE`` appends each engine's row to FILE (JSON lines) and prints the table of
every row in FILE measured on the same model and records.

Ray runs on a local cluster this script starts with ``--cpus`` CPUs, listening on
127.0.0.1 only (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, ``RAY_USAGE_STATS_ENABLED=0``),
and stops with ``ray.shutdown()``. Ray times include creating the actors and loading the
model in each.

Examples
--------
python scripts/benchmark_many.py                   # 2,000 records, tiny model
python scripts/benchmark_many.py --full-size --load  # 200 records, full-size ESM-1b
python scripts/benchmark_many.py --full-size --engines local --results full.jsonl
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"

from esm_contacts.batch import predict_many, start_ray  # noqa: E402

AMINO_ACIDS = list("ACDEFGHIKLMNPQRSTVWY")


def write_records(path: Path, count: int, low: int, high: int, seed: int = 0) -> int:
    rng = np.random.default_rng(seed)
    residues = 0
    with open(path, "w") as stream:
        for k in range(count):
            length = int(rng.integers(low, high + 1))
            residues += length
            stream.write(f">seq{k}\n{''.join(rng.choice(AMINO_ACIDS, length))}\n")
    return residues


def vm_hwm(pid: int) -> int:
    """Peak resident bytes of a process (0 when it is gone).

    Parameters
    ----------
    pid : int
        The process.

    Returns
    -------
    peak : int
        ``VmHWM`` in bytes.
    """
    try:
        with open(f"/proc/{pid}/status") as status:
            return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return 0


class ActorMemory(threading.Thread):
    """Polls the peak memory of the esm-contacts Ray actors' processes while a run goes on.

    The processes are found by the title Ray gives an actor's process (``ray::_Worker``...),
    not by asking the actors: an actor busy with a batch would answer only after it.
    """

    def __init__(self):
        super().__init__(daemon=True)
        self.peaks, self.stop = {}, threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.5):
            for pid in actor_pids():
                self.peaks[pid] = max(self.peaks.get(pid, 0), vm_hwm(pid))


def actor_pids():
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "cmdline").read_bytes().startswith(b"ray::_Worker"):
                    yield int(entry.name)
            except OSError:  # gone meanwhile
                continue


def load_average() -> str:
    with open("/proc/loadavg") as stream:
        return stream.read().split()[0]


def print_table(rows, records: int, residues: int, label: str) -> None:
    """The rows measured on one model and record set, then the Ray engine's one-worker overhead.

    Parameters
    ----------
    rows : list of dict
        One measurement per engine and worker count.
    records, residues : int
        The record set's size.
    label : str
        The model, in words.
    """
    print(f"{records} records, {residues} residues; model: {label}")
    print(
        "| engine | workers | seconds | records/s | residues/s | peak memory per worker (GB) | load"
        " avg before/after |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        peak = ", ".join(f"{p / 1e9:.2f}" for p in row["peaks"]) or "n/a"
        print(
            f"| {row['engine']} | {row['workers']} | {row['seconds']:.1f} |"
            f" {records / row['seconds']:.2f} | {residues / row['seconds']:.0f} | {peak} |"
            f" {row['load'][0]} / {row['load'][1]} |"
        )
    local = [row["seconds"] for row in rows if row["engine"] == "local"]
    ray1 = [row["seconds"] for row in rows if row["engine"] == "ray" and row["workers"] == 1]
    if local and ray1:
        overhead = ray1[-1] / local[-1] - 1
        print(
            f"Ray engine, 1 worker, against the local engine: {overhead:+.1%} time "
            f"({'within' if overhead <= 0.10 else 'above'} the 10 % goal)"
        )


def tiny_model(folder: Path) -> str:
    sys.path.insert(0, str(ROOT / "tests"))
    from tiny_models import write_tiny_esm1b

    return str(write_tiny_esm1b(folder))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--records", type=int, default=2000, help="records with the tiny model or --model"
    )
    parser.add_argument(
        "--full-size-records",
        type=int,
        default=200,
        help="records with --full-size (the first ones of the same random set)",
    )
    parser.add_argument("--min-length", type=int, default=50)
    parser.add_argument("--max-length", type=int, default=500)
    parser.add_argument("--model", help="model name or .pt (default: the tiny random ESM-1b)")
    parser.add_argument(
        "--full-size", action="store_true", help="full-size ESM-1b architecture, random weights"
    )
    parser.add_argument(
        "--cache", default=str(Path.home() / ".cache" / "esm-contacts" / "benchmark")
    )
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray cluster")
    parser.add_argument("--engines", nargs="+", default=["local", "ray1", "ray2"])
    parser.add_argument(
        "--load",
        action="store_true",
        help="first: scripts/benchmark.py --load on the same model (load peak against model size)",
    )
    parser.add_argument(
        "--results", help="append each engine's row to this JSON-lines file; print all of its rows"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help=(
            "torch threads per worker (local: this process; Ray: --cpus-per-worker); on a shared "
            "machine more threads than free cores make every forward pass many times slower"
        ),
    )
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)

    work = Path(tempfile.mkdtemp(prefix="esm-contacts-benchmark-many-"))
    ray = None
    try:
        if args.full_size:
            from benchmark import random_esm1b  # scripts/benchmark.py, beside this file

            model, label = (
                str(random_esm1b(Path(args.cache) / "esm1b_random_t33.pt")),
                "full-size ESM-1b, random weights",
            )
        else:
            model, label = (
                args.model or tiny_model(work),
                args.model or "tiny ESM-1b, random weights",
            )
        records = args.full_size_records if args.full_size else args.records
        if args.load:
            subprocess.run(
                [
                    sys.executable,
                    str(ROOT / "scripts" / "benchmark.py"),
                    "--load",
                    "--model",
                    model,
                ],
                check=True,
            )
        fasta = work / "records.fasta"
        residues = write_records(fasta, records, args.min_length, args.max_length)
        setup = {
            "model": label,
            "records": records,
            "residues": residues,
            "lengths": [args.min_length, args.max_length],
            "threads": args.threads,
            "cpus": args.cpus,
        }
        if args.full_size and records < 200:
            print(
                f"NOTE: the first {records} of the 200 full-size records only (--full-size-records"
                f" {records}; 200 by default)"
            )
        rows = []
        for engine in args.engines:
            workers = int(engine[3:]) if engine.startswith("ray") else 1
            if engine.startswith("ray") and ray is None:
                ray, _ = start_ray(num_cpus=args.cpus)
            memory = ActorMemory() if engine.startswith("ray") else None
            if memory:
                memory.start()
            before = load_average()
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = predict_many(
                    fasta,
                    work / engine,
                    model,
                    engine="ray" if memory else "local",
                    workers=workers,
                    device="cpu",
                    cpus_per_worker=args.threads if memory else 1.0,
                )
            seconds = time.perf_counter() - start
            if memory:
                memory.stop.set()
                memory.join()
                peaks = list(memory.peaks.values())
            else:
                peaks = [vm_hwm(os.getpid())]
            assert result.ok == records, result
            rows.append(
                {
                    **setup,
                    "engine": "ray" if memory else "local",
                    "workers": workers,
                    "seconds": seconds,
                    "peaks": peaks,
                    "load": [before, load_average()],
                }
            )
            print(f"{rows[-1]['engine']}, {workers} worker(s): {seconds:.1f} s", flush=True)
            if args.results:
                with open(args.results, "a") as stream:
                    stream.write(json.dumps(rows[-1]) + "\n")
        if args.results:
            with open(args.results) as stream:
                rows = [
                    row
                    for row in map(json.loads, stream)
                    if all(row.get(key) == value for key, value in setup.items())
                ]
        print_table(rows, records, residues, label)
    finally:
        if ray is not None:
            ray.shutdown()  # only the cluster this script started
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
