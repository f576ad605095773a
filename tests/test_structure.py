"""Structures as ground truth: reading, altlocs, residue mapping, Cb contacts, homodimers.

Contacts are checked against an independent all-pairs NumPy computation, on structures
built here with known geometry and on the real files in ../shared/data.
"""

import gzip
import shutil
import warnings

import biotite.structure as struc
import biotite.structure.io.pdb as pdb
import biotite.structure.io.pdbx as pdbx
import numpy as np
import pytest

from esm_contacts.structure import (
    SequenceMismatchError,
    cb_coordinates,
    chain_ids,
    chain_sequence,
    copy_label,
    entity_sequence,
    homodimer_contacts,
    homodimer_partners,
    interchain_contacts,
    load_assembly,
    load_structure,
    map_sequence,
    parse_copy_label,
    residue_identities,
    true_contacts,
)

THREE = {
    "A": "ALA", "C": "CYS", "D": "ASP", "E": "GLU", "F": "PHE", "G": "GLY", "H": "HIS", "I": "ILE",
    "K": "LYS", "L": "LEU", "M": "MET", "N": "ASN", "P": "PRO", "Q": "GLN", "R": "ARG", "S": "SER",
    "T": "THR", "V": "VAL", "W": "TRP", "Y": "TYR",
}  # fmt: skip
# An alanine in a local frame (A): N, CA, C, O, CB.
TEMPLATE = {
    "N": (-0.525, 1.363, 0.000),
    "CA": (0.000, 0.000, 0.000),
    "C": (1.526, 0.000, 0.000),
    "O": (2.153, -1.062, 0.000),
    "CB": (-0.529, -0.774, -1.205),
}


# ---------------------------------------------------------------------------- references


def numpy_virtual_cb(n, ca, c):
    """DESIGN.md's ideal Cb, written out again."""
    b, c = ca - n, c - ca
    return -0.58273431 * np.cross(b, c) + 0.56802827 * b - 0.54067466 * c + ca


def numpy_residue_atoms(atoms, chain):
    """{(res_id, ins_code): {atom_name: coord}} by a plain loop, in order of appearance."""
    residues = {}
    for atom in atoms[atoms.chain_id == chain]:
        residues.setdefault((int(atom.res_id), str(atom.ins_code)), {})[str(atom.atom_name)] = (
            atom.coord.astype(float)
        )
    return residues


def numpy_cb(atoms, chain, cb="virtual"):
    rows = []
    for names in numpy_residue_atoms(atoms, chain).values():
        if cb == "virtual":
            have = all(k in names for k in ("N", "CA", "C"))
            rows.append(
                numpy_virtual_cb(names["N"], names["CA"], names["C"])
                if have
                else np.full(3, np.nan)
            )
        else:
            rows.append(names.get("CB", names.get("CA", np.full(3, np.nan))))
    return np.array(rows)


def numpy_contacts(a, b=None, cutoff=8.0):
    """All-pairs distances, -1 for rows/columns with NaN coordinates."""
    b = a if b is None else b
    d = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))
    T = (d < cutoff).astype(np.int8)
    T[np.isnan(a).any(1)] = -1
    T[:, np.isnan(b).any(1)] = -1
    return T


# ---------------------------------------------------------------------------- builders


def residues_to_atoms(residues):
    """AtomArray from [(chain, res_id, res_name, {atom_name: xyz})]."""
    rows = [
        (chain, res_id, name, atom, xyz)
        for chain, res_id, name, atoms in residues
        for atom, xyz in atoms.items()
    ]
    array = struc.AtomArray(len(rows))
    array.chain_id = [r[0] for r in rows]
    array.res_id = [r[1] for r in rows]
    array.res_name = [r[2] for r in rows]
    array.atom_name = [r[3] for r in rows]
    array.element = [r[3][0] for r in rows]
    array.hetero[:] = False
    array.coord = np.array([r[4] for r in rows], dtype=np.float32)
    return array


def translated_chain(sequence, chain, step, offset=(0.0, 0.0, 0.0), first_res_id=1):
    """Copies of TEMPLATE moved by `step` per residue: Cb-Cb distance = |i - j| * |step|."""
    out = []
    for k, letter in enumerate(sequence):
        shift = np.asarray(offset) + k * np.asarray(step)
        out.append(
            (
                chain,
                first_res_id + k,
                THREE[letter],
                {n: np.add(xyz, shift) for n, xyz in TEMPLATE.items()},
            )
        )
    return out


def helix_backbone(n, origin=(0.0, 0.0, 0.0), turn=100.0, rise=1.5):
    """N, CA, C of an ideal-ish alpha helix along z (3.6 residues/turn, 1.5 A rise)."""
    k = np.arange(n)[:, None]
    atoms = {}
    for name, radius, phase, dz in (
        ("N", 1.55, -28.0, -0.9),
        ("CA", 2.3, 0.0, 0.0),
        ("C", 1.65, 26.0, 0.95),
    ):
        angle = np.radians(k * turn + phase)
        atoms[name] = np.hstack(
            [radius * np.cos(angle), radius * np.sin(angle), k * rise + dz]
        ) + np.asarray(origin)
    return atoms


