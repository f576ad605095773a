"""The ``esm-contacts`` command.

Each sub-command is a pair of functions: ``_add_NAME(subparsers)`` declares its
arguments and ``_run_NAME(args)`` does the work. Input and usage errors
(``ValueError``, ``OSError`` such as ``FileNotFoundError``, ``KeyError`` raised with a message) become one
line on stderr and exit code 2; no output file is left behind because every writer
in the package writes to a temporary file and renames it on success.
"""

import argparse
import contextlib
import sys
from pathlib import Path
from typing import List, Optional, Tuple

EXIT_USAGE = 2


class CommandError(Exception):
    """An input or usage error to report on one line (exit code 2)."""


def _declare_model_options(parser, model_help: str, required: bool = False, regression: bool = True) -> None:
    """``--model``, ``--regression`` (unless `regression` is False) and ``--device``."""
    parser.add_argument("--model", required=required, help=model_help)
    if regression:
        parser.add_argument("--regression", help="*-contact-regression.pt to use instead of the model's own")
    parser.add_argument("--device", default="auto", help="auto (CUDA, else MPS, else CPU), cpu, cuda, cuda:1 ...")


def _option(kind: str, name: str):
    """argparse ``type=`` of a numeric option: the range check of :mod:`esm_contacts.options`."""
    from .options import argument_type

    return argument_type(kind, name)


def _progress(args) -> bool:
    """Progress bars unless --quiet, and only on a terminal."""
    return not args.quiet and sys.stderr.isatty()


def _error_text(error: Exception) -> str:
    """An error's message; a KeyError's without the quotes its str() adds."""
    return str(error.args[0] if isinstance(error, KeyError) and error.args else error)


# --- predict ------------------------------------------------------------------

STRUCTURE_SUFFIXES = (".pdb", ".ent", ".cif", ".mmcif", ".bcif", ".pdbx")


def _add_models(subparsers) -> None:
    parser = subparsers.add_parser("models", help="list the fair-esm models with a contact head")
    parser.set_defaults(func=_run_models)


def _run_models(args) -> int:
    from .models import KNOWN_MODELS, hub_paths, is_cached

    print(f"{'model':24} {'family':7} {'params':>6} {'layers':>6} {'heads':>5} {'context':>7}  weights")
    for info in KNOWN_MODELS.values():
        where = f"cached in {hub_paths(info.name)[0].parent}" if is_cached(info.name) else "not downloaded"
        print(f"{info.name:24} {info.family:7} {info.parameters:>6} {info.layers:>6} {info.heads:>5} {info.context:>7}  {where}")
    return 0


def _add_predict(subparsers) -> None:
    parser = subparsers.add_parser(
        "predict",
        help="predict contacts of a sequence, FASTA file or structure chain",
        description="INPUT is a sequence, a FASTA file (every record), a structure file "
        "(PDB/mmCIF/BinaryCIF, gzipped too; the sequence of --chain) or a PDB ID.",
    )
    parser.add_argument("input", metavar="INPUT")
    parser.add_argument("--chain", help="chain of a structure input (author chain ID)")
    parser.add_argument("--sequence-from", default="entity", choices=["entity", "observed"],
                        help="structure input: the full construct (mmCIF entity, PDB SEQRES; default, where the file "
                        "has it) or the observed residues only")
    _declare_model_options(parser, "fair-esm model name or .pt path (default esm1b_t33_650M_UR50S)")
    parser.add_argument("--dtype", default=None, choices=["float32", "float16", "bfloat16"], help="transformer precision (half precision on GPUs only)")
    parser.add_argument("--out", help="output file: .rr/.casp, .csv or .npy; '{name}' is replaced by the record name")
    parser.add_argument("--min-sep", type=_option("count", "--min-sep"), default=6, help="minimum sequence separation of listed pairs (default 6)")
    parser.add_argument("--top", default=None, help="pairs to list: L, L/2, L/5, a number or all (default: L on the terminal, all in files)")
    parser.add_argument("--msa", help="alignment (a3m, aligned FASTA, Stockholm) to ensemble over; its first row is the query")
    parser.add_argument("--num-seqs", type=_option("count", "--num-seqs"), default=64, help="sequences of the MSA to use (default 64)")
    parser.add_argument("--msa-strategy", default="first", choices=["first", "diverse"], help="how MSA sequences are chosen")
    parser.add_argument("--evaluate", action="store_true", help="with a structure input: print the precision table against it")
    parser.add_argument("--max-memory", type=_option("positive", "--max-memory"), metavar="GB",
                        help="memory the prediction may use beyond the model, in GB (default: what the system has "
                        "available); a request estimated above it is refused before any work")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(func=_run_predict)


def _looks_like_pdb_id(text: str) -> bool:
    return len(text) == 4 and text[0].isdigit() and text.isalnum()


def _is_structure_file(path: Path) -> bool:
    name = path.name.lower()
    name = name[:-3] if name.endswith(".gz") else name
    return name.endswith(STRUCTURE_SUFFIXES) or (name.startswith("pdb") and name.endswith(".ent"))


