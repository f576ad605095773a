"""Models of 1a3a chain A for the validation tests: the truth with noise as a "good predictor",
and a copy built out of register (real coordinates moved by two residues along one segment)."""

import biotite.structure as struc
import numpy as np

SEGMENT = (60, 76)  # 0-based residue range of chain A that the register-error copy shifts
SHIFT = 2


def noisy_prediction(T: np.ndarray, seed: int = 0) -> np.ndarray:
    """A good but imperfect predictor: truth plus noise, symmetric, in [0, 1]."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(0.0, 0.15, T.shape)
    P = np.clip(0.75 * (T == 1) + 0.1 + noise, 0.0, 1.0)
    P = (P + P.T) / 2
    return P.astype(np.float32)


def chain_atoms(structure, chain):
    return structure[structure.chain_id == chain].copy()


def residue_slices(atoms):
    starts = struc.get_residue_starts(atoms, add_exclusive_stop=True)
    return [slice(a, b) for a, b in zip(starts[:-1], starts[1:])]


def move_backbone(target_atoms, target, source_atoms, source) -> None:
    """Give residue `target` the coordinates the source holds for residue `source`."""
    for atom_index in range(target.start, target.stop):
        name = target_atoms.atom_name[atom_index]
        match = np.nonzero(source_atoms.atom_name[source] == name)[0]
        if len(match):
            target_atoms.coord[atom_index] = source_atoms.coord[source][match[0]]


def register_shifted(atoms, segment=SEGMENT, shift=SHIFT):
    """A copy whose residue k of `segment` has the backbone of residue k + `shift`."""
    shifted = atoms.copy()
    residues = residue_slices(atoms)
    for k in range(*segment):
        move_backbone(shifted, residues[k], atoms, residues[k + shift])
    return shifted
