#!/usr/bin/env python
"""Precision of the paper's Table 2 variants over a set of chains, with a CSV beside it.

For every entry ``STRUCTURE:CHAIN[:MSA]`` the variants are: the single sequence (the
model's regression), the top-1/5/10 heads (APC maps of the heads with the largest
regression weights averaged, no regression) and, where an MSA is given, MSA ensembles
of s = 16, 32, 64 sequences (the first s, query included; one pass over the first 64
rows, the smaller ensembles read on the way). The table shows the mean
over chains of precision at L, L/2, L/5 per range (``esm_contacts.metrics.evaluate``);
the CSV has one line per chain, variant and range, then the means.

With an entry's MSA, its query is the predicted sequence for every variant and the
truth is mapped onto it (``true_contacts(..., sequence=query)``); without one, the
chain's observed sequence. A model that is not a released fair-esm model (e.g. the
tests' tiny random checkpoints) measures plumbing only, not accuracy; the output says so.
Top-k head maps are sigmoid(mean APC) values near 0.5: only their ranking (precision)
means anything.

With ``--msa-transformer MODEL`` (an MSA Transformer, e.g. ``esm_msa1b_t12_100M_UR50S``)
every entry with an MSA also gets an "MSA Transformer" row: that model's contact map of
``--msa-transformer-seqs`` rows (default 128) of the whole alignment, chosen by its default
selection (greedy maximum Hamming distance, ``ContactPredictor.predict_msa``).

All entries (structures, chains, MSAs, truth) and the CSV folder are checked before the
model is loaded; a bad one is one stderr line and exit code 2. The CSV is written
atomically.

Examples
--------
python scripts/evaluate_dataset.py --model esm1b_t33_650M_UR50S \
    ../shared/data/1a3a.pdb:A:../shared/data/1a3a_1_A.a3m ../shared/data/1hvr.pdb:A \
    ../shared/data/4zey.cif:A:../shared/data/4zey_A_bfd_uniclust_hits.a3m --csv table2.csv
"""

import argparse
import csv
import math
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from esm_contacts.catalog import KNOWN_MODELS  # noqa: E402
from esm_contacts.io import atomic_write, check_output_path  # noqa: E402
from esm_contacts.metrics import evaluate_set, format_table  # noqa: E402
from esm_contacts.msa import read_msa, select_sequences  # noqa: E402
from esm_contacts.msa_transformer import MAX_ROWS  # noqa: E402
from esm_contacts.predictor import ContactPredictor  # noqa: E402
from esm_contacts.sequence import clean_sequence  # noqa: E402
from esm_contacts.structure import load_chain  # noqa: E402

TOP_HEADS = (1, 5, 10)
#: The variant name of ``--msa-transformer`` rows.
MSA_TRANSFORMER = "MSA Transformer"
MSA_SIZES = (16, 32, 64)


def parse_entry(text: str):
    """``STRUCTURE:CHAIN[:MSA]`` -> (structure path, chain, msa path or None).

    Parameters
    ----------
    text : str
        One ``entries`` argument of the command line.

    Returns
    -------
    structure : str
        Structure file path.
    chain : str
        Chain ID.
    msa : str or None
        Alignment path, None without one.

    Raises
    ------
    ValueError
        Not two or three non-empty fields.
    """
    parts = text.split(":")
    if len(parts) not in (2, 3) or not all(parts):
        raise ValueError(f"entry {text!r}: expected STRUCTURE:CHAIN or STRUCTURE:CHAIN:MSA")
    return parts[0], parts[1], (parts[2] if len(parts) == 3 else None)


