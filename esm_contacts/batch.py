"""Batch runs over many records: streaming, resumable outputs, on this process or a Ray cluster.

:func:`predict_many` predicts every record of a FASTA file into a folder::

    DIR/manifest.json            the model and options of the run (a changed set is refused)
    DIR/complete.jsonl           a line per finished batch: its part file, its records' rows
    DIR/contacts/part-*.parquet  name, i, j, probability (1-based, i < j, j - i >= min_sep)
    DIR/summary.parquet          name, length, status (ok|error|skipped), error, pairs,
                                 seconds, worker
    DIR/maps/*.npz               with maps=True: ``map`` (float32 L x L), ``sequence``

**Resuming.** A batch's part file is written to a temporary name and renamed
(:func:`esm_contacts.io.atomic_write`); only then is the batch appended to
``complete.jsonl`` (flushed and synced). A run killed in between leaves a part file that no
line names: the next run deletes it and redoes those records, so no row is ever written
twice. A line cut short by the kill is dropped the same way. Records with status ``ok``
are complete and skipped by the next run; error rows are tried again (a bad letter fails
again at once; a record refused for memory may fit next time). The folder is locked
while a run writes it.

**Engines.** ``local``: this process, the predictor loaded once. ``ray``: one Ray actor per worker,
each holding its own predictor; the driver sends length-sorted batches under the
model's token budget (:func:`esm_contacts.predictor.length_batches`, the grouping
:meth:`~esm_contacts.ContactPredictor.predict_batch` uses), at most two per actor in
flight, and writes each result as it arrives. A batch whose actor dies is sent again
(the actor restarts), up to :data:`MAX_ATTEMPTS` times; the driver writes only
results it received, once each. :func:`validate_many` runs its CPU-only work (reading the
structures, validating the models against each map as it arrives) as Ray tasks beside the
actors, and records each sequence's rows when its task returns.
"""

import contextlib
import hashlib
import json
import os
import sys
import time
import uuid
import warnings
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from .metrics import MIN_SEP

__all__ = [
    "predict_many",
    "validate_many",
    "structure_inputs",
    "BatchResult",
    "BatchOptionsError",
    "start_ray",
    "read_summary",
    "read_contacts_table",
    "map_file_name",
]

MANIFEST = "manifest.json"
JOURNAL = "complete.jsonl"
SUMMARY = "summary.parquet"
CONTACTS = "contacts"
MAPS = "maps"
#: Times a batch is sent to a worker before its records become error rows (the worker died each
#: time).
MAX_ATTEMPTS = 3
#: Batches in flight per Ray actor: one computing, one waiting, so an actor never idles on the
#: driver.
IN_FLIGHT = 2
#: Format of the manifest; a folder written by another format is refused.
FORMAT = 1

SUMMARY_COLUMNS = ("name", "length", "status", "error", "pairs", "seconds", "worker")


class BatchOptionsError(ValueError):
    """An output folder written with another model or other options than this run's."""


@dataclass
class BatchResult:
    """What a batch run did.

    Attributes
    ----------
    out : Path
        The output folder.
    records : int
        Records in the input.
    ok, errors, skipped : int
        Records by status in ``summary.parquet`` (this run and the earlier ones).
    resumed : int
        Records complete from an earlier run, not predicted again.
    """

    out: Path
    records: int
    ok: int
    errors: int
    skipped: int
    resumed: int


# --- the output folder ---------------------------------------------------------------


def _digest(sequence: str) -> str:
    """Identity of a record's sequence (whitespace and case ignored), to detect a changed input."""
    return hashlib.sha1("".join(sequence.split()).upper().encode()).hexdigest()


def _file_identity(name_or_path: Optional[str]) -> Optional[dict]:
    """A model or regression as the manifest records it: a name, or a file's resolved path and
    size."""
    if name_or_path is None:
        return None
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return {"path": str(path.resolve()), "bytes": path.stat().st_size}
    return {"name": str(name_or_path)}


def _describe_change(key: str, old, new) -> str:
    return f"{key} was {json.dumps(old)}, now {json.dumps(new)}"


