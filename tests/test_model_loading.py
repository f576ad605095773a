"""Loading a checkpoint at one model's memory (issue 12): mapped file, parameters built on meta,
assigned."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from esm_contacts.checkpoints import safe_load
from esm_contacts.models import load_model

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("fixture", ["tiny_esm1b", "tiny_esm2", "tiny_esm1"])
def test_same_model_as_fair_esm_builds(fixture, request):
    """Every parameter and buffer equals what fair-esm's own loader builds (random init + copy)."""
    import esm.pretrained

    path = request.getfixturevalue(fixture)
    model, _, _ = load_model(path)
    data = torch.load(path, map_location="cpu", weights_only=False)
    regression = torch.load(
        path.with_name(path.stem + "-contact-regression.pt"), map_location="cpu", weights_only=False
    )
    core_name = "esm2_tiny" if "cfg" in data else path.stem
    reference, _ = esm.pretrained.load_model_and_alphabet_core(core_name, data, regression)
    ours = dict(model.named_parameters()) | dict(model.named_buffers())
    theirs = dict(reference.named_parameters()) | dict(reference.named_buffers())
    assert set(ours) == set(theirs)
    for key, tensor in theirs.items():
        assert not ours[key].is_meta, key
        if key.endswith("_float_tensor"):
            # fair-esm's sinusoidal positions keep torch.FloatTensor(1) only for its dtype and
            # device: uninitialised memory in both models, never read as a value.
            assert ours[key].shape == tensor.shape and ours[key].dtype == tensor.dtype, key
            continue
        torch.testing.assert_close(ours[key], tensor, rtol=0, atol=0, msg=key)
    if hasattr(model, "lm_head"):  # tied as fair-esm ties them
        assert model.lm_head.weight is model.embed_tokens.weight
    tokens = torch.tensor([[0, 5, 6, 7, 8, 9, 10, 2]])
    with torch.no_grad():
        torch.testing.assert_close(
            model(tokens, return_contacts=True)["contacts"],
            reference.eval()(tokens, return_contacts=True)["contacts"],
        )


@pytest.mark.skipif(
    not Path("/proc/self/maps").exists(), reason="Linux /proc needed to see mappings"
)
def test_checkpoint_tensors_are_mapped(tiny_esm1b, tmp_path):
    """The loaded model's weights are the file's mapped pages (no copy in the heap)."""
    import shutil

    for path in tiny_esm1b.parent.glob("tiny_esm1b*.pt"):
        shutil.copy(path, tmp_path / path.name)
    tiny_esm1b = tmp_path / tiny_esm1b.name

    def mapped():
        return str(tiny_esm1b.resolve()) in Path("/proc/self/maps").read_text()

    assert not mapped()
    model, _, _ = load_model(tiny_esm1b)
    assert mapped()
    torch.testing.assert_close(
        model.layers[0].fc1.weight,
        safe_load(tiny_esm1b)["model"]["encoder.sentence_encoder.layers.0.fc1.weight"],
    )


PEAK = """
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[2])
import esm, torch
from tiny_models import write_tiny_esm1b
from esm_contacts.models import load_model

path = write_tiny_esm1b(
    Path(sys.argv[1]), name="medium", layers=6, heads=8, embed_dim=512, max_positions=1026
)
# A first load pays one-off costs (lazy imports and initialisation in torch, ~70 MB),
# whatever the model size.
load_model(write_tiny_esm1b(Path(sys.argv[1])))
def kib(field):
    lines = open("/proc/self/status")
    return next(int(line.split()[1]) for line in lines if line.startswith(field + ":"))
open("/proc/self/clear_refs", "w").write("5")
before = kib("VmRSS")
model, _, _ = load_model(path)
peak = (kib("VmHWM") - before) * 1024
size = sum(p.numel() * p.element_size() for p in model.parameters())
print(peak, size)
"""


@pytest.mark.slow
@pytest.mark.skipif(
    not Path("/proc/self/clear_refs").exists(), reason="Linux /proc needed to measure the peak"
)
def test_load_peak_is_well_below_the_model(tmp_path):
    """Loading costs a fraction of the model's bytes: the weights stay in the file's pages until
    used.

    fair-esm's loader (random weights, then the checkpoint copied in) peaks near twice the model.
    """
    script = tmp_path / "peak.py"
    script.write_text(PEAK)
    result = subprocess.run(
        [sys.executable, str(script), str(tmp_path), str(ROOT / "tests")],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    peak, size = map(int, result.stdout.split())
    assert size > 50e6  # a model large enough for the allocator's noise not to matter
    assert peak < 0.5 * size, (peak, size)