def _prediction_inputs(args):
    """(name, sequence, structure or None) for every input record."""
    text = args.input
    path = Path(text)
    if path.is_dir():
        raise CommandError(f"{path}: is a folder, not a sequence, FASTA file or structure")
    if path.is_file() and not _is_structure_file(path):
        content = path.read_text(errors="replace")
        if content.lstrip().startswith(">"):
            from .msa import fasta_records

            return [(name, seq, None) for name, seq in fasta_records(content, path)]
        raise CommandError(f"{path}: neither FASTA (no '>' header) nor a structure file extension ({', '.join(STRUCTURE_SUFFIXES)})")
    if path.is_file() or _looks_like_pdb_id(text):
        from .structure import chain_sequence, load_structure, prediction_sequence

        structure = load_structure(text)
        chain = args.chain or _single_protein_chain(structure, text)
        sequence = prediction_sequence(structure, chain, args.sequence_from)
        observed = len(chain_sequence(structure, chain))
        if len(sequence) != observed and not args.msa:  # with --msa, the MSA's query is predicted
            print(f"{text} chain {chain}: predicting the full construct ({len(sequence)} residues, {observed} observed; "
                  "--sequence-from observed for the observed residues only)", file=sys.stderr)
        return [(f"{path.stem if path.is_file() else text}_{chain}", sequence, (structure, chain))]
    if any(sep in text for sep in ("/", "\\")) or Path(text).suffix.lower() in (".fa", ".fasta", ".faa") + STRUCTURE_SUFFIXES:
        raise FileNotFoundError(f"{text}: no such file")
    return [("query", text, None)]


def _single_protein_chain(structure, source: str) -> str:
    from .structure import chain_ids

    chains = chain_ids(structure)
    if len(chains) != 1:
        raise CommandError(f"{source} has protein chains {', '.join(chains)}: choose one with --chain")
    return chains[0]


def _output_path(template: str, name: str, several: bool) -> Path:
    if "{name}" in template:
        return Path(template.replace("{name}", _safe_name(name)))
    path = Path(template)
    return path.with_name(f"{path.stem}_{_safe_name(name)}{path.suffix}") if several else path


def _output_paths(template: str, names: List[str]) -> List[Path]:
    """One output file per record, checked before any prediction: distinct, writable folders."""
    from .io import check_output_path

    paths = [_output_path(template, name, len(names) > 1) for name in names]
    seen = {}
    for name, path in zip(names, paths):
        if path in seen:
            raise CommandError(f"records {seen[path]!r} and {name!r} would both be written to {path}; "
                               "give the FASTA records distinct names")
        seen[path] = name
        check_output_path(path)
    return paths


def _safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def _print_pairs(name: str, sequence: str, pairs) -> None:
    from .metrics import range_of

    print(f"# {name}: {len(sequence)} residues")
    print(f"{'i':>5} {'j':>5} {'res_i':>5} {'res_j':>5} {'prob':>8} {'sep':>5}  range")
    for i, j, p in zip(*pairs):
        print(f"{i + 1:5d} {j + 1:5d} {sequence[i]:>5} {sequence[j]:>5} {p:8.4f} {j - i:5d}  {range_of(j - i)}")


def _run_predict(args) -> int:
    from .io import contact_format
    from .metrics import parse_top
    from .models import DEFAULT_MODEL
    from .predictor import ContactPredictor, clean_sequence

    if args.out:
        contact_format(args.out)  # unknown extension: fail before loading anything
    records = _prediction_inputs(args)
    # Validate every input before the (slow) model load, so input errors come first.
    records = [(name, clean_sequence(seq, name=name), structure) for name, seq, structure in records]
    msa_rows = None
    if args.msa:
        record, msa_rows = _msa_record(records, args.msa)
        records = [record]
    if args.evaluate and any(structure is None for _, _, structure in records):
        raise CommandError("--evaluate needs a structure file or PDB ID as INPUT")
    top = args.top or ("all" if args.out else "L")
    parse_top(top, 1)  # a bad --top fails before the model loads
    outputs = _output_paths(args.out, [name for name, _, _ in records]) if args.out else None
    model = args.model or DEFAULT_MODEL
    context, heads, model_bytes = _model_size(model)
    lengths = [len(sequence) for _, sequence, _ in records]
    # Memory and disk before the model loads (its size guessed from the name or file) ...
    _check_resources(args, lengths, top, outputs, context, heads, model_bytes=model_bytes)
    predictor = ContactPredictor.from_pretrained(model, device=args.device, dtype=args.dtype,
                                                 regression=args.regression)
    # ... and again with the model's own context, heads and width.
    sparse = _check_resources(args, lengths, top, outputs, predictor.max_length, predictor.num_heads,
                              predictor=predictor)
    max_memory = args.max_memory * 1e9 if args.max_memory else None
    if args.msa:
        maps = [predictor.predict_msa(msa_rows, num_seqs=args.num_seqs, strategy=args.msa_strategy,
                                      progress=_progress(args), max_memory=max_memory)]
    else:
        dense = [index for index, flag in enumerate(sparse) if not flag]
        predicted = predictor.predict_batch([records[k][1] for k in dense], progress=_progress(args),
                                            max_memory=max_memory)
        maps = [None] * len(records)
        for index, P in zip(dense, predicted):
            maps[index] = P
    written = []
    for index, ((name, sequence, structure), P) in enumerate(zip(records, maps)):
        if P is None:  # longer than the context, a bounded --top, no .npy: the pairs without the map
            i, j, p = predictor.predict_top(sequence, top=top, min_sep=args.min_sep, max_memory=max_memory)
        else:
            i, j, p = _listed_pairs(P, top, args.min_sep, outputs)
        if args.out:
            _write_record(outputs, index, records, written, P, sequence, (i, j, p), name, predictor.name)
            what = "the contact map" if outputs[index].suffix.lower() == ".npy" else f"{len(i)} pairs"
            print(f"{name}: {len(sequence)} residues, {what} written to {outputs[index]}", file=sys.stderr)
        else:
            _print_pairs(name, sequence, (i, j, p))
        if args.evaluate:
            _print_evaluation(P, sequence, *structure)
    return 0


