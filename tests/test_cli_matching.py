"""The command line: one sequence-matching rule everywhere, residue labels, NMR models (issue 9
sections 2, 3, 5)."""

import json
import shutil

import numpy as np
import pytest

from esm_contacts.cli import build_parser, main
from esm_contacts.io import write_contacts
from esm_contacts.structure import chain_sequence, load_structure, true_contacts

SUBCOMMANDS_WITH_MIN_IDENTITY = (
    "evaluate",
    "evaluate-set",
    "validate",
    "predict",
    "train-regression",
)


def _prediction(structure, chain, seed=0):
    """The chain's true contacts with noise: a good prediction indexed by its observed residues."""
    T = true_contacts(structure, chain)
    rng = np.random.default_rng(seed)
    P = np.clip(0.7 * (T == 1) + 0.1 + 0.1 * rng.random(T.shape), 0, 1)
    return ((P + P.T) / 2).astype(np.float32)


@pytest.fixture(scope="module")
def hiv_rr(tmp_path_factory, shared_data):
    structure = load_structure(shared_data / "1hvr.pdb")
    path = tmp_path_factory.mktemp("hiv") / "hiv.rr"
    write_contacts(path, _prediction(structure, "A"), sequence=chain_sequence(structure, "A"))
    return path


def one_error_line(capsys, command):
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and captured.err.startswith(
        f"esm-contacts {command}: error:"
    ), captured.err
    assert "Traceback" not in captured.err and "warn" not in captured.err.lower()
    return captured


def test_min_identity_is_declared_on_every_matching_subcommand():
    parser = build_parser()
    actions = {a.dest: a for a in parser._subparsers._group_actions[0].choices["evaluate"]._actions}
    help_text = actions["min_identity"].help
    for command in SUBCOMMANDS_WITH_MIN_IDENTITY:
        sub = parser._subparsers._group_actions[0].choices[command]
        found = [a for a in sub._actions if a.dest == "min_identity"]
        assert len(found) == 1 and found[0].help == help_text, command
    # Out of range: one line and exit 2 before any file is read (the options table's check).
    assert (
        main(["evaluate", "x.rr", "--structure", "s.pdb", "--chain", "A", "--min-identity", "1.5"])
        == 2
    )


def test_validate_refuses_a_model_of_another_protein(capsys, shared_data, hiv_rr):
    # 1hvr's prediction against 1hvr (right) and 1a3a (another protein): not ranked, exit 2.
    code = main(
        [
            "validate",
            str(hiv_rr),
            str(shared_data / "1hvr.pdb"),
            str(shared_data / "1a3a.pdb"),
            "--chain",
            "A",
        ]
    )
    assert code == 2
    captured = one_error_line(capsys, "validate")
    assert (
        "1a3a.pdb" in captured.err
        and "not the same protein" in captured.err
        and "identity" in captured.err
    )
    assert not captured.out


