"""Model checking (issue 6): agreement, per-residue support, register-shift hints, ranking.

The "good predictor" is the structure's own true contacts with noise, so a correct model
must agree with it; the wrong models are made here from real coordinates: one segment
renumbered by two residues (a register error), and another protein's backbone threaded
onto the sequence.
"""

import json

import biotite.structure as struc
import biotite.structure.io.pdb as pdb
import numpy as np
import pytest
from register_models import SEGMENT, SHIFT, chain_atoms, move_backbone, residue_slices

from esm_contacts.cli import main
from esm_contacts.io import write_contacts
from esm_contacts.structure import chain_sequence, load_structure, true_contacts
from esm_contacts.validation import (
    RegisterHint,
    format_ranking,
    rank_models,
    register_shift_hints,
    residue_support,
    validate,
)


@pytest.fixture(scope="module")
def threaded_model(model_1a3a, shared_data):
    """Another protein's backbone carrying 1a3a's sequence: the wrong fold."""
    other = load_structure(shared_data / "4JSV.pdb")
    other = chain_atoms(other, struc.get_chains(other)[0])
    threaded = model_1a3a.copy()
    source = residue_slices(other)
    for k, residue in enumerate(residue_slices(model_1a3a)):
        move_backbone(threaded, residue, other, source[k + 200])
    return threaded


def test_correct_model_agrees_without_hints(model_1a3a, prediction_1a3a):
    result = validate(prediction_1a3a, model_1a3a, "A", name="1a3a_A")
    L = prediction_1a3a.shape[0]
    assert result.num_predicted + result.unknown == L
    assert result.agreement > 0.9
    assert result.agreement_by_range["long"] > 0.9
    assert result.hints == []
    supported = result.support[~np.isnan(result.support)]
    assert np.median(supported) > 0.9


def test_register_error_flagged_with_shift_two(model_1a3a, prediction_1a3a, register_error_model):
    correct = validate(prediction_1a3a, model_1a3a, "A", name="correct")
    shifted = validate(prediction_1a3a, register_error_model, "A", name="shifted")
    assert shifted.agreement < correct.agreement
    assert len(shifted.hints) >= 1
    hint = max(shifted.hints, key=lambda h: h.gain)
    assert hint.shift == SHIFT
    # The hinted stretch (1-based) overlaps the shifted segment for most of its length.
    segment = set(range(SEGMENT[0] + 1, SEGMENT[1] + 1))
    hinted = set(range(hint.start, hint.end + 1))
    assert len(segment & hinted) >= 0.6 * len(hinted)
    # Residues of the segment lose support relative to the correct model.
    seg = slice(*SEGMENT)
    assert np.nanmean(shifted.support[seg]) < np.nanmean(correct.support[seg]) - 0.3


def test_threaded_wrong_fold_scores_low(model_1a3a, prediction_1a3a, threaded_model):
    wrong = validate(prediction_1a3a, threaded_model, "A", name="threaded")
    assert wrong.agreement < 0.35
    correct = validate(prediction_1a3a, model_1a3a, "A", name="correct")
    ranked = rank_models([wrong, correct])
    assert [v.name for v in ranked] == ["correct", "threaded"]
    table = format_ranking([wrong, correct]).splitlines()
    assert table[1].split()[:2] == ["1", "correct"] and table[2].split()[:2] == ["2", "threaded"]


def test_agreement_equals_direct_count(model_1a3a, prediction_1a3a, register_error_model):
    """Agreement is the fraction of the top-L known pairs with Cb-Cb < 8 A, counted here by hand."""
    P = prediction_1a3a
    T = true_contacts(register_error_model, "A")
    L = len(P)
    iu, ju = np.triu_indices(L, k=6)
    order = np.lexsort((ju, iu, -P[iu, ju].astype(np.float64)))[:L]
    i, j = iu[order], ju[order]
    expected = np.mean(T[i, j] == 1)
    result = validate(P, register_error_model, "A")
    assert result.num_predicted == L and result.unknown == 0
    assert result.agreement == pytest.approx(expected, abs=1e-12)
    long = j - i >= 24
    assert result.agreement_by_range["long"] == pytest.approx(
        np.mean(T[i[long], j[long]] == 1), abs=1e-12
    )


def test_unobserved_residues_do_not_take_top_places(model_1a3a, prediction_1a3a):
    """A model missing residues 30-49: the top L are ranked among pairs it can be checked on."""
    residues = residue_slices(model_1a3a)
    keep = np.ones(len(model_1a3a), dtype=bool)
    for k in range(30, 50):
        keep[residues[k]] = False
    partial = model_1a3a[keep]
    sequence = chain_sequence(model_1a3a, "A")
    P = prediction_1a3a
    L = len(P)
    T = true_contacts(partial, "A", sequence=sequence)
    assert (T[30:50] == -1).all() and (T[:30, :30] >= 0).all()
    iu, ju = np.triu_indices(L, k=6)
    known = T[iu, ju] >= 0
    order = np.lexsort((ju[known], iu[known], -P[iu[known], ju[known]].astype(np.float64)))[:L]
    i, j = iu[known][order], ju[known][order]
    plain = np.lexsort((ju, iu, -P[iu, ju].astype(np.float64)))[:L]
    result = validate(P, partial, "A", sequence=sequence)
    assert result.num_predicted == L
    assert result.unknown == int(np.count_nonzero(T[iu[plain], ju[plain]] < 0)) > 0
    assert result.agreement == pytest.approx(np.mean(T[i, j] == 1), abs=1e-12)
    assert np.isnan(result.support[30:50]).all()