class _Folder:
    """An output folder: manifest check, lock, journal of complete batches, part files."""

    def __init__(self, out: Union[str, Path], command: str, options: dict, parts: bool = True):
        self.out = Path(out)
        if self.out.exists() and not self.out.is_dir():
            raise NotADirectoryError(f"{self.out}: exists and is not a folder")
        self.out.mkdir(parents=True, exist_ok=True)
        if parts:
            (self.out / CONTACTS).mkdir(exist_ok=True)
        self._lock = self._take_lock()
        self._check_manifest(command, options)
        self.done: Dict[str, dict] = {}  # name -> latest summary row of a complete batch
        self._parts = set()
        self._read_journal()
        self._remove_orphans()
        self._next_part = 1 + max(
            (int(p[len("part-") : -len(".parquet")]) for p in self._parts), default=0
        )

    def _take_lock(self):
        import fcntl

        handle = open(self.out / ".lock", "a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise BlockingIOError(f"{self.out}: another run is writing this folder") from None
        return handle

    def close(self) -> None:
        self._lock.close()

    def _check_manifest(self, command: str, options: dict) -> None:
        from .io import atomic_write

        wanted = {"format": FORMAT, "command": command, "options": options}
        path = self.out / MANIFEST
        if not path.exists():
            with atomic_write(path) as stream:
                json.dump(wanted, stream, indent=1, sort_keys=True)
            return
        try:
            found = json.loads(path.read_text())
        except (ValueError, OSError) as error:
            raise BatchOptionsError(
                f"{path}: unreadable manifest ({error}); use a new output folder"
            ) from None
        if found.get("format") != FORMAT or found.get("command") != command:
            raise BatchOptionsError(
                f"{self.out} holds the output of {found.get('command')!r} (format "
                f"{found.get('format')}), not of {command}: use a new output folder"
            )
        old = found.get("options", {})
        changes = [
            _describe_change(key, old.get(key), options.get(key))
            for key in sorted(set(old) | set(options))
            if old.get(key) != options.get(key)
        ]
        if changes:
            raise BatchOptionsError(
                f"{self.out} was written with other options ({'; '.join(changes)}): "
                "run with the same ones to resume, or use a new output folder"
            )

    def _read_journal(self) -> None:
        from .io import atomic_write

        path = self.out / JOURNAL
        if not path.exists():
            return
        good = []
        for line in path.read_text().splitlines():
            try:
                entry = json.loads(line)
                part, rows = entry["part"], entry["records"]
            except (ValueError, KeyError, TypeError):
                continue  # a line cut short by a killed run: its records are redone
            if part is not None and not (self.out / CONTACTS / part).is_file():
                continue
            good.append(line)
            if part is not None:
                self._parts.add(part)
            for row in rows:
                self.done[row["name"]] = row
        if len(good) != len(path.read_text().splitlines()):
            with atomic_write(path) as stream:
                stream.write("".join(line + "\n" for line in good))

    def _remove_orphans(self) -> None:
        """Part files that no journal line names: written by a run killed before it recorded
        them."""
        for path in (self.out / CONTACTS).glob("part-*.parquet"):
            if path.name not in self._parts:
                path.unlink()

    def complete(self) -> Dict[str, dict]:
        """Summary rows of the records complete with status ok, by name."""
        return {name: row for name, row in self.done.items() if row["status"] == "ok"}

    def write(self, results: List[dict], maps: bool) -> None:
        """Write one batch: maps, then its part file, then its journal line (the record of
        completion)."""
        from .io import atomic_write

        ok = [r for r in results if r["status"] == "ok"]
        if maps:
            (self.out / MAPS).mkdir(exist_ok=True)
            for r in ok:
                if r.get("map") is not None:
                    with atomic_write(self.out / MAPS / map_file_name(r["name"]), "wb") as stream:
                        np.savez(stream, map=r["map"], sequence=np.array(r["sequence"]))
        part = None
        if any(len(r["i"]) for r in ok):
            part = f"part-{self._next_part:06d}.parquet"
            self._next_part += 1
            _write_parquet(self.out / CONTACTS / part, _contacts_table(ok))
            self._parts.add(part)
        self.record(
            [{key: r[key] for key in SUMMARY_COLUMNS} | {"digest": r["digest"]} for r in results],
            part,
        )

    def record(self, rows: List[dict], part: Optional[str] = None) -> None:
        """Append one journal line (flushed and synced): these rows, keyed by ``name``, are
        complete."""
        with open(self.out / JOURNAL, "a") as stream:
            stream.write(json.dumps({"part": part, "records": rows}, allow_nan=True) + "\n")
            stream.flush()
            os.fsync(stream.fileno())
        for row in rows:
            self.done[row["name"]] = row


def map_file_name(name: str) -> str:
    """The ``maps/`` file of a record: its name in safe characters, plus a hash where any was
    replaced.

    Parameters
    ----------
    name : str
        The record's name.

    Returns
    -------
    file_name : str
        Without the ``.npz`` suffix; distinct names give distinct files.
    """
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name).lstrip(".") or "record"
    if safe != name:
        safe += "-" + hashlib.sha1(name.encode()).hexdigest()[:10]
    return safe + ".npz"


def _contacts_table(results: List[dict]):
    import pyarrow as pa

    names = [np.full(len(r["i"]), r["name"], dtype=object) for r in results]
    return pa.table(
        {
            "name": pa.array(np.concatenate(names) if names else [], type=pa.string()),
            "i": pa.array(np.concatenate([r["i"] for r in results]).astype(np.int32) + 1),
            "j": pa.array(np.concatenate([r["j"] for r in results]).astype(np.int32) + 1),
            "probability": pa.array(np.concatenate([r["p"] for r in results]).astype(np.float32)),
        }
    )


def _write_parquet(path: Path, table) -> None:
    import pyarrow.parquet as pq

    from .io import atomic_write

    with atomic_write(path, "wb") as stream:
        pq.write_table(table, stream)


def _summary_table(rows: List[dict]):
    import pyarrow as pa

    types = {
        "name": pa.string(),
        "length": pa.int64(),
        "status": pa.string(),
        "error": pa.string(),
        "pairs": pa.int64(),
        "seconds": pa.float64(),
        "worker": pa.string(),
    }
    return pa.table(
        {key: pa.array([row[key] for row in rows], type=types[key]) for key in SUMMARY_COLUMNS}
    )


def read_summary(out: Union[str, Path]):
    """``summary.parquet`` of an output folder as a pyarrow Table.

    Parameters
    ----------
    out : str or Path
        The output folder.

    Returns
    -------
    table : pyarrow.Table
        One row per record (name, length, status, error, pairs, seconds, worker).
    """
    import pyarrow.parquet as pq

    return pq.read_table(Path(out) / SUMMARY)


