"""The ``esm-contacts`` command.

Each sub-command is a pair of functions: ``_add_NAME(subparsers)`` declares its
arguments and ``_run_NAME(args)`` does the work. Input and usage errors
(``ValueError``, ``FileNotFoundError``, ``KeyError`` raised with a message) become one
line on stderr and exit code 2; no output file is left behind because every writer
in the package writes to a temporary file and renames it on success.
"""

import argparse
import sys
from pathlib import Path
from typing import List, Optional, Tuple

EXIT_USAGE = 2


class CommandError(Exception):
    """An input or usage error to report on one line (exit code 2)."""


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
    parser.add_argument("--model", default=None, help="fair-esm model name or .pt path (default esm1b_t33_650M_UR50S)")
    parser.add_argument("--regression", help="*-contact-regression.pt to use instead of the model's own")
    parser.add_argument("--device", default="auto", help="auto (CUDA, else MPS, else CPU), cpu, cuda, cuda:1 ...")
    parser.add_argument("--dtype", default=None, choices=["float32", "float16", "bfloat16"], help="transformer precision (half precision on GPUs only)")
    parser.add_argument("--out", help="output file: .rr/.casp, .csv or .npy; '{name}' is replaced by the record name")
    parser.add_argument("--min-sep", type=int, default=6, help="minimum sequence separation of listed pairs (default 6)")
    parser.add_argument("--top", default=None, help="pairs to list: L, L/2, L/5, a number or all (default: L on the terminal, all in files)")
    parser.add_argument("--msa", help="alignment (a3m, aligned FASTA, Stockholm) to ensemble over; its first row is the query")
    parser.add_argument("--num-seqs", type=int, default=64, help="sequences of the MSA to use (default 64)")
    parser.add_argument("--msa-strategy", default="first", choices=["first", "diverse"], help="how MSA sequences are chosen")
    parser.add_argument("--evaluate", action="store_true", help="with a structure input: print the precision table against it")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(func=_run_predict)


def _looks_like_pdb_id(text: str) -> bool:
    return len(text) == 4 and text[0].isdigit() and text.isalnum()


def _is_structure_file(path: Path) -> bool:
    name = path.name.lower()
    name = name[:-3] if name.endswith(".gz") else name
    return name.endswith(STRUCTURE_SUFFIXES) or (name.startswith("pdb") and name.endswith(".ent"))


def _read_fasta(path: Path) -> List[Tuple[str, str]]:
    records: List[Tuple[str, List[str]]] = []
    for line_number, line in enumerate(path.read_text().splitlines(), start=1):
        if line.startswith(">"):
            records.append((line[1:].strip().split()[0] if line[1:].strip() else f"record{len(records) + 1}", []))
        elif line.strip() and not line.startswith(";"):
            if not records:
                raise CommandError(f"{path}, line {line_number}: sequence before the first '>' header")
            records[-1][1].append(line.strip())
    if not records:
        raise CommandError(f"{path}: no FASTA records")
    return [(name, "".join(parts)) for name, parts in records]


def _prediction_inputs(args):
    """(name, sequence, structure or None) for every input record."""
    text = args.input
    path = Path(text)
    if path.is_file() and not _is_structure_file(path):
        if path.read_text(errors="replace").lstrip().startswith(">"):
            return [(name, seq, None) for name, seq in _read_fasta(path)]
        raise CommandError(f"{path}: neither FASTA (no '>' header) nor a structure file extension ({', '.join(STRUCTURE_SUFFIXES)})")
    if path.is_file() or _looks_like_pdb_id(text):
        from .structure import chain_sequence, load_structure

        structure = load_structure(text)
        chain = args.chain or _single_protein_chain(structure, text)
        return [(f"{path.stem if path.is_file() else text}_{chain}", chain_sequence(structure, chain), (structure, chain))]
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


def _safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def _print_pairs(name: str, sequence: str, P, pairs) -> None:
    from .metrics import range_of

    print(f"# {name}: {len(sequence)} residues")
    print(f"{'i':>5} {'j':>5} {'res_i':>5} {'res_j':>5} {'prob':>8} {'sep':>5}  range")
    for i, j in zip(*pairs):
        print(f"{i + 1:5d} {j + 1:5d} {sequence[i]:>5} {sequence[j]:>5} {P[i, j]:8.4f} {j - i:5d}  {range_of(j - i)}")


def _run_predict(args) -> int:
    from .io import contact_format, write_contacts
    from .metrics import top_pairs
    from .models import DEFAULT_MODEL
    from .predictor import ContactPredictor, clean_sequence

    if args.min_sep < 1:
        raise CommandError("--min-sep must be at least 1")
    if args.out:
        contact_format(args.out)  # unknown extension: fail before loading anything
    records = _prediction_inputs(args)
    # Validate every input before the (slow) model load, so input errors come first.
    records = [(name, clean_sequence(seq, name=name), structure) for name, seq, structure in records]
    if args.msa and len(records) != 1:
        raise CommandError("--msa needs a single input sequence")
    if args.evaluate and any(structure is None for _, _, structure in records):
        raise CommandError("--evaluate needs a structure file or PDB ID as INPUT")
    top = args.top or ("all" if args.out else "L")
    predictor = ContactPredictor.from_pretrained(args.model or DEFAULT_MODEL, device=args.device,
                                                 dtype=args.dtype, regression=args.regression)
    progress = not args.quiet and sys.stderr.isatty()
    if args.msa:
        maps = [predictor.predict_msa(args.msa, num_seqs=args.num_seqs, strategy=args.msa_strategy, progress=progress)]
    else:
        maps = predictor.predict_batch([seq for _, seq, _ in records], progress=progress)
    several = len(records) > 1
    for (name, sequence, structure), P in zip(records, maps):
        i, j, _ = top_pairs(P, top=top, min_sep=args.min_sep)
        if args.out:
            out = _output_path(args.out, name, several)
            write_contacts(out, P, sequence=sequence, pairs=(i, j), target=name, method=f"{predictor.name} attention contacts")
            print(f"{name}: {len(sequence)} residues, {len(i)} pairs written to {out}", file=sys.stderr)
        else:
            _print_pairs(name, sequence, P, (i, j))
        if args.evaluate:
            _print_evaluation(P, sequence, *structure)
    return 0


def _print_evaluation(P, sequence: str, structure, chain: str) -> None:
    from .metrics import evaluate, format_table
    from .structure import true_contacts

    print(format_table(evaluate(P, true_contacts(structure, chain, sequence=sequence))))


# --- evaluate / evaluate-set (Biotite layer) -----------------------------------


# --- train-regression (regression) ---------------------------------------------


# --- PyMOL plugin installation -----------------------------------------------------


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
        return args.func(args) or 0
    except (CommandError, ValueError, FileNotFoundError, KeyError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"esm-contacts {args.command}: error: {message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("esm-contacts: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