def test_last_residues_are_in_a_window():
    """L = 41, window 12, step 4: regular starts end at 28 (residues 29-40); one more covers 41."""
    L = 41
    coordinates = np.zeros((L, 3))
    coordinates[:, 0] = (
        np.arange(L) * 7.0
    )  # sparse enough that only the exact shift satisfies a pair
    half = 20
    coordinates[half + 1 :, 0] = coordinates[:half, 0][::-1]
    coordinates[half + 1 :, 1] = 5.0
    i = np.arange(0, 20)
    j = L - 1 - i
    built = coordinates.copy()
    built[L - 12 :] = coordinates[L - 15 : L - 3]  # the last 12 residues sit 3 places back
    hints = register_shift_hints(built, i, j)
    last = max(hints, key=lambda h: h.end)
    assert last.end == L and last.shift == -3


def test_residue_support_by_hand():
    i = np.array([0, 0, 1])
    j = np.array([5, 7, 7])
    p = np.array([0.9, 0.5, 0.2])
    satisfied = np.array([True, False, True])
    predicted, satisfied_count, support = residue_support(9, i, j, p, satisfied)
    assert predicted.tolist() == [2, 1, 0, 0, 0, 1, 0, 2, 0]
    assert satisfied_count.tolist() == [1, 1, 0, 0, 0, 1, 0, 1, 0]
    assert support[0] == pytest.approx(0.9 / 1.4)
    assert support[1] == pytest.approx(1.0)
    assert support[7] == pytest.approx(0.2 / 0.7)
    assert np.isnan(support[2]) and np.isnan(support[8])


def test_register_hints_on_ideal_geometry():
    """Two ideal antiparallel strands; a stretch built three residues out of register is found."""
    L = 60
    coordinates = np.zeros((L, 3))
    coordinates[:, 0] = np.arange(L) * 3.8
    # Fold into two antiparallel strands so residue k pairs with residue L - 1 - k.
    half = L // 2
    coordinates[half:, 0] = coordinates[:half, 0][::-1]
    coordinates[half:, 1] = 5.0
    i = np.arange(10, 25)
    j = L - 1 - i
    assert register_shift_hints(coordinates, i, j) == []
    built = coordinates.copy()
    built[10:25] = coordinates[
        13:28
    ]  # residue k sits where k + 3 belongs (11.4 A along the strand)
    hints = register_shift_hints(built, i, j)
    assert hints and all(isinstance(h, RegisterHint) for h in hints)
    best = max(hints, key=lambda h: h.gain)
    assert best.shift == 3 and best.gain >= 10
    assert min(h.start for h in hints) <= 11 and max(h.end for h in hints) >= 25


def test_length_mismatch_is_explained(model_1a3a, prediction_1a3a):
    with pytest.raises(ValueError, match="covers 140 residues but chain A"):
        validate(prediction_1a3a[:140, :140], model_1a3a, "A")


def test_cli_validate_ranks_and_plots(
    tmp_path, model_1a3a, prediction_1a3a, register_error_model, capsys
):
    sequence = chain_sequence(model_1a3a, "A")
    prediction = tmp_path / "pred.rr"
    write_contacts(prediction, prediction_1a3a, sequence=sequence)
    paths = []
    for name, atoms in (("shifted.pdb", register_error_model), ("correct.pdb", model_1a3a)):
        out = pdb.PDBFile()
        out.set_structure(atoms)
        out.write(str(tmp_path / name))
        paths.append(str(tmp_path / name))
    plot = tmp_path / "support.png"
    assert (
        main(["validate", str(prediction), *paths, "--chain", "A", "--json", "--plot", str(plot)])
        == 0
    )
    reports = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in reports] == ["shifted.pdb", "correct.pdb"]
    by_name = {r["name"]: r for r in reports}
    assert by_name["correct.pdb"]["register_hints"] == []
    assert any(h["shift"] == SHIFT for h in by_name["shifted.pdb"]["register_hints"])
    assert len(by_name["correct.pdb"]["residues"]) == len(sequence)
    assert plot.stat().st_size > 0
    assert main(["validate", str(prediction), *paths, "--chain", "A"]) == 0
    text = capsys.readouterr().out
    assert "register-shift hints: none" in text
    ranking = text[text.index("rank") :].splitlines()
    assert ranking[1].split()[:2] == ["1", "correct.pdb"]


def test_cli_validate_errors(tmp_path, capsys, shared_data):
    assert (
        main(
            [
                "validate",
                str(tmp_path / "missing.rr"),
                str(shared_data / "1a3a.pdb"),
                "--chain",
                "A",
            ]
        )
        == 2
    )
    assert "missing.rr" in capsys.readouterr().err
    assert main(["validate", str(shared_data / "1a3a.pdb"), "--chain", "A"]) == 2
    assert "at least one model" in capsys.readouterr().err


def test_the_sequence_is_mapped_once(model_1a3a, prediction_1a3a, monkeypatch):
    """validate maps the sequence onto the chain once: the contacts come from the same
    coordinates."""
    import esm_contacts.structure as structure

    calls = []
    original = structure.map_sequence

    def counting(*args, **kwargs):
        calls.append(args[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(structure, "map_sequence", counting)
    sequence = chain_sequence(model_1a3a, "A")
    result = validate(prediction_1a3a, model_1a3a, "A", sequence=sequence)
    assert calls == [sequence]
    monkeypatch.setattr(structure, "map_sequence", original)
    same = validate(prediction_1a3a, model_1a3a, "A").to_dict()
    assert json.dumps(result.to_dict(), sort_keys=True) == json.dumps(same, sort_keys=True)