def helix_atoms(n, chain="A", per_helix=None, spacing=10.0):
    """A chain of helices of `per_helix` residues stacked on a square grid (a compact fold)."""
    per_helix = per_helix or n
    coords = {"N": [], "CA": [], "C": []}
    side = int(np.ceil(np.sqrt(np.ceil(n / per_helix))))
    for h, start in enumerate(range(0, n, per_helix)):
        count = min(per_helix, n - start)
        backbone = helix_backbone(count, origin=((h % side) * spacing, (h // side) * spacing, 0.0))
        for name in coords:
            coords[name].append(backbone[name])
    coords = {name: np.vstack(parts) for name, parts in coords.items()}
    array = struc.AtomArray(3 * n)
    array.chain_id[:] = chain
    array.res_id = np.repeat(np.arange(1, n + 1), 3)
    array.res_name[:] = "ALA"
    array.atom_name = np.tile(["N", "CA", "C"], n)
    array.element = np.tile(["N", "C", "C"], n)
    array.coord = np.stack([coords["N"], coords["CA"], coords["C"]], axis=1).reshape(-1, 3)
    return array


def write_pdb(atoms, path):
    file = pdb.PDBFile()
    file.set_structure(atoms)
    file.write(str(path))
    return path


def pdb_line(serial, name, altloc, res_name, chain, res_id, xyz, occupancy, record="ATOM"):
    return (
        f"{record:<6}{serial:>5} {name:<4}{altloc:1}{res_name:>3} {chain:1}{res_id:>4}   "
        f" {xyz[0]:>8.3f}{xyz[1]:>8.3f}{xyz[2]:>8.3f}{occupancy:>6.2f}{20.0:>6.2f}         "
        f" {name[0]:>2}"
    )


# ---------------------------------------------------------------------------- known geometry


@pytest.mark.parametrize("step, contact_range", [(3.9, 2), (4.1, 1), (2.6, 3)])
def test_translated_residues_give_the_contacts_their_spacing_implies(tmp_path, step, contact_range):
    path = write_pdb(
        residues_to_atoms(translated_chain("ACDEFGHIKLMN", "A", (step, 0.0, 0.0))),
        tmp_path / "line.pdb",
    )
    s = load_structure(path)
    i, j = np.indices((12, 12))
    expected = (np.abs(i - j) <= contact_range).astype(np.int8)
    for cb in ("virtual", "real"):
        np.testing.assert_array_equal(true_contacts(s, "A", cb=cb), expected)


def test_helix_contacts_match_numpy_all_pairs(tmp_path):
    path = write_pdb(helix_atoms(150, per_helix=30), tmp_path / "helices.pdb")
    s = load_structure(path)
    atoms = pdb.PDBFile.read(str(path)).get_structure(model=1)
    for cutoff in (6.0, 8.0, 12.0):
        T = true_contacts(s, "A", cutoff=cutoff)
        np.testing.assert_array_equal(T, numpy_contacts(numpy_cb(atoms, "A"), cutoff=cutoff))
    # within one helix: i, i+4 always in contact at 8 A, i, i+8 never
    helix = true_contacts(s, "A")[:30, :30]
    assert np.all(np.diagonal(helix, 4) == 1) and np.all(np.diagonal(helix, 8) == 0)


def test_missing_backbone_atom_makes_the_residue_unknown(tmp_path):
    residues = translated_chain("ACDEFG", "A", (3.8, 0.0, 0.0))
    del residues[2][3]["N"]  # residue 3 (index 2) without N
    s = load_structure(write_pdb(residues_to_atoms(residues), tmp_path / "gap.pdb"))
    T = true_contacts(s, "A")
    assert np.all(T[2] == -1) and np.all(T[:, 2] == -1)
    assert T[1, 3] == 1 and T[0, 0] == 1 and np.isnan(cb_coordinates(s, "A")[2]).all()
    # the real CB is still there
    assert true_contacts(s, "A", cb="real")[2, 3] == 1


def test_contacts_of_a_5000_residue_chain():
    """The neighbour search against all pairs on a long chain (its speed: scripts/benchmark.py
    --structures)."""
    s = helix_atoms(5000, per_helix=100)
    T = true_contacts(s, "A")
    # spot check blocks against all pairs: far apart, and across the diagonal
    cb = numpy_cb(s, "A")
    np.testing.assert_array_equal(T[:700, 2000:2700], numpy_contacts(cb[:700], cb[2000:2700]))
    np.testing.assert_array_equal(T[4300:, 4300:], numpy_contacts(cb[4300:]))
    assert T.shape == (5000, 5000) and T.dtype == np.int8


def test_hetero_amino_acids_count_only_when_peptide_bonded(tmp_path):
    residues = translated_chain("ACDEF", "A", (3.8, 0.0, 0.0))
    # residue 3 becomes a selenomethionine bonded to residue 2 (C-N 1.33 A)
    mse = {name: np.add(xyz, 0.0) for name, xyz in residues[2][3].items()}
    mse["N"] = np.add(residues[1][3]["C"], (1.33, 0.0, 0.0))
    residues[2] = ("A", 3, "MSE", mse)
    free_trp = ("A", 101, "TRP", {n: np.add(xyz, (0.0, 30.0, 0.0)) for n, xyz in TEMPLATE.items()})
    water = ("A", 201, "HOH", {"O": (5.0, 5.0, 5.0)})
    atoms = residues_to_atoms(residues + [free_trp, water])
    atoms.hetero[np.isin(atoms.res_name, ["MSE", "TRP", "HOH"])] = True
    s = load_structure(write_pdb(atoms, tmp_path / "ligands.pdb"))
    assert chain_sequence(s, "A") == "ACMEF"
    assert [r[1] for r in residue_identities(s, "A")] == [1, 2, 3, 4, 5]


# ---------------------------------------------------------------------------- altlocs


def test_numeric_altlocs_keep_every_residue_and_pick_the_highest_occupancy(tmp_path):
    lines, serial = [], 1

    def add(name, altloc, res_id, xyz, occupancy):
        nonlocal serial
        lines.append(pdb_line(serial, name, altloc, "ALA", "A", res_id, xyz, occupancy))
        serial += 1

    step = np.array([3.8, 0.0, 0.0])
    lift = np.array([0.0, 0.0, 1.0])
    for k, res_id in enumerate(range(1, 5)):
        base = {n: np.add(xyz, k * step) for n, xyz in TEMPLATE.items()}
        if res_id == 2:  # numeric altlocs, '2' wins on occupancy
            for n, xyz in base.items():
                add(n, "1", res_id, xyz, 0.40)
            for n, xyz in base.items():
                add(n, "2", res_id, xyz + lift, 0.60)
        elif res_id == 3:  # tie: the altloc listed first ('B') wins, not the alphabetical one
            for n, xyz in base.items():
                add(n, "B", res_id, xyz - lift, 0.50)
            for n, xyz in base.items():
                add(n, "A", res_id, xyz, 0.50)
        elif res_id == 4:  # backbone without altloc, CB in two numeric altlocs
            for n in ("N", "CA", "C", "O"):
                add(n, " ", res_id, base[n], 1.00)
            add("CB", "1", res_id, base["CB"], 0.30)
            add("CB", "2", res_id, base["CB"] + lift, 0.70)
        else:
            for n, xyz in base.items():
                add(n, " ", res_id, xyz, 1.00)
    path = tmp_path / "altlocs.pdb"
    path.write_text("\n".join(lines + ["END"]) + "\n")

    s = load_structure(path)
    assert [r[1] for r in residue_identities(s, "A")] == [1, 2, 3, 4]
    assert chain_sequence(s, "A") == "AAAA"
    assert s.array_length() == 20  # one conformer of five atoms per residue
    ca = {int(a.res_id): a.coord for a in s if a.atom_name == "CA"}
    np.testing.assert_allclose(ca[2], np.add(TEMPLATE["CA"], step) + lift, atol=1e-3)
    np.testing.assert_allclose(ca[3], np.add(TEMPLATE["CA"], 2 * step) - lift, atol=1e-3)
    real = cb_coordinates(s, "A", cb="real")
    np.testing.assert_allclose(real[3], np.add(TEMPLATE["CB"], 3 * step) + lift, atol=1e-3)


def test_3o5r_altlocs(shared_data):
    raw = pdbx.get_structure(
        pdbx.CIFFile.read(str(shared_data / "3o5r.cif")),
        model=1,
        altloc="all",
        extra_fields=["occupancy"],
    )
    s = load_structure(shared_data / "3o5r.cif")
    # every polymer residue of the file is there, once
    protein = raw[struc.filter_amino_acids(raw) & ~raw.hetero]
    expected = sorted(
        {
            (str(c), int(r), str(i))
            for c, r, i in zip(protein.chain_id, protein.res_id, protein.ins_code)
        }
    )
    identities = residue_identities(s, "A")
    assert sorted((c, r, i) for c, r, i, _ in identities) == expected
    assert len(set(identities)) == len(identities)
    # within a residue no atom name twice; the kept conformer has the highest occupancy
    with_altloc = raw[~np.isin(raw.altloc_id, [".", "", " "])]
    assert len(with_altloc) > 0
    for res_id in np.unique(with_altloc.res_id):
        kept = s[(s.chain_id == "A") & (s.res_id == res_id)]
        if kept.array_length() == 0:
            continue  # a ligand or water with altlocs
        assert len(set(kept.atom_name)) == kept.array_length()
        here = with_altloc[with_altloc.res_id == res_id]
        occupancy = {
            a: here.occupancy[here.altloc_id == a].mean() for a in np.unique(here.altloc_id)
        }
        best = max(occupancy.values())
        chosen = [a for a in occupancy if np.isclose(occupancy[a], best)]
        kept_coords = {tuple(np.round(c, 3)) for c in kept.coord}
        conformer = here[here.altloc_id == chosen[0]]
        assert all(tuple(np.round(c, 3)) in kept_coords for c in conformer.coord)
    # no waters, no ligand
    assert set(np.unique(s.res_name)) <= set(struc.info.amino_acid_names())
    assert not np.isin(s.res_name, ["HOH"]).any()


# ---------------------------------------------------------------------------- formats and real
# files


def test_1l2y_pdb_mmcif_bcif_give_identical_results(shared_data):
    loaded = [load_structure(shared_data / name) for name in ("1l2y.pdb", "1l2y.cif", "1l2y.bcif")]
    first = loaded[0]
    assert chain_sequence(first, "A") == "NLYIQWLKDGGPSSGRPPPS"
    for s in loaded:
        assert chain_ids(s) == ["A"]
        assert residue_identities(s, "A") == residue_identities(first, "A")
        for cb in ("virtual", "real"):
            np.testing.assert_array_equal(
                true_contacts(s, "A", cb=cb), true_contacts(first, "A", cb=cb)
            )
    # first model only
    model_1 = pdb.PDBFile.read(str(shared_data / "1l2y.pdb")).get_structure(model=1)
    assert first.array_length() == model_1.array_length()
    np.testing.assert_array_equal(first.coord, model_1.coord)


def test_gzipped_and_mirror_named_files(shared_data, tmp_path):
    reference = true_contacts(load_structure(shared_data / "1l2y.pdb"), "A")
    ent = tmp_path / "pdb1l2y.ent.gz"
    ent.write_bytes(gzip.compress((shared_data / "1l2y.pdb").read_bytes()))
    cif = tmp_path / "1l2y.cif.gz"
    cif.write_bytes(gzip.compress((shared_data / "1l2y.cif").read_bytes()))
    plain = tmp_path / "pdb1l2y.ent"
    shutil.copy(shared_data / "1l2y.pdb", plain)
    for path in (ent, cif, plain):
        np.testing.assert_array_equal(true_contacts(load_structure(path), "A"), reference)


def test_cached_pdb_id_loads_offline(shared_data, tmp_path, monkeypatch):
    monkeypatch.setenv("ESM_CONTACTS_OFFLINE", "1")
    shutil.copy(shared_data / "1l2y.cif", tmp_path / "1l2y.cif")
    s = load_structure("1L2Y", cache_dir=tmp_path)
    assert chain_sequence(s, "A") == "NLYIQWLKDGGPSSGRPPPS"


def test_real_contacts_match_numpy_all_pairs(shared_data):
    s = load_structure(shared_data / "1a3a.pdb")
    for cb in ("virtual", "real"):
        np.testing.assert_array_equal(
            true_contacts(s, "A", cb=cb), numpy_contacts(numpy_cb(s, "A", cb))
        )
    # the ideal Cb lies close to the real one
    real = numpy_cb(s, "A", "real")
    has_cb = np.array(["CB" in names for names in numpy_residue_atoms(s, "A").values()])
    deviation = np.linalg.norm(cb_coordinates(s, "A")[has_cb] - real[has_cb], axis=1)
    assert np.nanmedian(deviation) < 0.1 and np.nanmax(deviation) < 0.6


def test_insertion_codes_identify_residues(shared_data):
    s = load_structure(shared_data / "1igy.cif")
    identities = residue_identities(s, "B")
    assert len(identities) == len(chain_sequence(s, "B"))
    keys = [(c, r, i) for c, r, i, _ in identities]
    assert len(set(keys)) == len(keys)
    assert {("B", 82, "A"), ("B", 82, "B"), ("B", 82, "C")} <= set(keys)
    assert len(np.unique(s[s.chain_id == "B"].res_id)) < len(keys)
    T = true_contacts(s, "B")
    assert T.shape == (len(keys), len(keys))
    np.testing.assert_array_equal(T, numpy_contacts(numpy_cb(s, "B")))


def test_mse_reads_as_methionine_from_gzipped_mmcif(shared_data):
    s = load_structure(shared_data / "1A8O.cif.gz")
    identities = residue_identities(s, "A")
    sequence = chain_sequence(s, "A")
    mse = [k for k, r in enumerate(identities) if r[3] == "MSE"]
    assert mse and all(sequence[k] == "M" for k in mse)
    assert "X" not in sequence
    assert sequence in entity_sequence(s, "A")


def test_dna_chains_are_ignored(shared_data):
    raw = pdbx.get_structure(pdbx.CIFFile.read(str(shared_data / "5ugo.cif")), model=1)
    dna_chains = set(np.unique(raw.chain_id[struc.filter_nucleotides(raw)]))
    s = load_structure(shared_data / "5ugo.cif")
    assert dna_chains and not dna_chains & set(chain_ids(s))
    assert chain_ids(s) == ["A"]
    assert not np.isin(s.res_name, ["DA", "DC", "DG", "DT"]).any()
    with pytest.raises(ValueError, match="chains: A"):
        chain_sequence(s, sorted(dna_chains)[0])


def read_a3m_query(path):
    lines = [line.strip() for line in open(path) if line.strip()]
    return "".join(ch for ch in lines[1] if not ch.islower())


def test_4zey_msa_query_maps_onto_the_structure(shared_data):
    s = load_structure(shared_data / "4zey.cif")
    query = read_a3m_query(shared_data / "4zey_A_bfd_uniclust_hits.a3m")
    assert query == entity_sequence(s, "A")
    observed = chain_sequence(s, "A")
    mapping = map_sequence(query, s, "A")
    label = s.label_seq_id[struc.get_residue_starts(s)] - 1
    np.testing.assert_array_equal(np.flatnonzero(mapping >= 0), label)
    assert "".join(query[k] for k in label) == observed

    # Unobserved stretches (here removed from the structure) map to -1, by label_seq_id
    # and by alignment alike, and their rows of the contact map are unknown.
    gap = (s.label_seq_id >= 30) & (s.label_seq_id <= 41)
    cut = s[~gap]
    expected = np.full(len(query), -1)
    kept = np.setdiff1d(np.arange(len(query)), np.arange(29, 41))
    expected[kept] = np.arange(len(kept))
    np.testing.assert_array_equal(map_sequence(query, cut, "A"), expected)
    aligned_only = cut.copy()
    aligned_only.del_annotation("label_seq_id")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # identity is 100%: no warning
        np.testing.assert_array_equal(map_sequence(query, aligned_only, "A"), expected)
    T = true_contacts(cut, "A", sequence=query)
    assert T.shape == (len(query), len(query))
    assert np.all(T[29:41] == -1) and np.all(T[:, 29:41] == -1)
    full = true_contacts(s, "A")
    np.testing.assert_array_equal(T[np.ix_(kept, kept)], full[np.ix_(kept, kept)])


def test_1a3a_msa_query_is_the_observed_chain(shared_data):
    s = load_structure(shared_data / "1a3a.pdb")
    query = read_a3m_query(shared_data / "1a3a_1_A.a3m")
    np.testing.assert_array_equal(
        map_sequence(query, s, "A"), np.arange(len(chain_sequence(s, "A")))
    )


def test_mapping_a_foreign_sequence_raises(shared_data):
    s = load_structure(shared_data / "1l2y.pdb")
    with pytest.raises(SequenceMismatchError, match=r"identity .* cover"):
        map_sequence("MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQ", s, "A")
    # 1l2y's own sequence NLYIQWLKDGGPSSGRPPPS with 5 of 20 letters changed: 75% identity
    variant = "NAYIEWLKDAGPSSGRPAPT"
    with pytest.raises(SequenceMismatchError, match="75% identity .* cover 100%") as caught:
        map_sequence(variant, s, "A")
    assert caught.value.identity == pytest.approx(0.75) and caught.value.coverage == 1.0
    mapping = map_sequence(variant, s, "A", min_identity=0.7)
    np.testing.assert_array_equal(mapping, np.arange(20))
    with pytest.raises(ValueError, match="position 3"):
        map_sequence("NL-YIQ", s, "A")


# ---------------------------------------------------------------------------- inter-chain and
# homodimers


def test_1hvr_interchain_contacts_and_partners(shared_data):
    s = load_structure(shared_data / "1hvr.pdb")
    assert chain_ids(s) == ["A", "B"]
    cso = [k for k, r in enumerate(residue_identities(s, "A")) if r[3] == "CSO"]
    assert cso and all(chain_sequence(s, "A")[k] == "C" for k in cso)
    assert chain_sequence(s, "A") == chain_sequence(s, "B")
    X = interchain_contacts(s, "A", "B")
    assert X.shape == (99, 99) and (X == 1).sum() > 50
    np.testing.assert_array_equal(X, numpy_contacts(numpy_cb(s, "A"), numpy_cb(s, "B")))
    assert homodimer_partners(s, "A") == ["B"] and homodimer_partners(s, "B") == ["A"]
    H = homodimer_contacts(s, "A")
    np.testing.assert_array_equal(H, ((X == 1) | (X.T == 1)).astype(np.int8))
    # the file's biological assembly (REMARK 350) is the same dimer
    assembly = load_assembly(shared_data / "1hvr.pdb")
    assert homodimer_partners(s, "A", assembly) == ["B"]
    np.testing.assert_array_equal(homodimer_contacts(s, "A", assembly=assembly), H)


def test_copy_labels_are_written_and_read_by_one_pair_of_functions():
    """Chain ID alone for a chain's first copy, "chain:sym_id" for a symmetry copy; read back."""
    assert copy_label("A") == "A" and copy_label("A", 1) == "A:1"
    assert copy_label("AB", np.int64(12)) == "AB:12"
    assert parse_copy_label("A:1") == ("A", 1) and parse_copy_label("B") == ("B", None)
    assert parse_copy_label("AB:12") == ("AB", 12)
    for label in ("A", "B:2", "AB:10", "X:0"):
        assert copy_label(*parse_copy_label(label)) == label
    for not_a_copy in ("A:x", ":1", "A:"):  # no symmetry number: the text is a chain ID as it is
        assert parse_copy_label(not_a_copy) == (not_a_copy, None)


def test_1a3a_partners(shared_data):
    s = load_structure(shared_data / "1a3a.pdb")
    assert homodimer_partners(s, "A") == ["B", "C", "D"]
    assert load_assembly(shared_data / "1a3a.pdb") is None  # header records stripped


def test_symmetry_copies_count_as_partners(shared_data):
    s = load_structure(shared_data / "1A8O.cif.gz")
    assert homodimer_partners(s, "A") == []
    assert not homodimer_contacts(s, "A").any()
    assembly = load_assembly(shared_data / "1A8O.cif.gz")
    assert sorted(np.unique(assembly.sym_id)) == [0, 1]
    assert homodimer_partners(s, "A", assembly) == ["A:1"]
    assert parse_copy_label("A:1") == ("A", 1)  # the partner is sym_id 1's copy of chain A
    # chain_copy finds each copy by that label (the plugin's dashes end on its atoms).
    from esm_contacts.structure import chain_copy

    for label, sym in (("A", 0), ("A:1", 1)):
        atoms = chain_copy(assembly, label)
        expected = assembly[(assembly.chain_id == "A") & (assembly.sym_id == sym)]
        assert atoms.array_length() == expected.array_length() > 0
        np.testing.assert_array_equal(atoms.coord, expected.coord)
    assert chain_copy(assembly, "A:7").array_length() == 0
    assert chain_sequence(assembly, "A") == chain_sequence(s, "A")  # a chain is its first copy
    first, second = (assembly[assembly.sym_id == k] for k in (0, 1))
    expected = numpy_contacts(numpy_cb(first, "A"), numpy_cb(second, "A"))
    symmetric = ((expected == 1) | (expected.T == 1)).astype(np.int8)
    np.testing.assert_array_equal(homodimer_contacts(s, "A", assembly=assembly), symmetric)


def test_homodimer_contacts_use_the_alignment_not_array_positions(tmp_path):
    # B is A shifted by 6 A in y with its first three residues unobserved: residue k of A
    # touches residues k-1..k+1 of B (6.0 and 7.1 A), k+-2 are 9.7 A away.
    sequence = "ACDEFGHIKL"
    chain_a = translated_chain(sequence, "A", (3.8, 0.0, 0.0))
    chain_b = translated_chain(sequence, "B", (3.8, 0.0, 0.0), offset=(0.0, 6.0, 0.0))[3:]
    s = load_structure(write_pdb(residues_to_atoms(chain_a + chain_b), tmp_path / "dimer.pdb"))
    assert chain_sequence(s, "B") == sequence[3:]
    assert homodimer_partners(s, "A") == ["B"]
    X = homodimer_contacts(s, "A")
    i, j = np.indices((10, 10))
    expected = np.where(np.abs(i - j) <= 1, 1, 0)
    expected[(i < 3) & (j < 3)] = -1  # neither i nor j has a counterpart in B
    np.testing.assert_array_equal(X, expected)
    assert interchain_contacts(s, "A", "B").shape == (10, 7)
    np.testing.assert_array_equal(
        interchain_contacts(s, "A", "B", sequence=sequence)[3:, 3:], (np.abs(i - j) <= 1)[3:, 3:]
    )
    # a longer construct: indices follow it
    construct = "MG" + sequence
    Xc = homodimer_contacts(s, "A", sequence=construct)
    np.testing.assert_array_equal(Xc[2:, 2:], expected)
    assert np.all(Xc[:2] == -1)


def test_a_different_protein_is_no_partner(tmp_path):
    chain_a = translated_chain("ACDEFGHIKL", "A", (3.8, 0.0, 0.0))
    chain_b = translated_chain("WWPPNNQQRR", "B", (3.8, 0.0, 0.0), offset=(0.0, 6.0, 0.0))
    s = load_structure(write_pdb(residues_to_atoms(chain_a + chain_b), tmp_path / "hetero.pdb"))
    assert homodimer_partners(s, "A") == []
    np.testing.assert_array_equal(homodimer_contacts(s, "A"), np.zeros((10, 10), dtype=np.int8))


def test_assembly_choice(shared_data):
    assert chain_ids(load_assembly(shared_data / "4JSV.pdb")) == ["B", "D"]
    assert chain_ids(load_assembly(shared_data / "4JSV.pdb", chain="A")) == ["A", "C"]
    with pytest.raises(ValueError, match="no assembly '7'.*1, 2"):
        load_assembly(shared_data / "4JSV.pdb", "7")
    s = load_structure(shared_data / "4JSV.pdb")
    with pytest.raises(ValueError, match="not in the assembly"):
        homodimer_partners(s, "A", load_assembly(shared_data / "4JSV.pdb"))


# ---------------------------------------------------------------------------- errors


def test_missing_file():
    with pytest.raises(FileNotFoundError, match="nowhere.pdb"):
        load_structure("/nonexistent/nowhere.pdb")


def test_unknown_pdb_id_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("ESM_CONTACTS_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match="ESM_CONTACTS_OFFLINE"):
        load_structure("9zzz", cache_dir=tmp_path)


@pytest.mark.parametrize(
    "name, content, reason",
    [
        ("empty.pdb", b"", "empty"),
        ("empty.cif.gz", gzip.compress(b""), "empty"),
        ("notes.txt", b"Dear colleague,\nplease find the structure attached.\n", "no ATOM"),
        ("notes.pdb", b"just some text\n", "no ATOM"),
        ("notes.cif", b"just some text\n", "not a readable mmCIF"),
        ("junk.bcif", b"\x00\x01\x02garbage", "not a readable BinaryCIF"),
        ("broken.pdb.gz", b"\x1f\x8b\x08\x00broken", "decompress"),
    ],
)
def test_unreadable_files(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ValueError, match=reason) as error:
        load_structure(path)
    assert name in str(error.value)


def test_unknown_chain_lists_the_chains(shared_data):
    s = load_structure(shared_data / "1hvr.pdb")
    for call in (chain_sequence, true_contacts, residue_identities):
        with pytest.raises(ValueError, match="'Z'.*chains: A, B"):
            call(s, "Z")
    with pytest.raises(ValueError, match="chains: A, B"):
        interchain_contacts(s, "A", "Q")


def test_structure_without_protein(shared_data, tmp_path):
    raw = pdbx.get_structure(pdbx.CIFFile.read(str(shared_data / "5ugo.cif")), model=1)
    path = write_pdb(
        raw[struc.filter_nucleotides(raw) | (raw.res_name == "HOH")], tmp_path / "dna.pdb"
    )
    with pytest.raises(ValueError, match="no protein") as error:
        load_structure(path)
    assert "dna.pdb" in str(error.value)


def test_list_assemblies_matches_the_files(shared_data, tmp_path):
    from esm_contacts.structure import list_assemblies, load_assembly

    # 4zey (mmCIF) and 4JSV (PDB REMARK 350) define two assemblies, 1a3a (headers stripped) none.
    assert list_assemblies(shared_data / "4zey.cif") == ["1", "2"]
    assert list_assemblies(shared_data / "4JSV.pdb") == ["1", "2"]
    assert list_assemblies(shared_data / "1l2y.bcif") == ["1"]
    assert list_assemblies(shared_data / "1a3a.pdb") == []
    assert load_assembly(shared_data / "1a3a.pdb") is None
    for assembly_id in list_assemblies(shared_data / "4JSV.pdb"):
        assert len(load_assembly(shared_data / "4JSV.pdb", assembly_id=assembly_id)) > 0
    with pytest.raises(FileNotFoundError, match="missing.cif"):
        list_assemblies(tmp_path / "missing.cif")


# ---------------------------------------------------------------------------- PDB SEQRES


ONE = {three: one for one, three in THREE.items()} | {"MSE": "M", "CSO": "C"}


def read_seqres(path, chain):
    """SEQRES residue names of `chain`, read with a plain loop."""
    names = []
    for line in open(path):
        if line.startswith("SEQRES") and line[11] == chain:
            names += line[19:].split()
    return names


def read_remark_465(path, chain):
    """Residue names of `chain` that REMARK 465 lists as not located, in file order."""
    names = []
    for line in open(path):
        fields = line[10:].split()
        if (
            line.startswith("REMARK 465")
            and len(fields) == 3
            and fields[1] == chain
            and fields[2].lstrip("-").isdigit()
        ):
            names.append(fields[0])
    return names


@pytest.mark.parametrize("chain", ["A", "B"])
def test_4jsv_seqres_is_the_entity_sequence_and_gaps_are_the_missing_residues(shared_data, chain):
    path = shared_data / "4JSV.pdb"
    s = load_structure(path)
    seqres = read_seqres(path, chain)
    entity = "".join(ONE[name] for name in seqres)
    assert entity_sequence(s, chain) == entity and len(entity) == 1174
    observed = chain_sequence(s, chain)
    mapping = map_sequence(entity, s, chain)
    # Observed residues map into the SEQRES sequence in order, letter for letter ...
    assert np.array_equal(mapping[mapping >= 0], np.arange(len(observed)))
    assert "".join(entity[k] for k in np.flatnonzero(mapping >= 0)) == observed
    # ... and the rest are exactly the residues REMARK 465 lists as not located (internal
    # breaks included), with the right numbering gaps between observed residues.
    missing = read_remark_465(path, chain)
    assert len(missing) == 116 and [seqres[k] for k in np.flatnonzero(mapping < 0)] == missing
    res_ids = np.array([r[1] for r in residue_identities(s, chain)])
    assert np.array_equal(np.diff(np.flatnonzero(mapping >= 0)), np.diff(res_ids))
    assert (np.diff(res_ids) > 1).sum() == 2  # internal breaks, not only missing termini
    T = true_contacts(s, chain, sequence=entity)
    unobserved = mapping < 0
    assert (
        T.shape == (1174, 1174) and (T[unobserved] == -1).all() and (T[:, unobserved] == -1).all()
    )
    seen = np.flatnonzero(~unobserved)
    np.testing.assert_array_equal(T[np.ix_(seen, seen)], true_contacts(s, chain))


def test_seqres_of_other_pdb_files(shared_data):
    s = load_structure(shared_data / "1hvr.pdb")
    seqres = "".join(ONE[name] for name in read_seqres(shared_data / "1hvr.pdb", "A"))
    assert entity_sequence(s, "A") == seqres == chain_sequence(s, "A")  # CSO read as C
    assert (
        entity_sequence(load_structure(shared_data / "1a3a.pdb"), "A") is None
    )  # no SEQRES records


def test_seqres_letters_caps_and_alignment(tmp_path):
    """Modified residues read as their parent, caps are left out, gaps map to -1."""
    atoms = residues_to_atoms(
        translated_chain("ACDE", "A", (3.8, 0.0, 0.0), first_res_id=3)
        + translated_chain("GHIK", "A", (3.8, 0.0, 0.0), offset=(30.0, 0.0, 0.0), first_res_id=9)
    )
    path = write_pdb(atoms, tmp_path / "seqres.pdb")
    seqres = [
        "SEQRES   1 A   14  ACE MSE GLY ALA CYS ASP GLU PHE CSO GLY HIS ILE LYS",
        "SEQRES   2 A   14  NH2",
    ]
    path.write_text("\n".join(seqres) + "\n" + path.read_text())
    s = load_structure(path)
    assert entity_sequence(s, "A") == "MGACDEFCGHIK"
    mapping = map_sequence("MGACDEFCGHIK", s, "A")
    np.testing.assert_array_equal(mapping, [-1, -1, 0, 1, 2, 3, -1, -1, 4, 5, 6, 7])


def test_prediction_sequence_prefers_the_construct(shared_data):
    from esm_contacts.structure import entity_sequence, prediction_sequence

    cif = load_structure(shared_data / "4zey.cif")
    assert prediction_sequence(cif, "A") == entity_sequence(cif, "A")
    stripped = load_structure(shared_data / "1a3a.pdb")  # no SEQRES: the observed residues
    assert entity_sequence(stripped, "A") is None
    assert prediction_sequence(stripped, "A") == chain_sequence(stripped, "A")
    pdb_file = load_structure(shared_data / "4JSV.pdb")
    assert (
        len(prediction_sequence(pdb_file, "A"))
        == len(entity_sequence(pdb_file, "A"))
        > len(chain_sequence(pdb_file, "A"))
    )
    assert prediction_sequence(pdb_file, "A", "observed") == chain_sequence(pdb_file, "A")
    with pytest.raises(ValueError, match="sequence source must be one of entity, observed"):
        prediction_sequence(pdb_file, "A", "seqres")


def test_load_chain_gives_structure_sequence_and_truth(shared_data):
    from esm_contacts.structure import load_chain, prediction_sequence

    structure, sequence, T = load_chain(shared_data / "4JSV.pdb", "A")
    assert sequence == prediction_sequence(structure, "A") == entity_sequence(structure, "A")
    # The truth against all pairs of the observed residues' Cb, placed at their SEQRES positions.
    seen = np.flatnonzero(map_sequence(sequence, structure, "A") >= 0)
    assert T.shape == (1174, 1174) and len(seen) == len(chain_sequence(structure, "A"))
    np.testing.assert_array_equal(T[np.ix_(seen, seen)], numpy_contacts(numpy_cb(structure, "A")))
    unseen = np.setdiff1d(np.arange(1174), seen)
    assert (T[unseen] == -1).all() and (T[:, unseen] == -1).all()
    observed = chain_sequence(structure, "A")
    _, given, T_observed = load_chain(str(shared_data / "4JSV.pdb"), "A", sequence=observed)
    assert given == observed and T_observed.shape == (len(observed), len(observed))
    np.testing.assert_array_equal(T_observed, true_contacts(structure, "A"))
    with pytest.raises(ValueError) as error:
        load_chain(shared_data / "1hvr.pdb", "Z")
    assert (
        str(error.value) == f"{shared_data / '1hvr.pdb'} has no protein chain 'Z'; its chains: A, B"
    )


def test_load_assembly_records_the_assembly_read(shared_data):
    from esm_contacts.structure import list_assemblies

    assert load_assembly(shared_data / "4JSV.pdb").assembly_id == "1"
    assert load_assembly(shared_data / "4JSV.pdb", chain="A").assembly_id == "2"
    for assembly_id in list_assemblies(shared_data / "4zey.cif"):
        assert (
            load_assembly(shared_data / "4zey.cif", assembly_id=assembly_id).assembly_id
            == assembly_id
        )
    assert load_assembly(shared_data / "1l2y.bcif", assembly_id=1).assembly_id == "1"


def test_contacts_from_coordinates_is_the_true_contact_routine(shared_data):
    from esm_contacts.structure import contacts_from_coordinates

    s = load_structure(shared_data / "1a3a.pdb")
    for cb in ("virtual", "real"):
        coordinates = cb_coordinates(s, "A", cb=cb)
        for cutoff in (8.0, 6.5):
            np.testing.assert_array_equal(
                contacts_from_coordinates(coordinates, cutoff),
                true_contacts(s, "A", cutoff=cutoff, cb=cb),
            )
    coordinates = np.array([[0.0, 0, 0], [7.99, 0, 0], [np.nan, 0, 0], [15.98, 0, 0]])
    expected = [[1, 1, -1, 0], [1, 1, -1, 1], [-1, -1, -1, -1], [0, 1, -1, 1]]
    contacts = contacts_from_coordinates(coordinates)
    assert contacts.dtype == np.int8
    np.testing.assert_array_equal(contacts, expected)


def test_alignments_are_cached_and_read_only(shared_data):
    from esm_contacts.structure import _align

    s = load_structure(shared_data / "1hvr.pdb")
    a, b = chain_sequence(s, "A"), chain_sequence(s, "B")[3:]
    first = _align(a, b)
    assert _align(a, b) is first
    assert not first[0].flags.writeable
    with pytest.raises(ValueError):
        first[0][0, 0] = 5
    # Partners and contacts share the alignments: the second call aligns nothing new.
    homodimer_partners(s, "A")
    misses = _align.cache_info().misses
    homodimer_contacts(s, "A")
    homodimer_partners(s, "A")
    assert _align.cache_info().misses == misses