def read_contacts_table(out: Union[str, Path]):
    """Every ``contacts/part-*.parquet`` of an output folder as one pyarrow Table (name, i, j,
    probability).

    Parameters
    ----------
    out : str or Path
        The output folder.

    Returns
    -------
    table : pyarrow.Table
        One row per listed pair of every complete record (1-based i < j).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    parts = sorted((Path(out) / CONTACTS).glob("part-*.parquet"))
    if not parts:
        return pa.table(
            {
                "name": pa.array([], pa.string()),
                "i": pa.array([], pa.int32()),
                "j": pa.array([], pa.int32()),
                "probability": pa.array([], pa.float32()),
            }
        )
    return pa.concat_tables([pq.read_table(p) for p in parts])


# --- the work of one batch (the same in every engine) ------------------------------------


@dataclass
class _Settings:
    """What every worker needs to load the model and treat a batch."""

    model: str
    regression: Optional[str]
    device: str
    dtype: Optional[str]
    max_tokens: Optional[int]
    max_memory: Optional[float]
    top: str
    min_sep: int
    min_probability: Optional[float]
    maps: bool


def _load(settings: _Settings):
    from .predictor import ContactPredictor

    return ContactPredictor.from_pretrained(
        settings.model,
        device=settings.device,
        dtype=settings.dtype,
        regression=settings.regression,
        max_tokens=settings.max_tokens,
    )


def _record(
    name: str,
    sequence: str,
    digest: str,
    worker: str,
    status: str = "ok",
    error: Optional[str] = None,
):
    empty = np.zeros(0, dtype=np.int64)
    return {
        "name": name,
        "sequence": sequence,
        "digest": digest,
        "length": len(sequence),
        "status": status,
        "error": error,
        "pairs": 0,
        "seconds": 0.0,
        "worker": worker,
        "i": empty,
        "j": empty,
        "p": np.zeros(0),
        "map": None,
    }


def _keep(result: dict, pairs, min_probability: Optional[float]) -> None:
    i, j, p = pairs
    if min_probability is not None:
        keep = p >= min_probability
        i, j, p = i[keep], j[keep], p[keep]
    result.update(i=np.asarray(i), j=np.asarray(j), p=np.asarray(p), pairs=int(len(i)))


def _predict_records(
    predictor, records: Sequence[Tuple[str, str, str]], settings: _Settings, worker: str
) -> List[dict]:
    """Predict one batch of clean records ``(name, sequence, digest)``: one result dict per record.

    Records within the context go through one :meth:`~esm_contacts.ContactPredictor.predict_batch`
    (a batch of :func:`~esm_contacts.predictor.length_batches` is one forward pass); a longer one
    through :meth:`~esm_contacts.ContactPredictor.predict_top` (no L x L map), or, with maps, its
    windowed map with the pairs no window covers left unranked. A record refused (memory
    estimate) or failing becomes an error row; the others go on.
    """

    with warnings.catch_warnings():
        # Pairs no window covers are never listed (as predict_top); one warning per record would
        # flood a proteome run.
        warnings.filterwarnings("ignore", message=".*lie in no window.*")
        return _predict_unguarded(predictor, records, settings, worker)


def _predict_unguarded(predictor, records, settings: _Settings, worker: str) -> List[dict]:
    from .metrics import parse_top, top_pairs

    start = time.perf_counter()
    results = [_record(name, seq, digest, worker) for name, seq, digest in records]
    dense = []
    for result in results:
        length = result["length"]
        sparse = length > predictor.max_length and not settings.maps
        try:
            predictor.check_memory(
                [length],
                settings.max_memory,
                listed=[parse_top(settings.top, length)],
                sparse=sparse,
            )
        except (ValueError, MemoryError) as error:
            result.update(status="error", error=str(error))
            continue
        if length <= predictor.max_length or settings.maps:
            dense.append(result)
        else:
            _guarded(
                result,
                lambda r: _keep(
                    r,
                    predictor.predict_top(
                        r["sequence"], top=settings.top, min_sep=settings.min_sep
                    ),
                    settings.min_probability,
                ),
            )
    maps = None
    if len(dense) > 1:
        with contextlib.suppress(
            Exception
        ):  # the batch failing as a whole: retried one by one below
            maps = predictor.predict_batch(
                [r["sequence"] for r in dense], max_memory=settings.max_memory
            )
    for index, result in enumerate(dense):

        def finish(r, P=None if maps is None else maps[index]):
            if P is None:
                P = predictor.predict_batch([r["sequence"]], max_memory=settings.max_memory)[0]
            ranked = P
            if (
                r["length"] > predictor.max_length
            ):  # uncovered pairs are no prediction (as predict_top)
                ranked = np.where(predictor.coverage(r["length"]), P, np.nan)
            _keep(
                r,
                top_pairs(ranked, top=settings.top, min_sep=settings.min_sep),
                settings.min_probability,
            )
            if settings.maps:
                r["map"] = P

        _guarded(result, finish)
    elapsed = time.perf_counter() - start
    # The batch's time shared by residues: one forward pass serves all its records.
    total = sum(r["length"] for r in results) or 1
    for result in results:
        result["seconds"] = elapsed * result["length"] / total
    return results


def _guarded(result: dict, work: Callable[[dict], None]) -> None:
    try:
        work(result)
    except (ValueError, MemoryError, RuntimeError) as error:  # RuntimeError: torch out of memory
        result.update(status="error", error=str(error), map=None)


# --- engines -------------------------------------------------------------------------------


def _plan(
    lengths: Sequence[int], max_length: int, max_tokens: int, max_batch_tokens: int
) -> List[List[int]]:
    """Batches of indices: within the context grouped under the token budget, longer ones alone."""
    from .predictor import length_batches

    short = [k for k, n in enumerate(lengths) if n <= max_length]
    batches = [
        [short[k] for k in batch]
        for batch in length_batches([lengths[k] for k in short], max_tokens, max_batch_tokens)
    ]
    return batches + [[k] for k, n in enumerate(lengths) if n > max_length]


def _local_engine(
    todo, settings: _Settings, write: Callable[[List[dict]], None], options: dict
) -> None:
    predictor = options.get("predictor") or _load(settings)
    lengths = [len(seq) for _, seq, _ in todo]
    for batch in _plan(
        lengths, predictor.max_length, predictor.max_tokens, predictor.max_batch_tokens
    ):
        write(_predict_records(predictor, [todo[k] for k in batch], settings, "local"))


def start_ray(
    address: Optional[str] = None, num_cpus: Optional[int] = None, num_gpus: Optional[int] = None
):
    """Connect to a Ray cluster (``address``, ``"auto"`` for a running one) or start a local one.

    A local cluster listens on loopback only: ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` makes
    Ray use 127.0.0.1 on Linux, and usage statistics are off (``RAY_USAGE_STATS_ENABLED=0``).
    A Ray already initialised in this process is used as it is.

    Parameters
    ----------
    address : str, optional
        A cluster's address, ``"auto"`` for the one running on this machine; None: start a local
        one.
    num_cpus, num_gpus : int, optional
        What a local cluster may use (default: what Ray detects).

    Returns
    -------
    ray : module
    started : bool
        Whether this call initialised Ray (the caller then shuts it down).
    """
    if address is None:
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    try:
        import ray
    except ImportError:
        raise ImportError("the ray engine needs Ray: pip install 'esm-contacts[cluster]'") from None
    if ray.is_initialized():
        return ray, False
    import logging

    # Ray's own start-up notes would come between the command's stderr lines: errors only.
    quiet = {"log_to_driver": False, "logging_level": logging.ERROR}
    if address is None:
        ray.init(num_cpus=num_cpus, num_gpus=num_gpus, include_dashboard=False, **quiet)
    else:
        ray.init(address=address, **quiet)
    return ray, True


class _Worker:
    """A Ray actor: one predictor, loaded once, treating the batches it is sent."""

    def __init__(self, settings: _Settings, name: str, threads: int):
        import torch

        torch.set_num_threads(max(1, threads))
        self.settings, self.name = settings, name
        self.predictor = _load(settings)

    def limits(self) -> Tuple[int, int, int]:
        p = self.predictor
        return p.max_length, p.max_tokens, p.max_batch_tokens

    def pid(self) -> int:
        return os.getpid()

    def run(self, records) -> List[dict]:
        return _predict_records(self.predictor, records, self.settings, self.name)


def _ray_engine(
    todo, settings: _Settings, write: Callable[[List[dict]], None], options: dict
) -> None:
    workers, cpus, gpus = options["workers"], options["cpus_per_worker"], options["gpus_per_worker"]
    ray, started = start_ray(
        options["address"],
        num_cpus=int(np.ceil(workers * cpus)),
        num_gpus=int(np.ceil(workers * gpus)) if gpus else None,
    )
    actors = []
    try:
        remote = ray.remote(
            num_cpus=cpus, num_gpus=gpus, max_restarts=MAX_ATTEMPTS, max_task_retries=0
        )(_Worker)
        run_id = uuid.uuid4().hex[:8]
        actors = [
            remote.options(name=f"esm-contacts-worker-{run_id}-{k}").remote(
                settings, f"ray-{k}", int(max(1, cpus))
            )
            for k in range(workers)
        ]
        limits = ray.get(actors[0].limits.remote())
        queue = deque((batch, 0) for batch in _plan([len(seq) for _, seq, _ in todo], *limits))
        _dispatch(ray, actors, queue, todo, write, options.get("pending"))
    finally:
        for actor in actors:
            with contextlib.suppress(Exception):
                ray.kill(actor)
        if started:
            ray.shutdown()


def _dispatch(
    ray,
    actors,
    queue: deque,
    todo,
    write: Callable[[List[dict]], None],
    pending: Optional["_RayTasks"] = None,
) -> None:
    """Send the queued batches to the actors, write each result as it arrives, resend a dead actor's
    batches.

    A batch whose actor dies goes back to the front of the queue (to the next actor with room);
    the dead actor gets no work until it answers a ping again (Ray restarts it). A batch
    tried :data:`MAX_ATTEMPTS` times, or left when every actor is gone for good, becomes error rows.
    ``pending``: Ray tasks that ``write`` submitted (validation); each is finished as it
    completes, beside the actors' results, and all of them before this returns. Once every
    batch is written, an actor still restarting is not waited for.
    """
    alive, pinging = set(range(len(actors))), set()
    load = [0] * len(actors)
    in_flight: Dict = {}  # ref -> ("run", actor, batch, attempt) or ("ping", actor)

    def fill() -> None:
        for k in sorted(alive, key=lambda a: load[a]):
            while queue and load[k] < IN_FLIGHT:
                batch, attempt = queue.popleft()
                in_flight[actors[k].run.remote([todo[i] for i in batch])] = (
                    "run",
                    k,
                    batch,
                    attempt,
                )
                load[k] += 1

    def fail(batch, k: int, reason: str) -> None:
        write([_record(*todo[i], f"ray-{k}", "error", reason) for i in batch])

    def working() -> bool:
        """Batches to send or to receive; pings alone (an actor restarting) matter only while
        work is queued."""
        return bool(queue and in_flight) or any(entry[0] == "run" for entry in in_flight.values())

    fill()
    while working() or pending:
        ready, _ = ray.wait(list(in_flight) + (pending.refs() if pending else []), num_returns=1)
        if ready[0] not in in_flight:
            pending.finish(ready[0])
            continue
        kind, k, *rest = in_flight.pop(ready[0])
        try:
            value = ray.get(ready[0])
        except ray.exceptions.RayActorError as error:
            if kind == "run":
                load[k] -= 1
                batch, attempt = rest
                if attempt + 1 < MAX_ATTEMPTS:
                    queue.appendleft((batch, attempt + 1))
                else:
                    fail(batch, k, f"the worker died {MAX_ATTEMPTS} times on this batch: {error}")
            restarting = isinstance(error, getattr(ray.exceptions, "ActorUnavailableError", ()))
            alive.discard(k)
            if kind == "ping" and not restarting:
                pinging.discard(k)  # gone for good (no restarts left): its batches go to the others
            elif kind == "ping":
                time.sleep(0.2)  # still restarting: ask again shortly
                in_flight[actors[k].limits.remote()] = ("ping", k)
            elif k not in pinging:
                pinging.add(k)
                in_flight[actors[k].limits.remote()] = ("ping", k)
        else:
            if kind == "run":
                load[k] -= 1
                write(value)
            else:
                alive.add(k)
                pinging.discard(k)
        fill()
        if not alive and not pinging:
            while queue:  # every actor gone for good
                batch, _ = queue.popleft()
                fail(batch, -1, "no Ray worker left")


ENGINES = {"local": _local_engine, "ray": _ray_engine}

#: Ray tasks in flight per worker beside the actors (each holds one map): results come back while
#: predictions go on, and a slow validation cannot pile every map of a proteome into the object
#: store.
TASKS_IN_FLIGHT = 4


class _RayTasks:
    """CPU-only Ray tasks submitted as predictions arrive; each result handed on as it completes.

    Parameters
    ----------
    ray : module
    limit : int
        Tasks in flight at most: :meth:`submit` first waits for and finishes completed ones.
    """

    def __init__(self, ray, limit: int):
        self.ray, self.limit = ray, max(1, limit)
        self._tasks: Dict = {}  # ref -> (on_done, on_failure)

    def __len__(self) -> int:
        return len(self._tasks)

    def refs(self) -> list:
        return list(self._tasks)

    def submit(self, ref, on_done: Callable, on_failure: Callable[[str], None]) -> None:
        while len(self._tasks) >= self.limit:
            ready, _ = self.ray.wait(self.refs(), num_returns=1)
            self.finish(ready[0])
        self._tasks[ref] = (on_done, on_failure)

    def finish(self, ref) -> None:
        """Hand on one completed task's result; a task whose worker died (after Ray's retries) fails
        as rows.

        An exception raised by the task's own code is raised here, as the local engine would.
        """
        on_done, on_failure = self._tasks.pop(ref)
        try:
            value = self.ray.get(ref)
        except self.ray.exceptions.RayTaskError as error:
            raise error.as_instanceof_cause() from None
        except self.ray.exceptions.RayError as error:
            on_failure(f"the Ray task died: {error}")
        else:
            on_done(value)

    def drain(self) -> None:
        while self._tasks:
            ready, _ = self.ray.wait(self.refs(), num_returns=1)
            self.finish(ready[0])


# --- predict_many ----------------------------------------------------------------------------


def _read_records(fasta: Union[str, Path]) -> List[Tuple[str, str]]:
    from .files import check_input_file
    from .msa import fasta_records

    path = check_input_file(fasta, "FASTA file")
    return fasta_records(path.read_text(errors="replace"), path)


def _check_options(
    top, min_sep, min_probability, engine, workers, gpus_per_worker, cpus_per_worker, address=None
):
    from .metrics import parse_top
    from .options import check_option, whole_number

    parse_top(top, 1)
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    whole_number(workers, "workers")
    check_option("non-negative", "gpus_per_worker", gpus_per_worker)
    check_option("positive", "cpus_per_worker", cpus_per_worker)
    if engine != "ray" and (address is not None or workers != 1 or gpus_per_worker):
        # Silently ignored, they would leave a user waiting for a cluster run that never starts.
        raise ValueError(
            "address, workers and gpus_per_worker (--address, --workers, --gpus-per-worker) need"
            " the ray engine (--engine ray)"
        )
    min_sep = check_option("count", "min_sep", min_sep)
    if min_probability is not None:
        min_probability = check_option("probability", "min_probability", min_probability)
    return min_sep, min_probability


def predict_many(
    fasta: Union[str, Path],
    out: Union[str, Path],
    model: Optional[str] = None,
    *,
    regression: Optional[str] = None,
    top: Union[str, int] = "2L",
    min_sep: int = MIN_SEP,
    min_probability: Optional[float] = None,
    maps: bool = False,
    engine: str = "local",
    address: Optional[str] = None,
    workers: int = 1,
    gpus_per_worker: float = 0.0,
    cpus_per_worker: float = 1.0,
    device: str = "auto",
    dtype: Optional[str] = None,
    max_tokens: Optional[int] = None,
    max_memory: Optional[float] = None,
    progress: bool = False,
) -> BatchResult:
    """Predict every record of a FASTA file into an output folder, resumably.

    Parameters
    ----------
    fasta : str or Path
        The records (:func:`esm_contacts.msa.fasta_records`); names must be unique (a repeated
        name is ``skipped``).
    out : str or Path
        Output folder (see the module docstring); an existing one is resumed when its
        manifest holds the same model and options, refused otherwise.
    model : str, optional
        Model name or checkpoint path (default ``esm1b_t33_650M_UR50S``).
    regression : str, optional
        A ``*-contact-regression.pt`` replacing the model's own.
    top : str or int
        Pairs per record (:func:`esm_contacts.metrics.parse_top`): ``"2L"`` by default.
    min_sep : int
        Smallest separation ``j - i`` listed.
    min_probability : float, optional
        Only pairs with at least this probability.
    maps : bool
        Also write each record's map and sequence to ``maps/NAME.npz``.
    engine : {"local", "ray"}
    address : str, optional
        Ray cluster address (``"auto"``: the running one); a local cluster when None.
    workers : int
        Ray actors, each holding a model.
    gpus_per_worker, cpus_per_worker : float
        Ray resources of each actor.
    device, dtype : str, optional
        As :class:`esm_contacts.ContactPredictor` (in each worker).
    max_tokens : int, optional
        Batch budget (:class:`esm_contacts.ContactPredictor`).
    max_memory : float, optional
        Bytes one record may use; a record estimated above it is an error row.
    progress : bool
        A progress bar over residues, with records done and throughput.

    Returns
    -------
    result : BatchResult

    Raises
    ------
    BatchOptionsError
        ``out`` was written with another model or options (the message says which).
    ValueError, OSError
        Bad options, an unreadable FASTA file, a folder another run holds.
    """
    from .catalog import DEFAULT_MODEL
    from .sequence import clean_sequence

    model = model or DEFAULT_MODEL
    min_sep, min_probability = _check_options(
        top, min_sep, min_probability, engine, workers, gpus_per_worker, cpus_per_worker, address
    )
    records = _read_records(fasta)
    # What changes the written results; the engine and its resources do not.
    identity = {
        "model": _file_identity(model),
        "regression": _file_identity(regression),
        "dtype": dtype,
        "top": str(top),
        "min_sep": min_sep,
        "min_probability": min_probability,
        "maps": bool(maps),
    }
    settings = _Settings(
        model,
        regression,
        device,
        dtype,
        max_tokens,
        max_memory,
        str(top),
        min_sep,
        min_probability,
        bool(maps),
    )
    folder = _Folder(out, "predict-many", identity)
    try:
        return _predict_into(
            folder,
            records,
            settings,
            engine,
            {
                "address": address,
                "workers": workers,
                "gpus_per_worker": gpus_per_worker,
                "cpus_per_worker": cpus_per_worker,
            },
            progress,
            clean_sequence,
        )
    finally:
        folder.close()


def _predict_into(
    folder: _Folder,
    records,
    settings: _Settings,
    engine: str,
    options: dict,
    progress: bool,
    clean_sequence,
) -> BatchResult:
    complete = folder.complete()
    skipped: List[dict] = []
    todo, failed, seen = [], [], set()
    for name, raw in records:
        digest = _digest(raw)
        if name in seen:
            skipped.append(
                _summary_only(
                    _record(
                        name,
                        "".join(raw.split()),
                        digest,
                        "-",
                        "skipped",
                        "another record of the same name comes first",
                    )
                )
            )
            continue
        seen.add(name)
        if name in complete:
            if complete[name]["digest"] != digest:
                raise BatchOptionsError(
                    f"{folder.out}: record {name!r} has another sequence than when it was "
                    "predicted into this folder; use a new output folder"
                )
            continue
        try:
            todo.append((name, clean_sequence(raw, name=name), digest))
        except ValueError as error:
            failed.append(_record(name, "".join(raw.split()), digest, "-", "error", str(error)))
    bar = _bar(sum(len(seq) for _, seq, _ in todo), progress)
    started, done = time.perf_counter(), [0]

    def write(results: List[dict]) -> None:
        folder.write(results, settings.maps)
        for r in results:
            if r["status"] == "error":
                warnings.warn(f"{r['name']}: {r['error']}", stacklevel=2)
        done[0] += len(results)
        rate = done[0] / max(time.perf_counter() - started, 1e-9)
        bar.set_postfix_str(f"{done[0]}/{len(todo)} records, {rate:.1f} records/s", refresh=False)
        bar.update(sum(r["length"] for r in results))

    try:
        if failed:
            write(failed)
        if todo:
            ENGINES[engine](todo, settings, write, options)
    finally:
        bar.close()
    return _finish(folder, records, skipped, len(seen & set(complete)))


def _bar(residues: int, enabled: bool):
    """Progress over residues (the work), with records done and records/s beside it."""
    from tqdm.auto import tqdm

    return tqdm(
        total=residues,
        unit="res",
        unit_scale=True,
        disable=not enabled,
        desc="predict-many",
        file=sys.stderr,
        smoothing=0.1,
    )


def _summary_only(result: dict) -> dict:
    return {key: result[key] for key in SUMMARY_COLUMNS}


def _finish(folder: _Folder, records, skipped_rows: List[dict], resumed: int) -> BatchResult:
    """Write summary.parquet: one row per input record, in input order."""
    rows, seen = [], set()
    skipped = iter(skipped_rows)
    for name, raw in records:
        if name in seen:
            rows.append(next(skipped))
            continue
        seen.add(name)
        row = folder.done.get(name)
        rows.append(
            {key: row[key] for key in SUMMARY_COLUMNS}
            if row
            else _summary_only(
                _record(name, raw, "", "-", "error", "not predicted (the run stopped)")
            )
        )
    _write_parquet(folder.out / SUMMARY, _summary_table(rows))
    count = {
        status: sum(row["status"] == status for row in rows)
        for status in ("ok", "error", "skipped")
    }
    return BatchResult(
        folder.out, len(records), count["ok"], count["error"], count["skipped"], resumed
    )


# --- validate_many ------------------------------------------------------------------------------

VALIDATION = "validation.parquet"
RANKING = "ranking.tsv"
VALIDATION_COLUMNS = (
    "structure",
    "chain",
    "sequence_id",
    "status",
    "error",
    "residues",
    "rank",
    "agreement",
    "agreement_long",
    "agreement_medium",
    "agreement_short",
    "hints",
    "first_hint",
    "worker",
)
#: Inputs one structure-reading Ray task reads: at least the first (a task costs a worker process's
#: start and imports), at most the second (a proteome's models go out in many tasks).
SCAN_CHUNK = (16, 64)


def structure_inputs(items: Sequence[Union[str, Path]]) -> List[Tuple[str, Optional[str]]]:
    """``(structure file, chain or None)`` for every structure the arguments name.

    Parameters
    ----------
    items : sequence of str or Path
        Structure files; folders (their structure files, sorted; not recursive); glob
        patterns (``models/*.cif``); or a ``.tsv`` file of ``structure<TAB>chain`` lines
        (a header line starting with ``structure``, blank lines and ``#`` comments ignored;
        a relative path is taken from the working directory, else from the TSV's folder;
        no chain: every protein chain).

    Returns
    -------
    inputs : list of (str, str or None)
        None: every protein chain of that file.

    Raises
    ------
    FileNotFoundError
        A file that does not exist, a pattern that matches nothing.
    ValueError
        A TSV line with more than two fields or no structure.
    """
    import glob

    from .files import check_input_file
    from .structure import is_structure_file

    found: List[Tuple[str, Optional[str]]] = []
    for item in map(str, items):
        path = Path(item)
        if path.is_dir():
            found.extend(
                (str(f), None)
                for f in sorted(path.iterdir())
                if f.is_file() and is_structure_file(f)
            )
        elif path.suffix.lower() == ".tsv" and path.is_file():
            found.extend(_tsv_inputs(check_input_file(path, "structure list")))
        elif path.exists():
            found.append((str(check_input_file(path, "structure file")), None))
        elif glob.has_magic(item):
            matches = sorted(glob.glob(item))
            if not matches:
                raise FileNotFoundError(f"{item}: no file matches")
            found.extend(structure_inputs(matches))
        else:
            raise FileNotFoundError(f"{item}: no such file")
    return found


def _tsv_inputs(path: Path) -> List[Tuple[str, Optional[str]]]:
    rows = []
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
        fields = [field.strip() for field in line.split("\t")]
        if (
            not line.strip()
            or line.lstrip().startswith("#")
            or (not rows and fields[0].lower() == "structure")
        ):
            continue
        if len(fields) > 2 or not fields[0]:
            raise ValueError(
                f"{path}, line {number}: expected 'structure<TAB>chain', got {line.strip()[:80]!r}"
            )
        structure = Path(fields[0]).expanduser()
        if not structure.is_absolute() and not structure.exists():
            structure = path.parent / structure
        rows.append((str(structure), fields[1] if len(fields) > 1 and fields[1] else None))
    return rows


def _model_key(structure: str, chain: str) -> str:
    return f"{structure}\t{chain}"


def _scan_models(inputs) -> Tuple[List[dict], Dict[str, str]]:
    """One row per (structure, chain) with its observed sequence, or its error; and the sequences by
    id.

    Models are the same protein when their observed sequences are identical (exact identity,
    not :func:`esm_contacts.structure.same_protein`'s alignment): one hash a model, so a
    proteome's worth of models is grouped in linear time, and one prediction is valid for
    every model of its group without alignment. Structures are not kept in memory.
    """
    from .structure import chain_ids, chain_sequence, load_structure

    rows, sequences = [], {}
    for path, chain in inputs:
        try:
            structure = load_structure(path)
            chains = [chain] if chain else chain_ids(structure)
            if not chains:
                raise ValueError(f"{path}: no protein chain")
        except (ValueError, OSError, KeyError) as error:
            rows.append(_model_row(path, chain or "", error=str(error)))
            continue
        for name in chains:
            try:
                sequence = chain_sequence(structure, name)
                if not sequence:
                    raise ValueError(f"{path}: chain {name} has no observed residue")
            except (ValueError, KeyError) as error:
                rows.append(
                    _model_row(path, name, error=str(error.args[0] if error.args else error))
                )
                continue
            sequence_id = _digest(sequence)[:16]
            sequences[sequence_id] = sequence
            rows.append(_model_row(path, name, sequence_id=sequence_id))
    return rows, sequences


def _model_row(
    structure: str, chain: str, sequence_id: Optional[str] = None, error: Optional[str] = None
) -> dict:
    nan = float("nan")
    return {
        "name": _model_key(structure, chain),
        "structure": structure,
        "chain": chain,
        "sequence_id": sequence_id,
        "status": "error" if error else "ok",
        "error": error,
        "residues": 0,
        "rank": None,
        "agreement": nan,
        "agreement_long": nan,
        "agreement_medium": nan,
        "agreement_short": nan,
        "hints": 0,
        "first_hint": None,
        "worker": "-",
    }


def _validate_group(
    P: np.ndarray, sequence: str, members: List[dict], options: dict, worker: str = "local"
) -> List[dict]:
    """Validate every model of one sequence against its map; rank them
    (:func:`esm_contacts.validation.rank_models`).

    ``worker`` names where this ran (the ``worker`` column of ``validation.parquet``).
    """
    from .structure import load_structure
    from .validation import format_hint, rank_models, validate

    rows, results = [], {}
    for member in members:
        row = dict(member, worker=worker)
        try:
            result = validate(
                P,
                load_structure(row["structure"]),
                row["chain"],
                top=options["top"],
                min_sep=options["min_sep"],
                threshold=options["threshold"],
                sequence=sequence,
                name=row["name"],
                min_identity=options["min_identity"],
            )
        except (ValueError, OSError, KeyError) as error:
            row.update(status="error", error=str(error.args[0] if error.args else error))
        else:
            results[row["name"]] = result
            by_range = result.agreement_by_range
            row.update(
                residues=len(sequence),
                agreement=result.agreement,
                agreement_long=by_range["long"],
                agreement_medium=by_range["medium"],
                agreement_short=by_range["short"],
                hints=len(result.hints),
                first_hint=format_hint(result, result.hints[0]) if result.hints else None,
            )
        rows.append(row)
    ranks = {v.name: rank for rank, v in enumerate(rank_models(list(results.values())), start=1)}
    for row in rows:
        row["rank"] = ranks.get(row["name"])
    return rows


def _validate_in_task(
    P: np.ndarray, sequence: str, members: List[dict], options: dict
) -> List[dict]:
    """:func:`_validate_group` as a Ray task: the rows name the worker process that computed
    them."""
    return _validate_group(P, sequence, members, options, worker=f"ray-task-{os.getpid()}")


def _ray_for_validation(address: Optional[str], workers: int, gpus: float, cpus: float):
    """Ray for validate-many: room for the actors and at least one validation task (``cpus`` CPUs
    each).

    A local cluster gets this machine's CPUs (at least that room); a cluster without it is
    refused, since tasks waiting for CPUs the actors hold would wait for ever.

    Returns
    -------
    ray : module
    started : bool
        Whether this call initialised Ray (the caller then shuts it down).
    """
    need = workers * cpus + cpus
    ray, started = start_ray(
        address,
        num_cpus=max(os.cpu_count() or 1, int(np.ceil(need))),
        num_gpus=int(np.ceil(workers * gpus)) if gpus else None,
    )
    have = ray.cluster_resources().get("CPU", 0.0)
    if have < need:
        if started:
            ray.shutdown()
        raise ValueError(
            f"the Ray cluster has {have:g} CPUs: {workers} worker(s) x {cpus:g} CPUs leave none for"
            f" the validation tasks ({cpus:g} CPUs each); use fewer --workers or --cpus-per-worker"
        )
    return ray, started


def _scan_in_ray(ray, inputs, cpus: float) -> Tuple[List[dict], Dict[str, str]]:
    """:func:`_scan_models` in Ray tasks of :data:`SCAN_CHUNK` inputs, rows in input order."""
    slots = max(1, int(ray.cluster_resources().get("CPU", 1.0) // cpus))
    smallest, largest = SCAN_CHUNK
    chunk = min(
        largest, max(smallest, -(-len(inputs) // (4 * slots)))
    )  # about 4 tasks per CPU slot: balanced
    scan = ray.remote(num_cpus=cpus)(_scan_models)
    refs = [scan.remote(inputs[k : k + chunk]) for k in range(0, len(inputs), chunk)]
    rows, sequences = [], {}
    for ref in refs:
        try:
            found, seen = ray.get(ref)
        except ray.exceptions.RayTaskError as error:
            raise error.as_instanceof_cause() from None
        rows.extend(found)
        sequences.update(seen)
    return rows, sequences


def validate_many(
    structures: Sequence[Union[str, Path]],
    out: Union[str, Path],
    model: Optional[str] = None,
    *,
    regression: Optional[str] = None,
    top: Union[str, int] = "L",
    min_sep: int = MIN_SEP,
    threshold: Optional[float] = None,
    min_identity: Optional[float] = None,
    engine: str = "local",
    address: Optional[str] = None,
    workers: int = 1,
    gpus_per_worker: float = 0.0,
    cpus_per_worker: float = 1.0,
    device: str = "auto",
    dtype: Optional[str] = None,
    max_tokens: Optional[int] = None,
    max_memory: Optional[float] = None,
    progress: bool = False,
    predictor=None,
) -> BatchResult:
    """Check many structure models against contacts predicted once per distinct sequence, resumably.

    Every (structure, chain) is a model; models whose observed sequences are identical share
    one prediction (see :func:`_scan_models`). Each sequence is predicted (``engine`` as in
    :func:`predict_many`), its models are validated right away
    (:func:`esm_contacts.validation.validate`) and ranked
    (:func:`~esm_contacts.validation.rank_models`),
    and the map is dropped. Writes ``validation.parquet`` (one row per model, input order:
    structure, chain, sequence_id, status, error, residues, rank, agreement,
    agreement_long/medium/short, hints, first_hint with residues as the structure names them,
    worker) and ``ranking.tsv`` (per sequence, best model first). A second run skips the
    sequences whose models are all complete.

    With ``engine="ray"`` the CPU-only work runs in Ray tasks of ``cpus_per_worker`` CPUs
    beside the model actors: reading the structures (to group them by sequence), then, as
    each sequence's map arrives, validating its models (``worker``: ``ray-task-PID``); each
    sequence's rows are recorded when its task returns. The local engine does both in this
    process (``worker``: ``local``). Both give the same rows.

    Parameters
    ----------
    structures : sequence of str or Path
        What :func:`structure_inputs` reads: files, folders, globs, a TSV of structure, chain.
    out : str or Path
        Output folder (manifest and journal as :func:`predict_many`).
    model, regression, engine, address, workers, gpus_per_worker, cpus_per_worker : optional
        As :func:`predict_many`.
    device, dtype, max_tokens, max_memory, progress : optional
        As :func:`predict_many`.
    top, min_sep, threshold, min_identity
        As :func:`esm_contacts.validation.validate`.
    predictor : ContactPredictor, optional
        An already loaded predictor (local engine only); ``model`` then names it in the manifest.

    Returns
    -------
    result : BatchResult
        Counted in models; ``resumed``: models complete from an earlier run.
    """
    from .catalog import DEFAULT_MODEL
    from .options import check_option

    model = model or DEFAULT_MODEL
    if predictor is not None and engine != "local":
        raise ValueError("a loaded predictor runs on the local engine only")
    min_sep, _ = _check_options(
        top, min_sep, None, engine, workers, gpus_per_worker, cpus_per_worker, address
    )
    if threshold is not None:
        threshold = check_option("probability", "threshold", threshold)
    if min_identity is not None:
        min_identity = check_option("probability", "min_identity", min_identity)
    inputs = structure_inputs(structures)
    if not inputs:
        raise ValueError("no structure to validate")
    options = {
        "top": str(top),
        "min_sep": min_sep,
        "threshold": threshold,
        "min_identity": min_identity,
    }
    identity = {
        "model": _file_identity(model),
        "regression": _file_identity(regression),
        "dtype": dtype,
        **options,
    }
    with contextlib.ExitStack() as stack:
        ray = None
        if engine == "ray":  # before the folder: a cluster without room leaves no output behind
            ray, started = _ray_for_validation(address, workers, gpus_per_worker, cpus_per_worker)
            if started:
                stack.callback(ray.shutdown)  # only the Ray this run started
        folder = _Folder(out, "validate-many", identity, parts=False)
        stack.callback(folder.close)
        rows, sequences = (
            _scan_models(inputs) if ray is None else _scan_in_ray(ray, inputs, cpus_per_worker)
        )
        complete = folder.complete()
        groups: Dict[str, List[dict]] = {}
        for row in rows:
            if row["status"] == "ok":
                groups.setdefault(row["sequence_id"], []).append(row)
        todo = [
            (sid, sequences[sid], sid)
            for sid, members in groups.items()
            if any(m["name"] not in complete for m in members)
        ]
        resumed = sum(
            len(members)
            for sid, members in groups.items()
            if all(m["name"] in complete for m in members)
        )
        failed = [row for row in rows if row["status"] == "error"]
        if failed:
            folder.record(failed)
        # The map is only needed here: predicted densely (maps=True), listing one pair per residue
        # is cheap.
        settings = _Settings(
            model, regression, device, dtype, max_tokens, max_memory, "L", min_sep, None, True
        )
        bar = _bar(sum(len(seq) for _, seq, _ in todo), progress)
        tasks = None if ray is None else _RayTasks(ray, TASKS_IN_FLIGHT * workers)
        check = None if ray is None else ray.remote(num_cpus=cpus_per_worker)(_validate_in_task)

        def failed_group(members: List[dict], error: str) -> None:
            folder.record([dict(m, status="error", error=error) for m in members])

        def write(results: List[dict]) -> None:
            for r in results:
                members = groups[r["name"]]
                if r["status"] != "ok":
                    warnings.warn(
                        f"sequence {r['name']} ({len(members)} model(s)): {r['error']}",
                        stacklevel=2,
                    )
                    failed_group(members, r["error"])
                elif tasks is None:
                    folder.record(_validate_group(r["map"], r["sequence"], members, options))
                else:
                    # Recorded when the task returns: resuming redoes a sequence whose task
                    # never did.
                    tasks.submit(
                        check.remote(r["map"], r["sequence"], members, options),
                        folder.record,
                        lambda error, members=members: failed_group(members, error),
                    )
            bar.update(sum(r["length"] for r in results))

        try:
            if todo:
                ENGINES[engine](
                    todo,
                    settings,
                    write,
                    {
                        "address": address,
                        "workers": workers,
                        "gpus_per_worker": gpus_per_worker,
                        "cpus_per_worker": cpus_per_worker,
                        "predictor": predictor,
                        "pending": tasks,
                    },
                )
            if tasks is not None:
                tasks.drain()
        finally:
            bar.close()
        return _finish_validation(folder, rows, resumed)


def _finish_validation(folder: _Folder, rows: List[dict], resumed: int) -> BatchResult:
    import pyarrow as pa

    final = [folder.done.get(row["name"], row) for row in rows]
    types = {"rank": pa.int64(), "residues": pa.int64(), "hints": pa.int64()}
    table = pa.table(
        {
            key: pa.array(
                [row.get(key) for row in final],
                type=types.get(key, pa.float64() if key.startswith("agreement") else pa.string()),
            )
            for key in VALIDATION_COLUMNS
        }
    )
    _write_parquet(folder.out / VALIDATION, table)
    from .io import atomic_write

    ranked = sorted(
        (row for row in final if row["status"] == "ok"), key=lambda r: (r["sequence_id"], r["rank"])
    )
    with atomic_write(folder.out / RANKING) as stream:
        stream.write("sequence_id\trank\tstructure\tchain\tagreement\tagreement_long\thints\n")
        for row in ranked:
            stream.write(
                f"{row['sequence_id']}\t{row['rank']}\t{row['structure']}\t{row['chain']}\t"
                f"{row['agreement']:.4f}\t{row['agreement_long']:.4f}\t{row['hints']}\n"
            )
    count = {status: sum(row["status"] == status for row in final) for status in ("ok", "error")}
    return BatchResult(folder.out, len(final), count["ok"], count["error"], 0, resumed)
