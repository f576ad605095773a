"""MSA Transformer contacts (issue 15): loading, parity with fair-esm, chunking, limits, CLI, PyMOL.

The reference is always fair-esm itself: a model built with its ``MSATransformer`` class
(the same seed as the checkpoint the loader reads), its ``MSABatchConverter`` and its
``predict_contacts`` on rows chosen here independently.
"""

import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import esm
import numpy as np
import pytest
import torch
from tiny_models import tiny_msa_transformer, write_tiny_msa_transformer

from esm_contacts.catalog import takes_alignments
from esm_contacts.checkpoints import CheckpointError, hub_paths
from esm_contacts.cli import main
from esm_contacts.io import read_contacts
from esm_contacts.models import load_model
from esm_contacts.msa import read_msa
from esm_contacts.predictor import ContactPredictor
from esm_contacts.resources import MemoryLimitError

ALIGNMENTS = ("1a3a_1_A.a3m", "4zey_A_bfd_uniclust_hits.a3m")


@pytest.fixture(scope="module")
def predictor(tiny_msa_transformer):
    return ContactPredictor.from_pretrained(str(tiny_msa_transformer), device="cpu")


@pytest.fixture(scope="module")
def reference(tiny_msa_transformer):
    """fair-esm's model with the checkpoint's weights, built without the package's loader."""
    model = tiny_msa_transformer_model()
    regression = torch.load(
        tiny_msa_transformer.with_name("tiny_msa-contact-regression.pt"), weights_only=True
    )
    model.load_state_dict({**model.state_dict(), **regression["model"]})
    return model.eval()


def tiny_msa_transformer_model(**kwargs):
    return tiny_msa_transformer(**kwargs)  # the writer's defaults and seed


def fair_esm_contacts(model, rows):
    """fair-esm's own pipeline: its batch converter and ``predict_contacts`` on the rows, in
    order."""
    alphabet = esm.Alphabet.from_architecture("msa_transformer")
    _, _, tokens = alphabet.get_batch_converter()([(str(k), row) for k, row in enumerate(rows)])
    with torch.no_grad():
        return model.predict_contacts(tokens)[0].numpy()


def greedy_select(rows, num_seqs):
    """fair-esm's contact-prediction example: greedy maximum mean Hamming distance, indices sorted.

    Rows without residues are left out first (the package never feeds them to a model).
    """
    rows = [rows[0]] + [row for row in rows[1:] if row.strip("-")]
    if len(rows) <= num_seqs:
        return rows
    array = np.array([list(row) for row in rows])
    indices = [0]
    distances = np.zeros((0, len(rows)))
    for _ in range(num_seqs - 1):
        distances = np.concatenate([distances, (array[indices[-1]] != array).mean(1)[None]])
        left = np.delete(np.arange(len(rows)), indices)
        indices.append(int(left[np.argmax(distances[:, left].mean(0))]))
    return [rows[k] for k in sorted(indices)]


# -- loading ---------------------------------------------------------------------------


def test_checkpoint_is_in_the_released_layout(tiny_msa_transformer, reference):
    """The writer swaps row/column as fair-esm's released files do: 'column' keys hold row
    attention."""
    saved = torch.load(tiny_msa_transformer, weights_only=False)
    assert saved["args"].arch == "msa_transformer"
    key = "encoder.sentence_encoder.layers.0.column_self_attention.layer.q_proj.weight"
    assert torch.equal(
        saved["model"][key], reference.layers[0].row_self_attention.layer.q_proj.weight
    )


def test_loader_builds_fair_esm_model_identically(tiny_msa_transformer, reference):
    model, alphabet, name = load_model(str(tiny_msa_transformer))
    assert isinstance(model, esm.MSATransformer) and name == "tiny_msa"
    assert alphabet.prepend_bos and not alphabet.append_eos
    ours, theirs = model.state_dict(), reference.state_dict()
    assert ours.keys() == theirs.keys()
    assert all(torch.equal(ours[key], theirs[key]) for key in ours)


