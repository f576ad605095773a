"""The ``esm-contacts`` command.

Each sub-command is a pair of functions: ``_add_NAME(subparsers)`` declares its
arguments and ``_run_NAME(args)`` does the work. Input and usage errors
(``ValueError``, ``OSError`` such as ``FileNotFoundError``, ``KeyError`` raised with a message)
become one
line on stderr and exit code 2; no output file is left behind because every writer
in the package writes to a temporary file and renames it on success.

What all commands share lives in one place each: :func:`main` turns warnings into
``esm-contacts CMD: warning: ...`` lines and ends quietly (status 141) when stdout's
reader goes away; :func:`_print_json` prints every ``--json`` output (strict JSON);
:func:`_print_precision_table` prints the precision table of ``evaluate`` and
``predict --evaluate``; :func:`_progress` decides whether progress is shown and
:func:`_load_predictor` loads every model.
"""

import argparse
import contextlib
import math
import os
import sys
import time
from pathlib import Path
from typing import List, Optional, Tuple

from .metrics import MIN_SEP

EXIT_USAGE = 2


class CommandError(Exception):
    """An input or usage error to report on one line (exit code 2)."""


def _declare_model_options(
    parser, model_help: str, required: bool = False, regression: bool = True
) -> None:
    """``--model``, ``--regression`` (unless `regression` is False), ``--device`` and
    ``--quiet``."""
    parser.add_argument("--model", required=required, help=model_help)
    if regression:
        parser.add_argument(
            "--regression", help="*-contact-regression.pt to use instead of the model's own"
        )
    parser.add_argument(
        "--device", default="auto", help="auto (CUDA, else MPS, else CPU), cpu, cuda, cuda:1 ..."
    )
    # Every command that loads a model declares its options here, so each has --quiet.
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="no progress (model loading, prediction) on the terminal",
    )


def _declare_min_identity(parser) -> None:
    """``--min-identity``: the one override of the sequence-matching rule (DESIGN "Sequence
    matching")."""
    parser.add_argument(
        "--min-identity",
        type=_option("probability", "--min-identity"),
        default=None,
        metavar="F",
        help=(
            "identity over aligned positions from which a sequence (prediction, MSA query, model) "
            "counts as the chain's protein (default 0.9); lower it only on purpose"
        ),
    )


def _min_identity(args) -> float:
    from .structure import MIN_IDENTITY

    return MIN_IDENTITY if args.min_identity is None else args.min_identity


def _option(kind: str, name: str):
    """argparse ``type=`` of a numeric option: the range check of :mod:`esm_contacts.options`."""
    from .options import argument_type

    return argument_type(kind, name)


def _declare_format(parser, what: str) -> None:
    """``--format``: the contact file's format when its extension does not say (``.txt``) or says
    another."""
    from .formats import CONTACT_FORMATS

    parser.add_argument(
        "--format",
        metavar="FORMAT",
        help=(
            f"format of {what} instead of its extension's: "
            f"{', '.join(spec.name for spec in CONTACT_FORMATS)} (README: contact formats)"
        ),
    )


def _contact_spec(path, format: Optional[str], mode: str):
    """The format table row of a contact file (``--format`` or the extension), checked before any
    work."""
    from .formats import find_format

    return find_format(path, format, mode)


def _progress(args) -> bool:
    """Progress (stage text, bars) unless --quiet, and only on a terminal."""
    return not getattr(args, "quiet", False) and sys.stderr.isatty()


def _load_predictor(args, name: str, **kwargs):
    """``ContactPredictor.from_pretrained`` with a "loading NAME... done" stage line on a terminal.

    `kwargs` go to ``from_pretrained`` (``dtype``, ``regression``); the device is ``args.device``.
    """
    from .predictor import ContactPredictor

    show = _progress(args)
    if show:
        print(f"loading {Path(name).name}... ", end="", file=sys.stderr, flush=True)
    start = time.perf_counter()
    try:
        predictor = ContactPredictor.from_pretrained(name, device=args.device, **kwargs)
    except BaseException:
        if show:
            print(file=sys.stderr)  # the error goes on its own line
        raise
    if show:
        print(f"done ({time.perf_counter() - start:.1f} s, {predictor.device})", file=sys.stderr)
    return predictor


def _error_text(error: Exception) -> str:
    """An error's message; a KeyError's without the quotes its str() adds."""
    return str(error.args[0] if isinstance(error, KeyError) and error.args else error)


# --- predict ------------------------------------------------------------------


def _add_models(subparsers) -> None:
    parser = subparsers.add_parser(
        "models",
        help=(
            "list the ESM models with a contact head (fair-esm names and "
            "Hugging Face Hub IDs) and what the caches hold"
        ),
    )
    parser.set_defaults(func=_run_models)


def _run_models(args) -> int:
    from .catalog import KNOWN_MODELS
    from .checkpoints import cache_state, hub_paths
    from .hf import hf_cache_state

    print(
        f"{'model':32} {'family':15} {'params':>6} {'layers':>6} {'heads':>5} {'context':>7} "
        " weights"
    )
    for info in KNOWN_MODELS.values():
        state = cache_state(info.name)
        model_path, regression_path = hub_paths(info.name)
        where = {
            "cached": f"cached in {model_path.parent}",
            "regression file missing": f"regression file missing ({regression_path})",
            "model file missing": f"model file missing ({model_path})",
        }.get(state, state)
        # The same weights from the Hub (Hugging Face cache) on the row below the fair-esm name.
        rows = [(info.name, where)] + (
            [(info.hub_id, f"HF {hf_cache_state(info.hub_id)}")] if info.hub_id else []
        )
        for name, weights in rows:
            print(
                f"{name:32} {info.family:15} {info.parameters:>6} {info.layers:>6} {info.heads:>5} "
                f"{info.context:>7}  {weights}"
            )
    return 0


def _add_convert(subparsers) -> None:
    parser = subparsers.add_parser(
        "convert",
        help="convert an ESM model between fair-esm (.pt) and Hugging Face (safetensors directory)",
        description=(
            "SOURCE.pt (with SOURCE-contact-regression.pt beside it) -> OUT, a new Hugging Face"
            " directory (config.json, model.safetensors, vocab.txt); or a Hugging Face directory /"
            " cached Hub ID -> OUT.pt and OUT-contact-regression.pt. ESM-1b and ESM-2 only; outputs"
            " are written under temporary names and renamed."
        ),
    )
    parser.add_argument(
        "source", metavar="SOURCE", help="fair-esm .pt checkpoint, Hugging Face directory or Hub ID"
    )
    parser.add_argument(
        "out", metavar="OUT", help="directory to create (from .pt) or .pt file (from Hugging Face)"
    )
    parser.add_argument(
        "--regression",
        help=(
            "*-contact-regression.pt to write as the contact head instead of "
            "the source's own (e.g. one trained with train-regression)"
        ),
    )
    parser.set_defaults(func=_run_convert)


def _run_convert(args) -> int:
    from .hf import convert

    for path in convert(args.source, args.out, regression=args.regression):
        print(f"wrote {path}", file=sys.stderr)
    return 0