def _listed_pairs(P, top, min_sep: int, outputs):
    """The pairs a dense map lists; a .npy output lists none (it holds the map), so none are ranked."""
    import numpy as np

    from .io import contact_format
    from .metrics import top_pairs

    if outputs and contact_format(outputs[0]) == "npy":
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0)
    return top_pairs(P, top=top, min_sep=min_sep)


def _write_record(outputs, index: int, records, written: List[str], P, sequence: str, pairs, name: str,
                  model: str) -> None:
    """Write one record's output; a failure (a full disk) says which records are written and which not."""
    from .io import write_contacts, write_pairs

    out = outputs[index]
    method = f"{model} attention contacts"
    try:
        if P is not None:
            write_contacts(out, P, sequence=sequence, pairs=pairs[:2], target=name, method=method)
        else:
            write_pairs(out, sequence, *pairs, target=name, method=method)
    except OSError as error:
        missing = [str(outputs[k]) for k in range(index, len(records))]
        done = ", ".join(written) if written else "none"
        reason = error.strerror or _error_text(error)  # strerror: the reason without the path again
        raise CommandError(f"{out}: {reason}; written: {done}; not written: {', '.join(missing)}") from None
    written.append(str(out))


def _model_size(model: str) -> Tuple[int, int, int]:
    """(context, heads, bytes of weights) of a model before it is loaded.

    Known names: from :data:`esm_contacts.models.KNOWN_MODELS` (4 bytes a parameter); a
    checkpoint file: ESM-1b's context and heads, and the file's size.
    """
    from .models import KNOWN_MODELS

    info = KNOWN_MODELS.get(model)
    if info is not None:
        scale = {"M": 1e6, "B": 1e9}[info.parameters[-1]]
        return info.context, info.heads, int(4 * float(info.parameters[:-1]) * scale)
    try:
        size = Path(model).stat().st_size
    except OSError:
        size = 0  # the loader reports a missing file
    return 1022, 20, size


def _check_resources(args, lengths: List[int], top, outputs, context: int, heads: int, predictor=None,
                     model_bytes: int = 0) -> List[bool]:
    """Refuse a request that will not fit in memory or on disk; which records go the sparse way.

    A record is predicted without its (L, L) map (:meth:`ContactPredictor.predict_top`) when it
    is longer than the context, its ``--top`` is bounded, its output is not ``.npy`` and it is
    neither an MSA query nor evaluated. Before the model loads (``predictor`` None) the memory
    limit also covers the model's weights, unless ``--max-memory`` bounds the request alone.
    """
    from .io import contact_format
    from .metrics import parse_top
    from .resources import check_disk_space, check_memory, estimate_memory

    fmt = contact_format(outputs[0]) if outputs else None
    counts = [parse_top(top, n) for n in lengths]
    allowed = not args.msa and not args.evaluate and fmt != "npy"
    sparse = [allowed and n > context and count is not None for n, count in zip(lengths, counts)]
    listed = [0 if fmt == "npy" else count for count in counts]
    if predictor is not None:
        predictor.check_memory(lengths, args.max_memory * 1e9 if args.max_memory else None, msa=bool(args.msa),
                               listed=listed, sparse=sparse)
    else:
        estimate = estimate_memory(lengths, context=context, heads=heads, msa=bool(args.msa), listed=listed,
                                   sparse=sparse)
        what = f"predicting {len(lengths)} sequence(s) of up to {max(lengths)} residues"
        if args.max_memory:
            check_memory(estimate, args.max_memory * 1e9, what=what, hint=_memory_hint(lengths, sparse, context))
        else:
            check_memory(estimate + model_bytes, None, what=f"{what} with {args.model or 'the default model'}",
                         hint=_memory_hint(lengths, sparse, context))
    if outputs:
        check_disk_space({path: _output_bytes(fmt, n, count, args.min_sep) for path, n, count in zip(outputs, lengths, counts)})
    return sparse


def _memory_hint(lengths: List[int], sparse: List[bool], context: int) -> str:
    if any(n > context and not flag for n, flag in zip(lengths, sparse)):
        return "for sequences this long list the top pairs window by window: --top K (not all) with --out FILE.rr or .csv"
    return ""


def _output_bytes(fmt: str, length: int, count, min_sep: int) -> int:
    """Estimated size of one output file: the map (.npy) or one line per listed pair and the header."""
    if fmt == "npy":
        return 128 + 4 * length * length
    span = max(length - min_sep, 0)
    pairs = span * (span + 1) // 2 if count is None else min(count, span * (span + 1) // 2)
    line = 2 * len(str(length)) + (16 if fmt == "rr" else 18)
    return 512 + 2 * length + pairs * line


def _msa_record(records, msa_path: str):
    """The one record an MSA run predicts, in the coordinates of the MSA's query, and the rows.

    The ensembled map is indexed like the query (first row); a sequence input must be
    that query, and a structure input is evaluated through the query aligned to it.
    """
    from .msa import read_msa

    if len(records) != 1:
        raise CommandError("--msa needs a single input sequence")
    name, sequence, structure = records[0]
    rows = read_msa(msa_path)
    query = rows[0][1]  # upper-case, and gap-free: read_msa drops the query's gap columns
    if structure is None and sequence != query:
        raise CommandError(
            f"{name}: the sequence ({len(sequence)} residues) differs from the query of {msa_path} "
            f"({len(query)} residues); give the query itself or a structure"
        )
    return (name, query, structure), rows


