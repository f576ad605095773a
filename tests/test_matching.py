"""Sequence matching, residue labels, homodimer partners by entity, all models (issue 9 sections
2-4)."""

import numpy as np
import pytest

from esm_contacts.structure import (
    MIN_COVERAGE,
    MIN_IDENTITY,
    STRUCTURE_SUFFIXES,
    SequenceMismatchError,
    chain_sequence,
    entity_sequence,
    homodimer_contacts,
    homodimer_partners,
    interchain_contacts,
    is_structure_file,
    load_models,
    load_structure,
    map_sequence,
    match_sequences,
    model_count,
    residue_identities,
    residue_labels,
    same_protein,
    true_contacts,
)

TRP_CAGE = "NLYIQWLKDGGPSSGRPPPS"  # 1l2y


# ---------------------------------------------------------------------------- the rule


def _mutate(sequence: str, count: int) -> str:
    """`sequence` with `count` letters (every other position from the start) changed to W/A."""
    letters = list(sequence)
    for k in range(count):
        letters[2 * k] = "W" if letters[2 * k] != "W" else "A"
    return "".join(letters)


def test_rule_constants():
    assert (MIN_IDENTITY, MIN_COVERAGE) == (0.9, 0.5)


def test_identity_threshold_is_90_percent(shared_data):
    s = load_structure(shared_data / "1l2y.pdb")
    # 2 of 20 changed: 90 % identical (accepted); 3 of 20: 85 % (refused).
    np.testing.assert_array_equal(map_sequence(_mutate(TRP_CAGE, 2), s, "A"), np.arange(20))
    with pytest.raises(SequenceMismatchError, match="85% identity"):
        map_sequence(_mutate(TRP_CAGE, 3), s, "A", where="pred.rr")
    assert same_protein(TRP_CAGE, _mutate(TRP_CAGE, 2)) and not same_protein(
        TRP_CAGE, _mutate(TRP_CAGE, 3)
    )
    assert same_protein(TRP_CAGE, _mutate(TRP_CAGE, 3), min_identity=0.85)


def test_coverage_is_half_of_the_shorter(shared_data):
    chain = chain_sequence(load_structure(shared_data / "1hvr.pdb"), "A")  # 99 residues
    assert same_protein(chain, chain[:50])  # a fragment: covers all of the shorter one
    # Two fragments that share 11 residues: identical where aligned, but 11 of 54 is 20 %.
    with pytest.raises(SequenceMismatchError, match="100% identity .* cover 20%") as caught:
        match_sequences(chain[:55], chain[44:])
    assert caught.value.coverage < MIN_COVERAGE
    assert not same_protein(
        chain[:55], chain[44:], min_identity=0.0
    )  # lowering identity keeps coverage


def test_error_names_where_identity_and_coverage(shared_data):
    s = load_structure(shared_data / "1hvr.pdb")
    foreign = chain_sequence(load_structure(shared_data / "1a3a.pdb"), "A")
    with pytest.raises(ValueError) as caught:
        true_contacts(s, "A", sequence=foreign)
    assert isinstance(caught.value, SequenceMismatchError)
    with pytest.raises(SequenceMismatchError, match=r"^x\.rr: .*identity.*cover"):
        map_sequence(foreign, s, "A", where="x.rr")


def test_entity_sequence_maps_by_label_seq_id_without_alignment(shared_data):
    s = load_structure(shared_data / "4zey.cif")
    entity = entity_sequence(s, "A")
    mapping = map_sequence(entity, s, "A", min_identity=1.0)
    observed = chain_sequence(s, "A")
    assert "".join(entity[k] for k in np.flatnonzero(mapping >= 0)) == observed


def test_structure_suffixes_are_one_list():
    from esm_contacts import cli

    assert not hasattr(cli, "STRUCTURE_SUFFIXES") or cli.STRUCTURE_SUFFIXES is STRUCTURE_SUFFIXES
    for name in (
        "x.pdb",
        "x.pdb1",
        "X.PDB2.gz",
        "x.cif.gz",
        "pdb1abc.ent",
        "pdb1abc.ent.gz",
        "x.bcif",
        "x.mmcif",
    ):
        assert is_structure_file(name), name
    for name in ("x.rr", "x.fasta", "x.npy", "x.pdbq"):
        assert not is_structure_file(name), name


