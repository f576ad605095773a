import os
from pathlib import Path

import pytest
from register_models import chain_atoms, noisy_prediction, register_shifted
from tiny_models import (
    write_tiny_esm1,
    write_tiny_esm1b,
    write_tiny_esm2,
    write_tiny_msa_transformer,
)

# Tests never touch the network or the user's torch hub cache.
os.environ["ESM_CONTACTS_OFFLINE"] = "1"

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"


#: Set by .ci/run: there, an absent data folder fails the tests instead of skipping them.
REQUIRE_DATA = os.environ.get("ESM_CONTACTS_REQUIRE_DATA") == "1"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real PDB/mmCIF/MSA files beside the project; skip where absent (fail in CI)."""
    if not SHARED_DATA.is_dir():
        reason = f"real data folder {SHARED_DATA} is absent (fresh clone outside the workspace)"
        if REQUIRE_DATA:
            pytest.fail(reason + "; ESM_CONTACTS_REQUIRE_DATA=1 makes that a failure")
        pytest.skip(reason)
    return SHARED_DATA


@pytest.fixture(scope="session")
def checkpoint_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("checkpoints")
    write_tiny_esm1b(folder)
    write_tiny_esm2(folder)
    write_tiny_esm1(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_esm1b(checkpoint_dir) -> Path:
    return checkpoint_dir / "tiny_esm1b.pt"


@pytest.fixture(scope="session")
def tiny_esm2(checkpoint_dir) -> Path:
    return checkpoint_dir / "esm2_tiny.pt"


@pytest.fixture(scope="session")
def tiny_esm1(checkpoint_dir) -> Path:
    return checkpoint_dir / "tiny_esm1.pt"


@pytest.fixture(scope="module")
def pymol_cmd():
    """A headless PyMOL instance of one test module, with the plugin's commands registered."""
    import pymol2

    from pymol_plugin import check, commands

    pymol = pymol2.PyMOL()
    pymol.start()
    commands.register(pymol.cmd)
    check.register(pymol.cmd)
    yield pymol.cmd
    pymol.stop()


@pytest.fixture(scope="session")
def tiny_hf_esm1b(tmp_path_factory) -> Path:
    """A random Hugging Face ESM-1b-like EsmForMaskedLM directory (context 64)."""
    from tiny_models import write_tiny_hf

    return write_tiny_hf(tmp_path_factory.mktemp("hf") / "tiny_hf_esm1b", "esm1b")


@pytest.fixture(scope="session")
def tiny_hf_esm2(tmp_path_factory) -> Path:
    """A random Hugging Face ESM-2-like EsmForMaskedLM directory (rotary positions)."""
    from tiny_models import write_tiny_hf

    return write_tiny_hf(tmp_path_factory.mktemp("hf") / "tiny_hf_esm2", "esm2")


@pytest.fixture(scope="session")
def tiny_msa_transformer(tmp_path_factory) -> Path:
    """A tiny MSA Transformer checkpoint (fair-esm's released layout; context 1023, 1024 rows)."""
    return write_tiny_msa_transformer(tmp_path_factory.mktemp("msa_checkpoints"))


@pytest.fixture(scope="module")
def model_1a3a(shared_data):
    """Chain A of 1a3a, as read."""
    from esm_contacts.structure import load_structure

    return chain_atoms(load_structure(shared_data / "1a3a.pdb"), "A")


@pytest.fixture(scope="module")
def prediction_1a3a(model_1a3a):
    """A good but imperfect prediction for 1a3a A: its true contacts with noise."""
    from esm_contacts.structure import true_contacts

    return noisy_prediction(true_contacts(model_1a3a, "A"))


@pytest.fixture(scope="module")
def register_error_model(model_1a3a):
    """1a3a A built two residues out of register along register_models.SEGMENT."""
    return register_shifted(model_1a3a)