def load_entry(text: str) -> dict:
    """Everything an entry needs before the model: structure, chain, MSA rows, truth.

    Parameters
    ----------
    text : str
        ``STRUCTURE:CHAIN[:MSA]``.

    Returns
    -------
    entry : dict
        ``label``, ``sequence`` (the MSA query, else the chain's full construct where the file gives
        it),
        ``msa`` (the first ``max(MSA_SIZES)`` usable rows, or None) and ``T``.

    Raises
    ------
    ValueError, OSError
        Bad entry syntax, unreadable file, a chain the structure lacks, a bad alignment
        or sequence (messages name the entry's file or chain).
    """
    path, chain, msa_path = parse_entry(text)
    label = f"{Path(path).name}:{chain}"
    alignment = read_msa(msa_path) if msa_path else None
    msa = select_sequences(alignment, max(MSA_SIZES)) if msa_path else None
    # The MSA's query, else the full construct where the file gives it (unobserved: -1).
    _, sequence, T = load_chain(path, chain, sequence=msa[0][1] if msa else None)
    clean_sequence(sequence, name=label)  # a letter the model rejects fails now, not mid-run
    return {"label": label, "sequence": sequence, "msa": msa, "alignment": alignment, "T": T}


def single_variants(predictor: ContactPredictor):
    """(name, function(sequence) -> P) of the single-sequence Table 2 variants the model allows.

    A top-k row needs k heads with a positive regression weight
    (:meth:`esm_contacts.regression.ContactRegression.top_heads`); others are skipped
    with a notice. Top-k maps rank pairs; their values (near 0.5) are not probabilities.

    Parameters
    ----------
    predictor : ContactPredictor
        The loaded model.

    Returns
    -------
    variants : list of tuple
        ``(name, function)``, single sequence first.
    """
    found = [("single sequence", predictor.predict)]
    positive = int((predictor.weight > 0).sum())
    for k in TOP_HEADS:
        if k <= positive:
            found.append((f"top-{k} heads", predictor.with_top_heads(k).predict))
        else:
            print(
                f"top-{k} heads skipped: only {positive} heads of {predictor.name} have a positive"
                " weight",
                file=sys.stderr,
            )
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("entries", nargs="+", metavar="STRUCTURE:CHAIN[:MSA]")
    parser.add_argument("--model", required=True, help="fair-esm model name or .pt path")
    parser.add_argument("--device", default="auto")
    parser.add_argument(
        "--csv", default="evaluate_dataset.csv", help="CSV output (default evaluate_dataset.csv)"
    )
    parser.add_argument(
        "--msa-transformer",
        metavar="MODEL",
        help=(
            "also an 'MSA Transformer' row from this MSA Transformer (name or .pt) on entries "
            "with an MSA"
        ),
    )
    parser.add_argument(
        "--msa-transformer-seqs",
        type=int,
        default=128,
        metavar="N",
        help=(
            "alignment rows the MSA Transformer sees, the query included (default 128, at most"
            " 1024)"
        ),
    )
    args = parser.parse_args(argv)
    try:
        return run(args)
    except (ValueError, OSError) as error:
        print(f"evaluate_dataset.py: error: {error}", file=sys.stderr)
        return 2


