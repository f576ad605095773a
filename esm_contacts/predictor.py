"""ContactPredictor: sequences -> contact probability maps.

The pipeline is the paper's (Rao et al. 2021) and fair-esm's ``ContactPredictionHead``:
attention of every layer and head, cropped to the residues, symmetrized,
APC-corrected per head, combined by the logistic regression
``P_ij = sigmoid(b0 + sum_lh w_lh A'_lhij)``. It runs as a layer loop that adds each
layer's weighted heads to one (L, L) sum (see :mod:`esm_contacts.attention`), skipping
heads with zero weight, so memory stays at one layer's attention.

Batches and windows
-------------------
``predict_batch`` groups sequences of similar length; every sequence's maps are
cropped to its own residues before APC, so results equal ``predict`` one by one.
fair-esm 2.0.0's batched ``predict_contacts`` applies APC to maps padded to the longest
sequence; it zeroes padding and EOS attention first, so the padding adds nothing to
the APC sums and its residue block agrees with ours to float precision (measured: at
most 6e-8 on the test models), but it returns (B, T, T) maps whose padded cells hold
``sigmoid(b0)`` instead of belonging to no residue. Cropping first makes the
invariance hold by construction rather than by the masking arithmetic.

Sequences longer than the model's context (1022 residues for ESM-1b) are predicted
over windows of ``max_length`` residues whose starts are ``max_length // 2`` apart
(the last window ends at the last residue); where windows overlap, probabilities are
averaged. Pairs farther apart than any window spans get probability 0; a warning gives
their count and :meth:`ContactPredictor.coverage` returns the mask.
"""

import os
import sys
import warnings
from typing import Iterable, List, Optional, Sequence, Union

import numpy as np
import torch

from .attention import apc_features, crop_to_residues, layer_attentions, nonzero_heads
from .models import DEFAULT_MODEL, load_model, resolve_device

__all__ = ["ContactPredictor", "clean_sequence", "ALPHABET_LETTERS", "window_starts"]

#: Heads symmetrized and APC-corrected together (bounds the temporaries' memory).
HEAD_CHUNK = 4
#: Letters every ESM sequence model accepts: 20 standard residues, X, B, Z, U, O.
ALPHABET_LETTERS = frozenset("ACDEFGHIKLMNPQRSTVWYXBZUO")


def clean_sequence(sequence: str, name: Optional[str] = None) -> str:
    """Validate and normalise a protein sequence.

    Lowercase letters are accepted, whitespace anywhere and a trailing ``*`` (stop) are
    ignored.

    Parameters
    ----------
    sequence : str
        One-letter amino-acid sequence.
    name : str, optional
        Record name to put in error messages.

    Returns
    -------
    sequence : str
        Upper-case letters only.

    Raises
    ------
    TypeError
        `sequence` is not a str.
    ValueError
        Empty sequence, or a character outside the model alphabet (the message gives
        its 1-based position in the input and the character).
    """
    where = f" of {name}" if name else ""
    if not isinstance(sequence, str):
        raise TypeError(f"{name or 'the sequence'} must be a str of one-letter codes, not {type(sequence).__name__}")
    text = sequence.rstrip()
    if text.endswith("*"):
        text = text[:-1]
    letters = []
    for position, char in enumerate(text, start=1):
        if char.isspace():
            continue
        upper = char.upper()
        if upper not in ALPHABET_LETTERS:
            raise ValueError(
                f"invalid character {char!r} at position {position} of the sequence{where}; "
                "allowed: the 20 standard amino acids and X, B, Z, U, O"
            )
        letters.append(upper)
    if not letters:
        raise ValueError(f"empty sequence{where}")
    return "".join(letters)


