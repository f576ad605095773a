"""Model loading: names, hub cache, local files, safe unpickling, devices."""

import os
import shutil

import numpy as np
import pytest
import torch

from esm_contacts.catalog import KNOWN_MODELS
from esm_contacts.checkpoints import (
    UnsafeCheckpointError,
    WeightsNotFoundError,
    hub_paths,
    is_cached,
    safe_load,
)
from esm_contacts.models import resolve_device
from esm_contacts.predictor import ContactPredictor


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    return tmp_path


def test_missing_weights_message_names_both_paths(torch_home):
    with pytest.raises(WeightsNotFoundError) as error:
        ContactPredictor.from_pretrained("esm1b_t33_650M_UR50S", device="cpu")
    message = str(error.value)
    model_path, regression_path = hub_paths("esm1b_t33_650M_UR50S")
    assert str(model_path) in message and str(regression_path) in message
    assert str(torch_home) in str(model_path)
    assert "fair-esm/models/esm1b_t33_650M_UR50S.pt" in message


def test_unknown_name_lists_known_models():
    with pytest.raises(KeyError) as error:
        ContactPredictor.from_pretrained("esm3_huge", device="cpu")
    message = str(error.value)
    assert "unknown model 'esm3_huge'" in message
    assert all(name in message for name in KNOWN_MODELS)


def test_known_models_have_contact_heads():
    assert "esm1b_t33_650M_UR50S" in KNOWN_MODELS
    assert "esm1_t34_670M_UR50S" in KNOWN_MODELS
    assert {name for name in KNOWN_MODELS if name.startswith("esm2")} >= {
        "esm2_t6_8M_UR50D",
        "esm2_t33_650M_UR50D",
    }
    assert "esm_msa1b_t12_100M_UR50S" in KNOWN_MODELS  # takes alignments (issue 15)
    assert not any(name.startswith(("esm1v", "esm_if")) for name in KNOWN_MODELS)


def test_name_loads_from_the_hub_cache(torch_home, tiny_esm2):
    """A name resolves to $TORCH_HOME/hub/checkpoints/NAME.pt without any download."""
    model_path, regression_path = hub_paths("esm2_t6_8M_UR50D")
    model_path.parent.mkdir(parents=True)
    shutil.copy(tiny_esm2, model_path)
    assert not is_cached("esm2_t6_8M_UR50D")
    shutil.copy(tiny_esm2.with_name("esm2_tiny-contact-regression.pt"), regression_path)
    assert is_cached("esm2_t6_8M_UR50D")
    from_name = ContactPredictor.from_pretrained("esm2_t6_8M_UR50D", device="cpu")
    from_path = ContactPredictor.from_pretrained(str(tiny_esm2), device="cpu")
    assert from_name.name == "esm2_t6_8M_UR50D"
    np.testing.assert_array_equal(from_name.predict("MKTAYIAKQR"), from_path.predict("MKTAYIAKQR"))


def test_esm2_checkpoint_with_any_file_name(tmp_path, tiny_esm2):
    shutil.copy(tiny_esm2, tmp_path / "my_model.pt")
    shutil.copy(
        tiny_esm2.with_name("esm2_tiny-contact-regression.pt"),
        tmp_path / "my_model-contact-regression.pt",
    )
    predictor = ContactPredictor.from_pretrained(str(tmp_path / "my_model.pt"), device="cpu")
    reference = ContactPredictor.from_pretrained(str(tiny_esm2), device="cpu")
    np.testing.assert_array_equal(predictor.predict("GSHMLEDPK"), reference.predict("GSHMLEDPK"))


def test_local_checkpoint_without_regression_is_refused(tmp_path, tiny_esm1b):
    shutil.copy(tiny_esm1b, tmp_path / "lonely.pt")
    with pytest.raises(
        WeightsNotFoundError,
        match=r"lonely-contact-regression.pt: contact-regression weights not found",
    ):
        ContactPredictor.from_pretrained(str(tmp_path / "lonely.pt"), device="cpu")


def test_regression_override(tmp_path, tiny_esm1b):
    weight = torch.zeros(1, 12)
    weight[0, 5] = 2.0
    override = tmp_path / "custom-contact-regression.pt"
    torch.save(
        {
            "model": {
                "contact_head.regression.weight": weight,
                "contact_head.regression.bias": torch.tensor([-1.0]),
            }
        },
        override,
    )
    predictor = ContactPredictor.from_pretrained(
        str(tiny_esm1b), device="cpu", regression=str(override)
    )
    assert predictor.active_heads == 1 and predictor.bias == -1.0
    assert torch.equal(predictor.weight.flatten(), weight.flatten())


def test_missing_checkpoint_file(tmp_path):
    with pytest.raises(WeightsNotFoundError, match="no such checkpoint file"):
        ContactPredictor.from_pretrained(str(tmp_path / "absent.pt"), device="cpu")