# ---------------------------------------------------------------------------- residue labels


def _atom_site_residues(path, chain: str, entity: str):
    """(auth_seq_id + ins code, comp) of each residue of `chain` read from the mmCIF text itself."""
    lines = path.read_text().splitlines()
    start = next(k for k, line in enumerate(lines) if line.startswith("_atom_site.group_PDB"))
    columns = []
    for line in lines[start:]:
        if not line.startswith("_atom_site."):
            break
        columns.append(line.strip().split(".", 1)[1])
    col = {name: k for k, name in enumerate(columns)}
    residues = []
    for line in lines[start + len(columns) :]:
        if not line.startswith(("ATOM", "HETATM")):
            break
        f = line.split()
        if f[col["auth_asym_id"]] != chain or f[col["label_entity_id"]] != entity:
            continue
        ins = f[col["pdbx_PDB_ins_code"]]
        key = (f[col["auth_seq_id"]] + ("" if ins in ("?", ".") else ins), f[col["auth_comp_id"]])
        if not residues or residues[-1] != key:
            residues.append(key)
    return residues


def test_residue_labels_carry_insertion_codes(shared_data):
    path = shared_data / "1igy.cif"
    s = load_structure(path)
    expected = _atom_site_residues(path, "B", "2")
    assert any(not number[-1].isdigit() for number, _ in expected)  # the file has insertion codes
    assert residue_labels(s, "B") == [f"B:{number}" for number, _ in expected]
    assert residue_labels(s, "B", with_name=True) == [
        f"B:{number} {name}" for number, name in expected
    ]


def test_residue_labels_of_a_sequence(shared_data):
    s = load_structure(shared_data / "4zey.cif")
    entity = entity_sequence(s, "A")
    labels = residue_labels(s, "A", sequence=entity)
    observed = residue_labels(s, "A")
    assert len(labels) == len(entity) and [x for x in labels if x is not None] == observed


# ---------------------------------------------------------------------------- homodimer partners


def _cut_pdb(text: str, keep) -> str:
    """PDB text without the ATOM/HETATM records `keep(chain, number)` rejects."""
    out = []
    for line in text.splitlines():
        if line.startswith(("ATOM", "HETATM", "ANISOU")) and not keep(line[21], int(line[22:26])):
            continue
        out.append(line)
    return "\n".join(out) + "\n"


def test_pdb_partners_by_identical_seqres(shared_data, tmp_path):
    # 1hvr chain A keeps residues 1-55, chain B 45-99: the observed fragments barely
    # overlap (11 residues, under half of either), yet SEQRES says they are one protein.
    text = (shared_data / "1hvr.pdb").read_text()
    path = tmp_path / "cut.pdb"
    path.write_text(
        _cut_pdb(text, lambda chain, n: (chain == "A" and n <= 55) or (chain == "B" and n >= 45))
    )
    s = load_structure(path)
    assert not same_protein(chain_sequence(s, "A"), chain_sequence(s, "B"))
    assert homodimer_partners(s, "A") == ["B"] and homodimer_partners(s, "B") == ["A"]
    # The contacts correspond through SEQRES: residue k of A with residue k of B.
    X = homodimer_contacts(s, "A", sequence=entity_sequence(s, "A"))
    full = load_structure(shared_data / "1hvr.pdb")
    direct = interchain_contacts(full, "A", "B", sequence=entity_sequence(full, "A"))
    known = X >= 0
    assert known.any()
    # Where the cut file can judge a pair through A(i)-B(j'), the full dimer agrees.
    a = np.arange(99) < 55
    b = np.arange(99) >= 44
    judge = a[:, None] & b[None, :]
    assert ((X == 1) >= (direct == 1))[judge].all()


def test_pdb_without_seqres_aligns_observed(shared_data, tmp_path):
    text = "\n".join(
        line
        for line in (shared_data / "1hvr.pdb").read_text().splitlines()
        if not line.startswith("SEQRES")
    )
    path = tmp_path / "noseqres.pdb"
    path.write_text(text + "\n")
    s = load_structure(path)
    assert s.entity_groups == {}
    assert homodimer_partners(s, "A") == ["B"]
    cut = tmp_path / "cut.pdb"
    cut.write_text(
        _cut_pdb(text, lambda chain, n: (chain == "A" and n <= 55) or (chain == "B" and n >= 45))
    )
    assert homodimer_partners(load_structure(cut), "A") == []  # no entity: alignment decides


