"""PyMOL: residue labels in logs and selections (insertion codes), one matching rule (issue 9
sections 2, 3)."""

import biotite.structure.io.pdb as pdb  # noqa: E402
import numpy as np
import pytest
from pymol import CmdException  # noqa: E402

from esm_contacts.io import write_contacts  # noqa: E402
from esm_contacts.structure import (
    chain_sequence,
    load_structure,
    residue_identities,
    true_contacts,
)  # noqa: E402
from pymol_plugin import check, commands  # noqa: E402

SHIFTED = (
    76,
    92,
)  # 0-based positions of 1igy chain B moved by two residues: 79 ... 82A 82B 82C ... 86


@pytest.fixture(scope="module")
def instance(pymol_cmd):
    """This module's headless PyMOL (conftest's ``pymol_cmd``)."""
    return pymol_cmd


@pytest.fixture(scope="module")
def igy_files(tmp_path_factory, shared_data):
    """1igy chain B as built and with a register error over residues carrying insertion codes."""
    folder = tmp_path_factory.mktemp("igy")
    structure = load_structure(shared_data / "1igy.cif")
    chain = structure[structure.chain_id == "B"]
    T = true_contacts(structure, "B")
    P = np.clip(0.8 * (T == 1) + 0.05, 0, 1).astype(np.float32)
    write_contacts(folder / "b.rr", P, sequence=chain_sequence(structure, "B"))
    starts = np.flatnonzero(
        np.r_[True, (np.diff(chain.res_id) != 0) | (chain.ins_code[1:] != chain.ins_code[:-1])]
    )
    ends = np.r_[starts[1:], chain.array_length()]
    shifted = chain.copy()
    for k in range(*SHIFTED):
        for a in range(starts[k], ends[k]):
            match = np.flatnonzero(
                chain.atom_name[starts[k + 2] : ends[k + 2]] == chain.atom_name[a]
            )
            if len(match):
                shifted.coord[a] = chain.coord[starts[k + 2] + match[0]]
    for name, atoms in (("built", chain), ("shifted", shifted)):
        out = pdb.PDBFile()
        out.set_structure(atoms)
        out.write(str(folder / f"{name}.pdb"))
    return folder, residue_identities(structure, "B")


@pytest.fixture
def cmd(instance, igy_files):
    instance.delete("all")
    instance.load(str(igy_files[0] / "shifted.pdb"), "shifted")
    yield instance
    instance.delete("all")


def test_hint_selection_and_log_use_insertion_codes(cmd, igy_files, capsys):
    folder, identities = igy_files
    results = check.esm_contacts_check("shifted", str(folder / "b.rr"), _self=cmd)
    log = capsys.readouterr().out
    hints = results[0].hints
    assert hints, log
    # The selection holds exactly the residues of the hinted positions, insertion codes included.
    expected = {
        (identities[k][0], f"{identities[k][1]}{identities[k][2]}")
        for h in hints
        for k in range(h.start - 1, h.end)
    }
    selected = set()
    cmd.iterate(
        "esm_check_hints and name CA", "selected.add((chain, resi))", space={"selected": selected}
    )
    assert selected == expected
    assert any(not resi[-1].isdigit() for _, resi in selected)  # 82A ... are in it
    first = identities[hints[0].start - 1]
    assert f"residues B:{first[1]}{first[2]}-" in log and "positions" in log


def test_check_refuses_another_protein(cmd, shared_data, tmp_path):
    # A prediction of 1hvr chain A against 1igy chain B: CmdException, session unchanged.
    hvr = load_structure(shared_data / "1hvr.pdb")
    write_contacts(
        tmp_path / "hvr.rr",
        true_contacts(hvr, "A").clip(0, 1).astype(np.float32),
        sequence=chain_sequence(hvr, "A"),
    )
    before = cmd.get_names("all")
    b_before = []
    cmd.iterate("shifted and name CA", "b_before.append(b)", space={"b_before": b_before})
    with pytest.raises(CmdException, match="not the same protein"):
        check.esm_contacts_check("shifted", str(tmp_path / "hvr.rr"), _self=cmd)
    b_after = []
    cmd.iterate("shifted and name CA", "b_after.append(b)", space={"b_after": b_after})
    assert cmd.get_names("all") == before and b_after == b_before


def test_draw_uses_the_same_rule_and_its_override(cmd, igy_files, tmp_path):
    folder, identities = igy_files
    structure = load_structure(folder / "built.pdb")
    sequence = chain_sequence(structure, "B")
    letters = list(sequence)
    for k in range(0, len(letters), 8):  # 1 in 8 changed: 87 % identical, under 90 %
        letters[k] = "W" if letters[k] != "W" else "A"
    T = true_contacts(structure, "B")
    write_contacts(
        tmp_path / "variant.rr",
        np.clip(0.8 * (T == 1) + 0.05, 0, 1).astype(np.float32),
        sequence="".join(letters),
    )
    before = cmd.get_names("all")
    with pytest.raises(CmdException, match="87% identity"):
        commands.esm_contacts_load(str(tmp_path / "variant.rr"), "shifted", _self=cmd)
    assert cmd.get_names("all") == before
    drawn = commands.esm_contacts_load(
        str(tmp_path / "variant.rr"), "shifted", min_identity="0.85", _self=cmd
    )
    assert drawn["counts"]
    with pytest.raises(CmdException, match="min_identity"):
        commands.esm_contacts_load(
            str(tmp_path / "variant.rr"), "shifted", min_identity="2", _self=cmd
        )


def test_msa_of_another_protein_is_refused_before_predicting(cmd, shared_data, monkeypatch):
    def no_prediction(*args, **kwargs):
        raise AssertionError("predicted although the MSA is of another protein")

    monkeypatch.setattr(commands, "predict", no_prediction)
    before = cmd.get_names("all")
    with pytest.raises(CmdException, match="the MSA .*1a3a_1_A.a3m.*not the same protein"):
        commands.esm_contacts("shifted", msa=str(shared_data / "1a3a_1_A.a3m"), _self=cmd)
    assert cmd.get_names("all") == before