def _print_evaluation(P, sequence: str, structure, chain: str) -> None:
    from .metrics import evaluate, format_table
    from .structure import true_contacts

    print(format_table(evaluate(P, true_contacts(structure, chain, sequence=sequence))))


# --- evaluate / evaluate-set (Biotite layer) -----------------------------------


def _add_evaluate(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="precision of a contact file against a structure (ranges x L, L/2, L/5)",
        description="PRED is a contact file (CASP RR, CSV or .npy). The truth is the chain's "
        "Cb-Cb contacts (< 8 A, virtual Cb); with a sequence in PRED it is aligned to the chain.",
    )
    parser.add_argument("prediction", metavar="PRED")
    parser.add_argument("--structure", required=True, help="PDB/mmCIF/BinaryCIF file (gzipped too) or PDB ID")
    parser.add_argument("--chain", required=True, help="author chain ID")
    parser.add_argument("--sequence-from", choices=["structure", "PRED"], default=None,
                        help="indices of PRED: the chain's observed residues, or PRED's own sequence "
                        "aligned to the chain (default: PRED's when it carries one)")
    parser.add_argument("--plot", help="contact-map figure (.png, .svg or .pdf)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    parser.add_argument("--min-sep", type=_option("count", "--min-sep"), default=6,
                        help="smallest separation evaluated, plotted and checked against the homodimer (default 6)")
    parser.set_defaults(func=_run_evaluate)


#: PRED's sequence must match the chain at this identity over the aligned positions ...
MIN_PRED_IDENTITY = 0.5
#: ... which must cover this fraction of the shorter of PRED's sequence and the chain.
MIN_PRED_COVERAGE = 0.5


def _check_pred_sequence(sequence: str, structure, chain: str, where: str, hint: str) -> None:
    """Refuse a PRED sequence that is not the chain's protein (junk, another chain).

    Coverage is measured against the shorter sequence so that a prediction of one
    domain, or of a construct longer than the observed chain, is still accepted.
    """
    import warnings

    import numpy as np

    from .structure import chain_sequence, map_sequence

    observed = chain_sequence(structure, chain)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # true_contacts repeats it when the match is kept
        mapping = map_sequence(sequence, structure, chain)
    aligned = np.flatnonzero(mapping >= 0)
    given = np.array(list(sequence.upper()))[aligned] if len(aligned) else np.zeros(0, "<U1")
    seen = np.array(list(observed))[mapping[aligned]] if len(aligned) else np.zeros(0, "<U1")
    informative = (given != "X") & (seen != "X")  # X (unknown letter) neither matches nor mismatches
    identity = float((given == seen)[informative].mean()) if informative.any() else 1.0
    shorter = min(len(sequence), len(observed))
    if len(aligned) < MIN_PRED_COVERAGE * shorter:
        raise CommandError(
            f"{where}: only {len(aligned)} of the file's {len(sequence)} sequence letters align to the "
            f"{len(observed)} observed residues of chain {chain} (at least half of the shorter needed); {hint}"
        )
    if identity < MIN_PRED_IDENTITY:
        raise CommandError(
            f"{where}: the file's sequence ({len(sequence)} residues) matches chain {chain} at only "
            f"{identity:.0%} of {len(aligned)} aligned positions (at least {MIN_PRED_IDENTITY:.0%} needed); {hint}"
        )


def _prediction_against(P, pred_sequence, structure, chain: str, sequence_from, where: str,
                        hint: str = "use --sequence-from structure to ignore the file's sequence"):
    """The sequence P is indexed by (None: the chain's observed residues) and the truth."""
    from .structure import chain_sequence, true_contacts

    if sequence_from == "PRED" and pred_sequence is None:
        raise CommandError(f"{where}: --sequence-from PRED but the file carries no sequence (.npy, or RR/CSV without one)")
    sequence = pred_sequence if sequence_from != "structure" else None
    if sequence is not None:
        _check_pred_sequence(sequence, structure, chain, where, hint)
    else:
        observed = len(chain_sequence(structure, chain))
        if observed != P.shape[0]:
            raise CommandError(
                f"{where}: the prediction covers {P.shape[0]} residues but chain {chain} has {observed} observed; "
                "use a contact file that carries its sequence (RR/CSV) so the two can be aligned"
            )
    # P is (len(sequence),)^2 by read_contacts, or checked above: T has its shape.
    return sequence, true_contacts(structure, chain, sequence=sequence)


@contextlib.contextmanager
def _warnings_as_lines(command: str):
    """Warnings (a poor sequence-to-structure match) as one stderr line each, once."""
    import warnings

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
    finally:
        for message in dict.fromkeys(str(w.message) for w in caught):
            print(f"esm-contacts {command}: warning: {message}", file=sys.stderr)


def _homodimer_map(structure, path: str, chain: str, sequence):
    """Homodimer partners of `chain` and its inter-chain contact map (:func:`homodimer_contacts`).

    Symmetry copies of the biological assembly that holds `chain` count as partners too
    (one chain per asymmetric unit is common in crystal structures). Where no assembly
    can be used (none holds the chain, or it cannot be built), the file's own chains are
    searched instead, with a warning: the precision table does not depend on it.
    """
    import warnings

    from .structure import homodimer_contacts, homodimer_partners, load_assembly

    try:
        assembly = load_assembly(path, chain=chain)
        partners = [str(p) for p in homodimer_partners(structure, chain, assembly=assembly)]
        return partners, homodimer_contacts(structure, chain, sequence=sequence, assembly=assembly)
    except ValueError as error:
        warnings.warn(f"{path}: biological assembly not used for homodimer partners ({error}); "
                      "searching the file's own chains", UserWarning)
    partners = [str(p) for p in homodimer_partners(structure, chain)]
    return partners, homodimer_contacts(structure, chain, sequence=sequence)