def _add_predict(subparsers) -> None:
    parser = subparsers.add_parser(
        "predict",
        help="predict contacts of a sequence, FASTA file or structure chain",
        description=(
            "INPUT is a sequence, a FASTA file (every record), a structure file "
            "(PDB/mmCIF/BinaryCIF, gzipped too; the sequence of --chain) or a PDB ID."
        ),
    )
    parser.add_argument("input", metavar="INPUT")
    parser.add_argument("--chain", help="chain of a structure input (author chain ID)")
    parser.add_argument(
        "--sequence-from",
        default="entity",
        choices=["entity", "observed"],
        help=(
            "structure input: the full construct (mmCIF entity, PDB SEQRES; default, where the file"
            " has it) or the observed residues only"
        ),
    )
    _declare_model_options(
        parser,
        "fair-esm model name or .pt path, or Hugging Face Hub ID or directory "
        "(default esm1b_t33_650M_UR50S)",
    )
    parser.add_argument(
        "--dtype",
        default=None,
        choices=["float32", "float16", "bfloat16"],
        help="transformer precision (half precision on GPUs only)",
    )
    parser.add_argument(
        "--out",
        help=(
            "output file: .rr/.casp, .csv, .npy or another contact format (README); '{name}' is"
            " replaced by the record name; .pb (ChimeraX pseudobonds) from a structure INPUT"
        ),
    )
    _declare_format(parser, "--out")
    parser.add_argument(
        "--min-sep",
        type=_option("count", "--min-sep"),
        default=MIN_SEP,
        help=f"minimum sequence separation of listed pairs (default {MIN_SEP})",
    )
    parser.add_argument(
        "--top",
        default=None,
        help=(
            "pairs to list: L, L/2, L/5, a number or all (default: L on the terminal, all in files)"
        ),
    )
    parser.add_argument(
        "--msa",
        help=(
            "alignment (a3m, aligned FASTA, Stockholm) to ensemble over; its first row is the query"
        ),
    )
    parser.add_argument(
        "--num-seqs",
        type=_option("count", "--num-seqs"),
        default=64,
        help="sequences of the MSA to use (default 64)",
    )
    parser.add_argument(
        "--msa-strategy",
        default=None,
        choices=["first", "diverse"],
        help=(
            "how MSA sequences are chosen (default: first; diverse, greedy maximum Hamming"
            " distance, for the MSA Transformer)"
        ),
    )
    parser.add_argument(
        "--evaluate",
        action="store_true",
        help="with a structure input: print the precision table against it",
    )
    _declare_min_identity(parser)
    parser.add_argument(
        "--max-memory",
        type=_option("positive", "--max-memory"),
        metavar="GB",
        help=(
            "memory the prediction may use beyond the model, in GB (default: what the system has "
            "available); a request estimated above it is refused before any work"
        ),
    )
    parser.set_defaults(func=_run_predict)


def _looks_like_pdb_id(text: str) -> bool:
    return len(text) == 4 and text[0].isdigit() and text.isalnum()


def _prediction_inputs(args):
    """(name, sequence, structure or None) for every input record.

    INPUT is a file where the name is one (a FIFO or device is refused, never opened);
    text that cannot be a path, such as a sequence of 300 letters, is a sequence.
    """
    from .files import check_input_file, file_kind

    text = args.input
    if not text.strip():
        raise CommandError(
            "the input is empty: give a sequence, FASTA file, structure file or PDB ID"
        )
    path = Path(text)
    kind = file_kind(path)
    if kind == "folder":
        raise CommandError(f"{path}: is a folder, not a sequence, FASTA file or structure")
    if kind != "missing":
        check_input_file(path)  # a FIFO, device or socket: refused with what it is
    from .structure import STRUCTURE_SUFFIXES, is_structure_file

    if kind == "file" and not is_structure_file(path):
        content = path.read_text(errors="replace")
        if content.lstrip().startswith(">"):
            from .msa import fasta_records

            return [(name, seq, None) for name, seq in fasta_records(content, path)]
        raise CommandError(
            f"{path}: neither FASTA (no '>' header) nor a structure file extension"
            f" ({', '.join(STRUCTURE_SUFFIXES)})"
        )
    if kind == "file" or _looks_like_pdb_id(text):
        from .structure import chain_sequence, load_structure, prediction_sequence

        structure = load_structure(text)
        chain = args.chain or _single_protein_chain(structure, text)
        sequence = prediction_sequence(structure, chain, args.sequence_from)
        observed = len(chain_sequence(structure, chain))
        if len(sequence) != observed and not args.msa:  # with --msa, the MSA's query is predicted
            print(
                f"{text} chain {chain}: predicting the full construct ({len(sequence)} residues,"
                f" {observed} observed; --sequence-from observed for the observed residues only)",
                file=sys.stderr,
            )
        return [(f"{path.stem if kind == 'file' else text}_{chain}", sequence, (structure, chain))]
    if (
        any(sep in text for sep in ("/", "\\"))
        or Path(text).suffix.lower() in (".fa", ".fasta", ".faa")
        or is_structure_file(text)
    ):
        raise FileNotFoundError(f"{text}: no such file")
    return [("query", text, None)]


def _single_protein_chain(structure, source: str) -> str:
    from .structure import chain_ids

    chains = chain_ids(structure)
    if len(chains) != 1:
        raise CommandError(
            f"{source} has protein chains {', '.join(chains)}: choose one with --chain"
        )
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
            raise CommandError(
                f"records {seen[path]!r} and {name!r} would both be written to {path}; "
                "give the FASTA records distinct names"
            )
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
        print(
            f"{i + 1:5d} {j + 1:5d} {sequence[i]:>5} {sequence[j]:>5} {p:8.4f} {j - i:5d} "
            f" {range_of(j - i)}"
        )


def _run_predict(args) -> int:
    from .catalog import DEFAULT_MODEL
    from .metrics import parse_top
    from .resources import model_footprint
    from .sequence import clean_sequence

    if args.format and not args.out:
        raise CommandError("--format names the format of --out: give --out FILE")
    spec = (
        _contact_spec(args.out, args.format, "write") if args.out else None
    )  # before loading anything
    records = _prediction_inputs(args)
    if (
        spec is not None
        and spec.needs_structure
        and any(structure is None for _, _, structure in records)
    ):
        raise CommandError(
            f"{args.out}: a {spec.title} file names residues of a structure: give a structure "
            "file or PDB ID as INPUT (or write a contact file and use convert-contacts --structure)"
        )
    # Validate every input before the (slow) model load, so input errors come first.
    records = [
        (name, clean_sequence(seq, name=name), structure) for name, seq, structure in records
    ]
    msa_rows = None
    if args.msa:
        record, msa_rows = _msa_record(records, args.msa, _min_identity(args))
        records = [record]
    if args.evaluate and any(structure is None for _, _, structure in records):
        raise CommandError("--evaluate needs a structure file or PDB ID as INPUT")
    top = args.top or (spec.default_top if spec else "L")
    parse_top(top, 1)  # a bad --top fails before the model loads
    outputs = _output_paths(args.out, [name for name, _, _ in records]) if args.out else None
    model = args.model or DEFAULT_MODEL
    context, heads, model_bytes = model_footprint(model)
    lengths = [len(sequence) for _, sequence, _ in records]
    # Memory and disk before the model loads (its size guessed from the name or file) ...
    _check_resources(
        args, lengths, top, outputs, context, heads, model_bytes=model_bytes, spec=spec
    )
    predictor = _load_predictor(args, model, dtype=args.dtype, regression=args.regression)
    # ... and again with the model's own context, heads and width.
    sparse = _check_resources(
        args,
        lengths,
        top,
        outputs,
        predictor.max_length,
        predictor.num_heads,
        predictor=predictor,
        spec=spec,
    )
    max_memory = args.max_memory * 1e9 if args.max_memory else None
    if args.msa:
        maps = [
            predictor.predict_msa(
                msa_rows,
                num_seqs=args.num_seqs,
                strategy=args.msa_strategy,
                progress=_progress(args),
                max_memory=max_memory,
            )
        ]
    else:
        dense = [index for index, flag in enumerate(sparse) if not flag]
        predicted = predictor.predict_batch(
            [records[k][1] for k in dense], progress=_progress(args), max_memory=max_memory
        )
        maps = [None] * len(records)
        for index, P in zip(dense, predicted):
            maps[index] = P
    written = []
    for index, ((name, sequence, structure), P) in enumerate(zip(records, maps)):
        if (
            P is None
        ):  # longer than the context, a bounded --top, no .npy: the pairs without the map
            i, j, p = predictor.predict_top(
                sequence,
                top=top,
                min_sep=args.min_sep,
                max_memory=max_memory,
                progress=_progress(args),
            )
        else:
            i, j, p = _listed_pairs(P, top, args.min_sep, spec)
        if args.out:
            _write_record(
                outputs,
                index,
                records,
                written,
                P,
                sequence,
                (i, j, p),
                name,
                predictor.name,
                spec,
                structure,
                _min_identity(args),
            )
            what = "the contact map" if spec.dense else f"{len(i)} pairs"
            print(
                f"{name}: {len(sequence)} residues, {what} written to {outputs[index]}",
                file=sys.stderr,
            )
        else:
            _print_pairs(name, sequence, (i, j, p))
        if args.evaluate:
            _print_evaluation(
                P,
                sequence,
                *structure,
                source=args.input,
                label=name,
                min_sep=args.min_sep,
                min_identity=_min_identity(args),
            )
    return 0


