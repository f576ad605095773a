#!/usr/bin/env python
"""Precision of the paper's Table 2 variants over a set of chains, with a CSV beside it.

For every entry ``STRUCTURE:CHAIN[:MSA]`` the variants are: the single sequence (the
model's regression), the top-1/5/10 heads (APC maps of the heads with the largest
regression weights averaged, no regression) and, where an MSA is given, MSA ensembles
of s = 16, 32, 64 sequences (the first s, query included). The table shows the mean
over chains of precision at L, L/2, L/5 per range (``esm_contacts.metrics.evaluate``);
the CSV has one line per chain, variant and range, then the means.

With an entry's MSA, its query is the predicted sequence for every variant and the
truth is mapped onto it (``true_contacts(..., sequence=query)``); without one, the
chain's observed sequence. A model that is not a released fair-esm model (e.g. the
tests' tiny random checkpoints) measures plumbing only, not accuracy; the output says so.

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

from esm_contacts.metrics import evaluate_set, format_table  # noqa: E402
from esm_contacts.models import KNOWN_MODELS  # noqa: E402
from esm_contacts.msa import read_msa  # noqa: E402
from esm_contacts.predictor import ContactPredictor  # noqa: E402
from esm_contacts.structure import chain_sequence, load_structure, true_contacts  # noqa: E402

TOP_HEADS = (1, 5, 10)
MSA_SIZES = (16, 32, 64)


def parse_entry(text: str):
    """``STRUCTURE:CHAIN[:MSA]`` -> (structure path, chain, msa path or None)."""
    parts = text.split(":")
    if len(parts) not in (2, 3) or not all(parts):
        raise SystemExit(f"entry {text!r}: expected STRUCTURE:CHAIN or STRUCTURE:CHAIN:MSA")
    return parts[0], parts[1], (parts[2] if len(parts) == 3 else None)


def variants(predictor: ContactPredictor, with_msa: bool):
    """(name, function(sequence, msa) -> P) of every Table 2 variant the model allows."""
    found = [("single sequence", lambda seq, msa: predictor.predict(seq))]
    heads = predictor.num_layers * predictor.num_heads
    for k in TOP_HEADS:
        if k <= heads:
            top = predictor.with_top_heads(k)
            found.append((f"top-{k} heads", lambda seq, msa, top=top: top.predict(seq)))
    if with_msa:
        for s in MSA_SIZES:
            found.append((f"MSA s={s}", lambda seq, msa, s=s: None if msa is None else predictor.predict_msa(msa, num_seqs=s)))
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("entries", nargs="+", metavar="STRUCTURE:CHAIN[:MSA]")
    parser.add_argument("--model", required=True, help="fair-esm model name or .pt path")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--csv", default="evaluate_dataset.csv", help="CSV output (default evaluate_dataset.csv)")
    args = parser.parse_args(argv)

    entries = [parse_entry(text) for text in args.entries]
    predictor = ContactPredictor.from_pretrained(args.model, device=args.device)
    plumbing = predictor.name not in KNOWN_MODELS
    table_variants = variants(predictor, any(msa for _, _, msa in entries))
    rows, seconds = [], {name: 0.0 for name, _ in table_variants}
    for path, chain, msa_path in entries:
        structure = load_structure(path)
        label = f"{Path(path).name}:{chain}"
        msa = read_msa(msa_path) if msa_path else None
        sequence = msa[0][1].replace("-", "") if msa else chain_sequence(structure, chain)
        T = true_contacts(structure, chain, sequence=sequence if msa else None)
        for name, predict in table_variants:
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # window notices, once per sequence
                P = predict(sequence, msa)
            seconds[name] += time.perf_counter() - start
            if P is not None:
                rows.append((label, name, P, T))
        print(f"{label}: {len(sequence)} residues{', MSA of ' + str(len(msa)) + ' rows' if msa else ''}", file=sys.stderr)
    per_protein, mean = evaluate_set(rows)
    counts = {name: sum(1 for row in per_protein if row["variant"] == name) for name, _ in table_variants}

    title = f"Table 2 layout: mean precision (%) over chains, model {predictor.name}"
    if plumbing:
        title += "\nPLUMBING ONLY: not a released fair-esm model (random weights?); numbers do not measure accuracy"
    print(title)
    print(format_table(mean))
    msa_chains = {row["name"] for row in per_protein if row["variant"].startswith("MSA")}
    if msa_chains and len(msa_chains) < len(entries):
        # Like for like: every variant on the chains that have an MSA.
        _, subset = evaluate_set([row for row in rows if row[0] in msa_chains])
        print(f"chains with an MSA only ({len(msa_chains)}):")
        print(format_table(subset))
    print("chains per variant: " + ", ".join(f"{name} {counts[name]} ({seconds[name]:.1f} s)" for name in mean))

    csv_path = Path(args.csv)
    with open(csv_path, "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["model", "chain", "variant", "length", "range", "L", "L/2", "L/5", "plumbing_only"])
        for row in per_protein:
            for range_name, values in row["table"].items():
                writer.writerow([predictor.name, row["name"], row["variant"], row["length"], range_name,
                                 *(_number(values[top]) for top in ("L", "L/2", "L/5")), plumbing])
        for variant, table in mean.items():
            for range_name, values in table.items():
                writer.writerow([predictor.name, "MEAN", variant, "", range_name,
                                 *(_number(values[top]) for top in ("L", "L/2", "L/5")), plumbing])
    print(f"CSV: {csv_path}", file=sys.stderr)
    return 0


def _number(value) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4f}"


if __name__ == "__main__":
    sys.exit(main())