def _run_evaluate(args) -> int:
    import json

    from .io import read_contacts
    from .metrics import TOPS, evaluate, format_table, homodimer_explained
    from .plot import check_figure_path
    from .structure import load_structure

    if args.plot:
        check_figure_path(args.plot)  # a bad --plot fails before any work
    P, pred_sequence = read_contacts(args.prediction)
    structure = load_structure(args.structure)
    with _warnings_as_lines("evaluate"):
        sequence, T = _prediction_against(P, pred_sequence, structure, args.chain, args.sequence_from, args.prediction)
        partners, X = _homodimer_map(structure, args.structure, args.chain, sequence)
    table = evaluate(P, T, min_sep=args.min_sep)
    dimer = homodimer_explained(P, T, X, top="L", min_sep=args.min_sep)
    observed = int((T.diagonal() == 1).sum())
    if args.plot:
        from .plot import plot_contact_map

        title = f"{Path(args.prediction).name} vs {Path(args.structure).name} chain {args.chain}"
        plot_contact_map(P, T, args.plot, X=X if partners else None, top="L", min_sep=args.min_sep, title=title)
    if args.json:
        print(json.dumps({
            "prediction": args.prediction, "structure": args.structure, "chain": args.chain,
            "length": int(P.shape[0]), "residues_observed": observed,
            "sequence": sequence, "min_sep": args.min_sep, "precision": _json_table(table),
            "homodimer": {"partners": partners, "false_positives": dimer["false_positives"],
                          "inter_chain": dimer["count"], "pairs": [[i + 1, j + 1] for i, j in dimer["pairs"]]},
        }, indent=1))
        return 0
    print(f"# {args.prediction} vs {args.structure} chain {args.chain}: L = {P.shape[0]}, "
          f"{observed} residues observed, precision in % (top L/k pairs, separation >= {args.min_sep})")
    print(format_table(table, columns=TOPS + ("auc",), label=Path(args.prediction).name))
    if partners:
        print(f"# homodimer partners {', '.join(partners)}: {dimer['count']} of {dimer['false_positives']} "
              "top-L false positives are inter-chain contacts")
    return 0


def _json_table(table):
    """NaN (undefined precision) as null: JSON has no NaN."""
    return {name: {k: (None if v != v else v) for k, v in row.items()} for name, row in table.items()}


def _add_evaluate_set(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate-set",
        help="mean precision table over a list of predictions and structures",
        description="LIST is a tab-separated file: prediction, structure, chain and optionally "
        "a variant (model) name per line; '#' starts a comment; paths are relative to LIST's folder.",
    )
    parser.add_argument("list", metavar="LIST")
    parser.add_argument("--out", help="per-protein rows as CSV")
    parser.add_argument("--min-sep", type=_option("count", "--min-sep"), default=6, help="smallest separation evaluated (default 6)")
    parser.add_argument("--percent", action=argparse.BooleanOptionalAction, default=True,
                        help="percentages (default) or fractions")
    parser.set_defaults(func=_run_evaluate_set)