def _listed_pairs(P, top, min_sep: int, spec):
    """The pairs a dense map lists; a dense output (.npy) lists none (it holds the map), so none
    are ranked."""
    import numpy as np

    from .metrics import top_pairs

    if spec is not None and spec.dense:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0)
    return top_pairs(P, top=top, min_sep=min_sep)


def _write_record(
    outputs,
    index: int,
    records,
    written: List[str],
    P,
    sequence: str,
    pairs,
    name: str,
    model: str,
    spec,
    structure=None,
    min_identity: Optional[float] = None,
) -> None:
    """Write one record's output; a failure (a full disk) says which records are written and
    which not."""
    from .io import write_contacts, write_pairs

    out = outputs[index]
    method = f"{model} attention contacts"
    # A structure input: the .pb format names its residues (other formats ignore it).
    where = dict(zip(("structure", "chain"), structure or (None, None)), min_identity=min_identity)
    try:
        if P is not None:
            write_contacts(
                out,
                P,
                sequence=sequence,
                pairs=pairs[:2],
                target=name,
                method=method,
                format=spec.name,
                **where,
            )
        else:
            write_pairs(
                out, sequence, *pairs, target=name, method=method, format=spec.name, **where
            )
    except OSError as error:
        missing = [str(outputs[k]) for k in range(index, len(records))]
        done = ", ".join(written) if written else "none"
        reason = error.strerror or _error_text(error)  # strerror: the reason without the path again
        raise CommandError(
            f"{out}: {reason}; written: {done}; not written: {', '.join(missing)}"
        ) from None
    written.append(str(out))


def _check_resources(
    args,
    lengths: List[int],
    top,
    outputs,
    context: int,
    heads: int,
    predictor=None,
    model_bytes: int = 0,
    spec=None,
) -> List[bool]:
    """:func:`esm_contacts.resources.check_prediction_resources` of this command's options."""
    from .resources import check_prediction_resources

    return check_prediction_resources(
        lengths,
        top,
        context,
        heads,
        min_sep=args.min_sep,
        msa=bool(args.msa),
        evaluate=bool(args.evaluate),
        spec=spec,
        outputs=outputs,
        max_memory=args.max_memory * 1e9 if args.max_memory else None,
        model_bytes=model_bytes,
        model_name=args.model or "the default model",
        predictor=predictor,
    )


def _msa_record(records, msa_path: str, min_identity: float):
    """The one record an MSA run predicts, in the coordinates of the MSA's query, and the rows.

    The ensembled map is indexed like the query (first row); a sequence input must be
    that query, and a structure input's chain must be the query's protein
    (:func:`~esm_contacts.structure.map_sequence`), checked before the model loads.
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
    if structure is not None:
        from .structure import map_sequence

        map_sequence(
            query, *structure, min_identity=min_identity, where=f"{msa_path} (query) vs {name}"
        )
    return (name, query, structure), rows


def _print_evaluation(
    P,
    sequence: str,
    structure,
    chain: str,
    source: str,
    label: str,
    min_sep: int,
    min_identity: float,
) -> None:
    """``predict --evaluate``: the table of ``evaluate`` for the map just predicted."""
    from .metrics import evaluate, homodimer_explained
    from .structure import true_contacts

    T = true_contacts(structure, chain, sequence=sequence, min_identity=min_identity)
    partners, X = _homodimer_map(structure, source, chain, sequence, min_identity)
    table = evaluate(P, T, min_sep=min_sep)
    dimer = homodimer_explained(P, T, X, top="L", min_sep=min_sep)
    inter = _pair_labels(dimer["pairs"], structure, chain, sequence, min_identity)
    _print_precision_table(
        table, f"{label} vs {source} chain {chain}", label, P, T, min_sep, partners, dimer, inter
    )


def _pair_labels(
    pairs, structure, chain: str, sequence, min_identity: float
) -> List[Tuple[str, str]]:
    """Residue pairs as the structure names them (``A:744``); ``#k`` (position) where unobserved."""
    from .structure import residue_labels

    labels = residue_labels(structure, chain, sequence=sequence, min_identity=min_identity)
    return [(labels[i] or f"#{i + 1}", labels[j] or f"#{j + 1}") for i, j in pairs]


def _print_precision_table(
    table, title: str, label: str, P, T, min_sep: int, partners, dimer, inter
) -> None:
    """The precision table as ``evaluate`` and ``predict --evaluate`` print it (one layout for
    both).

    A header line (what against what, L, observed residues, units), a line saying how
    many pairs the map lists when that is fewer than L (a sparse contact file), the
    ranges x (L, L/2, L/5, AUC) table with `label` as its row, and the homodimer line
    when the chain has partners, with the inter-chain pairs (`inter`, residue labels).
    """
    from .metrics import TOPS, format_table, listed_pairs

    length = P.shape[0]
    observed = int((T.diagonal() == 1).sum())
    print(
        f"# {title}: L = {length}, {observed} residues observed, precision in % "
        f"(top L/k pairs, separation >= {min_sep})"
    )
    listed = listed_pairs(P, min_sep=min_sep)
    if listed < length:
        print(
            f"# the file lists {listed} pair{'s' if listed != 1 else ''} with separation >="
            f" {min_sep}, fewer than L = {length}: the pairs it does not list count as misses"
        )
    print(format_table(table, columns=TOPS + ("auc",), label=label))
    if partners:
        print(
            f"# homodimer partners {', '.join(partners)}: {dimer['count']} of"
            f" {dimer['false_positives']} top-L false positives are inter-chain contacts"
            + (": " if inter else "")
        )
        if inter:
            print("#   " + ", ".join(f"{a}-{b}" for a, b in inter))


# --- evaluate / evaluate-set (Biotite layer) -----------------------------------