def _cut_cif(text: str, keep) -> str:
    lines = text.splitlines()
    start = next(k for k, line in enumerate(lines) if line.startswith("_atom_site.group_PDB"))
    columns = [line for line in lines[start:] if line.startswith("_atom_site.")]
    chain_col = [c.strip() for c in columns].index("_atom_site.auth_asym_id")
    number_col = [c.strip() for c in columns].index("_atom_site.auth_seq_id")
    out = []
    for line in lines:
        if line.startswith(("ATOM", "HETATM")):
            f = line.split()
            if not keep(f[chain_col], int(f[number_col])):
                continue
        out.append(line)
    return "\n".join(out) + "\n"


def test_mmcif_partners_by_entity_id(shared_data, tmp_path):
    # 1igy: entity 1 is chains A and C (light chain, 213 residues); cut them to fragments
    # that barely overlap. All other chains of the entity are partners; B and D are not.
    text = (shared_data / "1igy.cif").read_text()
    path = tmp_path / "cut.cif"
    path.write_text(
        _cut_cif(text, lambda c, n: (c != "A" or n <= 110) or False if c != "C" else n >= 100)
    )
    s = load_structure(path)
    assert len(chain_sequence(s, "A")) < 120 and len(chain_sequence(s, "C")) < 120
    assert not same_protein(chain_sequence(s, "A"), chain_sequence(s, "C"))
    assert homodimer_partners(s, "A") == ["C"]
    assert homodimer_partners(s, "B") == ["D"]
    X = homodimer_contacts(s, "A", sequence=entity_sequence(s, "A"))
    assert X.shape == (len(entity_sequence(s, "A")),) * 2


BLANK_CHAIN_PDB = """\
HEADER    TEST
SEQRES   1      5  GLY ALA SER LEU GLY
ATOM      1  N   ALA     2       0.000   0.000   0.000  1.00  0.00           N
ATOM      2  CA  ALA     2       1.458   0.000   0.000  1.00  0.00           C
ATOM      3  C   ALA     2       2.009   1.420   0.000  1.00  0.00           C
ATOM      4  N   SER     3       3.332   1.536   0.000  1.00  0.00           N
ATOM      5  CA  SER     3       3.970   2.845   0.000  1.00  0.00           C
ATOM      6  C   SER     3       5.486   2.700   0.000  1.00  0.00           C
ATOM      7  N   LEU     4       6.040   3.909   0.000  1.00  0.00           N
ATOM      8  CA  LEU     4       7.492   4.014   0.000  1.00  0.00           C
ATOM      9  C   LEU     4       7.969   5.460   0.000  1.00  0.00           C
END
"""


def test_blank_chain_keeps_its_seqres(tmp_path):
    path = tmp_path / "pdb1xyz.ent"
    path.write_text(BLANK_CHAIN_PDB)
    s = load_structure(path)
    assert chain_sequence(s, "") == "ASL"
    assert entity_sequence(s, "") == "GASLG"
    np.testing.assert_array_equal(map_sequence("GASLG", s, ""), [-1, 0, 1, 2, -1])
    assert residue_labels(s, "") == ["2", "3", "4"]


# ---------------------------------------------------------------------------- models


def test_every_model_of_an_nmr_entry(shared_data):
    path = shared_data / "1l2y.pdb"
    assert model_count(path) == 38
    models = load_models(path)
    assert [m.model_number for m in models] == list(range(1, 39))
    # Model 3's CA coordinates, read from the file's text independently.
    text = path.read_text().split("\nMODEL ")[3]
    ca = np.array(
        [
            [float(line[30:38]), float(line[38:46]), float(line[46:54])]
            for line in text.splitlines()
            if line.startswith("ATOM") and line[12:16] == " CA "
        ]
    )
    np.testing.assert_allclose(models[2].coord[models[2].atom_name == "CA"], ca, atol=1e-3)
    np.testing.assert_array_equal(
        load_structure(path).coord, models[0].coord
    )  # the default stays model 1
    assert [m.model_number for m in load_models(path, model_numbers=[5])] == [5]
    with pytest.raises(ValueError, match="no model 39; the file has 38 models"):
        load_models(path, model_numbers=[39])