class _RunsCode:
    """Unpickling this calls os.system: the attack weights_only loading must stop."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("torch_version", ["current", "before 2.5"])
def test_pickle_that_would_run_code_is_refused(tmp_path, monkeypatch, torch_version):
    if torch_version == "before 2.5":  # no safe_globals: the allow-list unpickler path
        monkeypatch.delattr(torch.serialization, "safe_globals")
    marker = tmp_path / "code-ran"
    evil = tmp_path / "evil.pt"
    torch.save({"model": {}, "args": _RunsCode(marker)}, evil)
    with pytest.raises(
        UnsafeCheckpointError, match=r"refused to load.*system.*only argparse.Namespace"
    ):
        safe_load(evil)
    assert not marker.exists()


def test_evil_checkpoint_through_the_predictor(tmp_path, tiny_esm1b):
    marker = tmp_path / "code-ran"
    torch.save({"model": {}, "args": _RunsCode(marker)}, tmp_path / "evil.pt")
    shutil.copy(
        tiny_esm1b.with_name("tiny_esm1b-contact-regression.pt"),
        tmp_path / "evil-contact-regression.pt",
    )
    with pytest.raises(UnsafeCheckpointError):
        ContactPredictor.from_pretrained(str(tmp_path / "evil.pt"), device="cpu")
    assert not marker.exists()


def test_not_a_checkpoint(tmp_path):
    (tmp_path / "text.pt").write_text("hello")
    with pytest.raises(ValueError, match=r"text.pt: not a readable PyTorch checkpoint"):
        safe_load(tmp_path / "text.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match=r"other.pt: not a fair-esm checkpoint"):
        safe_load(tmp_path / "other.pt")


def test_legacy_pickle_protocol_with_namespace_loads(tiny_esm1b):
    data = safe_load(tiny_esm1b)
    assert data["args"].arch == "roberta_large"


def test_device_resolution():
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="invalid device 'gpu0'"):
        resolve_device("gpu0")
    if not torch.cuda.is_available():
        assert resolve_device("auto").type in ("cpu", "mps")
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")


@pytest.fixture
def torch_before_2_5(monkeypatch):
    """A torch without ``serialization.safe_globals`` (2.1-2.4): the allow-list unpickler path."""
    monkeypatch.delattr(torch.serialization, "safe_globals")


def test_old_torch_loads_both_layouts_through_the_allow_list(
    torch_before_2_5, tiny_esm1b, tiny_esm2
):
    assert not hasattr(torch.serialization, "safe_globals")
    old = safe_load(tiny_esm1b)
    assert old["args"].arch == "roberta_large"
    assert "cfg" in safe_load(tiny_esm2)
    predictor = ContactPredictor.from_pretrained(str(tiny_esm1b), device="cpu")
    assert predictor.predict("MKTAYIAKQRQISFVK").shape == (16, 16)


def test_device_precedence(monkeypatch):
    """auto: CUDA, else MPS, else CPU; each checked with the others switched off."""
    mps = torch.backends.mps
    for cuda, apple, expected in (
        (True, True, "cuda"),
        (False, True, "mps"),
        (False, False, "cpu"),
    ):
        monkeypatch.setattr(torch.cuda, "is_available", lambda cuda=cuda: cuda)
        monkeypatch.setattr(mps, "is_available", lambda apple=apple: apple)
        assert resolve_device("auto").type == expected
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert resolve_device("cuda:0") == torch.device("cuda:0")
    with pytest.raises(ValueError, match="has 1 CUDA device"):
        resolve_device("cuda:3")
    monkeypatch.setattr(mps, "is_available", lambda: False)
    with pytest.raises(ValueError, match="MPS is not available"):
        resolve_device("mps")
    with pytest.raises(ValueError, match="use auto, cpu, cuda, cuda:N or mps"):
        resolve_device("meta")


def test_unreachable_download_names_both_paths(monkeypatch, tmp_path):
    from esm_contacts import checkpoints as models

    monkeypatch.delenv("ESM_CONTACTS_OFFLINE", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    # Port 9 (discard) on the loopback: refused at once, as an offline machine would.
    monkeypatch.setattr(models, "MODEL_URL", "http://127.0.0.1:9/{name}.pt")
    monkeypatch.setattr(models, "REGRESSION_URL", "http://127.0.0.1:9/{name}-contact-regression.pt")
    model_path, regression_path = hub_paths("esm1b_t33_650M_UR50S")
    with pytest.raises(WeightsNotFoundError) as raised:
        models.fetch_weights("esm1b_t33_650M_UR50S")
    message = str(raised.value)
    assert (
        str(model_path) in message
        and str(regression_path) in message
        and "download failed" in message
    )
    leftovers = [p for p in (tmp_path / "torch").rglob("*") if p.is_file()]
    assert leftovers == []


def test_unknown_model_is_a_value_error_with_a_plain_message():
    from esm_contacts.checkpoints import UnknownModelError, fetch_weights

    with pytest.raises(UnknownModelError) as raised:
        fetch_weights("esm9_t99")
    assert isinstance(raised.value, ValueError) and isinstance(raised.value, KeyError)
    assert str(raised.value).startswith(
        "unknown model 'esm9_t99'; known models: esm1b_t33_650M_UR50S"
    )