def _add_evaluate(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="precision of a contact file against a structure (ranges x L, L/2, L/5)",
        description=(
            "PRED is a contact file (CASP RR, CSV, .npy or another readable contact format;"
            " README). The truth is the chain's Cb-Cb contacts (< 8 A, virtual Cb); with a sequence"
            " in PRED it is aligned to the chain."
        ),
    )
    parser.add_argument("prediction", metavar="PRED")
    _declare_format(parser, "PRED")
    parser.add_argument(
        "--structure", required=True, help="PDB/mmCIF/BinaryCIF file (gzipped too) or PDB ID"
    )
    parser.add_argument("--chain", required=True, help="author chain ID")
    parser.add_argument(
        "--sequence-from",
        choices=["structure", "PRED"],
        default=None,
        help=(
            "indices of PRED: the chain's residues (observed ones, or its full construct "
            "when PRED has that size, as predict writes it), or PRED's own sequence "
            "aligned to the chain (default: PRED's when it carries one)"
        ),
    )
    parser.add_argument("--plot", help="contact-map figure (.png, .svg or .pdf)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    parser.add_argument(
        "--min-sep",
        type=_option("count", "--min-sep"),
        default=MIN_SEP,
        help="smallest separation evaluated, plotted and checked against the homodimer (default 6)",
    )
    _declare_min_identity(parser)
    parser.set_defaults(func=_run_evaluate)


def _read_prediction(path, format: Optional[str]):
    """(P, sequence or None, sparse?) of a contact file in any readable format (``--format`` or
    its extension)."""
    from .io import read_contacts

    spec = _contact_spec(path, format, "read")
    P, sequence = read_contacts(path, format=spec.name)
    return P, sequence, not spec.dense


def _short_sparse_map(P, sequence: Optional[str], sparse: bool, structure, chain: str):
    """A sparse map without a sequence that ends before the chain's last observed residue (its size
    is its
    largest listed index) indexes the observed residues in order: grown with unlisted pairs to their
    number, as PyMOL's ``esm_contacts_load`` draws it. Any other map is returned as it is."""
    if sequence is not None or not sparse:
        return P
    from .io import pad_unlisted
    from .structure import chain_sequence

    observed = len(chain_sequence(structure, chain))
    return pad_unlisted(P, observed) if P.shape[0] < observed else P


def _prediction_against(
    P,
    pred_sequence,
    structure,
    chain: str,
    sequence_from,
    where: str,
    min_identity: float,
    hint: Optional[str] = "--sequence-from structure ignores the file's sequence",
):
    """The sequence P is indexed by (None: the chain's observed residues) and the truth.

    A file sequence of another protein raises
    :class:`~esm_contacts.structure.SequenceMismatchError`.
    """
    from .structure import map_sequence, sequence_of_map, true_contacts

    if sequence_from == "PRED" and pred_sequence is None:
        raise CommandError(
            f"{where}: --sequence-from PRED but the file carries no sequence (.npy, or RR/CSV"
            " without one)"
        )
    sequence = pred_sequence if sequence_from != "structure" else None
    if sequence is None:
        try:
            sequence = sequence_of_map(P.shape[0], structure, chain)
        except ValueError as error:
            raise CommandError(f"{where}: {error}") from None
    else:
        try:
            map_sequence(
                sequence, structure, chain, min_identity=min_identity, where=where
            )  # names the file
        except (
            ValueError
        ) as error:  # another protein, or a letter no model reads: both the file's sequence
            if sequence_from is not None or not hint:
                raise
            raise CommandError(f"{error}; {hint}") from None
    # P is (len(sequence),)^2 by read_contacts, or checked above: T has its shape.
    return sequence, true_contacts(structure, chain, sequence=sequence, min_identity=min_identity)


#: Warnings about Python and library internals, which a command-line user cannot act on.
_SILENCED_WARNINGS = (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning)


@contextlib.contextmanager
def _warnings_as_lines(command: str):
    """Warnings as one line each on stderr, ``esm-contacts COMMAND: warning: ...``, each text once.

    Printed when raised (not at the end of a long run), never in Python's format with
    its source line. :func:`main` applies it around every command; a command may nest
    it to name where a warning comes from (``evaluate-set``: the list's line).
    """
    import warnings

    shown = set()

    def show(message, category, filename, lineno, file=None, line=None):
        text = " ".join(str(message).split())  # one line, whatever the message holds
        if text not in shown:
            shown.add(text)
            from tqdm import tqdm

            # tqdm.write: on its own line, with a progress bar on the terminal moved below it.
            tqdm.write(f"esm-contacts {command}: warning: {text}", file=sys.stderr)
            sys.stderr.flush()

    with warnings.catch_warnings():
        # "always": the text decides what repeats (set above), not Python's per-location registry.
        warnings.simplefilter("always")
        for category in _SILENCED_WARNINGS:
            warnings.simplefilter("ignore", category)
        warnings.showwarning = show
        yield