def test_known_name_loads_from_the_hub_cache(
    tiny_msa_transformer, predictor, tmp_path, monkeypatch
):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    model_path, regression_path = hub_paths("esm_msa1b_t12_100M_UR50S")
    model_path.parent.mkdir(parents=True)
    shutil.copy(tiny_msa_transformer, model_path)
    shutil.copy(tiny_msa_transformer.with_name("tiny_msa-contact-regression.pt"), regression_path)
    by_name = ContactPredictor.from_pretrained("esm_msa1b_t12_100M_UR50S", device="cpu")
    assert by_name.is_msa_transformer and by_name.max_length == 1023
    rows = [("q", "MKTAYIAKQRQISF"), ("a", "MKT-YIAKQRQ-SF")]
    np.testing.assert_array_equal(by_name.predict_msa(rows), predictor.predict_msa(rows))
    assert takes_alignments("esm_msa1b_t12_100M_UR50S") and not takes_alignments(
        "esm1b_t33_650M_UR50S"
    )


def test_header_disagreeing_with_tensors_is_refused(tiny_msa_transformer, tmp_path):
    saved = torch.load(tiny_msa_transformer, weights_only=False)
    saved["args"].encoder_layers = 3
    torch.save(saved, tmp_path / "bad.pt")
    regression = tiny_msa_transformer.with_name("tiny_msa-contact-regression.pt")
    shutil.copy(regression, tmp_path / "bad-contact-regression.pt")
    with pytest.raises(CheckpointError, match=r"bad.pt: the header says 3 layers"):
        load_model(str(tmp_path / "bad.pt"))


# -- parity with fair-esm --------------------------------------------------------------------


@pytest.mark.parametrize("alignment", ALIGNMENTS)
@pytest.mark.parametrize("depth", [1, 8, 32])
def test_first_rows_equal_fair_esm(shared_data, predictor, reference, alignment, depth):
    rows = [row for _, row in read_msa(shared_data / alignment)]
    chosen = ([rows[0]] + [row for row in rows[1:] if row.strip("-")])[:depth]
    assert any("-" in row for row in chosen[1:]) or depth == 1  # rows with gaps are among them
    expected = fair_esm_contacts(reference, chosen)
    P = predictor.predict_msa(shared_data / alignment, num_seqs=depth, strategy="first")
    assert P.shape == (len(rows[0]), len(rows[0]))
    np.testing.assert_allclose(P, expected, atol=1e-5)


@pytest.mark.parametrize("alignment", ALIGNMENTS)
@pytest.mark.parametrize("depth", [8, 32])
def test_default_selection_is_greedy_max_hamming_in_file_order(
    shared_data, predictor, reference, alignment, depth
):
    rows = [row for _, row in read_msa(shared_data / alignment)]
    expected = fair_esm_contacts(reference, greedy_select(rows, depth))
    np.testing.assert_allclose(
        predictor.predict_msa(shared_data / alignment, num_seqs=depth), expected, atol=1e-5
    )
    np.testing.assert_allclose(
        predictor.predict_msa(shared_data / alignment, num_seqs=depth, strategy="diverse"),
        expected,
        atol=1e-5,
    )


def test_realignment_rules_and_gap_rows(tmp_path, predictor, reference):
    """Insertions removed, query-gap columns dropped, all-gap rows left out, gap-heavy rows kept."""
    a3m = tmp_path / "hand.a3m"
    a3m.write_text(
        ">query\nMK-TAYIAKQR\n>ins\nMKaaLTAY-AKQR\n>gappy\n---T-----KR\n>empty\n-----------\n"
        ">tail\nMKGT-------\n"
    )
    # By hand: column 3 (the query's gap) dropped, lowercase insertions removed, 'empty' left out.
    expected_rows = ["MKTAYIAKQR", "MKTAY-AKQR", "--T-----KR", "MKT-------"]
    assert [row for _, row in read_msa(a3m) if row.strip("-")] == expected_rows
    expected = fair_esm_contacts(reference, expected_rows)
    np.testing.assert_allclose(
        predictor.predict_msa(a3m, num_seqs=10, strategy="first"), expected, atol=1e-5
    )