def _seqres(names, chains) -> list:
    """PDB SEQRES records (13 residues a line) of one residue-name list for each chain."""
    lines = []
    for chain in chains:
        for k in range(0, len(names), 13):
            lines.append(
                f"SEQRES {k // 13 + 1:3d} {chain} {len(names):4d}  "
                + " ".join(f"{n:>3}" for n in names[k : k + 13])
            )
    return lines


def test_several_chains_of_one_entity_with_fragments_are_all_partners(shared_data, tmp_path):
    # 1a3a: 4 chains of one protein (its header, SEQRES included, is stripped). Given SEQRES
    # records of that protein for all four, and observed fragments that overlap little or
    # not at all (as in 5kc1's 12 chains), every other chain of the entity is a partner.
    text = (shared_data / "1a3a.pdb").read_text().splitlines()
    names = {}
    for line in text:
        if line.startswith("ATOM"):
            names[int(line[22:26])] = line[17:20]
    numbers = sorted(names)
    assert numbers == list(range(numbers[0], numbers[-1] + 1))  # no gap: SEQRES from the union
    keep = {"A": (1, 52), "B": (45, 97), "C": (90, 140), "D": (120, 150)}
    atoms = [
        line
        for line in text
        if not line.startswith(("ATOM", "HETATM"))
        or (line[21] in keep and keep[line[21]][0] <= int(line[22:26]) <= keep[line[21]][1])
    ]
    path = tmp_path / "fragments.pdb"
    path.write_text("\n".join(_seqres([names[n] for n in numbers], "ABCD") + atoms) + "\n")
    s = load_structure(path)
    assert len(set(s.entity_sequences.values())) == 1
    assert not same_protein(chain_sequence(s, "A"), chain_sequence(s, "C"))  # no overlap at all
    assert homodimer_partners(s, "A") == ["B", "C", "D"]
    assert homodimer_partners(s, "C") == ["A", "B", "D"]
    # Contacts of A with its partners are indexed through the SEQRES (entity) positions.
    entity = entity_sequence(s, "A")
    X = homodimer_contacts(s, "A", sequence=entity)
    full = load_structure(shared_data / "1a3a.pdb")
    assert X.shape == (len(entity), len(entity)) and (X >= 0).any()
    # A judged pair (A residue i, partner residue j) agrees with the full structure's chains.
    for partner in "BCD":
        direct = interchain_contacts(full, "A", partner)
        ra = {r[1]: k for k, r in enumerate(residue_identities(full, "A"))}
        rp = {r[1]: k for k, r in enumerate(residue_identities(full, partner))}
        for i_num in range(1, 53):
            for j_num in range(keep[partner][0], keep[partner][1] + 1):
                if i_num in ra and j_num in rp and direct[ra[i_num], rp[j_num]] == 1:
                    assert X[i_num - numbers[0], j_num - numbers[0]] == 1


def test_one_sequence_cleaner_for_matching_prediction_and_training(shared_data, tiny_esm1b):
    """Matching, prediction and training accept the same letters and name a bad one alike
    (esm_contacts.sequence.clean_sequence)."""
    from esm_contacts.predictor import ContactPredictor
    from esm_contacts.regression import pair_features

    s = load_structure(shared_data / "1l2y.pdb")
    lowered = "nlyi qwlkd\nggpssgrppps*"  # case, whitespace and a stop are accepted everywhere
    np.testing.assert_array_equal(map_sequence(lowered, s, "A"), np.arange(20))
    predictor = ContactPredictor.from_pretrained(tiny_esm1b, device="cpu")
    np.testing.assert_array_equal(predictor.predict(lowered), predictor.predict(TRP_CAGE))
    bad = TRP_CAGE[:4] + "J" + TRP_CAGE[5:]  # J: no ESM model reads it
    message = "invalid character 'J' at position 5"
    with pytest.raises(ValueError, match=message):
        map_sequence(bad, s, "A")
    with pytest.raises(ValueError, match=message):
        same_protein(bad, TRP_CAGE)
    with pytest.raises(ValueError, match=message):
        predictor.predict(bad)
    with pytest.raises(ValueError, match=message):
        pair_features(predictor, bad, np.array([0]), np.array([6]))
