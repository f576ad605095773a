"""Hugging Face ESM models: loading (directories, cached Hub IDs), parity with transformers and
with the fair-esm backend, conversion both ways, and the refusals (pickles, missing models)."""

import contextlib
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import weakref
from pathlib import Path

import numpy as np
import pytest
import torch

from esm_contacts.checkpoints import CheckpointError, WeightsNotFoundError, safe_load
from esm_contacts.cli import main
from esm_contacts.hf import HFContactModel, convert, hf_cache_state
from esm_contacts.predictor import ContactPredictor

ROOT = Path(__file__).resolve().parent.parent
LETTERS = "ACDEFGHIKLMNPQRSTVWY"
TOLERANCE = 1e-5


def random_sequence(length: int, seed: int) -> str:
    rng = np.random.default_rng(seed)
    return "".join(rng.choice(list(LETTERS), size=length))


@functools.lru_cache(maxsize=4)
def transformers_model(folder: str):
    from transformers import EsmForMaskedLM

    return EsmForMaskedLM.from_pretrained(folder, attn_implementation="eager").eval()


def transformers_maps(folder: Path, sequences):
    """transformers' own EsmForMaskedLM.predict_contacts on a padded batch, each map cropped to
    its residues."""
    import esm

    model = transformers_model(str(folder))
    alphabet = esm.Alphabet.from_architecture("ESM-1b")
    longest = max(len(s) for s in sequences)
    tokens = torch.full((len(sequences), longest + 2), alphabet.padding_idx, dtype=torch.long)
    for row, sequence in enumerate(sequences):
        tokens[row, : len(sequence) + 2] = torch.tensor(
            [alphabet.cls_idx]
            + [alphabet.get_idx(letter) for letter in sequence]
            + [alphabet.eos_idx]
        )
    with torch.no_grad():
        maps = model.predict_contacts(tokens, tokens.ne(alphabet.padding_idx).long())
    return [maps[row, : len(s), : len(s)].numpy() for row, s in enumerate(sequences)]


@pytest.fixture(params=["esm1b", "esm2"])
def hf_dir(request, tiny_hf_esm1b, tiny_hf_esm2) -> Path:
    return {"esm1b": tiny_hf_esm1b, "esm2": tiny_hf_esm2}[request.param]


# --- parity with transformers ---------------------------------------------------------------


def test_maps_equal_transformers_predict_contacts_for_every_length(hf_dir):
    predictor = ContactPredictor.from_pretrained(str(hf_dir), device="cpu")
    assert isinstance(predictor.model, HFContactModel)
    sequences = [random_sequence(length, seed=length) for length in range(1, 41)]
    ours = [predictor.predict(sequence) for sequence in sequences]
    for sequence, mine in zip(sequences, ours):
        (reference,) = transformers_maps(hf_dir, [sequence])
        assert mine.shape == (len(sequence), len(sequence))
        np.testing.assert_allclose(mine, reference, atol=TOLERANCE, rtol=0)
    assert max(float(np.std(m)) for m in ours[10:]) > 0.01  # not a constant map: the test has teeth


def test_batch_of_different_lengths_equals_one_by_one_and_transformers(hf_dir):
    predictor = ContactPredictor.from_pretrained(str(hf_dir), device="cpu")
    sequences = [random_sequence(length, seed=100 + length) for length in (7, 40, 1, 23, 39)]
    batched = predictor.predict_batch(sequences)
    for sequence, mine, reference in zip(sequences, batched, transformers_maps(hf_dir, sequences)):
        np.testing.assert_allclose(mine, predictor.predict(sequence), atol=1e-6, rtol=0)
        np.testing.assert_allclose(mine, reference, atol=TOLERANCE, rtol=0)


def test_layers_stream_one_attention_at_a_time(tiny_hf_esm2):
    """Each layer's attention is freed once the next is requested: never all layers at once."""
    import esm

    predictor = ContactPredictor.from_pretrained(str(tiny_hf_esm2), device="cpu")
    _, _, tokens = esm.Alphabet.from_architecture("ESM-1b").get_batch_converter()(
        [("a", "MKTAYIAK"), ("b", "MK")]
    )
    previous = None
    seen = []
    for layer, attention in predictor.model.layer_attentions(tokens):
        assert previous is None or previous() is None
        assert attention.shape == (2, 4, 10, 10)
        seen.append(layer)
        previous = weakref.ref(attention)
        del attention
    assert seen == [0, 1, 2]


