#!/usr/bin/env python
"""Time and peak memory of ``ContactPredictor.predict`` against fair-esm's ``predict_contacts``.

By default the model is a full-size ESM-1b architecture (33 layers, 1280-dim, 20 heads)
with RANDOM weights and a regression with every head non-zero (the worst case for head
skipping): it measures cost, never accuracy. It is built once and saved in fair-esm's
checkpoint layout (about 2.6 GB) under ``--cache``, then loaded through the package's
loader. Peak memory is measured as ``../shared/MEASURING.md`` says: reset the process's
high-water mark (``/proc/self/clear_refs``), run, and read ``VmHWM`` minus the ``VmRSS``
just before. Both methods run on the same model object and the same sequence; fair-esm
only where it fits (L <= 1022).

``--msa-transformer``: the full-size MSA Transformer architecture (12 layers, 768-dim,
12 heads, random weights, saved the same way) on random alignments of ``--msa-length``
columns and ``--rows`` rows: ``predict_msa`` (layers one at a time, tied row attention
only) against fair-esm's ``predict_contacts`` on the same rows, interleaved (``--msa-repeats``)
so that both see the same load; wall time, this process's CPU time, peak, and the 1-minute
load average before each run.

Examples
--------
python scripts/benchmark.py                          # L = 256, 512, 1022, 2000, 5000
python scripts/benchmark.py --msa-transformer        # L = 300, R = 32, 64, 128
python scripts/benchmark.py --msa-transformer --rows 128 --msa-repeats 2   # ours, fair-esm, ...
python scripts/benchmark.py --lengths 256 512 --repeats 5
python scripts/benchmark.py --model esm1b_t33_650M_UR50S   # real weights, when cached
python scripts/benchmark.py --structures             # true_contacts, map_sequence of 4JSV
python scripts/benchmark.py --load                   # load peak against the model's size
"""

import argparse
import ctypes
import gc
import statistics
import sys
import time
import warnings
from argparse import Namespace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from esm_contacts.predictor import ContactPredictor  # noqa: E402

AMINO_ACIDS = "ACDEFGHIKLMNPQRSTVWY"


