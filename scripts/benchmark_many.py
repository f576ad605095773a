#!/usr/bin/env python
"""Throughput of ``predict_many``: the local engine against Ray with 1 and 2 workers.

Random sequences (lengths uniform in ``--min-length``..``--max-length``) are predicted into
a fresh folder per engine; the table gives records/s, residues/s and the peak resident
memory of each worker (the local engine: this process; Ray: each actor's process, read from
``/proc/PID/status`` ``VmHWM`` while it runs). The model is a tiny random ESM-1b (the test
fixture's architecture) unless ``--full-size`` (the 33-layer, 1280-wide ESM-1b architecture,
random weights, built once under ``--cache`` as ``scripts/benchmark.py`` does) or ``--model``.
Random weights measure cost, never accuracy.

Ray runs on a local cluster this script starts with ``--cpus`` CPUs, listening on
127.0.0.1 only (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, ``RAY_USAGE_STATS_ENABLED=0``),
and stops with ``ray.shutdown()``. Ray times include creating the actors and loading the
model in each.

Examples
--------
python scripts/benchmark_many.py --records 200                  # tiny model, one thread per worker
python scripts/benchmark_many.py --records 200 --full-size      # full-size ESM-1b, random weights
"""

import argparse
import os
import shutil
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
    """Peak resident bytes of a process (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return 0


class ActorMemory(threading.Thread):
    """Polls the esm-contacts Ray actors' peak memory while a run goes on."""

    def __init__(self, ray):
        super().__init__(daemon=True)
        self.ray, self.peaks, self.stop = ray, {}, threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.5):
            try:
                names = [n for n in self.ray.util.list_named_actors() if n.startswith("esm-contacts-worker-")]
                for name in names:
                    pid = self.ray.get(self.ray.get_actor(name).pid.remote(), timeout=5)
                    self.peaks[name] = max(self.peaks.get(name, 0), vm_hwm(pid))
            except Exception:  # an actor starting or gone: try again at the next poll
                continue


def tiny_model(folder: Path) -> str:
    sys.path.insert(0, str(ROOT / "tests"))
    from tiny_models import write_tiny_esm1b

    return str(write_tiny_esm1b(folder))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=200)
    parser.add_argument("--min-length", type=int, default=50)
    parser.add_argument("--max-length", type=int, default=500)
    parser.add_argument("--model", help="model name or .pt (default: the tiny random ESM-1b)")
    parser.add_argument("--full-size", action="store_true", help="full-size ESM-1b architecture, random weights")
    parser.add_argument("--cache", default=str(Path.home() / ".cache" / "esm-contacts" / "benchmark"))
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray cluster")
    parser.add_argument("--engines", nargs="+", default=["local", "ray1", "ray2"])
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads per worker (local: this process; Ray: --cpus-per-worker); on a shared "
                        "machine more threads than free cores make every forward pass many times slower")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)

    work = Path(tempfile.mkdtemp(prefix="esm-contacts-benchmark-many-"))
    ray = None
    try:
        if args.full_size:
            from benchmark import random_esm1b  # scripts/benchmark.py, beside this file

            model, label = str(random_esm1b(Path(args.cache) / "esm1b_random_t33.pt")), "full-size ESM-1b, random weights"
        else:
            model, label = args.model or tiny_model(work), args.model or "tiny ESM-1b, random weights"
        fasta = work / "records.fasta"
        residues = write_records(fasta, args.records, args.min_length, args.max_length)
        print(f"{args.records} records, {residues} residues ({args.min_length}-{args.max_length}); model: {label}")
        print("| engine | workers | seconds | records/s | residues/s | peak memory per worker (GB) |")
        print("|---|---:|---:|---:|---:|---:|")
        for engine in args.engines:
            workers = int(engine[3:]) if engine.startswith("ray") else 1
            if engine.startswith("ray") and ray is None:
                ray, _ = start_ray(num_cpus=args.cpus)
            memory = ActorMemory(ray) if ray is not None and engine.startswith("ray") else None
            if memory:
                memory.start()
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = predict_many(fasta, work / engine, model, engine="ray" if memory else "local",
                                      workers=workers, device="cpu", cpus_per_worker=args.threads if memory else 1.0)
            seconds = time.perf_counter() - start
            if memory:
                memory.stop.set()
                memory.join()
                peaks = list(memory.peaks.values())
            else:
                peaks = [vm_hwm(os.getpid())]
            assert result.ok == args.records, result
            peak = ", ".join(f"{p / 1e9:.2f}" for p in peaks) or "n/a"
            print(f"| {engine[:3] if memory else 'local'} | {workers} | {seconds:.1f} | {args.records / seconds:.1f} | "
                  f"{residues / seconds:.0f} | {peak} |", flush=True)
    finally:
        if ray is not None:
            ray.shutdown()  # only the cluster this script started
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