def _read_evaluation_list(path: Path):
    """(line number, prediction path, structure path or ID, chain, variant) per entry."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    entries = []
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        fields = [f.strip() for f in (text.split("\t") if "\t" in text else text.split())]
        if len(fields) not in (3, 4) or not all(fields):
            raise CommandError(f"{path}, line {number}: expected 'prediction<TAB>structure<TAB>chain[<TAB>variant]', "
                               f"got {len(fields)} field(s)")
        prediction = path.parent / fields[0]
        structure = path.parent / fields[1]
        # A bare 4-character name that is not a file is a PDB ID.
        structure_ref = str(structure) if structure.exists() or not _looks_like_pdb_id(fields[1]) else fields[1]
        entries.append((number, prediction, structure_ref, fields[2], fields[3] if len(fields) == 4 else None))
    if not entries:
        raise CommandError(f"{path}: no entries (expected lines 'prediction<TAB>structure<TAB>chain')")
    return entries


def _run_evaluate_set(args) -> int:
    from .io import atomic_write, check_output_path, read_contacts
    from .metrics import evaluate_set, format_table, table_columns
    from .structure import load_structure

    if args.out:
        check_output_path(args.out)  # before any structure is read
    list_path = Path(args.list)
    structures, rows, sources = {}, [], []
    for number, prediction, structure_ref, chain, variant in _read_evaluation_list(list_path):
        where = f"{list_path}, line {number}"
        try:
            P, pred_sequence = read_contacts(prediction)
            if structure_ref not in structures:
                structures[structure_ref] = load_structure(structure_ref)
            with _warnings_as_lines(f"evaluate-set: {where}"):
                _, T = _prediction_against(P, pred_sequence, structures[structure_ref], chain, None, str(prediction),
                                           hint="is it the right chain and file?")
        except (CommandError, ValueError, OSError, KeyError) as error:
            raise CommandError(f"{where}: {_error_text(error)}") from None
        name = f"{Path(prediction).stem}"
        rows.append({"name": name, "variant": variant, "P": P, "T": T})
        sources.append((str(prediction), structure_ref, chain))
    per_protein, mean = evaluate_set(rows, min_sep=args.min_sep)
    variants = any(row["variant"] is not None for row in per_protein)
    print(f"# mean precision over {len(per_protein)} predictions ({'%' if args.percent else 'fractions'}, "
          f"separation >= {args.min_sep})")
    print(format_table(mean, percent=args.percent, label="mean"))
    print()
    print("# per protein")
    labelled = {}
    for number, row in enumerate(per_protein, start=1):
        label = f"{row['name']} [{row['variant']}]" if variants else row["name"]
        labelled[label if label not in labelled else f"{label} ({number})"] = row["table"]
    print(format_table(labelled, percent=args.percent))
    if args.out:
        import csv

        columns = list(table_columns(per_protein[0]["table"]))
        with atomic_write(args.out) as stream:
            writer = csv.writer(stream, lineterminator="\n")
            writer.writerow(["name", "variant", "prediction", "structure", "chain", "length", *columns])
            for row, (prediction, structure_ref, chain) in zip(per_protein, sources):
                flat = table_columns(row["table"])
                writer.writerow([row["name"], row["variant"] or "", prediction, structure_ref, chain, row["length"],
                                 *(f"{flat[c]:.6f}" for c in columns)])
        print(f"per-protein rows written to {args.out}", file=sys.stderr)
    return 0


# --- train-regression (regression) ---------------------------------------------


def _add_train_regression(subparsers) -> None:
    parser = subparsers.add_parser(
        "train-regression",
        help="fit the contact regression (L1 logistic, liblinear or saga) on your own structures",
        description="Fit P = sigmoid(b + sum w_lh APC-attention_lh) on the chains given, as the "
        "authors fitted the released weights (L1, liblinear, C = 0.15, pairs with separation >= 6; "
        "or with scikit-learn's saga solver when liblinear would not fit in --memory-limit), "
        "save it in fair-esm's *-contact-regression.pt layout (use it with --regression) and print "
        "the precision on a held-out part of the chains.",
    )
    _declare_model_options(parser, "fair-esm model name or .pt path", required=True, regression=False)
    parser.add_argument("--structures", nargs="+", required=True, metavar="FILE:CHAIN",
                        help="training chains, e.g. a.cif:A b.pdb:B")
    parser.add_argument("--out", required=True, help="output *-contact-regression.pt")
    parser.add_argument("--C", type=_option("positive", "--C"), default=0.15, help="inverse L1 strength, scikit-learn's C (default 0.15)")
    parser.add_argument("--min-sep", type=_option("count", "--min-sep"), default=6, help="minimum separation of training pairs (default 6)")
    parser.add_argument("--validation", type=_option("fraction", "--validation"), default=0.2,
                        help="fraction of the chains held out for the precision table (default 0.2; 0: none; "
                        "skipped with a notice for a single chain)")
    parser.add_argument("--top-heads", type=_option("count", "--top-heads"),
                        help="save the k largest-positive-weight heads averaged (no regression) instead; its "
                        "values, sigmoid(mean APC), sit near 0.5: they rank pairs but are not calibrated "
                        "probabilities (k may not exceed the heads with a positive weight)")
    parser.add_argument("--max-pairs", type=_option("count", "--max-pairs"), help="train on a random sample of this many pairs (memory)")
    parser.add_argument("--solver", choices=("auto", "liblinear", "saga"), default="auto",
                        help="auto (default): liblinear, the authors' solver, when it fits in --memory-limit, "
                        "else saga (same L1 objective, unpenalized intercept, no copy of the features)")
    parser.add_argument("--memory-limit", type=_option("positive", "--memory-limit"), default=8.0, metavar="GB",
                        help="memory a fit may use, in GB (default 8)")
    parser.add_argument("--seed", type=_option("seed", "--seed"), default=0, help="seed of the split, pair sample and solver")
    parser.add_argument("--plot", help="also draw the layer x head weights (PNG or SVG)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(func=_run_train_regression)


def _training_chains(specs: List[str]):
    """(label, sequence, true contacts) of every FILE:CHAIN.

    The sequence is the full construct where the file gives it; unobserved residues are
    -1 in the truth and not trained on.
    """
    from .structure import load_chain

    chains = []
    for spec in specs:
        path, sep, chain = spec.rpartition(":")  # the last colon: a path may hold colons
        if not sep or not path or not chain:
            raise CommandError(f"--structures {spec!r}: give FILE:CHAIN, e.g. 1hvr.pdb:A")
        try:
            _, sequence, T = load_chain(path, chain)
        except ValueError as error:
            raise CommandError(f"--structures {spec}: {error}") from None
        chains.append((f"{Path(path).name}:{chain}", sequence, T))
    return chains


def _split(count: int, fraction: float, seed: int) -> Tuple[List[int], List[int]]:
    """Training and validation indices; at least one of each when fraction > 0 and count > 1.

    A single chain is all training (no validation; the caller prints a notice).
    """
    import numpy as np

    if count < 2:
        return list(range(count)), []
    held = int(round(fraction * count))
    if fraction > 0:
        held = max(held, 1)
    if count - held < 1:
        raise CommandError(f"{count} chain(s) leave none for training with --validation {fraction}")
    order = np.random.default_rng(seed).permutation(count)
    return sorted(order[held:].tolist()), sorted(order[:held].tolist())


def _run_train_regression(args) -> int:
    from .io import check_output_path
    from .metrics import evaluate_set, format_table
    from .predictor import ContactPredictor
    from .regression import train_regression

    # --C, --memory-limit, --top-heads, --validation, --seed: range-checked by their argparse types.
    # Output paths are checked before anything is loaded or fitted.
    check_output_path(args.out)
    if args.plot:
        from .plot import check_figure_path

        check_figure_path(args.plot)
    chains = _training_chains(args.structures)
    if len(chains) < 2 and args.validation > 0:
        print(f"one training chain: no validation (--validation {args.validation} ignored)")
    train, held = _split(len(chains), args.validation, args.seed)
    predictor = ContactPredictor.from_pretrained(args.model, device=args.device)
    if args.top_heads and args.top_heads > predictor.num_layers * predictor.num_heads:
        raise CommandError(f"--top-heads {args.top_heads}: {predictor.name} has only "
                           f"{predictor.num_layers * predictor.num_heads} heads")
    fitted = train_regression(
        predictor, [chains[k][1] for k in train], [chains[k][2] for k in train], C=args.C,
        min_sep=args.min_sep, max_pairs=args.max_pairs, seed=args.seed, progress=_progress(args),
        solver=args.solver, memory_limit=args.memory_limit * 1024**3, names=[chains[k][0] for k in train],
    )
    saved = fitted.top_heads(args.top_heads) if args.top_heads else fitted
    saved.save(args.out)
    info = fitted.metadata
    print(info["solver_reason"])
    print(f"trained on {len(train)} chain(s), {info['pairs']} pairs ({info['contacts']} contacts), C = {args.C}: "
          f"{fitted.nonzero_heads} of {fitted.weight.size} heads non-zero")
    print(f"saved {'top-' + str(args.top_heads) + ' heads' if args.top_heads else 'regression'} to {args.out}")
    if args.top_heads:
        print("note: top-k head maps are sigmoid(mean APC attention), values near 0.5: they rank pairs, "
              "they are not calibrated probabilities")
    if args.plot:
        from .plot import plot_head_weights

        plot_head_weights(fitted, args.plot)
    if held:
        variants = {f"{predictor.name} (own)": predictor, "trained": predictor.with_regression(saved)}
        rows = [(chains[k][0], variant, p.predict(chains[k][1]), chains[k][2])
                for variant, p in variants.items() for k in held]
        _, mean = evaluate_set(rows)
        print(f"validation precision, {len(held)} chain(s): {', '.join(chains[k][0] for k in held)}")
        print(format_table(mean))
    return 0


# --- validate (model checking) -------------------------------------------------


def _add_validate(subparsers) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check structure models against predicted contacts (agreement, per residue, register shifts)",
        description="validate PRED MODEL [MODEL ...]: PRED is a contact file (RR, CSV, .npy); "
        "with --model NAME the contacts are predicted first and every positional argument is a model.",
    )
    parser.add_argument("inputs", nargs="+", metavar="PRED_OR_MODEL")
    parser.add_argument("--chain", required=True, help="chain of the models (author chain ID)")
    _declare_model_options(parser, "predict with this ESM model (name or .pt) instead of reading PRED")
    parser.add_argument("--top", default="L", help="predicted contacts to use: L, L/2, L/5, a number or all (default L)")
    parser.add_argument("--min-sep", type=_option("count", "--min-sep"), default=6)
    parser.add_argument("--threshold", type=_option("probability", "--threshold"), help="only predicted contacts with probability >= this")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument("--plot", help="per-residue support plot (PNG or SVG); several models: one line each")
    parser.set_defaults(func=_run_validate)


def _run_validate(args) -> int:
    import json

    from .metrics import parse_top
    from .structure import chain_sequence, load_structure
    from .validate import format_ranking, format_validation, validate

    paths = args.inputs if args.model else args.inputs[1:]
    if not paths:
        raise CommandError("give a prediction file and at least one model (or --model NAME and models)")
    parse_top(args.top, 1)  # a bad --top fails before anything is read
    if args.plot:
        from .plot import check_figure_path

        check_figure_path(args.plot)
    structures = [(Path(path).name, load_structure(path)) for path in paths]
    if args.model:
        from .predictor import ContactPredictor

        sequence = chain_sequence(structures[0][1], args.chain)
        predictor = ContactPredictor.from_pretrained(args.model, device=args.device, regression=args.regression)
        P = predictor.predict(sequence)
    else:
        from .io import read_contacts

        P, sequence = read_contacts(args.inputs[0])
    results = [
        validate(P, structure, args.chain, top=args.top, min_sep=args.min_sep,
                 threshold=args.threshold, sequence=sequence, name=name)
        for name, structure in structures
    ]
    if args.plot:
        from .plot import plot_residue_support

        plot_residue_support(results, args.plot)
    if args.json:
        print(json.dumps([result.to_dict() for result in results], indent=1))
    else:
        for result in results:
            print(format_validation(result))
            print()
        if len(results) > 1:
            print(format_ranking(results))
    return 0


# --- PyMOL plugin installation -----------------------------------------------------

PLUGIN_PACKAGE = "pymol_plugin"


def _plugin_folder() -> Path:
    """The ``pymol_plugin`` package folder (found without importing it, which needs PyMOL)."""
    import importlib.util

    spec = importlib.util.find_spec(PLUGIN_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise CommandError(f"the {PLUGIN_PACKAGE} package is not installed beside esm_contacts (reinstall with pip)")
    return Path(list(spec.submodule_search_locations)[0])


def write_plugin_zip(path) -> Path:
    """Write the plugin as PyMOL's Plugin Manager installs it: ``pymol_plugin/__init__.py`` ...

    Parameters
    ----------
    path : str or Path
        The ``.zip`` to write (atomically).

    Returns
    -------
    path : Path
    """
    import zipfile

    from .io import atomic_write

    path = Path(path)
    if path.suffix.lower() != ".zip":
        raise CommandError(f"{path}: the plugin archive must end in .zip")
    folder = _plugin_folder()
    files = sorted(f for f in folder.rglob("*") if f.is_file() and "__pycache__" not in f.parts and f.suffix != ".pyc")
    with atomic_write(path, "wb") as stream, zipfile.ZipFile(stream, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in files:
            archive.write(file, f"{PLUGIN_PACKAGE}/{file.relative_to(folder).as_posix()}")
    return path


def _add_pymol_plugin(subparsers) -> None:
    parser = subparsers.add_parser(
        "pymol-plugin",
        help="write the PyMOL plugin as a zip for Plugin > Plugin Manager > Install New Plugin",
    )
    parser.add_argument("--zip", required=True, metavar="OUT.zip", help="archive to write")
    parser.set_defaults(func=_run_pymol_plugin)


def _run_pymol_plugin(args) -> int:
    path = write_plugin_zip(args.zip)
    print(f"PyMOL plugin written to {path}; install it with Plugin > Plugin Manager > Install New Plugin", file=sys.stderr)
    return 0


def _add_pymol_install(subparsers) -> None:
    parser = subparsers.add_parser(
        "pymol-install",
        help="install the plugin with PyMOL's plugin installer, so the Plugin menu has it at the next start",
    )
    parser.add_argument("--dir", help="plugin directory (default: the first user plugin directory PyMOL knows, "
                        "else ~/.pymol/startup); it is added to PyMOL's plugin search path")
    parser.set_defaults(func=_run_pymol_install)


class _AnswerYes:
    """Stands in for the ``tkMessageBox`` module PyMOL's installer asks its questions with.

    The installer confirms a reinstallation and reports the outcome in dialogs; run from
    a terminal, the user has already said yes, and the messages go to stderr.
    """

    def __init__(self):
        self.messages = []

    def showinfo(self, title, message, parent=None, **kwargs):
        self.messages.append((title, message))
        return "ok"

    def askyesno(self, title, message, parent=None, **kwargs):
        return True

    askokcancel = askyesno


def install_plugin(plugin_dir=None) -> Path:
    """Install the plugin through ``pymol.plugins.installation.installPluginFromFile``.

    Parameters
    ----------
    plugin_dir : str or Path, optional
        Where to install; default PyMOL's first user plugin directory, else
        ``~/.pymol/startup``. It is added to PyMOL's plugin path (``~/.pymolpluginsrc.py``).

    Returns
    -------
    folder : Path
        The installed plugin folder.
    """
    import tempfile
    import types

    try:
        from pymol import plugins
        from pymol.plugins import installation
    except ImportError as error:
        raise CommandError(f"PyMOL is not importable from this Python ({error}); install pymol-open-source "
                           "or run this command with PyMOL's Python") from None
    if plugin_dir is None:
        user_dirs = plugins.get_startup_path(True)
        plugin_dir = user_dirs[0] if user_dirs else installation.get_default_user_plugin_path()
    plugin_dir = Path(plugin_dir).expanduser().resolve()
    plugin_dir.mkdir(parents=True, exist_ok=True)
    if not installation.is_writable(str(plugin_dir)):
        raise CommandError(f"{plugin_dir}: plugin directory is not writable")
    answers = _AnswerYes()
    shim = types.ModuleType("tkMessageBox")
    shim.showinfo, shim.askyesno, shim.askokcancel = answers.showinfo, answers.askyesno, answers.askokcancel
    saved = sys.modules.get("tkMessageBox")
    sys.modules["tkMessageBox"] = shim  # legacysupport imports this name first
    try:
        with tempfile.TemporaryDirectory() as folder:
            archive = write_plugin_zip(Path(folder) / f"{PLUGIN_PACKAGE}.zip")
            # parent: any non-None value keeps the installer from looking for a Tk window.
            installation.installPluginFromFile(str(archive), parent=answers, plugdir=str(plugin_dir))
    finally:
        if saved is None:
            sys.modules.pop("tkMessageBox", None)
        else:
            sys.modules["tkMessageBox"] = saved
    installed = plugin_dir / PLUGIN_PACKAGE
    failures = [message for title, message in answers.messages if title != "Success"]
    if failures or not (installed / "__init__.py").is_file():
        raise CommandError(f"PyMOL's plugin installer failed: {' '.join(failures) or 'no plugin folder written'}")
    return installed


def _run_pymol_install(args) -> int:
    installed = install_plugin(args.dir)
    print(f"PyMOL plugin installed in {installed}; restart PyMOL and open Plugin > Predict ESM contacts", file=sys.stderr)
    return 0


# --- main ------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="esm-contacts",
        description="Predict protein contacts from ESM attention maps and check them "
        "against structures.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name, value in list(globals().items()):
        if name.startswith("_add_") and callable(value):
            value(subparsers)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        from .options import first_invalid

        invalid = first_invalid(args)  # a numeric option out of range: one line, before any work
        if invalid:
            raise CommandError(invalid)
        return args.func(args) or 0
    except (CommandError, ValueError, OSError, KeyError) as error:  # OSError: unwritable output, full disk
        print(f"esm-contacts {args.command}: error: {_error_text(error)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("esm-contacts: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