class ContactPredictor:
    """Contact maps from an ESM model's attention and its logistic regression.

    Parameters
    ----------
    model : esm.ProteinBertModel or esm.model.esm2.ESM2
        A fair-esm model with its contact regression loaded.
    alphabet : esm.data.Alphabet
        The model's alphabet.
    name : str
        Model name for reports.
    device : str or torch.device
        ``"auto"`` (CUDA, else MPS, else CPU), ``"cpu"``, ``"cuda:0"``...
    dtype : torch.dtype or str, optional
        ``float16`` or ``bfloat16`` for the transformer on a GPU; APC and the
        regression always run in float32.
    max_length : int, optional
        Residues per forward pass, 1 to the model's context (1022 for ESM-1b, the
        default); ValueError outside, TypeError for a non-integer.
    max_tokens : int, optional
        Batch budget: ``batch_size * (tokens per sequence)^2`` stays below it
        (one full-context sequence by default), which bounds attention memory.

    Examples
    --------
    >>> predictor = ContactPredictor.from_pretrained("esm1b_t33_650M_UR50S")  # doctest: +SKIP
    >>> P = predictor.predict("MKTAYIAKQRQISFVKSHFSRQ")  # doctest: +SKIP
    """

    def __init__(
        self,
        model,
        alphabet,
        name: str = "model",
        device: Union[str, torch.device] = "auto",
        dtype: Union[str, torch.dtype, None] = None,
        max_length: Optional[int] = None,
        max_tokens: Optional[int] = None,
    ):
        self.name = name
        self.alphabet = alphabet
        self.device = resolve_device(device)
        self.dtype = _resolve_dtype(dtype, self.device)
        regression = model.contact_head.regression
        self.num_layers = len(model.layers)
        self.num_heads = model.layers[0].self_attn.num_heads
        # Copies in float32, kept apart from the (possibly half-precision) model.
        self.weight = regression.weight.detach().float().reshape(self.num_layers, self.num_heads).clone()
        self.bias = float(regression.bias.detach().float().item()) if regression.bias is not None else 0.0
        self.model = model.eval().to(device=self.device, dtype=self.dtype)
        context = _model_context(model)
        # Longer windows would index past ESM-1b's learned positions: at most the context.
        self.max_length = context if max_length is None else _whole_number(max_length, "max_length", 1, context,
                                                                            note=f" (the model's context is {context})")
        self.max_tokens = (self.max_length + 2) ** 2 if max_tokens is None else _whole_number(max_tokens, "max_tokens")
        # B * T bounds the activations (embeddings, Q/K/V, feed-forward) as B * T^2 bounds
        # the attention: a batch never holds more tokens than one full-length sequence.
        self.max_batch_tokens = max(self.max_length + 2, int(np.sqrt(self.max_tokens)))
        self._batch_converter = alphabet.get_batch_converter()
        self._set_heads()

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str = DEFAULT_MODEL,
        device: Union[str, torch.device] = "auto",
        dtype: Union[str, torch.dtype, None] = None,
        regression: Optional[str] = None,
        **kwargs,
    ) -> "ContactPredictor":
        """Load a fair-esm model by name (torch hub cache) or from a local ``.pt`` file.

        Parameters
        ----------
        name_or_path : str
            A fair-esm model name (``esm-contacts models`` lists them) or a checkpoint
            path; a path loads ``NAME-contact-regression.pt`` from beside it.
        device, dtype
            See :class:`ContactPredictor`.
        regression : str, optional
            A ``*-contact-regression.pt`` file that replaces the checkpoint's own.
        **kwargs
            ``max_length``, ``max_tokens``.

        Returns
        -------
        predictor : ContactPredictor
        """
        model, alphabet, name = load_model(name_or_path, regression=regression)
        return cls(model, alphabet, name=name, device=device, dtype=dtype, **kwargs)

    def _set_heads(self) -> None:
        self._heads = [heads.to(self.device) for heads in nonzero_heads(self.weight, self.num_layers, self.num_heads)]
        self._head_weights = [self.weight[layer, heads.cpu()].to(self.device) for layer, heads in enumerate(self._heads)]

    @property
    def active_heads(self) -> int:
        """Number of heads with a non-zero regression weight (the ones computed)."""
        return int(sum(len(heads) for heads in self._heads))

    # -- prediction ------------------------------------------------------------------

    def predict(self, sequence: str) -> np.ndarray:
        """Contact probabilities of one sequence.

        Parameters
        ----------
        sequence : str
            One-letter sequence (see :func:`clean_sequence` for what is accepted).

        Returns
        -------
        P : numpy.ndarray
            float32 (L, L), symmetric, values in [0, 1].
        """
        return self.predict_batch([sequence])[0]

    def predict_batch(self, sequences: Sequence[str], progress: bool = False) -> List[np.ndarray]:
        """Contact probabilities of several sequences, batched by length.

        Parameters
        ----------
        sequences : sequence of str
            One-letter sequences; a bare string is refused (TypeError), not read as
            one sequence per letter: use :meth:`predict` for one sequence.
        progress : bool
            Show a progress bar over sequences.

        Returns
        -------
        maps : list of numpy.ndarray
            One float32 (L_i, L_i) map per sequence, in input order, each equal to
            ``predict`` of that sequence.

        Raises
        ------
        TypeError
            A string instead of a list, or an item that is not a str.
        ValueError
            An empty sequence or a letter outside the alphabet (:func:`clean_sequence`).
        """
        if isinstance(sequences, (str, bytes)):
            # A bare string would be iterated letter by letter into 1-residue predictions.
            raise TypeError("predict_batch takes a list of sequences, not one string: use predict(sequence), "
                            "or predict_batch([sequence])")
        try:
            sequences = list(sequences)
        except TypeError:
            raise TypeError(f"predict_batch takes a list of sequences, not {type(sequences).__name__}") from None
        cleaned = [clean_sequence(seq, name=f"sequence {index + 1}") for index, seq in enumerate(sequences)]
        results: List[Optional[np.ndarray]] = [None] * len(cleaned)
        short = [i for i, seq in enumerate(cleaned) if len(seq) <= self.max_length]
        long = [i for i, seq in enumerate(cleaned) if len(seq) > self.max_length]
        batches = list(self._length_batches([len(cleaned[i]) for i in short]))
        window_counts = [len(window_starts(len(cleaned[i]), self.max_length)) for i in long]
        # Counted in transformer layers run (forward passes x layers), so that one long sequence shows progress too.
        passes = len(batches) + sum(len(list(self._length_batches([self.max_length] * n))) for n in window_counts)
        description = f"{self.name}: {len(cleaned)} sequence(s)"
        if long:
            description += f", {sum(window_counts)} windows"
        bar = _progress(passes * self.num_layers, progress, description, unit="layer")
        try:
            for batch in batches:
                indices = [short[k] for k in batch]
                for index, contact_map in zip(indices, self._forward([cleaned[i] for i in indices], bar)):
                    results[index] = contact_map
            for index in long:
                results[index] = self._predict_windows(cleaned[index], bar)
        finally:
            bar.close()
        return results

    def coverage(self, length: int) -> np.ndarray:
        """Which pairs of a sequence of ``length`` residues some window covers.

        Returns
        -------
        mask : numpy.ndarray
            bool (L, L); all True when ``length <= max_length``.
        """
        mask = np.zeros((length, length), dtype=bool)
        for start in window_starts(length, self.max_length):
            mask[start : start + self.max_length, start : start + self.max_length] = True
        return mask

    def _predict_windows(self, sequence: str, bar=None) -> np.ndarray:
        length, window = len(sequence), self.max_length
        total = np.zeros((length, length), dtype=np.float32)
        counts = np.zeros((length, length), dtype=np.uint8)  # at most 3 windows overlap
        starts = window_starts(length, window)
        windows = [sequence[start : start + window] for start in starts]
        for batch in self._length_batches([window] * len(windows)):
            for k, contact_map in zip(batch, self._forward([windows[k] for k in batch], bar)):
                block = slice(starts[k], starts[k] + window)
                total[block, block] += contact_map
                counts[block, block] += 1
        uncovered = int(np.count_nonzero(counts == 0))
        if uncovered:
            warnings.warn(
                f"sequence of {length} residues is longer than the model context "
                f"({window}); {uncovered // 2} residue pairs (separation >= "
                f"{window - (starts[1] - starts[0]) + 1 if len(starts) > 1 else window}) lie in no "
                "window and get probability 0 (see ContactPredictor.coverage)",
                stacklevel=3,
            )
        # In place: uncovered cells were never added to and stay 0.
        return np.divide(total, counts, out=total, where=counts > 0)

    def _length_batches(self, lengths: Sequence[int]) -> Iterable[List[int]]:
        """Indices into ``lengths`` grouped so that B * T^2 <= max_tokens and B * T <= max_batch_tokens."""
        order = sorted(range(len(lengths)), key=lambda i: lengths[i])
        batch: List[int] = []
        for index in order:
            tokens = lengths[index] + 2
            size = len(batch) + 1
            if batch and (size * tokens * tokens > self.max_tokens or size * tokens > self.max_batch_tokens):
                yield batch
                batch = []
            batch.append(index)
        if batch:
            yield batch

    # -- MSA ensembling and alternative heads (esm_contacts.msa, esm_contacts.regression) --

    def predict_msa(self, msa, num_seqs: int = 64, strategy: str = "first", progress: bool = False) -> np.ndarray:
        """Contact probabilities of an alignment's query, averaged over its sequences.

        Each chosen row is ungapped and predicted (:meth:`predict_batch`, a chunk at a
        time), its map is written back into the aligned columns, and each pair is
        averaged over the sequences with residues at both columns (``DESIGN.md``). Only a
        running sum and count of (L, L) are kept, never all maps. Letters outside the
        model alphabet become ``X``.

        Parameters
        ----------
        msa : str, Path or list of tuple(str, str)
            An alignment file (a3m, aligned FASTA, Stockholm; see
            :func:`esm_contacts.msa.read_msa`) or ``(name, aligned row)`` pairs, query first
            (:func:`esm_contacts.msa.check_msa`); either way, columns where the query has
            a gap are dropped.
        num_seqs : int
            Sequences to use, the query included (the paper's s).
        strategy : {"first", "diverse"}
            See :func:`esm_contacts.msa.select_sequences`.
        progress : bool
            Show a progress bar over sequences.

        Returns
        -------
        P : numpy.ndarray
            float32 (L, L) in the query's coordinates (L = query residues); with one
            sequence it equals ``predict(query)``.
        """
        return self._msa_ensemble(msa, num_seqs, strategy, progress)

    def predict_msa_sizes(
        self, msa, sizes: Sequence[int] = (16, 32, 64), strategy: str = "first", progress: bool = False
    ) -> dict:
        """MSA ensembles of several sizes in one pass (the paper's s = 16, 32, 64).

        The ``max(sizes)`` chosen rows are predicted once; the running average is read
        after the first s rows for every s. Each map equals
        ``predict_msa(msa, num_seqs=s, strategy=strategy)`` (both strategies choose rows
        greedily, so the first s of a larger choice are the choice of s), at the cost of
        the largest alone.

        Parameters
        ----------
        msa : str, Path or list of tuple(str, str)
            As :meth:`predict_msa`.
        sizes : sequence of int
            Ensemble sizes s, the query included.
        strategy : {"first", "diverse"}
        progress : bool

        Returns
        -------
        maps : dict of int to numpy.ndarray
            ``{s: float32 (L, L)}`` in the order of ``sizes``.
        """
        if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__iter__"):
            raise TypeError(f"sizes must be a list of whole numbers, not {type(sizes).__name__}")
        sizes = [_whole_number(s, "MSA size") for s in sizes]
        if not sizes:
            raise ValueError("give at least one MSA size")
        _, snapshots = self._msa_ensemble(msa, max(sizes), strategy, progress, checkpoints=sizes)
        return {s: snapshots[s] for s in sizes}

    def _msa_ensemble(self, msa, num_seqs: int, strategy: str, progress: bool, checkpoints=None):
        from .msa import check_msa, ensemble_maps, read_msa, select_sequences, ungap

        num_seqs = _whole_number(num_seqs, "num_seqs")
        if not isinstance(msa, (str, os.PathLike, list, tuple)):
            raise TypeError(f"msa must be an alignment file or a list of (name, row) pairs, not {type(msa).__name__}")
        alignment = read_msa(msa) if isinstance(msa, (str, os.PathLike)) else check_msa(msa)
        chosen = select_sequences(alignment, num_seqs, strategy)
        length = len(chosen[0][1])
        # As many sequences per call as one batch of predict_batch holds at the query's length.
        chunk = len(next(iter(self._length_batches([min(length, self.max_length)] * 64))))
        long = sum(len(ungap(row)[0]) > self.max_length for _, row in chosen)

        def predict_known(sequences: List[str]) -> List[np.ndarray]:
            # Pairs that no window covers have no prediction: NaN keeps them out of the average.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                maps = self.predict_batch(sequences)
            for sequence, contact_map in zip(sequences, maps):
                if len(sequence) > self.max_length:
                    contact_map[~self.coverage(len(sequence))] = np.nan
            return maps

        bar = _progress(len(chosen), progress, f"{self.name} MSA ({len(chosen)} seqs)")
        try:
            result = ensemble_maps([row for _, row in chosen], predict_known, chunk_size=chunk,
                                   alphabet=ALPHABET_LETTERS, progress=bar, checkpoints=checkpoints)
        finally:
            bar.close()
        if long:
            warnings.warn(
                f"{long} of {len(chosen)} MSA sequences are longer than the model context "
                f"({self.max_length}) and were predicted over windows; pairs outside every window are "
                "left out of their averages, and pairs no sequence covers get probability 0",
                stacklevel=3,
            )
        return result

    def regression(self):
        """The current weights as a :class:`esm_contacts.regression.ContactRegression`."""
        from .regression import ContactRegression

        return ContactRegression(self.weight.numpy().copy(), self.bias, model=self.name)

    def with_regression(self, regression) -> "ContactPredictor":
        """A predictor on the same model (shared, not copied) with other regression weights.

        Parameters
        ----------
        regression : ContactRegression or str or Path
            Weights (layers, heads) and bias, or a ``*-contact-regression.pt`` file.

        Returns
        -------
        predictor : ContactPredictor
        """
        import copy

        from .regression import ContactRegression, load_regression

        if not isinstance(regression, (ContactRegression, str, os.PathLike)):
            raise TypeError(f"regression must be a ContactRegression or a file path, not {type(regression).__name__}")
        if not isinstance(regression, ContactRegression):
            regression = load_regression(regression, num_layers=self.num_layers, num_heads=self.num_heads)
        weight = torch.as_tensor(np.asarray(regression.weight, dtype=np.float32))
        if weight.numel() != self.num_layers * self.num_heads:
            raise ValueError(
                f"regression has {weight.numel()} weights ({tuple(weight.shape)}) but {self.name} has "
                f"{self.num_layers} layers x {self.num_heads} heads"
            )
        other = copy.copy(self)
        other.weight = weight.reshape(self.num_layers, self.num_heads).clone()
        other.bias = float(regression.bias)
        other._set_heads()
        return other

    def with_top_heads(self, k: int) -> "ContactPredictor":
        """A predictor that averages the APC maps of the k heads with the largest weights.

        No regression (the paper's Table 2 "top-k heads" rows): the output is
        ``sigmoid(mean of the k APC maps)``, a monotone transform that keeps values in
        [0, 1] and the ranking of the plain average.

        Parameters
        ----------
        k : int
            Number of heads, ranked by this predictor's regression weights.
        """
        return self.with_regression(self.regression().top_heads(k))

    @torch.no_grad()
    def _forward(self, sequences: Sequence[str], bar=None) -> List[np.ndarray]:
        """Contact maps of sequences that fit the context, in one forward pass; `bar` advances per layer."""
        _, _, tokens = self._batch_converter([(str(i), seq) for i, seq in enumerate(sequences)])
        tokens = tokens.to(self.device)
        lengths = [len(seq) for seq in sequences]
        logits = [torch.zeros((n, n), dtype=torch.float32, device=self.device) for n in lengths]
        for layer, attention in layer_attentions(self.model, tokens):
            if bar is not None:
                bar.update(1)
            heads = self._heads[layer]
            if len(heads) == 0:
                continue
            weights = self._head_weights[layer]
            for b, n in enumerate(lengths):
                residues = crop_to_residues(attention[b], n, self.alphabet.prepend_bos)
                # A few heads at a time: APC temporaries stay a fraction of one layer's maps.
                for head_chunk, weight_chunk in zip(heads.split(HEAD_CHUNK), weights.split(HEAD_CHUNK)):
                    logits[b] += torch.einsum("h,hij->ij", weight_chunk, apc_features(residues, head_chunk))
        maps = []
        for logit in logits:
            probability = torch.sigmoid(logit + self.bias)
            # APC of a symmetric map is symmetric up to summation order; make it exact.
            probability = (probability + probability.T) / 2
            maps.append(probability.cpu().numpy().astype(np.float32, copy=False))
        return maps