def memory_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def release_free_memory() -> None:
    """Return freed heap pages to the OS, so one call's peak is not hidden by reuse of
    memory that an earlier call left resident."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:  # not glibc
        pass


def measure(function, *args, device: torch.device = torch.device("cpu")):
    """(seconds, peak bytes above the memory in use before the call) of one call.

    On a GPU the peak is the CUDA allocator's (the tensors live there); on the CPU it is
    the process's high-water mark above its resident set (MEASURING.md).

    Parameters
    ----------
    function : callable
        What to measure.
    *args
        Its arguments.
    device : torch.device
        Where the tensors live.

    Returns
    -------
    seconds : float
        Wall time of the call.
    peak : int
        Peak bytes above what was in use before it.
    """
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        start = time.perf_counter()
        function(*args)
        torch.cuda.synchronize(device)
        return time.perf_counter() - start, torch.cuda.max_memory_allocated(device) - before
    gc.collect()
    release_free_memory()
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # VmHWM := current RSS
    before = memory_kib("VmRSS")
    start = time.perf_counter()
    function(*args)
    seconds = time.perf_counter() - start
    return seconds, (memory_kib("VmHWM") - before) * 1024


def random_esm1b(path: Path) -> Path:
    """Write a full-size ESM-1b architecture with random weights in fair-esm's layout.

    Parameters
    ----------
    path : Path
        The checkpoint to write (kept and reused when it exists), its regression beside it.

    Returns
    -------
    path : Path
        The checkpoint.
    """
    import esm

    if path.is_file() and path.with_name(path.stem + "-contact-regression.pt").is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    layers, heads = 33, 20
    args = Namespace(
        arch="roberta_large",
        layers=layers,
        embed_dim=1280,
        ffn_embed_dim=5120,
        attention_heads=heads,
        max_positions=1024,
        emb_layer_norm_before=True,
    )
    model = esm.ProteinBertModel(args, esm.Alphabet.from_architecture("roberta_large"))
    state = {
        ("encoder." if k.startswith("lm_head") else "encoder.sentence_encoder.") + k: v
        for k, v in model.state_dict().items()
        if not k.startswith("contact_head")
    }
    saved_args = Namespace(
        arch="roberta_large",
        encoder_layers=layers,
        encoder_embed_dim=1280,
        encoder_ffn_embed_dim=5120,
        encoder_attention_heads=heads,
        max_positions=1024,
        token_dropout=True,
    )
    torch.save({"args": saved_args, "model": state}, path)
    weight = torch.randn(1, layers * heads) * 0.1  # every head non-zero: the worst case
    torch.save(
        {
            "model": {
                "contact_head.regression.weight": weight,
                "contact_head.regression.bias": torch.tensor([-3.0]),
            }
        },
        path.with_name(path.stem + "-contact-regression.pt"),
    )
    return path


def random_msa_transformer(path: Path) -> Path:
    """Write a full-size MSA Transformer architecture with random weights in fair-esm's layout.

    As the released checkpoint: ``encoder_`` args, prefixed keys with ``row`` and ``column``
    swapped (fair-esm's loader swaps them back), fair-esm's default ``max_tokens_per_msa``.

    Parameters
    ----------
    path : Path
        The checkpoint to write (kept and reused when it exists), its regression beside it.

    Returns
    -------
    path : Path
        The checkpoint.
    """
    import esm

    if path.is_file() and path.with_name(path.stem + "-contact-regression.pt").is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    layers, heads = 12, 12
    shape = dict(
        layers=layers,
        embed_dim=768,
        ffn_embed_dim=3072,
        attention_heads=heads,
        max_positions=1024,
        max_tokens_per_msa=2**14,
        max_tokens=2**14,
        dropout=0.1,
        attention_dropout=0.1,
        activation_dropout=0.1,
        embed_positions_msa=True,
    )
    model = esm.MSATransformer(
        Namespace(**shape), esm.Alphabet.from_architecture("msa_transformer")
    )

    def swap(key):
        return key.replace("row", "column") if "row" in key else key.replace("column", "row")

    state = {
        swap(("encoder." if k.startswith("lm_head") else "encoder.sentence_encoder.") + k): v
        for k, v in model.state_dict().items()
        if not k.startswith("contact_head")
    }
    saved = {
        (
            "encoder_" + k
            if k in ("layers", "embed_dim", "ffn_embed_dim", "attention_heads")
            else k
        ): v
        for k, v in shape.items()
    }
    torch.save({"args": Namespace(arch="msa_transformer", **saved), "model": state}, path)
    weight = torch.randn(1, layers * heads) * 0.1  # every head non-zero: the worst case
    torch.save(
        {
            "model": {
                "contact_head.regression.weight": weight,
                "contact_head.regression.bias": torch.tensor([-3.0]),
            }
        },
        path.with_name(path.stem + "-contact-regression.pt"),
    )
    return path


def random_alignment(rng, length: int, rows: int):
    """A query and ``rows - 1`` rows of random residues with about 10% gaps.

    Parameters
    ----------
    rng : numpy.random.Generator
        The random source.
    length : int
        Alignment columns.
    rows : int
        Rows, the query included.

    Returns
    -------
    alignment : list of (str, str)
        ``(name, row)`` pairs, the query first.
    """
    query = "".join(rng.choice(list(AMINO_ACIDS), size=length))
    others = [
        "".join(np.where(rng.random(length) < 0.1, "-", rng.choice(list(AMINO_ACIDS), size=length)))
        for _ in range(rows - 1)
    ]
    return [("query", query)] + [(f"row{k}", row) for k, row in enumerate(others, 1)]


def fair_esm_msa(predictor: ContactPredictor, alignment) -> np.ndarray:
    _, _, tokens = predictor.alphabet.get_batch_converter()(alignment)
    with torch.no_grad():
        return predictor.model.predict_contacts(tokens.to(predictor.device))[0].cpu().numpy()


def load_average() -> str:
    """The 1-minute load average (``/proc/loadavg``), reported next to every figure.

    Returns
    -------
    load : str
        As the kernel writes it; ``"n/a"`` where it cannot be read.
    """
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "n/a"


def timed(function, device: torch.device):
    """(wall s, CPU s of this process, peak bytes, 1-minute load average before) of one call.

    Parameters
    ----------
    function : callable
        Called without arguments.
    device : torch.device
        Where the tensors live.

    Returns
    -------
    figures : tuple
        Wall seconds, CPU seconds, peak bytes, load average.
    """
    load, cpu = load_average(), time.process_time()
    seconds, peak = measure(function, device=device)
    return seconds, time.process_time() - cpu, peak, load


def msa_transformer_benchmark(args) -> int:
    from esm_contacts.msa_transformer import chunk_tokens

    source = args.model or str(random_msa_transformer(Path(args.cache) / "esm_msa_random_t12.pt"))
    predictor = ContactPredictor.from_pretrained(
        source, device=args.device, max_tokens_per_msa=args.max_tokens_per_msa
    )
    rng = np.random.default_rng(0)
    warm = random_alignment(rng, 30, 4)
    predictor.predict_msa(warm, num_seqs=4, strategy="first")
    fair_esm_msa(predictor, warm)
    print(
        f"model: {predictor.name} ({'random weights' if args.model is None else args.model}), "
        f"{predictor.num_layers} layers x {predictor.num_heads} heads; device {predictor.device}; "
        f"torch threads {torch.get_num_threads()}; L = {args.msa_length}; max_tokens_per_msa: ours "
        f"{predictor.max_tokens_per_msa or 'automatic'}, fair-esm's "
        f"{predictor.model.layers[0].row_self_attention.layer.max_tokens_per_msa}; "
        f"{args.msa_repeats} interleaved run(s) each (ours, fair-esm, ours, ...): medians"
    )
    print(
        "| R | chunk (tokens) | ours time (s) | ours CPU (s) | ours peak (GB) | estimate (GB) "
        "| fair-esm time (s) | fair-esm CPU (s) | fair-esm peak (GB) | time ratio | CPU ratio "
        "| memory ratio | max abs diff | load avg |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for rows in args.rows:
        alignment = random_alignment(rng, args.msa_length, rows)
        chunk = chunk_tokens(
            predictor.model, rows, args.msa_length + 1, predictor.max_tokens_per_msa
        )
        estimate = predictor.estimate_memory([args.msa_length], rows=rows)
        maps, ours, theirs = {}, [], []
        for _ in range(args.msa_repeats):
            ours.append(
                timed(
                    lambda: maps.update(ours=predictor.predict_msa(alignment, rows, "first")),
                    predictor.device,
                )
            )
            if not args.no_fair_esm:
                theirs.append(
                    timed(
                        lambda: maps.update(theirs=fair_esm_msa(predictor, alignment)),
                        predictor.device,
                    )
                )
        loads = [run[3] for pair in zip(ours, theirs or ours) for run in pair]
        ours_time, ours_cpu = (statistics.median(run[k] for run in ours) for k in (0, 1))
        ours_peak = max(run[2] for run in ours)
        row = (
            f"| {rows} | {chunk} | {ours_time:.1f} | {ours_cpu:.1f} | {ours_peak / 1e9:.3f}"
            f" | {estimate / 1e9:.3f} |"
        )
        if theirs:
            theirs_time, theirs_cpu = (statistics.median(run[k] for run in theirs) for k in (0, 1))
            theirs_peak = max(run[2] for run in theirs)
            difference = np.abs(maps["ours"] - maps["theirs"]).max()
            row += (
                f" {theirs_time:.1f} | {theirs_cpu:.1f} | {theirs_peak / 1e9:.3f}"
                f" | {ours_time / theirs_time:.2f} | {ours_cpu / theirs_cpu:.2f}"
                f" | {ours_peak / theirs_peak:.3f} | {difference:.1e} |"
            )
        else:
            row += " n/a | n/a | n/a | | | | |"
        print(row + f" {' / '.join(loads)} |", flush=True)
    return 0


def peak_since_reset():
    """Start a measurement (MEASURING.md); the returned function gives the peak bytes since,
    above the start.

    Returns
    -------
    peak : callable
        Gives the peak bytes since the start, above the memory in use then.
    """
    gc.collect()
    release_free_memory()
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")
    before = memory_kib("VmRSS")
    return lambda: (memory_kib("VmHWM") - before) * 1024


def measure_load(source: str, label: str, fair_esm: bool = True) -> int:
    """Print the load peak of ``load_model`` (and through the first prediction) against the
    model's bytes.

    Parameters
    ----------
    source : str
        A model name or checkpoint path.
    label : str
        How the model is named in the output.
    fair_esm : bool
        Also measure fair-esm's own loader.

    Returns
    -------
    status : int
        0.
    """
    from esm_contacts.models import load_model

    load_model(source)  # one-off costs (imports, lazy initialisation), then measure a clean load
    gc.collect()
    peak = peak_since_reset()
    start = time.perf_counter()
    model, alphabet, name = load_model(source)
    seconds, loaded = time.perf_counter() - start, peak()
    size = sum(p.numel() * p.element_size() for p in model.parameters())
    predictor = ContactPredictor(model, alphabet, name=name, device="cpu")
    predictor.predict(
        "MKTAYIAKQRQISFVKSHFSRQ"
    )  # every weight read once: the mapped pages are now resident
    first = peak()
    print(f"model: {name} ({label}), {size / 1e9:.2f} GB of float32 weights")
    print(
        "| loader | load time (s) | load peak (GB) | peak through first prediction (GB) | peak -"
        " model (GB) |"
    )
    print("|---|---:|---:|---:|---:|")
    print(
        f"| esm_contacts.load_model (mmap, meta, assign) | {seconds:.1f} | {loaded / 1e9:.2f} |"
        f" {first / 1e9:.2f} | {(first - size) / 1e9:+.2f} |",
        flush=True,
    )
    del predictor, model
    if fair_esm:
        import esm.pretrained

        from esm_contacts.checkpoints import safe_load

        peak = peak_since_reset()
        start = time.perf_counter()
        data = safe_load(source)
        regression = safe_load(Path(source).with_name(Path(source).stem + "-contact-regression.pt"))
        model, _ = esm.pretrained.load_model_and_alphabet_core(Path(source).stem, data, regression)
        del data, regression
        seconds, loaded = time.perf_counter() - start, peak()
        print(
            f"| fair-esm load_model_and_alphabet_core (read, build, copy) | {seconds:.1f} |"
            f" {loaded / 1e9:.2f} | | {(loaded - size) / 1e9:+.2f} |"
        )
    return 0


def fair_esm_predict(predictor: ContactPredictor, sequence: str) -> np.ndarray:
    tokens = predictor.tokenize([sequence])
    with torch.no_grad():
        return predictor.model.predict_contacts(tokens.to(predictor.device))[0].cpu().numpy()


def helix_chain(length: int, per_helix: int = 100, spacing: float = 10.0):
    """A chain of ideal alpha helices of `per_helix` residues on a square grid (N, CA, C atoms).

    Parameters
    ----------
    length : int
        Residues.
    per_helix : int
        Residues per helix.
    spacing : float
        Distance between neighbouring helix axes, in Angstrom.

    Returns
    -------
    atoms : biotite.structure.AtomArray
        Chain A, alanines, backbone atoms only (the Cb is virtual).
    """
    import biotite.structure as struc

    side = int(np.ceil(np.sqrt(np.ceil(length / per_helix))))
    index = np.arange(length)
    helix, position = index // per_helix, index % per_helix
    angle = np.radians(100.0) * position
    centre = np.stack(
        [(helix % side) * spacing, (helix // side) * spacing, np.zeros(length)], axis=1
    )
    coords = []
    for radius, phase, rise in ((1.55, -0.5, -0.8), (2.3, 0.0, 0.0), (1.6, 0.6, 0.9)):  # N, CA, C
        coords.append(
            centre
            + np.stack(
                [
                    radius * np.cos(angle + phase),
                    radius * np.sin(angle + phase),
                    1.5 * position + rise,
                ],
                axis=1,
            )
        )
    atoms = struc.AtomArray(3 * length)
    atoms.coord = np.stack(coords, axis=1).reshape(-1, 3)
    atoms.chain_id[:] = "A"
    atoms.res_id = np.repeat(index + 1, 3)
    atoms.res_name[:] = "ALA"
    atoms.atom_name = np.tile(["N", "CA", "C"], length)
    atoms.element = np.tile(["N", "C", "C"], length)
    return atoms


def structure_benchmark(args) -> int:
    """Time the structure layer's central calls (timings the tests do not assert).

    Parameters
    ----------
    args : argparse.Namespace
        The command line; ``args.data`` is the folder of the real structures.

    Returns
    -------
    status : int
        0.
    """
    from esm_contacts.structure import entity_sequence, load_structure, map_sequence, true_contacts

    print("| call | input | best of 3 (s) |")
    print("|---|---|---:|")
    for length in (1000, 5000):
        atoms = helix_chain(length)
        true_contacts(atoms, "A")  # warm-up: imports
        best = min(_seconds(true_contacts, atoms, "A") for _ in range(3))
        print(f"| true_contacts | {length}-residue chain (virtual Cb) | {best:.3f} |", flush=True)
    data = Path(args.data)
    structure = load_structure(data / "4JSV.pdb")
    entity = entity_sequence(structure, "A")
    best = min(_seconds(map_sequence, entity, structure, "A") for _ in range(3))
    print(
        f"| map_sequence | 4JSV A: {len(entity)} SEQRES residues onto the observed | {best:.3f} |"
    )
    best = min(_seconds(load_structure, data / "4JSV.pdb") for _ in range(3))
    print(f"| load_structure | 4JSV.pdb | {best:.3f} |")
    return 0


def _seconds(function, *args) -> float:
    started = time.perf_counter()
    function(*args)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", help="model name or .pt (default: random full-size ESM-1b)")
    parser.add_argument(
        "--cache",
        default=str(Path.home() / ".cache" / "esm-contacts" / "benchmark"),
        help="folder for the random-weights checkpoint",
    )
    parser.add_argument("--lengths", type=int, nargs="+", default=[256, 512, 1022, 2000, 5000])
    parser.add_argument(
        "--repeats", type=int, default=3, help="runs per length (median); 1 above 1022"
    )
    parser.add_argument("--device", default="auto")
    parser.add_argument(
        "--no-fair-esm", action="store_true", help="skip fair-esm's predict_contacts"
    )
    parser.add_argument(
        "--msa-transformer",
        action="store_true",
        help=(
            "benchmark the MSA Transformer (random full-size weights unless --model) on alignments"
        ),
    )
    parser.add_argument(
        "--rows", type=int, nargs="+", default=[32, 64, 128], help="alignment depths R"
    )
    parser.add_argument("--msa-length", type=int, default=300, help="alignment columns L")
    parser.add_argument(
        "--msa-repeats",
        type=int,
        default=1,
        help="interleaved runs (ours, fair-esm, ours, ...) per depth; medians",
    )
    parser.add_argument(
        "--max-tokens-per-msa",
        type=int,
        default=None,
        help="our chunk in tokens (default: automatic, from the memory bound)",
    )
    parser.add_argument(
        "--structures",
        action="store_true",
        help="time the structure layer instead: true contacts of long chains, sequence mapping",
    )
    parser.add_argument(
        "--data",
        default=str(Path(__file__).resolve().parent.parent.parent / "shared" / "data"),
        help="the real structures (default ../shared/data)",
    )
    parser.add_argument(
        "--load",
        action="store_true",
        help="measure loading instead: peak of load_model and of the first prediction, model size",
    )
    args = parser.parse_args()
    if args.structures:
        return structure_benchmark(args)
    if args.msa_transformer:
        return msa_transformer_benchmark(args)

    label = "random weights" if args.model is None else args.model
    source = args.model or str(random_esm1b(Path(args.cache) / "esm1b_random_t33.pt"))
    if args.load:
        return measure_load(source, label, fair_esm=not args.no_fair_esm)
    predictor = ContactPredictor.from_pretrained(source, device=args.device)
    rng = np.random.default_rng(0)
    predictor.predict("MKTAYIAKQRQISFVKSHFSRQ")  # warm-up
    if not args.no_fair_esm:
        fair_esm_predict(predictor, "MKTAYIAKQRQISFVKSHFSRQ")
    print(
        f"model: {predictor.name} ({label}), {predictor.num_layers} layers x {predictor.num_heads}"
        f" heads, {predictor.active_heads} active; device {predictor.device}; torch threads"
        f" {torch.get_num_threads()}"
    )
    print(
        "| L | ours time (s) | ours peak (GB) | fair-esm time (s) | fair-esm peak (GB) | time ratio"
        " | memory ratio | max abs diff |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for length in args.lengths:
        sequence = "".join(rng.choice(list(AMINO_ACIDS), size=length))
        repeats = args.repeats if length <= predictor.max_length else 1
        ours = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the uncovered-pairs warning of long sequences
            for _ in range(repeats):
                ours.append(measure(predictor.predict, sequence, device=predictor.device))
        ours_time = statistics.median(t for t, _ in ours)
        ours_peak = max(m for _, m in ours)
        row = f"| {length} | {ours_time:.2f} | {ours_peak / 1e9:.3f} |"
        if length <= predictor.max_length and not args.no_fair_esm:
            theirs = [
                measure(fair_esm_predict, predictor, sequence, device=predictor.device)
                for _ in range(repeats)
            ]
            theirs_time = statistics.median(t for t, _ in theirs)
            theirs_peak = max(m for _, m in theirs)
            difference = np.abs(
                predictor.predict(sequence) - fair_esm_predict(predictor, sequence)
            ).max()
            row += (
                f" {theirs_time:.2f} | {theirs_peak / 1e9:.3f} | {ours_time / theirs_time:.2f} |"
                f" {ours_peak / theirs_peak:.3f} | {difference:.1e} |"
            )
        else:
            row += " n/a | n/a | | | |"
        print(row, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