def test_regression_replaces_the_checkpoint_head(tiny_hf_esm1b, tmp_path):
    """--regression for an HF model: the same ContactRegression file as for fair-esm, equal to
    transformers with those weights put into its own contact head."""
    from transformers import EsmForMaskedLM

    from esm_contacts.regression import ContactRegression

    rng = np.random.default_rng(5)
    regression = ContactRegression(
        rng.normal(size=(3, 4)).astype(np.float32), 0.25, model="tiny_hf_esm1b"
    )
    path = regression.save(tmp_path / "other-contact-regression.pt")
    predictor = ContactPredictor.from_pretrained(
        str(tiny_hf_esm1b), device="cpu", regression=str(path)
    )
    sequence = random_sequence(30, seed=9)
    # The reference: transformers' model with the regression weights written into its head, saved
    # anew.
    model = EsmForMaskedLM.from_pretrained(str(tiny_hf_esm1b))
    with torch.no_grad():
        model.esm.contact_head.regression.weight.copy_(
            torch.from_numpy(regression.weight.reshape(1, -1))
        )
        model.esm.contact_head.regression.bias.fill_(0.25)
    model.save_pretrained(str(tmp_path / "reference"))
    (reference,) = transformers_maps(tmp_path / "reference", [sequence])
    np.testing.assert_allclose(predictor.predict(sequence), reference, atol=TOLERANCE, rtol=0)
    own = ContactPredictor.from_pretrained(str(tiny_hf_esm1b), device="cpu")
    assert np.abs(own.predict(sequence) - reference).max() > 1e-3  # the head really was replaced
    np.testing.assert_allclose(
        own.with_regression(path).predict(sequence), reference, atol=TOLERANCE, rtol=0
    )


# --- fair-esm <-> Hugging Face ------------------------------------------------------------------


@pytest.fixture(params=["esm2", "esm1b"])
def fair_checkpoint(request, tiny_esm2, tiny_esm1b) -> Path:
    return {"esm2": tiny_esm2, "esm1b": tiny_esm1b}[request.param]


def test_converted_model_gives_the_same_maps_through_both_backends(fair_checkpoint, tmp_path):
    out = tmp_path / "hf"
    convert(fair_checkpoint, out)
    assert sorted(path.name for path in out.iterdir()) == [
        "config.json",
        "model.safetensors",
        "vocab.txt",
    ]
    fair = ContactPredictor.from_pretrained(str(fair_checkpoint), device="cpu")
    hf = ContactPredictor.from_pretrained(str(out), device="cpu")
    assert not isinstance(fair.model, HFContactModel) and isinstance(hf.model, HFContactModel)
    assert hf.max_length == fair.max_length and hf.num_heads == fair.num_heads
    # Lengths 1..40, a batch, and (ESM-1b, context 64) windows over a longer sequence.
    sequences = [random_sequence(length, seed=200 + length) for length in list(range(1, 41)) + [90]]
    with pytest.warns(UserWarning) if fair.max_length < 90 else contextlib.nullcontext():
        fair_maps, hf_maps = fair.predict_batch(sequences), hf.predict_batch(sequences)
    for a, b in zip(fair_maps, hf_maps):
        np.testing.assert_allclose(a, b, atol=TOLERANCE, rtol=0)
    # And transformers' own head on the converted directory (sequences within the context).
    reference = transformers_maps(out, sequences[:40])
    for a, b in zip(fair_maps, reference):
        np.testing.assert_allclose(a, b, atol=TOLERANCE, rtol=0)


def test_msa_ensemble_is_the_same_through_both_backends(tiny_esm2, tmp_path):
    convert(tiny_esm2, tmp_path / "hf")
    rows = [("q", "MKTAYIAKQRQISFVK"), ("a", "MKT-YIAKQRQLSFVK"), ("b", "-KTAYLAKQRQISF--")]
    fair = ContactPredictor.from_pretrained(str(tiny_esm2), device="cpu").predict_msa(
        rows, num_seqs=3
    )
    hf = ContactPredictor.from_pretrained(str(tmp_path / "hf"), device="cpu").predict_msa(
        rows, num_seqs=3
    )
    np.testing.assert_allclose(fair, hf, atol=TOLERANCE, rtol=0)