def run(args) -> int:
    # Every input is read and checked before the model is loaded: a bad last entry or a
    # missing CSV folder fails in seconds, not after the predictions.
    csv_path = check_output_path(args.csv)
    if args.msa_transformer and not 1 <= args.msa_transformer_seqs <= MAX_ROWS:
        raise ValueError(
            f"--msa-transformer-seqs {args.msa_transformer_seqs}: the MSA Transformer takes 1 to "
            f"{MAX_ROWS} rows"
        )
    entries = [load_entry(text) for text in args.entries]
    predictor = ContactPredictor.from_pretrained(args.model, device=args.device)
    msa_transformer = None
    if args.msa_transformer:
        msa_transformer = ContactPredictor.from_pretrained(args.msa_transformer, device=args.device)
        if not msa_transformer.is_msa_transformer:
            raise ValueError(f"--msa-transformer {args.msa_transformer}: not an MSA Transformer")
    plumbing = predictor.name not in KNOWN_MODELS
    variants = single_variants(predictor)
    msa_names = [f"MSA s={s}" for s in MSA_SIZES] if any(entry["msa"] for entry in entries) else []
    rows, seconds = [], {name: 0.0 for name, _ in variants}
    msa_seconds = 0.0
    if msa_transformer is not None and msa_names:
        seconds[MSA_TRANSFORMER] = 0.0
    for entry in entries:
        label, sequence, msa, T = entry["label"], entry["sequence"], entry["msa"], entry["T"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # window notices, once per sequence
            for name, predict in variants:
                start = time.perf_counter()
                rows.append((label, name, predict(sequence), T))
                seconds[name] += time.perf_counter() - start
            if msa:
                # One pass over the first max(s) rows; the smaller ensembles are read on the way.
                start = time.perf_counter()
                maps = predictor.predict_msa_sizes(msa, MSA_SIZES)
                msa_seconds += time.perf_counter() - start
                rows.extend((label, f"MSA s={s}", maps[s], T) for s in MSA_SIZES)
                if msa_transformer is not None:
                    start = time.perf_counter()
                    P = msa_transformer.predict_msa(
                        entry["alignment"], num_seqs=args.msa_transformer_seqs
                    )
                    seconds[MSA_TRANSFORMER] += time.perf_counter() - start
                    rows.append((label, MSA_TRANSFORMER, P, T))
        print(
            f"{label}: {len(sequence)}"
            f" residues{', MSA of ' + str(len(msa)) + ' rows used' if msa else ''}",
            file=sys.stderr,
        )
    per_protein, mean = evaluate_set(rows)
    counts = {
        name: sum(1 for row in per_protein if row["variant"] == name)
        for name in [*seconds, *msa_names]
    }

    title = f"Table 2 layout: mean precision (%) over chains, model {predictor.name}"
    if MSA_TRANSFORMER in seconds:
        title += (
            f"; {MSA_TRANSFORMER} row: {msa_transformer.name}, {args.msa_transformer_seqs} rows"
        )
        plumbing = plumbing or msa_transformer.name not in KNOWN_MODELS
    if plumbing:
        title += (
            "\nPLUMBING ONLY: not a released fair-esm model (random weights?); numbers do not"
            " measure accuracy"
        )
    print(title)
    print(format_table(mean))
    msa_chains = {row["name"] for row in per_protein if row["variant"].startswith("MSA")}
    if msa_chains and len(msa_chains) < len(entries):
        # Like for like: every variant on the chains that have an MSA.
        _, subset = evaluate_set([row for row in rows if row[0] in msa_chains])
        print(f"chains with an MSA only ({len(msa_chains)}):")
        print(format_table(subset))
    timing = [f"{name} {counts[name]} ({seconds[name]:.1f} s)" for name in seconds]
    if msa_names:
        timing.append(
            f"{', '.join(msa_names)} {counts[msa_names[0]]} (one pass: {msa_seconds:.1f} s)"
        )
    print("chains per variant: " + ", ".join(timing))

    def model_name(variant: str) -> str:
        return msa_transformer.name if variant == MSA_TRANSFORMER else predictor.name

    with atomic_write(csv_path, "w") as stream:
        writer = csv.writer(stream)
        writer.writerow(
            ["model", "chain", "variant", "length", "range", "L", "L/2", "L/5", "plumbing_only"]
        )
        for row in per_protein:
            for range_name, values in row["table"].items():
                writer.writerow(
                    [
                        model_name(row["variant"]),
                        row["name"],
                        row["variant"],
                        row["length"],
                        range_name,
                        *(_number(values[top]) for top in ("L", "L/2", "L/5")),
                        plumbing,
                    ]
                )
        for variant, table in mean.items():
            for range_name, values in table.items():
                writer.writerow(
                    [
                        model_name(variant),
                        "MEAN",
                        variant,
                        "",
                        range_name,
                        *(_number(values[top]) for top in ("L", "L/2", "L/5")),
                        plumbing,
                    ]
                )
    print(f"CSV: {csv_path}", file=sys.stderr)
    return 0


def _number(value) -> str:
    return (
        "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4f}"
    )


if __name__ == "__main__":
    sys.exit(main())
