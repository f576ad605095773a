"""ContactPredictor against fair-esm's own predict_contacts, batching, windows, input."""

import numpy as np
import pytest
import torch

from esm_contacts.models import load_model
from esm_contacts.predictor import ContactPredictor, window_starts
from esm_contacts.sequence import clean_sequence

SEQUENCE = "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQAPILSRVGDGTQDNLSGAEKAVQVKVKALPDAQ"
rng = np.random.default_rng(7)


def random_sequence(length: int) -> str:
    return "".join(rng.choice(list("ACDEFGHIKLMNPQRSTVWY"), size=length))


def fair_esm_contacts(path, sequences):
    model, alphabet, _ = load_model(path)
    _, _, tokens = alphabet.get_batch_converter()([(str(i), s) for i, s in enumerate(sequences)])
    with torch.no_grad():
        return model.predict_contacts(tokens).numpy()


@pytest.fixture(scope="module", params=["tiny_esm1b", "tiny_esm2", "tiny_esm1"])
def checkpoint(request):
    return request.getfixturevalue(request.param)


@pytest.fixture(scope="module")
def predictor(checkpoint):
    return ContactPredictor.from_pretrained(str(checkpoint), device="cpu")


@pytest.mark.parametrize("length", [1, 2, 3, 7, 30, 64])
def test_matches_fair_esm_predict_contacts(checkpoint, predictor, length):
    sequence = SEQUENCE[:length]
    expected = fair_esm_contacts(checkpoint, [sequence])[0]
    P = predictor.predict(sequence)
    assert P.dtype == np.float32 and P.shape == (length, length)
    np.testing.assert_allclose(P, expected, atol=1e-5, rtol=0)
    np.testing.assert_array_equal(P, P.T)
    assert P.min() >= 0 and P.max() <= 1


def test_zero_weight_heads_are_skipped(predictor):
    # The tiny regressions have ~30 % zero weights, as an L1 fit leaves them.
    nonzero = int(torch.count_nonzero(predictor.weight))
    assert predictor.active_heads == nonzero < predictor.num_layers * predictor.num_heads


def test_batch_equals_one_by_one(predictor):
    sequences = [random_sequence(n) for n in (40, 5, 64, 17, 1, 40, 33)]
    one_by_one = [predictor.predict(s) for s in sequences]
    batched = predictor.predict_batch(sequences)
    assert [m.shape for m in batched] == [(len(s), len(s)) for s in sequences]
    for expected, got in zip(one_by_one, batched):
        np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)


def test_batch_size_does_not_change_results(checkpoint):
    sequences = [random_sequence(n) for n in (12, 50, 31, 9)]
    small = ContactPredictor.from_pretrained(str(checkpoint), device="cpu", max_tokens=1)
    large = ContactPredictor.from_pretrained(str(checkpoint), device="cpu", max_tokens=10**7)
    for a, b in zip(small.predict_batch(sequences), large.predict_batch(sequences)):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=0)


def test_fair_esm_batched_output_is_padded(checkpoint, predictor):
    """What fair-esm's batched call does differently: maps padded to the longest, padded
    cells at sigmoid(b0). Its residue block agrees with ours (it zeroes padding before APC)."""
    sequences = [random_sequence(40), random_sequence(10)]
    padded = fair_esm_contacts(checkpoint, sequences)
    assert padded.shape[1:] == (40, 40)
    np.testing.assert_allclose(padded[1, 20:, 20:], 1 / (1 + np.exp(-predictor.bias)), atol=1e-6)
    ours = predictor.predict_batch(sequences)
    assert ours[1].shape == (10, 10)
    np.testing.assert_allclose(ours[1], padded[1, :10, :10], atol=1e-5)


def test_thread_count_does_not_change_results(predictor):
    sequence = random_sequence(50)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        single = predictor.predict(sequence)
    finally:
        torch.set_num_threads(threads)
    np.testing.assert_allclose(predictor.predict(sequence), single, atol=1e-5, rtol=0)


# -- windows ---------------------------------------------------------------------------


def test_window_starts_cover_the_sequence():
    assert window_starts(10, 64) == [0]
    assert window_starts(64, 64) == [0]
    assert window_starts(150, 64) == [0, 32, 64, 86]
    starts = window_starts(1000, 100)
    assert starts[0] == 0 and starts[-1] + 100 == 1000
    assert all(b - a <= 50 for a, b in zip(starts, starts[1:]))