def test_single_sequence_is_a_one_row_alignment_with_a_warning(predictor, reference):
    sequence = "MKTAYIAKQRQISFVKSHFSRQ"
    with pytest.warns(UserWarning, match="meant for alignments"):
        P = predictor.predict(sequence)
    np.testing.assert_allclose(P, fair_esm_contacts(reference, [sequence]), atol=1e-5)
    with pytest.warns(UserWarning, match="meant for alignments"):
        maps = predictor.predict_batch([sequence, sequence[:9]])
    np.testing.assert_allclose(maps[1], fair_esm_contacts(reference, [sequence[:9]]), atol=1e-5)


def test_letters_outside_the_alphabet_become_x(predictor, reference):
    rows = [("q", "MKTAYJAKQR"), ("a", "MKTAY-AKQR")]
    expected = fair_esm_contacts(reference, ["MKTAYXAKQR", "MKTAY-AKQR"])
    np.testing.assert_allclose(predictor.predict_msa(rows, strategy="first"), expected, atol=1e-5)


# -- chunking ----------------------------------------------------------------------------------


def test_results_do_not_depend_on_chunking(shared_data, tiny_msa_transformer, reference):
    alignment = shared_data / "4zey_A_bfd_uniclust_hits.a3m"
    rows = [row for _, row in read_msa(alignment)]
    chosen = ([rows[0]] + [row for row in rows[1:] if row.strip("-")])[:24]
    unchunked = fair_esm_contacts(reference, chosen)
    # fair-esm's own chunked path gives the same map (its max_tokens_per_msa below R x T).
    reference.max_tokens_per_msa_(200)
    try:
        np.testing.assert_allclose(fair_esm_contacts(reference, chosen), unchunked, atol=1e-5)
    finally:
        reference.max_tokens_per_msa_(2**14)
    for chunk in (1, 85, 200, 1000, 10**9):  # one row/column a chunk ... one chunk
        predictor = ContactPredictor.from_pretrained(
            str(tiny_msa_transformer), device="cpu", max_tokens_per_msa=chunk
        )
        np.testing.assert_allclose(
            predictor.predict_msa(alignment, num_seqs=24, strategy="first"),
            unchunked,
            atol=1e-5,
            err_msg=f"max_tokens_per_msa={chunk}",
        )


def independent_bound(length, rows, embed_dim, heads, ffn_dim, chunk):
    """The stated bound (module text of esm_contacts.msa_transformer), written out here again."""
    width = length + 1
    row_chunk = min(max(chunk, width), rows * width)
    column_chunk = min(max(chunk, rows), rows * width)
    return (
        4
        * (
            rows * width * embed_dim
            + 4 * heads * width**2
            + row_chunk * (8 * embed_dim + 6 * ffn_dim)
            + column_chunk * (6 * embed_dim + 3 * heads * rows)
        )
        + 20 * length**2
    )


@pytest.mark.parametrize(
    "length, rows, embed_dim, heads, ffn_dim",
    [
        (300, 1, 768, 12, 3072),
        (300, 32, 768, 12, 3072),
        (300, 128, 768, 12, 3072),
        (1023, 1024, 768, 12, 3072),
        (50, 7, 32, 4, 64),
        (9, 1000, 32, 4, 64),
    ],
)
def test_automatic_chunk_is_the_largest_within_256_mib_of_the_smallest(
    length, rows, embed_dim, heads, ffn_dim
):
    from esm_contacts.resources import msa_chunk_tokens

    chunk = msa_chunk_tokens(length, rows, embed_dim, heads, ffn_dim)
    limit = independent_bound(length, rows, embed_dim, heads, ffn_dim, 1) + 2**28
    assert 1 <= chunk <= rows * (length + 1)
    assert independent_bound(length, rows, embed_dim, heads, ffn_dim, chunk) <= limit
    if chunk < rows * (length + 1):  # the largest: one more token crosses the limit
        assert independent_bound(length, rows, embed_dim, heads, ffn_dim, chunk + 1) > limit
    if (length, rows, embed_dim) == (300, 128, 768):
        # The full-size model at the benchmark's R = 128: the whole estimate (x 1.25) within 1/10 of
        # fair-esm's measured 6.42 GB, and chunks of whole rows (7 of 301 tokens) and columns (17).
        assert 1.25 * independent_bound(length, rows, embed_dim, heads, ffn_dim, chunk) < 0.642e9
        assert chunk // 301 == 7 and chunk // 128 == 17