def test_validate_prints_a_summary_and_the_ranking(capsys, shared_data, hiv_rr):
    code = main(
        [
            "validate",
            str(hiv_rr),
            str(shared_data / "1hvr.pdb"),
            str(shared_data / "1hvr.pdb"),
            "--chain",
            "A",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "support" not in out  # no per-residue table by default
    assert out.count("1hvr.pdb: 99 predicted contacts") == 2 and "rank" in out
    main(["validate", str(hiv_rr), str(shared_data / "1hvr.pdb"), "--chain", "A", "--per-residue"])
    out = capsys.readouterr().out
    assert "support" in out and "A:93 " in out and "position" in out


def test_validate_checks_every_model_of_an_nmr_entry(capsys, tmp_path, shared_data):
    path = shared_data / "1l2y.pdb"
    structure = load_structure(path)
    pred = tmp_path / "trp.rr"
    write_contacts(pred, _prediction(structure, "A"), sequence=chain_sequence(structure, "A"))
    assert main(["validate", str(pred), str(path), "--chain", "A", "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in results] == [f"1l2y.pdb model {n}" for n in range(1, 39)]
    # Each model is scored against its own coordinates: model 3's agreement by direct count.
    from esm_contacts.metrics import top_pairs
    from esm_contacts.structure import load_models

    model3 = load_models(path, model_numbers=[3])[0]
    T3 = true_contacts(model3, "A")
    P = _prediction(structure, "A")
    i, j, _ = top_pairs(P, top="L", min_sep=6, T=T3)
    assert results[2]["agreement"] == pytest.approx(float(np.mean(T3[i, j] == 1)))
    assert (
        main(
            [
                "validate",
                str(pred),
                str(path),
                "--chain",
                "A",
                "--min-sep",
                "3",
                "--model-number",
                "3",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "1l2y.pdb model 3:" in out and "model 4" not in out
    assert main(["validate", str(pred), str(path), "--chain", "A", "--model-number", "40"]) == 2
    assert "no model 40; the file has 38 models" in one_error_line(capsys, "validate").err


def test_validate_json_names_residues_by_the_structure(capsys, tmp_path, shared_data):
    # 1igy chain B numbers its residues with insertion codes (82A, 82B, ...).
    path = shared_data / "1igy.cif"
    structure = load_structure(path)
    pred = tmp_path / "b.rr"
    write_contacts(pred, _prediction(structure, "B"), sequence=chain_sequence(structure, "B"))
    assert main(["validate", str(pred), str(path), "--chain", "B", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)[0]
    from esm_contacts.structure import residue_identities

    expected = [f"{r}{i}" for _, r, i, _ in residue_identities(structure, "B")]
    assert [r["residue"] for r in result["residues"]] == expected
    assert [r["position"] for r in result["residues"]] == list(range(1, len(expected) + 1))
    assert any(not number[-1].isdigit() for number in expected)


def test_register_hints_name_the_structures_residues(model_1a3a_shifted):
    from esm_contacts.validation import format_validation

    result, offset = model_1a3a_shifted
    assert result.hints
    hint = result.hints[0]
    entry = result.to_dict()["register_hints"][0]
    assert entry["first_residue"] == str(hint.start + offset) and entry["last_residue"] == str(
        hint.end + offset
    )
    assert (
        f"residues A:{hint.start + offset}-A:{hint.end + offset} (positions"
        f" {hint.start}-{hint.end})" in format_validation(result, residues=False)
    )


@pytest.fixture()
def model_1a3a_shifted(shared_data, tmp_path):
    """1a3a chain A renumbered from 700 (author numbers unlike positions), a segment out of
    register."""
    from esm_contacts.validation import validate

    text = (shared_data / "1a3a.pdb").read_text().splitlines()
    offset = 699  # residue k (1-based position) gets number k + 699 where 1a3a numbers from 1
    first = next(int(line[22:26]) for line in text if line.startswith("ATOM") and line[21] == "A")
    lines = []
    for line in text:
        if line.startswith(("ATOM", "HETATM")) and line[21] == "A":
            line = f"{line[:22]}{int(line[22:26]) - first + 1 + offset:4d}{line[26:]}"
        lines.append(line)
    path = tmp_path / "renumbered.pdb"
    path.write_text("\n".join(lines) + "\n")
    structure = load_structure(path)
    assert chain_sequence(structure, "A") == chain_sequence(
        load_structure(shared_data / "1a3a.pdb"), "A"
    )
    # Shift the coordinates of positions 61-76 by two residues (a register error).
    T = true_contacts(structure, "A")
    P = np.clip(0.8 * (T == 1) + 0.05, 0, 1).astype(np.float32)
    atoms = structure.copy()
    starts = np.flatnonzero(np.r_[True, np.diff(atoms.res_id) != 0])
    ends = np.r_[starts[1:], atoms.array_length()]
    coords = atoms.coord.copy()
    for k in range(60, 76):
        for a in range(starts[k], ends[k]):
            match = np.flatnonzero(
                atoms.atom_name[starts[k + 2] : ends[k + 2]] == atoms.atom_name[a]
            )
            if len(match):
                coords[a] = atoms.coord[starts[k + 2] + match[0]]
    atoms.coord = coords
    return validate(P, atoms, "A", sequence=chain_sequence(structure, "A")), offset


def test_predict_msa_of_another_protein_against_a_structure(
    capsys, tmp_path, shared_data, tiny_esm2
):
    # 1hvr chain A with 1a3a's MSA: refused before the model loads, one line.
    code = main(
        [
            "predict",
            str(shared_data / "1hvr.pdb"),
            "--chain",
            "A",
            "--msa",
            str(shared_data / "1a3a_1_A.a3m"),
            "--model",
            str(tmp_path / "no-such-model.pt"),
            "--evaluate",
        ]
    )
    assert code == 2
    captured = one_error_line(capsys, "predict")
    assert (
        "1a3a_1_A.a3m (query)" in captured.err
        and "not the same protein" in captured.err
        and not captured.out
    )


def test_every_subcommand_reads_assembly_file_suffixes(
    capsys, tmp_path, shared_data, tiny_esm2, hiv_rr
):
    for name in ("1hvr.pdb1", "pdb1hvr.ent"):
        shutil.copy(shared_data / "1hvr.pdb", tmp_path / name)
        assert (
            main(
                [
                    "predict",
                    str(tmp_path / name),
                    "--chain",
                    "A",
                    "--model",
                    str(tiny_esm2),
                    "--device",
                    "cpu",
                    "--top",
                    "5",
                ]
            )
            == 0
        ), capsys.readouterr().err
        out = capsys.readouterr().out
        assert out.startswith(f"# {name.split('.')[0]}_A: 99 residues"), out
        assert (
            main(["evaluate", str(hiv_rr), "--structure", str(tmp_path / name), "--chain", "A"])
            == 0
        )
        assert "L = 99" in capsys.readouterr().out
        assert main(["validate", str(hiv_rr), str(tmp_path / name), "--chain", "A"]) == 0
        assert f"{name}: 99 predicted contacts" in capsys.readouterr().out
        (tmp_path / "list.tsv").write_text(f"{hiv_rr}\t{tmp_path / name}\tA\n")
        assert main(["evaluate-set", str(tmp_path / "list.tsv")]) == 0
        capsys.readouterr()


def test_evaluate_set_and_train_regression_apply_the_rule(capsys, tmp_path, shared_data, hiv_rr):
    (tmp_path / "list.tsv").write_text(f"{hiv_rr}\t{shared_data / '1a3a.pdb'}\tA\n")
    assert main(["evaluate-set", str(tmp_path / "list.tsv")]) == 2
    assert "not the same protein" in one_error_line(capsys, "evaluate-set").err
    # A PDB whose SEQRES is 1hvr's with every fifth residue changed (80 % identical to the chain).
    lines = (shared_data / "1hvr.pdb").read_text().splitlines()
    changed = []
    for line in lines:
        if line.startswith("SEQRES"):
            names = line[19:].split()
            names = [
                ("TRP" if n != "TRP" else "ALA") if k % 5 == 0 else n for k, n in enumerate(names)
            ]
            line = line[:19] + " ".join(names)
        changed.append(line)
    path = tmp_path / "seqres.pdb"
    path.write_text("\n".join(changed) + "\n")
    out = tmp_path / "r.pt"
    args = [
        "train-regression",
        "--model",
        str(tmp_path / "missing.pt"),
        "--structures",
        f"{path}:A",
        "--out",
        str(out),
    ]
    assert main(args) == 2
    captured = one_error_line(capsys, "train-regression")
    assert f"{path}:A" in captured.err and "not the same protein" in captured.err
    # Lowered on purpose, the chain is read (and the missing model is the next error).
    assert main(args + ["--min-identity", "0.7"]) == 2
    captured = capsys.readouterr()
    assert "missing.pt" in captured.err and "same protein" not in captured.err


def test_evaluate_names_homodimer_pairs_by_residue(capsys, tmp_path, shared_data):
    # 1hvr chain A renumbered from 501: inter-chain false positives are listed as A:5xx.
    lines = []
    for line in (shared_data / "1hvr.pdb").read_text().splitlines():
        if line.startswith(("ATOM", "HETATM")) and line[21] in "AB":
            line = f"{line[:22]}{int(line[22:26]) + 500:4d}{line[26:]}"
        lines.append(line)
    path = tmp_path / "renumbered.pdb"
    path.write_text("\n".join(lines) + "\n")
    structure = load_structure(path)
    from esm_contacts.structure import homodimer_contacts

    T, X = true_contacts(structure, "A"), homodimer_contacts(structure, "A")
    i, j = np.triu_indices(T.shape[0], k=6)
    P = np.full(T.shape, 0.01, dtype=np.float32)
    inter = (T[i, j] == 0) & (X[i, j] == 1)
    P[i[inter][:5], j[inter][:5]] = 0.9
    P = np.maximum(P, P.T)
    write_contacts(tmp_path / "p.rr", P, sequence=chain_sequence(structure, "A"), min_sep=1)
    assert (
        main(
            ["evaluate", str(tmp_path / "p.rr"), "--structure", str(path), "--chain", "A", "--json"]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    expected = [[f"A:{a + 501}", f"A:{b + 501}"] for a, b in zip(i[inter][:5], j[inter][:5])]
    assert result["homodimer"]["residue_pairs"] == expected
    assert main(["evaluate", str(tmp_path / "p.rr"), "--structure", str(path), "--chain", "A"]) == 0
    assert ", ".join(f"{a}-{b}" for a, b in expected) in capsys.readouterr().out


def test_support_plot_axis_shows_residue_labels(shared_data, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from esm_contacts.plot import _residue_axis, plot_residue_support
    from esm_contacts.validation import validate

    structure = load_structure(shared_data / "1igy.cif")
    result = validate(
        _prediction(structure, "B"),
        structure,
        "B",
        sequence=chain_sequence(structure, "B"),
        name="igy",
    )
    figure, axes = plt.subplots()
    _residue_axis(axes, result)
    formatter = axes.xaxis.get_major_formatter()
    # Position 84 (1-based) is the 84th observed residue of chain B: 82B; the chain starts at
    # residue 2.
    assert formatter(84, 0) == "B:82B" and formatter(1, 0) == "B:2" and formatter(84.5, 0) == ""
    plt.close(figure)
    assert plot_residue_support([result], tmp_path / "s.png").is_file()


def test_validate_reads_an_assembly_file_as_one_structure(capsys, tmp_path, shared_data, hiv_rr):
    # A .pdb1 holds symmetry copies as MODELs: it is one structure (its first model), not an
    # ensemble.
    text = (shared_data / "1hvr.pdb").read_text().splitlines()
    atoms = [line for line in text if line.startswith(("ATOM", "HETATM", "TER"))]
    path = tmp_path / "1hvr.pdb1"
    path.write_text(
        "\n".join(["MODEL        1", *atoms, "ENDMDL", "MODEL        2", *atoms, "ENDMDL", "END"])
        + "\n"
    )
    assert main(["validate", str(hiv_rr), str(path), "--chain", "A"]) == 0
    out = capsys.readouterr().out
    assert "1hvr.pdb1: 99 predicted contacts" in out and "model 2" not in out