def test_long_sequence_windows_average_overlaps(tiny_esm1b):
    predictor = ContactPredictor.from_pretrained(str(tiny_esm1b), device="cpu")
    window = predictor.max_length
    assert window == 64  # tiny ESM-1b: max_positions 66 -> 64 residues
    sequence = random_sequence(150)
    with pytest.warns(
        UserWarning, match=r"longer than the model context \(64\); \d+ residue pairs"
    ) as caught:
        P = predictor.predict(sequence)
    # The warning's count and smallest separation are those of the uncovered pairs, counted
    # independently: pairs i < j that no window [start, start + 64) holds both of.
    uncovered = [
        (i, j)
        for i in range(150)
        for j in range(i + 1, 150)
        if not any(start <= i and j < start + 64 for start in (0, 32, 64, 86))
    ]
    stated = str(caught[0].message)
    assert (
        f"; {len(uncovered)} residue pairs (separation >= {min(j - i for i, j in uncovered)})"
        in stated
    )
    # Independent reference: each window predicted on its own, then averaged.
    total = np.zeros((150, 150))
    count = np.zeros((150, 150))
    for start in (0, 32, 64, 86):
        total[start : start + 64, start : start + 64] += predictor.predict(
            sequence[start : start + 64]
        )
        count[start : start + 64, start : start + 64] += 1
    expected = np.divide(total, count, out=np.zeros_like(total), where=count > 0)
    np.testing.assert_allclose(P, expected, atol=1e-5)
    covered = predictor.coverage(150)
    np.testing.assert_array_equal(covered, count > 0)
    assert np.all(P[~covered] == 0)
    assert covered[0, 63] and not covered[0, 64]
    np.testing.assert_array_equal(P, P.T)


def test_long_sequence_in_a_batch_equals_alone(tiny_esm2):
    predictor = ContactPredictor.from_pretrained(str(tiny_esm2), device="cpu", max_length=48)
    long_sequence, short_sequence = random_sequence(100), random_sequence(20)
    with pytest.warns(UserWarning):
        alone = predictor.predict(long_sequence)
    with pytest.warns(UserWarning):
        batch = predictor.predict_batch([short_sequence, long_sequence])
    np.testing.assert_allclose(batch[1], alone, atol=1e-5)
    np.testing.assert_allclose(batch[0], predictor.predict(short_sequence), atol=1e-5)


# -- sequence input ----------------------------------------------------------------------


def test_clean_sequence_accepts_case_whitespace_and_stop():
    assert clean_sequence("mkT ay\nIAK*") == "MKTAYIAK"
    assert clean_sequence("XBZUO") == "XBZUO"
    assert clean_sequence("ACD*\n") == "ACD"


@pytest.mark.parametrize(
    "sequence, message",
    [
        ("MKT1AY", r"invalid character '1' at position 4"),
        ("MK-AY", r"invalid character '-' at position 3"),
        ("MKAY#", r"invalid character '#' at position 5"),
        ("MK*AY", r"invalid character '\*' at position 3"),
        ("", r"empty sequence"),
        ("  \n", r"empty sequence"),
        ("*", r"empty sequence"),
    ],
)
def test_bad_sequences_name_position_and_character(predictor, sequence, message):
    with pytest.raises(ValueError, match=message):
        predictor.predict(sequence)


def test_lowercase_predicts_like_uppercase(predictor):
    np.testing.assert_array_equal(predictor.predict("mktayiak"), predictor.predict("MKTAYIAK"))


def test_batch_error_names_the_sequence(predictor):
    with pytest.raises(ValueError, match=r"position 2 of the sequence of sequence 2"):
        predictor.predict_batch(["MKT", "M1K"])


def test_half_precision_needs_a_gpu(tiny_esm1b):
    with pytest.raises(ValueError, match="needs a GPU"):
        ContactPredictor.from_pretrained(str(tiny_esm1b), device="cpu", dtype="float16")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_close_to_float32(tiny_esm1b, dtype):
    sequence = random_sequence(60)
    reference = ContactPredictor.from_pretrained(str(tiny_esm1b), device="cpu").predict(sequence)
    half = ContactPredictor.from_pretrained(str(tiny_esm1b), device="cuda", dtype=dtype).predict(
        sequence
    )
    assert np.abs(half - reference).max() < 2e-2


def test_batches_bound_tokens_as_well_as_attention(tiny_esm1b):
    """Many short sequences: B * T stays within one full-length sequence's tokens."""
    predictor = ContactPredictor.from_pretrained(str(tiny_esm1b), device="cpu")
    lengths = [10] * 4000 + [64, 30]
    batches = list(predictor._length_batches(lengths))
    assert sorted(k for batch in batches for k in batch) == list(range(len(lengths)))
    for batch in batches:
        tokens = max(lengths[k] for k in batch) + 2
        assert len(batch) * tokens <= predictor.max_batch_tokens == 66
        assert len(batch) * tokens**2 <= predictor.max_tokens
    assert max(len(batch) for batch in batches) == 66 // 12