def test_conversion_round_trips_bit_exactly(fair_checkpoint, tmp_path):
    convert(fair_checkpoint, tmp_path / "hf")
    back = convert(tmp_path / "hf", tmp_path / "back.pt")
    assert back == [tmp_path / "back.pt", tmp_path / "back-contact-regression.pt"]
    for original, returned in (
        (fair_checkpoint, back[0]),
        (fair_checkpoint.with_name(f"{fair_checkpoint.stem}-contact-regression.pt"), back[1]),
    ):
        a, b = safe_load(original)["model"], safe_load(returned)["model"]
        assert sorted(a) == sorted(b)
        for key in a:
            assert a[key].dtype == b[key].dtype and torch.equal(a[key], b[key]), key
    # The returned checkpoint loads through the fair-esm backend.
    predictor = ContactPredictor.from_pretrained(str(back[0]), device="cpu")
    assert not isinstance(predictor.model, HFContactModel)


def test_hf_directory_round_trips_through_fair_esm(tiny_hf_esm2, tmp_path):
    """HF -> fair-esm -> HF: every tensor transformers loads is the same (save_pretrained's
    legacy names included)."""
    from transformers import EsmForMaskedLM

    convert(tiny_hf_esm2, tmp_path / "fair.pt")
    convert(tmp_path / "fair.pt", tmp_path / "hf")
    a = EsmForMaskedLM.from_pretrained(str(tiny_hf_esm2)).state_dict()
    b = EsmForMaskedLM.from_pretrained(str(tmp_path / "hf")).state_dict()
    assert sorted(a) == sorted(b) and all(torch.equal(a[key], b[key]) for key in a)