def _json_safe(value):
    """`value` with NaN and infinities as None and NumPy values as Python ones, for strict JSON."""
    import numpy as np

    if isinstance(value, dict):
        return {
            (k.item() if isinstance(k, np.generic) else k): _json_safe(v) for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return _json_safe(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _print_json(data) -> None:
    """Print `data` as strict JSON (RFC 8259: null where a number is undefined, never NaN or
    Infinity).

    Every ``--json`` printer goes through here.
    """
    import json

    print(json.dumps(_json_safe(data), indent=1, allow_nan=False))


def _homodimer_map(structure, path: str, chain: str, sequence, min_identity: float):
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
        return partners, homodimer_contacts(
            structure, chain, sequence=sequence, assembly=assembly, min_identity=min_identity
        )
    except ValueError as error:
        warnings.warn(
            f"{path}: biological assembly not used for homodimer partners ({error}); "
            "searching the file's own chains",
            UserWarning,
        )
    partners = [str(p) for p in homodimer_partners(structure, chain)]
    return partners, homodimer_contacts(
        structure, chain, sequence=sequence, min_identity=min_identity
    )


def _run_evaluate(args) -> int:
    from .metrics import evaluate, homodimer_explained, listed_pairs
    from .plot import check_figure_path
    from .structure import load_structure

    if args.plot:
        check_figure_path(args.plot)  # a bad --plot fails before any work
    P, pred_sequence, sparse = _read_prediction(args.prediction, args.format)
    structure = load_structure(args.structure)
    P = _short_sparse_map(P, pred_sequence, sparse, structure, args.chain)
    with _warnings_as_lines("evaluate"):
        sequence, T = _prediction_against(
            P,
            pred_sequence,
            structure,
            args.chain,
            args.sequence_from,
            args.prediction,
            _min_identity(args),
        )
        partners, X = _homodimer_map(
            structure, args.structure, args.chain, sequence, _min_identity(args)
        )
    table = evaluate(P, T, min_sep=args.min_sep)
    listed = listed_pairs(P, min_sep=args.min_sep)
    dimer = homodimer_explained(P, T, X, top="L", min_sep=args.min_sep)
    observed = int((T.diagonal() == 1).sum())
    inter = _pair_labels(dimer["pairs"], structure, args.chain, sequence, _min_identity(args))
    if args.plot:
        from .plot import plot_contact_map

        title = f"{Path(args.prediction).name} vs {Path(args.structure).name} chain {args.chain}"
        plot_contact_map(
            P, T, args.plot, X=X if partners else None, top="L", min_sep=args.min_sep, title=title
        )
    if args.json:
        _print_json(
            {
                "prediction": args.prediction,
                "structure": args.structure,
                "chain": args.chain,
                "length": int(P.shape[0]),
                "residues_observed": observed,
                "sequence": sequence,
                "min_sep": args.min_sep,
                "pairs_listed": listed,
                "precision": _json_table(table),
                "homodimer": {
                    "partners": partners,
                    "false_positives": dimer["false_positives"],
                    "inter_chain": dimer["count"],
                    "pairs": [[i + 1, j + 1] for i, j in dimer["pairs"]],
                    "residue_pairs": [list(pair) for pair in inter],
                },
            }
        )
        return 0
    _print_precision_table(
        table,
        f"{args.prediction} vs {args.structure} chain {args.chain}",
        Path(args.prediction).name,
        P,
        T,
        args.min_sep,
        partners,
        dimer,
        inter,
    )
    return 0


def _json_table(table):
    """NaN (undefined precision) as null: JSON has no NaN."""
    return _json_safe(table)


def _add_evaluate_set(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate-set",
        help="mean precision table over a list of predictions and structures",
        description=(
            "LIST is a tab-separated file: prediction, structure, chain and optionally a variant"
            " (model) name per line; '#' starts a comment; paths are relative to LIST's folder."
        ),
    )
    parser.add_argument("list", metavar="LIST")
    _declare_format(parser, "every prediction of LIST")
    parser.add_argument("--out", help="per-protein rows as CSV")
    parser.add_argument(
        "--min-sep",
        type=_option("count", "--min-sep"),
        default=MIN_SEP,
        help=f"smallest separation evaluated (default {MIN_SEP})",
    )
    parser.add_argument(
        "--percent",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="percentages (default) or fractions",
    )
    _declare_min_identity(parser)
    parser.set_defaults(func=_run_evaluate_set)


def _read_evaluation_list(path: Path):
    """(line number, prediction path, structure path or ID, chain, variant) per entry."""
    from .files import check_input_file, file_kind

    check_input_file(path)
    entries = []
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        fields = [f.strip() for f in (text.split("\t") if "\t" in text else text.split())]
        if len(fields) not in (3, 4) or not all(fields):
            raise CommandError(
                f"{path}, line {number}: expected"
                f" 'prediction<TAB>structure<TAB>chain[<TAB>variant]', got {len(fields)} field(s)"
            )
        prediction = path.parent / fields[0]
        structure = path.parent / fields[1]
        # A bare 4-character name that is not a file is a PDB ID.
        is_pdb_id = file_kind(structure) == "missing" and _looks_like_pdb_id(fields[1])
        structure_ref = fields[1] if is_pdb_id else str(structure)
        entries.append(
            (number, prediction, structure_ref, fields[2], fields[3] if len(fields) == 4 else None)
        )
    if not entries:
        raise CommandError(
            f"{path}: no entries (expected lines 'prediction<TAB>structure<TAB>chain')"
        )
    return entries


def _run_evaluate_set(args) -> int:
    from .io import atomic_write, check_output_path
    from .metrics import evaluate_set, format_table, table_columns
    from .structure import load_structure

    if args.out:
        check_output_path(args.out)  # before any structure is read
    if args.format:
        _contact_spec("", args.format, "read")  # an unknown --format fails before any file is read
    list_path = Path(args.list)
    structures, rows, sources = {}, [], []
    for number, prediction, structure_ref, chain, variant in _read_evaluation_list(list_path):
        where = f"{list_path}, line {number}"
        try:
            P, pred_sequence, sparse = _read_prediction(prediction, args.format)
            if structure_ref not in structures:
                structures[structure_ref] = load_structure(structure_ref)
            P = _short_sparse_map(P, pred_sequence, sparse, structures[structure_ref], chain)
            with _warnings_as_lines(f"evaluate-set: {where}"):
                _, T = _prediction_against(
                    P,
                    pred_sequence,
                    structures[structure_ref],
                    chain,
                    None,
                    str(prediction),
                    _min_identity(args),
                    hint=None,
                )
        except (CommandError, ValueError, OSError, KeyError) as error:
            raise CommandError(f"{where}: {_error_text(error)}") from None
        name = f"{Path(prediction).stem}"
        rows.append({"name": name, "variant": variant, "P": P, "T": T})
        sources.append((str(prediction), structure_ref, chain))
    per_protein, mean = evaluate_set(rows, min_sep=args.min_sep)
    variants = any(row["variant"] is not None for row in per_protein)
    print(
        f"# mean precision over {len(per_protein)} predictions"
        f" ({'%' if args.percent else 'fractions'}, separation >= {args.min_sep})"
    )
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
            writer.writerow(
                ["name", "variant", "prediction", "structure", "chain", "length", *columns]
            )
            for row, (prediction, structure_ref, chain) in zip(per_protein, sources):
                flat = table_columns(row["table"])
                writer.writerow(
                    [
                        row["name"],
                        row["variant"] or "",
                        prediction,
                        structure_ref,
                        chain,
                        row["length"],
                        *(f"{flat[c]:.6f}" for c in columns),
                    ]
                )
        print(f"per-protein rows written to {args.out}", file=sys.stderr)
    return 0


# --- train-regression (regression) ---------------------------------------------


def _add_train_regression(subparsers) -> None:
    parser = subparsers.add_parser(
        "train-regression",
        help="fit the contact regression (L1 logistic, liblinear or saga) on your own structures",
        description=(
            "Fit P = sigmoid(b + sum w_lh APC-attention_lh) on the chains given, as the authors"
            " fitted the released weights (L1, liblinear, C = 0.15, pairs with separation >= 6; or"
            " with scikit-learn's saga solver when liblinear would not fit in --memory-limit), save"
            " it in fair-esm's *-contact-regression.pt layout (use it with --regression) and print"
            " the precision on a held-out part of the chains."
        ),
    )
    _declare_model_options(
        parser,
        "fair-esm model name or .pt path, or Hugging Face Hub ID or directory",
        required=True,
        regression=False,
    )
    parser.add_argument(
        "--structures",
        nargs="+",
        required=True,
        metavar="FILE:CHAIN",
        help="training chains, e.g. a.cif:A b.pdb:B",
    )
    parser.add_argument("--out", required=True, help="output *-contact-regression.pt")
    parser.add_argument(
        "--C",
        type=_option("positive", "--C"),
        default=0.15,
        help="inverse L1 strength, scikit-learn's C (default 0.15)",
    )
    parser.add_argument(
        "--min-sep",
        type=_option("count", "--min-sep"),
        default=MIN_SEP,
        help=f"minimum separation of training pairs (default {MIN_SEP})",
    )
    parser.add_argument(
        "--validation",
        type=_option("fraction", "--validation"),
        default=0.2,
        help=(
            "fraction of the chains held out for the precision table (default 0.2; 0: none; "
            "skipped with a notice for a single chain)"
        ),
    )
    parser.add_argument(
        "--top-heads",
        type=_option("count", "--top-heads"),
        help=(
            "save the k largest-positive-weight heads averaged (no regression) instead; its "
            "values, sigmoid(mean APC), sit near 0.5: they rank pairs but are not calibrated "
            "probabilities (k may not exceed the heads with a positive weight)"
        ),
    )
    parser.add_argument(
        "--max-pairs",
        type=_option("count", "--max-pairs"),
        help="train on a random sample of this many pairs (memory)",
    )
    parser.add_argument(
        "--solver",
        choices=("auto", "liblinear", "saga"),
        default="auto",
        help=(
            "auto (default): liblinear, the authors' solver, when it fits in --memory-limit, "
            "else saga (same L1 objective, unpenalized intercept, no copy of the features)"
        ),
    )
    parser.add_argument(
        "--memory-limit",
        type=_option("positive", "--memory-limit"),
        default=8.0,
        metavar="GB",
        help="memory a fit may use, in GB (default 8)",
    )
    parser.add_argument(
        "--seed",
        type=_option("seed", "--seed"),
        default=0,
        help="seed of the split, pair sample and solver",
    )
    parser.add_argument("--plot", help="also draw the layer x head weights (PNG or SVG)")
    parser.add_argument(
        "--allow-empty",
        action="store_true",
        help="save the fit even when every head weight is zero (otherwise an error, exit code 2)",
    )
    _declare_min_identity(parser)
    parser.set_defaults(func=_run_train_regression)


def _empty_fit_message(C: float, heads: int, out: str) -> str:
    """Why nothing was saved: an L1 fit with every head at zero predicts one constant
    probability."""
    return (
        f"the fit left all {heads} heads at zero weight (C = {C:g}): every pair would get the same "
        f"probability, so nothing was saved to {out}; try a larger --C (less L1 penalty), "
        f"e.g. --C {10 * C:g}, or pass --allow-empty to save it anyway"
    )


def _training_chains(specs: List[str], min_identity: float):
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
            _, sequence, T = load_chain(path, chain, min_identity=min_identity)
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
    from .regression import train_regression

    # --C, --memory-limit, --top-heads, --validation, --seed: range-checked by their argparse types.
    # Output paths are checked before anything is loaded or fitted.
    check_output_path(args.out)
    if args.plot:
        from .plot import check_figure_path

        check_figure_path(args.plot)
    chains = _training_chains(args.structures, _min_identity(args))
    if len(chains) < 2 and args.validation > 0:
        print(f"one training chain: no validation (--validation {args.validation} ignored)")
    train, held = _split(len(chains), args.validation, args.seed)
    predictor = _load_predictor(args, args.model)
    if args.top_heads and args.top_heads > predictor.num_layers * predictor.num_heads:
        raise CommandError(
            f"--top-heads {args.top_heads}: {predictor.name} has only "
            f"{predictor.num_layers * predictor.num_heads} heads"
        )
    fitted = train_regression(
        predictor,
        [chains[k][1] for k in train],
        [chains[k][2] for k in train],
        C=args.C,
        min_sep=args.min_sep,
        max_pairs=args.max_pairs,
        seed=args.seed,
        progress=_progress(args),
        solver=args.solver,
        memory_limit=args.memory_limit * 1e9,
        names=[chains[k][0] for k in train],
    )
    info = fitted.metadata
    print(info["solver_reason"])
    print(
        f"trained on {len(train)} chain(s), {info['pairs']} pairs ({info['contacts']} contacts), C"
        f" = {args.C}: {fitted.nonzero_heads} of {fitted.weight.size} heads non-zero"
    )
    if fitted.nonzero_heads == 0 and not args.allow_empty:
        raise CommandError(_empty_fit_message(args.C, fitted.weight.size, args.out))
    saved = fitted.top_heads(args.top_heads) if args.top_heads else fitted
    saved.save(args.out)
    print(
        f"saved {'top-' + str(args.top_heads) + ' heads' if args.top_heads else 'regression'} to"
        f" {args.out}"
    )
    if args.top_heads:
        print(
            "note: top-k head maps are sigmoid(mean APC attention), values near 0.5: they rank"
            " pairs, they are not calibrated probabilities"
        )
    if args.plot:
        from .plot import plot_head_weights

        plot_head_weights(fitted, args.plot)
    if held:
        variants = {
            f"{predictor.name} (own)": predictor,
            "trained": predictor.with_regression(saved),
        }
        rows = [
            (chains[k][0], variant, p.predict(chains[k][1]), chains[k][2])
            for variant, p in variants.items()
            for k in held
        ]
        _, mean = evaluate_set(rows)
        print(
            f"validation precision, {len(held)} chain(s): {', '.join(chains[k][0] for k in held)}"
        )
        print(format_table(mean))
    return 0


# --- convert-contacts ---------------------------------------------------------------


def _add_convert_contacts(subparsers) -> None:
    parser = subparsers.add_parser(
        "convert-contacts",
        help="convert a contact file to another contact format, or to ChimeraX pseudobonds (.pb)",
        description=(
            "IN is a contact file in any readable format; OUT's format follows its extension (or"
            " --out-format). A .pb file (ChimeraX pseudobonds, coloured by category) names residues"
            " of a structure: it needs --structure and --chain. Formats: README, 'Contact file"
            " formats'."
        ),
    )
    parser.add_argument("input", metavar="IN")
    parser.add_argument("--out", required=True, metavar="OUT", help="output file")
    parser.add_argument(
        "--in-format", metavar="FORMAT", help="format of IN instead of its extension's"
    )
    parser.add_argument(
        "--out-format", metavar="FORMAT", help="format of OUT instead of its extension's"
    )
    parser.add_argument(
        "--structure",
        help="structure (PDB/mmCIF/BinaryCIF or PDB ID) a .pb output names residues of",
    )
    parser.add_argument("--chain", help="author chain ID of --structure")
    parser.add_argument(
        "--top",
        default=None,
        help="pairs to write: L, L/2, L/5, a number or all (default: all listed pairs; L for .pb)",
    )
    parser.add_argument(
        "--min-sep",
        type=_option("count", "--min-sep"),
        default=1,
        help="minimum sequence separation of written pairs (default 1: every listed pair)",
    )
    _declare_min_identity(parser)
    parser.set_defaults(func=_run_convert_contacts)


def _run_convert_contacts(args) -> int:
    from .io import check_output_path, read_contacts, write_contacts
    from .metrics import parse_top, top_pairs

    out_spec = _contact_spec(args.out, args.out_format, "write")
    in_spec = _contact_spec(args.input, args.in_format, "read")
    check_output_path(args.out)
    top = args.top or out_spec.default_top
    parse_top(top, 1)  # a bad --top fails before anything is read
    if out_spec.needs_structure and not (args.structure and args.chain):
        raise CommandError(
            f"{args.out}: a {out_spec.title} file names residues of a structure: "
            "give --structure and --chain"
        )
    if not out_spec.needs_structure and (args.structure or args.chain):
        raise CommandError(
            f"--structure and --chain are for .pb outputs; {args.out} is {out_spec.title}"
        )
    P, sequence = read_contacts(args.input, format=in_spec.name)
    structure = None
    if args.structure:
        from .structure import load_structure

        structure = load_structure(args.structure)
    pairs = None if out_spec.dense else top_pairs(P, top=top, min_sep=args.min_sep)[:2]
    write_contacts(
        args.out,
        P,
        sequence=sequence,
        pairs=pairs,
        target=Path(args.input).stem,
        method=f"converted from {Path(args.input).name}",
        format=out_spec.name,
        structure=structure,
        chain=args.chain,
        min_identity=_min_identity(args),
    )
    written = "the contact map" if out_spec.dense else f"{len(pairs[0])} pairs"
    print(
        f"{args.input} ({in_spec.title}): {written} written to {args.out} ({out_spec.title})",
        file=sys.stderr,
    )
    return 0


# --- predict-many (batch runs) ----------------------------------------------------


def _declare_engine_options(parser) -> None:
    """``--engine``, ``--address``, ``--workers``, ``--gpus-per-worker``, ``--cpus-per-worker``."""
    parser.add_argument(
        "--engine",
        default="local",
        choices=["local", "ray"],
        help="local: this process (default); ray: one Ray actor per worker",
    )
    parser.add_argument(
        "--address",
        help="Ray cluster address ('auto': the running cluster; default: start a local one)",
    )
    parser.add_argument(
        "--workers", type=_option("count", "--workers"), default=1, help="Ray actors (default 1)"
    )
    parser.add_argument(
        "--gpus-per-worker",
        type=_option("non-negative", "--gpus-per-worker"),
        default=0.0,
        metavar="G",
        help="GPUs per Ray actor (default 0)",
    )
    parser.add_argument(
        "--cpus-per-worker",
        type=_option("positive", "--cpus-per-worker"),
        default=1.0,
        metavar="C",
        help="CPUs per Ray actor (default 1)",
    )


def _add_predict_many(subparsers) -> None:
    parser = subparsers.add_parser(
        "predict-many",
        help="predict every record of a FASTA file into a folder (resumable; local or Ray)",
        description=(
            "Writes DIR/contacts/part-*.parquet (name, i, j, probability), DIR/summary.parquet and,"
            " with --maps, DIR/maps/NAME.npz. Running the same command again resumes: complete"
            " records are skipped."
        ),
    )
    parser.add_argument("input", metavar="INPUT.fasta")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    _declare_model_options(parser, "fair-esm model name or .pt path (default esm1b_t33_650M_UR50S)")
    parser.add_argument(
        "--dtype",
        default=None,
        choices=["float32", "float16", "bfloat16"],
        help="transformer precision (half precision on GPUs only)",
    )
    parser.add_argument(
        "--top", default="2L", help="pairs per record: 2L (default), L, L/2, a number or all"
    )
    parser.add_argument(
        "--min-sep",
        type=_option("count", "--min-sep"),
        default=MIN_SEP,
        help="minimum sequence separation of listed pairs (default 6)",
    )
    parser.add_argument(
        "--min-probability",
        type=_option("probability", "--min-probability"),
        metavar="P",
        help="list only pairs with at least this probability",
    )
    parser.add_argument(
        "--maps", action="store_true", help="also write each record's map and sequence (.npz)"
    )
    parser.add_argument(
        "--max-tokens",
        type=_option("count", "--max-tokens"),
        metavar="N",
        help=(
            "batch budget: records per forward pass x tokens^2 (default one full-context sequence)"
        ),
    )
    parser.add_argument(
        "--max-memory",
        type=_option("positive", "--max-memory"),
        metavar="GB",
        help=(
            "memory one record may use beyond the model, in GB; a record estimated above it "
            "is an error row (default: what the system has available)"
        ),
    )
    _declare_engine_options(parser)
    parser.set_defaults(func=_run_predict_many)


def _run_predict_many(args) -> int:
    from .batch import predict_many

    result = predict_many(
        args.input,
        args.out,
        args.model,
        min_probability=args.min_probability,
        maps=args.maps,
        **_batch_options(args),
    )
    return _batch_status(result, "records")


def _add_validate_many(subparsers) -> None:
    parser = subparsers.add_parser(
        "validate-many",
        help=(
            "check many structure models against contacts predicted once per sequence (resumable;"
            " local or Ray)"
        ),
        description=(
            "STRUCTURES are files, folders, globs or a .tsv of 'structure<TAB>chain' lines (no"
            " chain: every protein chain). Models with identical observed sequences share one"
            " prediction. Writes DIR/validation.parquet and DIR/ranking.tsv; running the same"
            " command again resumes."
        ),
    )
    parser.add_argument("structures", nargs="+", metavar="STRUCTURES")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    _declare_model_options(parser, "fair-esm model name or .pt path (default esm1b_t33_650M_UR50S)")
    parser.add_argument(
        "--dtype",
        default=None,
        choices=["float32", "float16", "bfloat16"],
        help="transformer precision (half precision on GPUs only)",
    )
    parser.add_argument(
        "--top",
        default="L",
        help="predicted contacts to use: L (default), L/2, 2L, a number or all",
    )
    parser.add_argument("--min-sep", type=_option("count", "--min-sep"), default=MIN_SEP)
    parser.add_argument(
        "--threshold",
        type=_option("probability", "--threshold"),
        help="only predicted contacts with probability >= this",
    )
    parser.add_argument(
        "--max-tokens",
        type=_option("count", "--max-tokens"),
        metavar="N",
        help="batch budget: sequences per forward pass x tokens^2",
    )
    parser.add_argument(
        "--max-memory",
        type=_option("positive", "--max-memory"),
        metavar="GB",
        help="memory one sequence may use beyond the model, in GB",
    )
    _declare_min_identity(parser)
    _declare_engine_options(parser)
    parser.set_defaults(func=_run_validate_many)


def _run_validate_many(args) -> int:
    from .batch import validate_many

    result = validate_many(
        args.structures,
        args.out,
        args.model,
        threshold=args.threshold,
        min_identity=args.min_identity,
        **_batch_options(args),
    )
    return _batch_status(result, "models")


def _batch_options(args) -> dict:
    """The options ``predict-many`` and ``validate-many`` share, as keywords of
    :mod:`esm_contacts.batch`."""
    return dict(
        regression=args.regression,
        top=args.top,
        min_sep=args.min_sep,
        engine=args.engine,
        address=args.address,
        workers=args.workers,
        gpus_per_worker=args.gpus_per_worker,
        cpus_per_worker=args.cpus_per_worker,
        device=args.device,
        dtype=args.dtype,
        max_tokens=args.max_tokens,
        max_memory=args.max_memory * 1e9 if args.max_memory else None,
        progress=_progress(args),
    )


def _batch_status(result, what: str) -> int:
    """One line on stderr; exit 1 when nothing succeeded, 0 otherwise (errors are rows of the
    summary)."""
    resumed = f", {result.resumed} complete from an earlier run" if result.resumed else ""
    print(
        f"{result.records} {what}: {result.ok} ok, {result.errors} errors, {result.skipped}"
        f" skipped{resumed}; written to {result.out}",
        file=sys.stderr,
    )
    return 0 if result.ok else 1


# --- validate (model checking) -------------------------------------------------


def _add_validate(subparsers) -> None:
    parser = subparsers.add_parser(
        "validate",
        help=(
            "check structure models against predicted contacts (agreement, per residue, register"
            " shifts)"
        ),
        description=(
            "validate PRED MODEL [MODEL ...]: PRED is a contact file (RR, CSV, .npy or another"
            " readable contact format; README); with --model NAME the contacts are predicted first"
            " and every positional argument is a model."
        ),
    )
    parser.add_argument("inputs", nargs="+", metavar="PRED_OR_MODEL")
    parser.add_argument("--chain", required=True, help="chain of the models (author chain ID)")
    _declare_format(parser, "PRED")
    _declare_model_options(
        parser,
        "predict with this ESM model (name, .pt, Hugging Face ID or directory) instead "
        "of reading PRED",
    )
    parser.add_argument(
        "--top",
        default="L",
        help="predicted contacts to use: L, L/2, L/5, a number or all (default L)",
    )
    parser.add_argument("--min-sep", type=_option("count", "--min-sep"), default=MIN_SEP)
    parser.add_argument(
        "--threshold",
        type=_option("probability", "--threshold"),
        help="only predicted contacts with probability >= this",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument(
        "--plot", help="per-residue support plot (PNG or SVG); several models: one line each"
    )
    parser.add_argument(
        "--per-residue",
        action="store_true",
        help="also print each model's per-range agreement and per-residue support table",
    )
    parser.add_argument(
        "--model-number",
        type=int,
        metavar="N",
        help="check only model N of each file (NMR ensembles; default: every model)",
    )
    _declare_min_identity(parser)
    parser.set_defaults(func=_run_validate)


def _validation_models(paths: List[str], model_number: Optional[int]):
    """(name, structure) of every model to check: each model of an ensemble, named by its number.

    A PDB assembly file (``.pdb1``, ``.pdb2`` ...) stores symmetry copies as models: its
    first model is the structure, as :func:`~esm_contacts.structure.load_structure` reads it.
    """
    import re

    from .structure import load_models, load_structure, model_count

    models = []
    for path in paths:
        name = Path(path).name
        assembly_file = re.search(r"\.pdb\d+(\.gz)?$", name.lower()) is not None
        if model_number is None and (assembly_file or model_count(path) == 1):
            models.append((name, load_structure(path)))
            continue
        chosen = None if model_number is None else [model_number]
        models.extend(
            (f"{name} model {m.model_number}", m) for m in load_models(path, model_numbers=chosen)
        )
    return models


def _run_validate(args) -> int:
    from .metrics import parse_top
    from .structure import chain_sequence
    from .validation import format_ranking, format_summary, format_validation, validate

    paths = args.inputs if args.model else args.inputs[1:]
    if args.model and args.format:
        raise CommandError("--format names the format of PRED; with --model there is no PRED file")
    if not paths:
        raise CommandError(
            "give a prediction file and at least one model (or --model NAME and models)"
        )
    parse_top(args.top, 1)  # a bad --top fails before anything is read
    if args.plot:
        from .plot import check_figure_path

        check_figure_path(args.plot)
    if args.model_number is not None and args.model_number < 1:
        raise CommandError("--model-number must be at least 1")
    structures = _validation_models(paths, args.model_number)
    if args.model:
        sequence = chain_sequence(structures[0][1], args.chain)
        predictor = _load_predictor(args, args.model, regression=args.regression)
        P = predictor.predict_batch([sequence], progress=_progress(args))[0]
    else:
        P, sequence, sparse = _read_prediction(args.inputs[0], args.format)
    from .structure import sequence_of_map

    where = args.inputs[0] if not args.model else args.model
    results = []
    for name, structure in structures:
        try:
            # A map without a sequence (.npy): its size says what it is indexed by, per model.
            P_model = (
                P if args.model else _short_sparse_map(P, sequence, sparse, structure, args.chain)
            )
            indexed_by = (
                sequence
                if sequence is not None
                else sequence_of_map(len(P_model), structure, args.chain)
            )
            results.append(
                validate(
                    P_model,
                    structure,
                    args.chain,
                    top=args.top,
                    min_sep=args.min_sep,
                    threshold=args.threshold,
                    sequence=indexed_by,
                    name=name,
                    min_identity=_min_identity(args),
                )
            )
        except ValueError as error:  # another protein, a missing chain: name the model
            raise CommandError(f"{where} vs {name}: {_error_text(error)}") from None
    if args.plot:
        from .plot import plot_residue_support

        plot_residue_support(results, args.plot)
    if args.json:
        _print_json([result.to_dict() for result in results])
    else:
        for result in results:
            print(format_validation(result) if args.per_residue else format_summary(result))
            if args.per_residue:
                print()
        if len(results) > 1 or not args.per_residue:
            print()
            print(format_ranking(results))
    return 0


# --- PyMOL plugin installation (the work is pymol_plugin.install's) ------------------


@contextlib.contextmanager
def _plugin_installer():
    """:mod:`pymol_plugin.install`, imported only when a plugin command runs (the command
    line starts without PyMOL); its :class:`~pymol_plugin.install.InstallError` becomes
    the command's one error line."""
    try:
        from pymol_plugin import install
    except ModuleNotFoundError as error:
        if error.name != "pymol_plugin":
            raise
        raise CommandError(
            "the pymol_plugin package is not installed beside esm_contacts (reinstall with pip)"
        ) from None
    try:
        yield install
    except install.InstallError as error:
        raise CommandError(str(error)) from None


def _add_pymol_plugin(subparsers) -> None:
    parser = subparsers.add_parser(
        "pymol-plugin",
        help="write the PyMOL plugin as a zip for Plugin > Plugin Manager > Install New Plugin",
    )
    parser.add_argument("--zip", required=True, metavar="OUT.zip", help="archive to write")
    parser.set_defaults(func=_run_pymol_plugin)


def _run_pymol_plugin(args) -> int:
    with _plugin_installer() as install:
        path = install.write_plugin_zip(args.zip)
    print(
        f"PyMOL plugin written to {path}; install it with Plugin > Plugin Manager > Install New"
        " Plugin",
        file=sys.stderr,
    )
    return 0


def _add_pymol_install(subparsers) -> None:
    parser = subparsers.add_parser(
        "pymol-install",
        help=(
            "install the plugin with PyMOL's plugin installer, so the Plugin menu has it at the"
            " next start"
        ),
    )
    parser.add_argument(
        "--dir",
        help=(
            "plugin directory (default: the first user plugin directory PyMOL knows, "
            "else ~/.pymol/startup); it is added to PyMOL's plugin search path"
        ),
    )
    parser.set_defaults(func=_run_pymol_install)


def _run_pymol_install(args) -> int:
    with _plugin_installer() as install:
        installed = install.install_plugin(args.dir)
    print(
        f"PyMOL plugin installed in {installed}; restart PyMOL and open Plugin > Predict ESM"
        " contacts",
        file=sys.stderr,
    )
    return 0


# --- main ------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="esm-contacts",
        description=(
            "Predict protein contacts from ESM attention maps and check them against structures."
        ),
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name, value in list(globals().items()):
        if name.startswith("_add_") and callable(value):
            value(subparsers)
    return parser


#: Exit status after the reader of stdout went away (``| head``): 128 + SIGPIPE, as a shell reports
#: a command that SIGPIPE ended (``yes | head``), so ``set -o pipefail`` scripts see it as such.
EXIT_BROKEN_PIPE = 141


def main(argv: Optional[List[str]] = None) -> int:
    """Run ``esm-contacts`` with `argv` (default ``sys.argv[1:]``) and return the exit status.

    Every command runs with warnings as one stderr line each (:func:`_warnings_as_lines`);
    input errors are one stderr line and status 2; a closed stdout pipe ends the command
    quietly with status 141.

    Parameters
    ----------
    argv : list of str, optional
        The command line after the program name; ``sys.argv[1:]`` when None.

    Returns
    -------
    status : int
        0 on success, 2 for an input error (after one ``esm-contacts CMD: error: ...`` line on
        stderr), 130 when interrupted, 141 when stdout's reader went away; a command may
        return its own status (e.g. 1).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        from .options import first_invalid

        invalid = first_invalid(args)  # a numeric option out of range: one line, before any work
        if invalid:
            raise CommandError(invalid)
        with _warnings_as_lines(args.command):
            status = args.func(args) or 0
            # A closed pipe shows here, inside the handler, not at interpreter exit.
            sys.stdout.flush()
            return status
    except BrokenPipeError:
        _discard_stdout()
        return EXIT_BROKEN_PIPE
    except (
        CommandError,
        ValueError,
        OSError,
        KeyError,
    ) as error:  # OSError: unwritable output, full disk
        print(f"esm-contacts {args.command}: error: {_error_text(error)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("esm-contacts: interrupted", file=sys.stderr)
        return 130


def _discard_stdout() -> None:
    """Point stdout at /dev/null, so the output still buffered is not flushed into the closed
    pipe at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (
        OSError,
        ValueError,
        AttributeError,
    ):  # stdout without a file descriptor (captured in tests)
        pass


if __name__ == "__main__":
    sys.exit(main())