def test_chunk_is_automatic_unless_given_and_the_run_uses_it(tiny_msa_transformer, monkeypatch):
    """The run's row and column chunks: the automatic rule's, or the caller's max_tokens_per_msa."""
    from esm_contacts import msa_transformer

    sizes = []
    real = msa_transformer._row_chunks
    monkeypatch.setattr(
        msa_transformer,
        "_row_chunks",
        lambda total, size: sizes.append((total, size)) or real(total, size),
    )
    alignment = [("q", "MKTAYIAKQR" * 3)] + [(f"r{k}", "MKTAY-AKQR" * 3) for k in range(9)]
    automatic = ContactPredictor.from_pretrained(str(tiny_msa_transformer), device="cpu")
    assert automatic.max_tokens_per_msa is None
    automatic.predict_msa(alignment, strategy="first")
    # tiny widths: 256 MiB holds the whole alignment (10 rows x 31 tokens) in one chunk
    assert set(sizes) == {(10, 10), (31, 31)}
    sizes.clear()
    given = ContactPredictor.from_pretrained(
        str(tiny_msa_transformer), device="cpu", max_tokens_per_msa=70
    )
    given.predict_msa(alignment, strategy="first")
    assert set(sizes) == {(10, 70 // 31), (31, 70 // 10)}
    model = automatic.model
    assert msa_transformer.chunk_tokens(model, 128, 301, 85) == 85
    chunk = msa_transformer.chunk_tokens(model, 128, 301)  # the model's widths: 32, 4 heads, 64
    limit = independent_bound(300, 128, 32, 4, 64, 1) + 2**28
    assert independent_bound(300, 128, 32, 4, 64, chunk) <= limit
    assert independent_bound(300, 128, 32, 4, 64, chunk + 1) > limit


PEAK = """
import ctypes, sys
sys.path.insert(0, sys.argv[1])
import numpy as np, torch
import esm
from tiny_models import tiny_msa_transformer
from esm_contacts.predictor import ContactPredictor

def kib(field):
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field + ":"))

# One layer of the full-size widths (768 dims, 12 heads): chunks, activations and attention large
# enough for the allocator's noise not to matter.
model = tiny_msa_transformer(layers=1, heads=12, embed_dim=768)
rng = np.random.default_rng(0)
letters = np.array(list("ACDEFGHIKLMNPQRSTVWY"))
for chunk in (None, 301):
    predictor = ContactPredictor(model, esm.Alphabet.from_architecture("msa_transformer"),
                                 device="cpu", max_tokens_per_msa=chunk)
    # one-off costs first
    predictor.predict_msa([("q", "MKTAYIAKQR"), ("r", "MKTAY-AKQR")], strategy="first")
    rows = [("".join(rng.choice(letters, 200))) for _ in range(64)]
    alignment = [(str(k), row) for k, row in enumerate(rows)]
    estimate = predictor.estimate_memory([200], rows=64)
    # freed pages back to the system: a run cannot reuse them unseen
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    open("/proc/self/clear_refs", "w").write("5")
    before = kib("VmRSS")
    predictor.predict_msa(alignment, num_seqs=64, strategy="first")
    print(chunk, (kib("VmHWM") - before) * 1024, estimate)
"""


@pytest.mark.skipif(
    not Path("/proc/self/clear_refs").exists(), reason="Linux /proc needed to measure the peak"
)
def test_estimate_bounds_the_measured_peak(tmp_path):
    """The process's high-water mark above its resident set (MEASURING.md) stays within the
    estimate, with the automatic chunk and with one row a chunk."""
    script = tmp_path / "peak.py"
    script.write_text(PEAK)
    root = Path(__file__).resolve().parent.parent
    environment = {"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "2"}
    result = subprocess.run(
        [sys.executable, str(script), str(root / "tests")],
        capture_output=True,
        text=True,
        env=environment,
    )
    assert result.returncode == 0, result.stderr
    for line in result.stdout.splitlines():
        chunk, peak, estimate = line.split()
        assert 0.25 * int(estimate) < int(peak) <= int(estimate), line  # bounded, and not vacuously


def test_only_one_layers_row_attention_is_alive(predictor, monkeypatch):
    """The layer loop yields (H, T, T) row attention only; no column attention reaches the caller
    or a stack."""
    from esm_contacts import msa_transformer

    stacked = []
    real_stack = torch.stack
    monkeypatch.setattr(torch, "stack", lambda *a, **k: stacked.append(1) or real_stack(*a, **k))
    tokens = msa_transformer.msa_tokens(
        predictor.alphabet,
        ["MKTAYIAKQR", "MKTAY-AKQR", "MK--YIAKQR"],
        frozenset("ACDEFGHIKLMNPQRSTVWYX"),
    )
    shapes = [
        attention.shape for _, attention in msa_transformer.row_attentions(predictor.model, tokens)
    ]
    assert shapes == [(predictor.num_heads, 11, 11)] * predictor.num_layers
    assert not stacked


# -- limits and memory -------------------------------------------------------------------------


def test_depth_limit(predictor, shared_data):
    with pytest.raises(
        ValueError, match=r"num_seqs 1025: the MSA Transformer takes at most 1024 rows"
    ):
        predictor.predict_msa(shared_data / "1a3a_1_A.a3m", num_seqs=1025)


def test_length_limit(tmp_path):
    path = write_tiny_msa_transformer(tmp_path, name="short", max_positions=34)
    short = ContactPredictor.from_pretrained(str(path), device="cpu")
    assert short.max_length == 33  # 34 positions: BOS and 33 residues
    fits = [("q", "A" * 33), ("b", "C" * 33)]
    reference = tiny_msa_transformer(max_positions=34)
    reference.contact_head.load_state_dict(
        {
            key.split("contact_head.")[1]: value
            for key, value in torch.load(
                path.with_name("short-contact-regression.pt"), weights_only=True
            )["model"].items()
        }
    )
    np.testing.assert_allclose(
        short.predict_msa(fits, strategy="first"),
        fair_esm_contacts(reference.eval(), ["A" * 33, "C" * 33]),
        atol=1e-5,
    )
    with pytest.raises(
        ValueError, match=r"query has 34 residues; the MSA Transformer takes at most 33"
    ):
        short.predict_msa([("q", "A" * 34)])
    with pytest.raises(ValueError, match=r"takes at most 33"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        short.predict("A" * 34)


def test_memory_is_checked_before_any_work(predictor):
    rows = [("q", "MKTAYIAKQR" * 10)] + [(f"r{k}", "MKTAY-AKQR" * 10) for k in range(20)]
    estimate = predictor.estimate_memory([100], rows=21)
    assert predictor.estimate_memory([100], rows=42) > estimate  # grows with the depth
    with pytest.raises(MemoryLimitError, match="needs about"):
        predictor.predict_msa(rows, max_memory=estimate - 1)


# -- command line, evaluation, PyMOL -----------------------------------------------------------


def test_cli_predict_with_msa_then_evaluate_and_validate(
    shared_data, tiny_msa_transformer, predictor, tmp_path, capsys
):
    msa = shared_data / "1a3a_1_A.a3m"
    out = tmp_path / "msa.csv"
    assert (
        main(
            [
                "predict",
                str(shared_data / "1a3a.pdb"),
                "--chain",
                "A",
                "--msa",
                str(msa),
                "--num-seqs",
                "16",
                "--model",
                str(tiny_msa_transformer),
                "--device",
                "cpu",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    P, sequence = read_contacts(out)
    assert sequence == read_msa(msa)[0][1]
    expected = predictor.predict_msa(
        msa, num_seqs=16
    )  # the default selection for this model: diverse
    i, j = np.triu_indices(len(sequence), 6)
    np.testing.assert_allclose(P[i, j], expected[i, j], atol=1e-6)
    capsys.readouterr()
    assert (
        main(["evaluate", str(out), "--structure", str(shared_data / "1a3a.pdb"), "--chain", "A"])
        == 0
    )
    assert "long" in capsys.readouterr().out
    assert main(["validate", str(out), str(shared_data / "1a3a.pdb"), "--chain", "A"]) == 0


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--num-seqs", "2000"], "num_seqs 2000: the MSA Transformer takes at most 1024 rows"),
    ],
)
def test_cli_limits_are_one_line_errors(
    shared_data, tiny_msa_transformer, tmp_path, capsys, arguments, message
):
    query = read_msa(shared_data / "4zey_A_bfd_uniclust_hits.a3m")[0][1]
    out = tmp_path / "never.rr"
    code = main(
        [
            "predict",
            query,
            "--msa",
            str(shared_data / "4zey_A_bfd_uniclust_hits.a3m"),
            "--model",
            str(tiny_msa_transformer),
            "--device",
            "cpu",
            "--out",
            str(out),
            *arguments,
        ]
    )
    error = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(error) == 1 and error[0].startswith("esm-contacts predict: error: ")
    assert message in error[0] and not out.exists()


def test_cli_length_limit(tmp_path, capsys):
    path = write_tiny_msa_transformer(tmp_path, name="short", max_positions=34)
    msa = tmp_path / "long.a3m"
    msa.write_text(">q\n" + "A" * 40 + "\n>b\n" + "C" * 40 + "\n")
    code = main(["predict", "A" * 40, "--msa", str(msa), "--model", str(path), "--device", "cpu"])
    error = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(error) == 1 and "takes at most 33" in error[0]


def test_evaluate_dataset_gains_an_msa_transformer_row(
    shared_data, tiny_esm2, tiny_msa_transformer, tmp_path, capsys
):
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "scripts" / "evaluate_dataset.py"
    spec = importlib.util.spec_from_file_location("evaluate_dataset_msa", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    csv = tmp_path / "table.csv"
    entry = f"{shared_data / '4zey.cif'}:A:{shared_data / '4zey_A_bfd_uniclust_hits.a3m'}"
    assert (
        module.main(
            [
                entry,
                "--model",
                str(tiny_esm2),
                "--device",
                "cpu",
                "--csv",
                str(csv),
                "--msa-transformer",
                str(tiny_msa_transformer),
                "--msa-transformer-seqs",
                "16",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "MSA Transformer" in out
    lines = [line.split(",") for line in csv.read_text().splitlines()]
    rows = [line for line in lines if line[2] == "MSA Transformer" and line[1] != "MEAN"]
    assert rows and all(line[0] == "tiny_msa" for line in rows)
    # Independent: the row's precision is the evaluation of predict_msa's map of 16 rows.
    from esm_contacts.metrics import evaluate
    from esm_contacts.structure import load_chain

    msa = read_msa(shared_data / "4zey_A_bfd_uniclust_hits.a3m")
    _, _, T = load_chain(shared_data / "4zey.cif", "A", sequence=msa[0][1])
    table = evaluate(
        ContactPredictor.from_pretrained(str(tiny_msa_transformer), device="cpu").predict_msa(
            msa, num_seqs=16
        ),
        T,
    )
    long_row = next(line for line in rows if line[4] == "long")
    assert float(long_row[5] or "nan") == pytest.approx(table["long"]["L"], nan_ok=True, abs=1e-4)


def test_pymol_dialog_requires_an_alignment_for_the_msa_transformer(monkeypatch):
    import pymol2

    monkeypatch.setenv("QT_QPA_PLATFORM", os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    from pymol.Qt import QtWidgets

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])  # noqa: F841
    from pymol_plugin import commands, dialog

    pymol = pymol2.PyMOL()
    pymol.start()
    cmd = pymol.cmd
    try:
        cmd.fab("MKTAYIAKQRQISFVKSHFSRQ", "hel", ss=1, chain="A")
        window = dialog.ContactsDialog(_self=cmd)
        assert window.msa.placeholderText().startswith("optional")
        window.model.setCurrentText("esm_msa1b_t12_100M_UR50S")
        assert window.msa.isEnabled() and window.msa.placeholderText().startswith("required")
        errors, started = [], []
        window.fail = errors.append
        monkeypatch.setattr(dialog, "start_job", lambda *args, **kwargs: started.append(args))
        window.selection.setCurrentText("hel")
        window.run()
        assert (
            len(errors) == 1
            and "choose an alignment in the MSA field" in str(errors[0])
            and not started
        )
        window.model.setCurrentText(commands.DEFAULT_MODEL)
        assert window.msa.placeholderText().startswith("optional")
        window.deleteLater()
    finally:
        pymol.stop()