def test_convert_cli_both_ways_with_a_trained_regression(tiny_esm2, tmp_path, capsys):
    from esm_contacts.regression import ContactRegression

    trained = ContactRegression(
        np.arange(12, dtype=np.float32).reshape(3, 4) / 10, -1.5, model="esm2_tiny"
    )
    trained.save(tmp_path / "trained-contact-regression.pt")
    assert (
        main(
            [
                "convert",
                str(tiny_esm2),
                str(tmp_path / "hf"),
                "--regression",
                str(tmp_path / "trained-contact-regression.pt"),
            ]
        )
        == 0
    )
    assert main(["convert", str(tmp_path / "hf"), str(tmp_path / "back.pt")]) == 0
    assert "wrote" in capsys.readouterr().err
    head = torch.load(tmp_path / "back-contact-regression.pt", weights_only=True)["model"]
    assert torch.equal(
        head["contact_head.regression.weight"], torch.from_numpy(trained.weight.reshape(1, -1))
    )
    assert head["contact_head.regression.bias"].tolist() == [-1.5]
    # An existing output is refused, and left as it was.
    before = sorted(path.name for path in (tmp_path / "hf").iterdir())
    assert main(["convert", str(tiny_esm2), str(tmp_path / "hf")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        len(err) == 1
        and err[0].startswith("esm-contacts convert: error: ")
        and "already exists" in err[0]
    )
    assert sorted(path.name for path in (tmp_path / "hf").iterdir()) == before


def test_convert_is_atomic(tiny_esm2, tmp_path, monkeypatch):
    """A failure while writing leaves neither the output nor a temporary directory."""
    import safetensors.torch

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(safetensors.torch, "save_file", fail)
    assert main(["convert", str(tiny_esm2), str(tmp_path / "hf")]) == 2
    assert [path.name for path in tmp_path.iterdir()] == []


def test_esm1_checkpoint_is_refused_for_conversion(tiny_esm1, tmp_path, capsys):
    assert main(["convert", str(tiny_esm1), str(tmp_path / "hf")]) == 2
    assert "ESM-1 checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "hf").exists()


# --- refusals --------------------------------------------------------------------------------


class _Marker:
    """Unpickling this object creates a file: proof that a pickle was (not) run."""

    path = None

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


def test_pickle_only_directory_is_refused_unread(tiny_hf_esm2, tmp_path, capsys):
    import pickle

    folder = tmp_path / "pickled"
    folder.mkdir()
    shutil.copy(tiny_hf_esm2 / "config.json", folder / "config.json")
    marker = tmp_path / "code-ran"
    _Marker.path = str(marker)
    (folder / "pytorch_model.bin").write_bytes(pickle.dumps(_Marker()))
    with pytest.raises(CheckpointError, match="pytorch_model.bin is a pickle.*safetensors only"):
        ContactPredictor.from_pretrained(str(folder), device="cpu")
    assert main(["predict", "MKTAYIAK", "--model", str(folder), "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "refused" in err[0] and str(folder) in err[0]
    with pytest.raises(CheckpointError, match="pickle"):
        convert(folder, tmp_path / "out.pt")
    assert not marker.exists() and not (tmp_path / "out.pt").exists()


def test_directory_without_contact_head_needs_a_regression(tiny_hf_esm2, tmp_path):
    from safetensors.torch import load_file, save_file

    folder = tmp_path / "headless"
    shutil.copytree(tiny_hf_esm2, folder)
    tensors = {
        k: v for k, v in load_file(folder / "model.safetensors").items() if "contact_head" not in k
    }
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(WeightsNotFoundError, match="no contact head"):
        ContactPredictor.from_pretrained(str(folder), device="cpu")


def test_not_an_esm_config_is_refused(tiny_hf_esm2, tmp_path):
    folder = tmp_path / "bert"
    shutil.copytree(tiny_hf_esm2, folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "model_type": "bert"}))
    with pytest.raises(CheckpointError, match="model_type 'bert'"):
        ContactPredictor.from_pretrained(str(folder), device="cpu")


def test_missing_hub_id_offline_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    with pytest.raises(WeightsNotFoundError, match="ESM_CONTACTS_OFFLINE forbids downloads"):
        ContactPredictor.from_pretrained("facebook/esm2_t6_8M_UR50D", device="cpu")
    assert (
        main(["predict", "MKTAYIAK", "--model", "facebook/esm2_t6_8M_UR50D", "--device", "cpu"])
        == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(
        "esm-contacts predict: error: facebook/esm2_t6_8M_UR50D: "
    )
    assert str(tmp_path / "hf-cache") in err[0]


def test_hf_hub_offline_is_honoured_too(tmp_path, monkeypatch):
    monkeypatch.delenv("ESM_CONTACTS_OFFLINE")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(WeightsNotFoundError, match="HF_HUB_OFFLINE forbids downloads"):
        ContactPredictor.from_pretrained("someone/esm2_tiny", device="cpu")


def fake_hub_cache(cache: Path, repo_id: str, files: Path) -> Path:
    """The layout huggingface_hub downloads into: models--ORG--NAME/{refs/main,
    snapshots/COMMIT/...}."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    shutil.copytree(files, repo / "snapshots" / commit)
    return repo / "snapshots" / commit


def test_hub_id_loads_from_the_cache_and_models_lists_it(
    tiny_hf_esm2, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    snapshot = fake_hub_cache(tmp_path, "facebook/esm2_t6_8M_UR50D", tiny_hf_esm2)
    predictor = ContactPredictor.from_pretrained("facebook/esm2_t6_8M_UR50D", device="cpu")
    assert predictor.name == "facebook/esm2_t6_8M_UR50D"
    sequence = random_sequence(25, seed=1)
    (reference,) = transformers_maps(tiny_hf_esm2, [sequence])
    np.testing.assert_allclose(predictor.predict(sequence), reference, atol=TOLERANCE, rtol=0)
    assert hf_cache_state("facebook/esm2_t6_8M_UR50D") == f"cached in {snapshot}"
    # A cached pickle only: listed as refused.
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    (pickled / "config.json").write_text("{}")
    (pickled / "pytorch_model.bin").write_bytes(b"not read")
    fake_hub_cache(tmp_path, "facebook/esm2_t12_35M_UR50D", pickled)
    assert main(["models"]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert rows["facebook/esm2_t6_8M_UR50D"].endswith(f"HF cached in {snapshot}")
    assert rows["facebook/esm2_t12_35M_UR50D"].endswith(
        "HF pickle only (pytorch_model.bin; refused)"
    )
    assert rows["facebook/esm1b_t33_650M_UR50S"].endswith("HF not downloaded")
    assert (
        rows["esm1b_t33_650M_UR50S"].split()[1:6]
        == rows["facebook/esm1b_t33_650M_UR50S"].split()[1:6]
    )


def test_predict_cli_with_an_hf_directory(tiny_hf_esm2, tmp_path):
    out = tmp_path / "map.npy"
    assert (
        main(
            [
                "predict",
                "MKTAYIAKQRQISFVK",
                "--model",
                str(tiny_hf_esm2),
                "--device",
                "cpu",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    (reference,) = transformers_maps(tiny_hf_esm2, ["MKTAYIAKQRQISFVK"])
    np.testing.assert_allclose(np.load(out), reference, atol=TOLERANCE, rtol=0)


def test_importing_the_package_does_not_import_transformers():
    code = (
        "import sys, esm_contacts, esm_contacts.cli, esm_contacts.predictor; print('transformers'"
        " in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
    )
    assert result.stdout.strip() == "False", result.stderr


def test_training_features_are_the_same_through_both_backends(tiny_esm2, tmp_path):
    """train-regression's features (pair_features) stream through the HF layer loop too."""
    from esm_contacts.regression import pair_features

    convert(tiny_esm2, tmp_path / "hf")
    sequence = random_sequence(30, seed=4)
    i, j = np.triu_indices(30, k=6)
    fair = pair_features(
        ContactPredictor.from_pretrained(str(tiny_esm2), device="cpu"), sequence, i, j
    )
    hf = pair_features(
        ContactPredictor.from_pretrained(str(tmp_path / "hf"), device="cpu"), sequence, i, j
    )
    assert fair.shape == (len(i), 12)
    np.testing.assert_allclose(fair, hf, atol=TOLERANCE, rtol=0)


def test_predict_cli_regression_replaces_an_hf_head(tiny_hf_esm2, tmp_path):
    """--regression on the command line: the HF model with that file's weights, as
    with_regression gives."""
    from esm_contacts.regression import ContactRegression

    path = ContactRegression(np.full((3, 4), 0.5, dtype=np.float32), -2.0, model="x").save(
        tmp_path / "r.pt"
    )
    out = tmp_path / "map.npy"
    sequence = "MKTAYIAKQRQISFVK"
    assert (
        main(
            [
                "predict",
                sequence,
                "--model",
                str(tiny_hf_esm2),
                "--regression",
                str(path),
                "--device",
                "cpu",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    expected = (
        ContactPredictor.from_pretrained(str(tiny_hf_esm2), device="cpu")
        .with_regression(path)
        .predict(sequence)
    )
    np.testing.assert_allclose(np.load(out), expected, atol=1e-7, rtol=0)
    assert np.abs(np.load(out) - transformers_maps(tiny_hf_esm2, [sequence])[0]).max() > 1e-3


def test_pymol_plugin_loads_hf_models_and_reports_a_missing_one(
    tiny_hf_esm2, tmp_path, monkeypatch
):
    """The PyMOL commands load models through the same from_pretrained: HF directories work, a
    missing
    Hub ID is a CmdException with the one-line reason."""
    from pymol import CmdException

    from pymol_plugin import commands

    predictor = commands.get_predictor(str(tiny_hf_esm2), "cpu")
    assert isinstance(predictor.model, HFContactModel)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(
        CmdException, match=f"facebook/esm2_t6_8M_UR50D.*cache {re.escape(str(tmp_path))}"
    ):
        commands.get_predictor("facebook/esm2_t6_8M_UR50D", "cpu")


def test_sharded_safetensors_load_and_convert(tmp_path):
    """model.safetensors.index.json with several shards (how the 3B and 15B models are stored)."""
    from tiny_models import tiny_hf_model

    model = tiny_hf_model("esm2")
    model.save_pretrained(str(tmp_path / "single"))
    model.save_pretrained(str(tmp_path / "sharded"), max_shard_size="20KB")
    assert (tmp_path / "sharded" / "model.safetensors.index.json").is_file()
    assert len(list((tmp_path / "sharded").glob("model-*.safetensors"))) > 1
    sequence = random_sequence(33, seed=8)
    sharded = ContactPredictor.from_pretrained(str(tmp_path / "sharded"), device="cpu").predict(
        sequence
    )
    (reference,) = transformers_maps(tmp_path / "single", [sequence])
    np.testing.assert_allclose(sharded, reference, atol=TOLERANCE, rtol=0)
    a = convert(tmp_path / "single", tmp_path / "a.pt")
    b = convert(tmp_path / "sharded", tmp_path / "b.pt")
    for x, y in zip(a, b):
        left, right = safe_load(x)["model"], safe_load(y)["model"]
        assert sorted(left) == sorted(right) and all(torch.equal(left[k], right[k]) for k in left)


def test_loading_leaves_transformers_logging_as_it_was(tiny_hf_esm2):
    from transformers.utils import logging as hf_logging

    for enabled in (False, True):
        (hf_logging.enable_progress_bar if enabled else hf_logging.disable_progress_bar)()
        verbosity = hf_logging.get_verbosity()
        ContactPredictor.from_pretrained(str(tiny_hf_esm2), device="cpu")
        assert (
            hf_logging.is_progress_bar_enabled() == enabled
            and hf_logging.get_verbosity() == verbosity
        )