def window_starts(length: int, window: int) -> List[int]:
    """Start indices of the windows over a sequence: stride ``window // 2``, last one flush with the end."""
    if length <= window:
        return [0]
    stride = max(window // 2, 1)
    starts = list(range(0, length - window, stride))
    starts.append(length - window)
    return starts


def _model_context(model) -> int:
    args = getattr(model, "args", None)
    if args is not None and getattr(args, "max_positions", None) and getattr(model, "model_version", "") == "ESM-1b":
        # Learned positions include padding_idx + 1 offsets; fair-esm's limit is 1022 residues + BOS + EOS.
        return int(args.max_positions) - 2
    return 1022


def _resolve_dtype(dtype, device: torch.device) -> torch.dtype:
    if dtype is None or dtype in ("float32", torch.float32):
        return torch.float32
    names = {"float16": torch.float16, "fp16": torch.float16, "half": torch.float16,
             "bfloat16": torch.bfloat16, "bf16": torch.bfloat16}
    resolved = names.get(dtype, dtype) if isinstance(dtype, str) else dtype
    if resolved not in (torch.float16, torch.bfloat16):
        raise ValueError(f"unsupported dtype {dtype!r}: use float32, float16 or bfloat16")
    if device.type == "cpu":
        raise ValueError(f"dtype {dtype!r} needs a GPU; on the CPU the model runs in float32")
    return resolved


def _whole_number(value, name: str, minimum: int = 1, maximum: Optional[int] = None, note: str = "") -> int:
    """`value` as an int once it is a whole number (not a bool) in [minimum, maximum].

    Raises
    ------
    TypeError
        Not an integer (a float, a string...).
    ValueError
        Out of range.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a whole number, not {type(value).__name__} {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise ValueError(f"{name} must be {bound}, got {value}{note}")
    return int(value)


#: Seconds a progress bar waits before it appears: quick predictions print nothing.
PROGRESS_DELAY_S = 2.0


def _progress(total: int, enabled: bool, description: str, unit: str = "seq"):
    """A tqdm bar on stderr, shown once the work has taken :data:`PROGRESS_DELAY_S` seconds."""
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not enabled or total <= 1, desc=description, unit=unit,
                delay=PROGRESS_DELAY_S, file=sys.stderr)
