"""ContactPredictor: sequences -> contact probability maps.

The pipeline is the paper's (Rao et al. 2021) and fair-esm's ``ContactPredictionHead``:
attention of every layer and head, cropped to the residues, symmetrized,
APC-corrected per head, combined by the logistic regression
``P_ij = sigmoid(b0 + sum_lh w_lh A'_lhij)``. It runs as a layer loop that adds each
layer's weighted heads to one (L, L) sum (see :mod:`esm_contacts.attention`), skipping
heads with zero weight, so memory stays at one layer's attention.

**Batches and windows.** ``predict_batch`` groups sequences of similar length; every
sequence's maps are cropped to its own residues before APC, so results equal ``predict``
one by one. fair-esm 2.0.0's batched ``predict_contacts`` applies APC to maps padded to the longest
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
import warnings
from typing import Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from .attention import HEAD_CHUNK, add_weighted_heads, nonzero_heads, residue_attentions
from .catalog import DEFAULT_MODEL
from .metrics import MIN_SEP
from .models import load_model, resolve_device
from .options import whole_number
from .progress import progress_bar
from .sequence import ALPHABET_LETTERS, clean_sequence

__all__ = ["ContactPredictor", "window_starts", "length_batches"]


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
    max_memory : float, optional
        Bytes a request may use beyond the loaded model; by default the memory the
        system has available when the request starts. Every request is estimated first
        (:meth:`estimate_memory`) and refused with :class:`esm_contacts.resources.MemoryLimitError`
        when the estimate exceeds it. A map is 4 L^2 bytes (40 GB at L = 100,000): for
        very long sequences list the top pairs with :meth:`predict_top` instead.
    max_tokens_per_msa : int, optional
        MSA Transformer only: tokens (rows x columns) per chunk of its layers. None (the
        default): per run, the largest chunk that adds at most 256 MiB to the memory bound
        (:func:`esm_contacts.msa_transformer.chunk_tokens`); results do not depend on it.

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
        max_memory: Optional[float] = None,
        max_tokens_per_msa: Optional[int] = None,
    ):
        from . import msa_transformer

        self.name = name
        self.max_memory = max_memory
        self.alphabet = alphabet
        self.device = resolve_device(device)
        self.dtype = _resolve_dtype(dtype, self.device)
        regression = model.contact_head.regression
        self.num_layers = len(model.layers)
        self.is_msa_transformer = msa_transformer.is_msa_transformer(model)
        first = model.layers[0]
        self.num_heads = (
            first.row_self_attention.layer if self.is_msa_transformer else first.self_attn
        ).num_heads
        # MSA Transformer: tokens (rows x columns) per chunk of its layers; None: chosen per
        # run from the memory bound (esm_contacts.msa_transformer.chunk_tokens).
        self.max_tokens_per_msa = (
            None
            if max_tokens_per_msa is None
            else whole_number(max_tokens_per_msa, "max_tokens_per_msa")
        )
        # Copies in float32, kept apart from the (possibly half-precision) model.
        self.weight = (
            regression.weight.detach().float().reshape(self.num_layers, self.num_heads).clone()
        )
        self.bias = (
            float(regression.bias.detach().float().item()) if regression.bias is not None else 0.0
        )
        self.model = model.eval().to(device=self.device, dtype=self.dtype)
        context = (
            msa_transformer.model_context(model)
            if self.is_msa_transformer
            else _model_context(model)
        )
        # Longer windows would index past ESM-1b's learned positions: at most the context.
        self.max_length = (
            context
            if max_length is None
            else whole_number(
                max_length, "max_length", 1, context, note=f" (the model's context is {context})"
            )
        )
        self.max_tokens = (
            (self.max_length + 2) ** 2
            if max_tokens is None
            else whole_number(max_tokens, "max_tokens")
        )
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
        """Load a fair-esm model by name (torch hub cache) or ``.pt`` file, or a Hugging Face ESM
        model.

        Parameters
        ----------
        name_or_path : str
            A fair-esm model name (``esm-contacts models`` lists them) or a checkpoint
            path (which loads ``NAME-contact-regression.pt`` from beside it); or a Hugging
            Face Hub ID in the local cache (``"facebook/esm2_t33_650M_UR50D"``) or a directory
            with ``config.json`` and ``model.safetensors`` (contact head included; see
            :mod:`esm_contacts.hf`).
        device, dtype
            See :class:`ContactPredictor`.
        regression : str, optional
            A ``*-contact-regression.pt`` file that replaces the checkpoint's own (for both kinds).
        **kwargs
            ``max_length``, ``max_tokens``, ``max_memory``, ``max_tokens_per_msa``.

        Returns
        -------
        predictor : ContactPredictor
            The loaded model and its contact regression, on `device`.
        """
        model, alphabet, name = load_model(name_or_path, regression=regression)
        return cls(model, alphabet, name=name, device=device, dtype=dtype, **kwargs)

    def _set_heads(self) -> None:
        self._heads = [
            heads.to(self.device)
            for heads in nonzero_heads(self.weight, self.num_layers, self.num_heads)
        ]
        self._head_weights = [
            self.weight[layer, heads.cpu()].to(self.device)
            for layer, heads in enumerate(self._heads)
        ]

    @property
    def active_heads(self) -> int:
        """Number of heads with a non-zero regression weight (the ones computed).

        Returns
        -------
        count : int
            Heads over all layers.
        """
        return int(sum(len(heads) for heads in self._heads))

    # -- prediction ------------------------------------------------------------------

    def estimate_memory(
        self,
        lengths: Sequence[int],
        msa: bool = False,
        listed: Optional[Sequence[Optional[int]]] = None,
        sparse=False,
        rows: Optional[int] = None,
    ) -> int:
        """Bytes a request on sequences of these lengths needs beyond the loaded model.

        The one estimate every request is checked against
        (:func:`esm_contacts.resources.estimate_memory`
        with this model's context, heads, width and batch budget).

        Parameters
        ----------
        lengths : sequence of int
            Residues per sequence (an MSA: the query's).
        msa : bool
            An MSA ensemble (:meth:`predict_msa`).
        listed : sequence of (int or None), optional
            Pairs listed afterwards per sequence (None: all), as the command line does.
        sparse : bool or sequence of bool
            :meth:`predict_top` (no (L, L) map), for all or per sequence.
        rows : int, optional
            MSA Transformer only: rows of the alignment (1 for a single sequence, the default).

        Returns
        -------
        bytes : int
            The estimated peak beyond the loaded model.
        """
        from .resources import estimate_memory

        embed_dim = getattr(self.model, "embed_dim", None) or getattr(
            getattr(self.model, "args", None), "embed_dim", None
        )
        return estimate_memory(
            lengths,
            context=self.max_length,
            heads=self.num_heads,
            embed_dim=int(embed_dim) if embed_dim else 2560,
            max_tokens=self.max_tokens,
            msa=msa,
            listed=listed,
            sparse=sparse,
            msa_rows=(rows or 1) if self.is_msa_transformer else None,
            max_tokens_per_msa=self.max_tokens_per_msa,
            ffn_dim=getattr(getattr(self.model, "args", None), "ffn_embed_dim", None),
        )

    def check_memory(
        self,
        lengths: Sequence[int],
        max_memory: Optional[float] = None,
        msa: bool = False,
        listed: Optional[Sequence[Optional[int]]] = None,
        sparse=False,
        rows: Optional[int] = None,
    ) -> int:
        """Refuse a request whose :meth:`estimate_memory` exceeds ``max_memory`` (or the predictor's
        default).

        Parameters
        ----------
        lengths : sequence of int
            Residues per sequence (an MSA: the query's).
        max_memory : float, optional
            Bytes the request may use; None: the predictor's ``max_memory`` (by default the
            memory available now).
        msa : bool
            An MSA ensemble (:meth:`predict_msa`).
        listed : sequence of (int or None), optional
            Pairs listed afterwards per sequence (None: all).
        sparse : bool or sequence of bool
            :meth:`predict_top` (no (L, L) map), for all or per sequence.
        rows : int, optional
            MSA Transformer only: rows of the alignment.

        Returns
        -------
        bytes : int
            The estimate, when accepted.

        Raises
        ------
        esm_contacts.resources.MemoryLimitError
            A ValueError giving the estimate and the limit.
        """
        from .resources import check_memory

        lengths = [int(n) for n in lengths]
        estimate = self.estimate_memory(lengths, msa=msa, listed=listed, sparse=sparse, rows=rows)
        longest = max(lengths, default=0)
        what = (
            f"predicting {len(lengths)} sequence(s) of up to {longest} residues"
            if not msa
            else f"an MSA ensemble of a {longest}-residue query"
        )
        hint = (
            "for sequences this long list the top pairs window by window (predict_top; "
            "esm-contacts predict --top K --out FILE.rr or .csv)"
            if longest > self.max_length and sparse is not True
            else ""
        )
        check_memory(
            estimate, self.max_memory if max_memory is None else max_memory, what=what, hint=hint
        )
        return estimate

    def predict(self, sequence: str, max_memory: Optional[float] = None) -> np.ndarray:
        """Contact probabilities of one sequence.

        Parameters
        ----------
        sequence : str
            One-letter sequence (see :func:`clean_sequence` for what is accepted).
        max_memory : float, optional
            Bytes the request may use (see :class:`ContactPredictor`); checked before any work.

        Returns
        -------
        P : numpy.ndarray
            float32 (L, L), symmetric, values in [0, 1].
        """
        return self.predict_batch([sequence], max_memory=max_memory)[0]

    def predict_batch(
        self, sequences: Sequence[str], progress: bool = False, max_memory: Optional[float] = None
    ) -> List[np.ndarray]:
        """Contact probabilities of several sequences, batched by length.

        Parameters
        ----------
        sequences : sequence of str
            One-letter sequences; a bare string is refused (TypeError), not read as
            one sequence per letter: use :meth:`predict` for one sequence.
        progress : bool
            Show a progress bar over sequences.
        max_memory : float, optional
            Bytes the request may use (see :class:`ContactPredictor`): every map is
            returned, so their 4 L^2 bytes add up; checked before any work.

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
        esm_contacts.resources.MemoryLimitError
            The estimate (:meth:`estimate_memory`) exceeds ``max_memory``.
        """
        if isinstance(sequences, (str, bytes)):
            # A bare string would be iterated letter by letter into 1-residue predictions.
            raise TypeError(
                "predict_batch takes a list of sequences, not one string: use predict(sequence), "
                "or predict_batch([sequence])"
            )
        try:
            sequences = list(sequences)
        except TypeError:
            raise TypeError(
                f"predict_batch takes a list of sequences, not {type(sequences).__name__}"
            ) from None
        cleaned = [
            clean_sequence(seq, name=f"sequence {index + 1}") for index, seq in enumerate(sequences)
        ]
        if self.is_msa_transformer:
            from .msa_transformer import warn_single_sequence

            warn_single_sequence(stacklevel=3 if len(cleaned) != 1 else 4)
            return [
                self._msa_transformer([("query", seq)], 1, "first", progress, max_memory)
                for seq in cleaned
            ]
        self.check_memory([len(seq) for seq in cleaned], max_memory)
        results: List[Optional[np.ndarray]] = [None] * len(cleaned)
        short = [i for i, seq in enumerate(cleaned) if len(seq) <= self.max_length]
        long = [i for i, seq in enumerate(cleaned) if len(seq) > self.max_length]
        batches = list(self._length_batches([len(cleaned[i]) for i in short]))
        window_counts = [len(window_starts(len(cleaned[i]), self.max_length)) for i in long]
        # Counted in transformer layers run (forward passes x layers), so that one long sequence
        # shows progress too.
        passes = len(batches) + sum(
            len(list(self._length_batches([self.max_length] * n))) for n in window_counts
        )
        description = f"{self.name}: {len(cleaned)} sequence(s)"
        if long:
            description += f", {sum(window_counts)} windows"
        bar = progress_bar(passes * self.num_layers, progress, description, unit="layer")
        try:
            for batch in batches:
                indices = [short[k] for k in batch]
                for index, contact_map in zip(
                    indices, self._forward([cleaned[i] for i in indices], bar)
                ):
                    results[index] = contact_map
            for index in long:
                results[index] = self._predict_windows(cleaned[index], bar)
        finally:
            bar.close()
        return results

    def coverage(self, length: int) -> np.ndarray:
        """Which pairs of a sequence of ``length`` residues some window covers.

        Parameters
        ----------
        length : int
            Residues of the sequence.

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
        _warn_uncovered(length, window, starts, int(np.count_nonzero(counts == 0)) // 2)
        # In place: uncovered cells were never added to and stay 0.
        return np.divide(total, counts, out=total, where=counts > 0)

    def predict_top(
        self,
        sequence: str,
        top: Union[str, int, None] = "L",
        min_sep: int = MIN_SEP,
        max_memory: Optional[float] = None,
        progress: bool = False,
    ):
        """The top pairs of one sequence without its (L, L) map: for sequences of any length.

        Beyond the context the windows of :meth:`predict` are run in the same order and
        batches, and their sums are kept only for a (w, w) block that slides with them
        (w = ``max_length``): once a window is added, the rows before the next window's
        start are final (no later window holds them); their pairs are ranked and merged into
        the best ``top`` so far. Memory is O(w^2 + top), not O(L^2); the pairs and
        probabilities equal ``top_pairs(predict(sequence), top, min_sep)``, bit for bit,
        except that pairs which no window covers (no prediction, 0 in the dense map) are
        never listed.

        Parameters
        ----------
        sequence : str
            One-letter sequence.
        top : str or int or None
            Pairs to keep (:func:`esm_contacts.metrics.parse_top` of the sequence length);
            None or ``"all"`` keeps every covered pair (64 bytes each).
        min_sep : int
            Smallest separation ``j - i``.
        max_memory : float, optional
            Bytes the request may use (see :class:`ContactPredictor`).
        progress : bool
            Show a progress bar of transformer layers run, as :meth:`predict_batch`.

        Returns
        -------
        i, j : numpy.ndarray
            int64, 0-based, ``i < j``, highest probability first (ties: lower i, then j).
        p : numpy.ndarray
            float64, their probabilities.
        """
        from .metrics import parse_top, top_pairs
        from .options import check_option

        sequence = clean_sequence(sequence)
        min_sep = check_option("count", "min_sep", min_sep)
        length, window = len(sequence), self.max_length
        count = parse_top(top, length)
        self.check_memory([length], max_memory, listed=[count], sparse=True)
        if (
            length <= window or self.is_msa_transformer
        ):  # the MSA Transformer refuses what exceeds its context
            return top_pairs(
                self.predict_batch([sequence], progress=progress, max_memory=max_memory)[0],
                top=top,
                min_sep=min_sep,
            )
        starts = window_starts(length, window)
        windows = [sequence[start : start + window] for start in starts]
        total = np.zeros(
            (window, window), dtype=np.float32
        )  # rows/columns starts[k] .. starts[k] + window
        counts = np.zeros((window, window), dtype=np.uint8)
        best = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float64))
        blocks = []  # every pair (top "all"): kept per block and sorted once at the end
        batches = list(self._length_batches([window] * len(windows)))
        bar = progress_bar(
            len(batches) * self.num_layers,
            progress,
            f"{self.name}: 1 sequence(s), {len(windows)} windows",
            unit="layer",
        )
        try:
            for batch in batches:
                for k, contact_map in zip(batch, self._forward([windows[k] for k in batch], bar)):
                    total += contact_map
                    counts += 1
                    # Rows before the next start are final: no later window holds them.
                    final = (starts[k + 1] if k + 1 < len(starts) else length) - starts[k]
                    pairs = _block_pairs(total, counts, final, min_sep, count, starts[k])
                    if count is None:
                        blocks.append(pairs)
                    else:
                        best = _merge_top(best, pairs, count)
                    _slide(total, final)
                    _slide(counts, final)
        finally:
            bar.close()
        far = np.zeros(length, dtype=np.int64)  # per row, the farthest column a window covers
        for start in starts:
            far[start : start + window] = start + window - 1
        _warn_uncovered(length, window, starts, int((length - 1 - far).sum()))
        if count is None and blocks:
            i, j, p = (np.concatenate(values) for values in zip(*blocks))
            order = np.lexsort((j, i, -p))
            best = i[order], j[order], p[order]
        return best

    def _length_batches(self, lengths: Sequence[int]) -> Iterable[List[int]]:
        """Indices into ``lengths`` grouped so that B * T^2 <= max_tokens and B * T <=
        max_batch_tokens."""
        return length_batches(lengths, self.max_tokens, self.max_batch_tokens)

    # -- MSA ensembling and alternative heads (esm_contacts.msa, esm_contacts.regression) --

    def predict_msa(
        self,
        msa,
        num_seqs: int = 64,
        strategy: Optional[str] = None,
        progress: bool = False,
        max_memory: Optional[float] = None,
    ) -> np.ndarray:
        """Contact probabilities of an alignment's query, averaged over its sequences.

        On an MSA Transformer the chosen rows, in the alignment's order, are one input
        and the result is its contact map (:mod:`esm_contacts.msa_transformer`: equal to
        fair-esm's ``predict_contacts`` on those rows, with memory bounded as stated there;
        at most 1024 rows and a query within the context, else ValueError). On other
        models each chosen row is ungapped and predicted (:meth:`predict_batch`, a chunk at a
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
        strategy : {"first", "diverse"}, optional
            See :func:`esm_contacts.msa.select_sequences`. None (the default): ``"first"``
            for ensembles, ``"diverse"`` for the MSA Transformer (greedy maximum Hamming
            distance to the rows already chosen: the MSA Transformer paper's choice).
        progress : bool
            Show a progress bar over sequences (MSA Transformer: over layers).
        max_memory : float, optional
            Bytes the request may use (see :class:`ContactPredictor`); checked once the
            alignment is read, before any prediction.

        Returns
        -------
        P : numpy.ndarray
            float32 (L, L) in the query's coordinates (L = query residues); with one
            sequence it equals ``predict(query)``.
        """
        if self.is_msa_transformer:
            return self._msa_transformer(msa, num_seqs, strategy, progress, max_memory)
        return self._msa_ensemble(
            msa, num_seqs, strategy or "first", progress, max_memory=max_memory
        )

    def predict_msa_sizes(
        self,
        msa,
        sizes: Sequence[int] = (16, 32, 64),
        strategy: Optional[str] = None,
        progress: bool = False,
    ) -> dict:
        """MSA ensembles of several sizes in one pass (the paper's s = 16, 32, 64).

        The ``max(sizes)`` chosen rows are predicted once; the running average is read
        after the first s rows for every s. Each map equals
        ``predict_msa(msa, num_seqs=s, strategy=strategy)`` (both strategies choose rows
        greedily, so the first s of a larger choice are the choice of s), at the cost of
        the largest alone. On an MSA Transformer every size is its own run of
        :meth:`predict_msa`.

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
        sizes = [whole_number(s, "MSA size") for s in sizes]
        if not sizes:
            raise ValueError("give at least one MSA size")
        if self.is_msa_transformer:
            return {s: self._msa_transformer(msa, s, strategy, progress) for s in sizes}
        _, snapshots = self._msa_ensemble(
            msa, max(sizes), strategy or "first", progress, checkpoints=sizes
        )
        return {s: snapshots[s] for s in sizes}

    def _read_alignment(self, msa):
        from .msa import check_msa, read_msa

        if not isinstance(msa, (str, os.PathLike, list, tuple)):
            raise TypeError(
                "msa must be an alignment file or a list of (name, row) pairs, not"
                f" {type(msa).__name__}"
            )
        return read_msa(msa) if isinstance(msa, (str, os.PathLike)) else check_msa(msa)

    @torch.no_grad()
    def _msa_transformer(
        self,
        msa,
        num_seqs: int,
        strategy: Optional[str],
        progress: bool,
        max_memory: Optional[float] = None,
    ) -> np.ndarray:
        """The MSA Transformer's contact map of an alignment's query (see
        :mod:`esm_contacts.msa_transformer`)."""
        from . import msa_transformer

        num_seqs = whole_number(num_seqs, "num_seqs")
        alignment = self._read_alignment(msa)
        msa_transformer.check_alignment_shape(
            num_seqs, len(alignment[0][1]), self.max_length, msa_transformer.max_rows(self.model)
        )
        chosen = msa_transformer.select_rows(alignment, num_seqs, strategy)
        length = len(chosen[0][1])
        self.check_memory([length], max_memory, rows=len(chosen))
        tokens = msa_transformer.msa_tokens(
            self.alphabet, [row for _, row in chosen], ALPHABET_LETTERS
        )
        bar = progress_bar(
            self.num_layers, progress, f"{self.name}: MSA of {len(chosen)} rows", unit="layer"
        )
        try:
            logit = msa_transformer.contact_logits(
                self.model,
                tokens.to(self.device),
                self._heads,
                self._head_weights,
                HEAD_CHUNK,
                self.max_tokens_per_msa,
                bar,
            )
        finally:
            bar.close()
        return self._probabilities(logit)

    def _msa_ensemble(
        self,
        msa,
        num_seqs: int,
        strategy: str,
        progress: bool,
        checkpoints=None,
        max_memory: Optional[float] = None,
    ):
        from .msa import ensemble_maps, select_sequences, ungap

        num_seqs = whole_number(num_seqs, "num_seqs")
        alignment = self._read_alignment(msa)
        chosen = select_sequences(alignment, num_seqs, strategy)
        length = len(chosen[0][1])
        self.check_memory([length], max_memory, msa=True)
        # As many sequences per call as one batch of predict_batch holds at the query's length.
        chunk = len(next(iter(self._length_batches([min(length, self.max_length)] * 64))))
        long = sum(len(ungap(row)[0]) > self.max_length for _, row in chosen)

        def predict_known(sequences: List[str]) -> List[np.ndarray]:
            # Pairs that no window covers have no prediction: NaN keeps them out of the average.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                maps = self.predict_batch(sequences, max_memory=max_memory)
            for sequence, contact_map in zip(sequences, maps):
                if len(sequence) > self.max_length:
                    contact_map[~self.coverage(len(sequence))] = np.nan
            return maps

        bar = progress_bar(len(chosen), progress, f"{self.name} MSA ({len(chosen)} seqs)")
        try:
            result = ensemble_maps(
                [row for _, row in chosen],
                predict_known,
                chunk_size=chunk,
                alphabet=ALPHABET_LETTERS,
                progress=bar,
                checkpoints=checkpoints,
            )
        finally:
            bar.close()
        if long:
            warnings.warn(
                f"{long} of {len(chosen)} MSA sequences are longer than the model context"
                f" ({self.max_length}) and were predicted over windows; pairs outside every window"
                " are left out of their averages, and pairs no sequence covers get probability 0",
                stacklevel=3,
            )
        return result

    def regression(self):
        """The current weights as a :class:`esm_contacts.regression.ContactRegression`.

        Returns
        -------
        regression : esm_contacts.regression.ContactRegression
            A copy of the (layers, heads) weights and the bias, named after the model.
        """
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
            A shallow copy of this predictor with the new weights.

        Raises
        ------
        TypeError
            `regression` is neither a ContactRegression nor a path.
        ValueError
            Its number of weights is not this model's layers x heads.
        """
        import copy

        from .regression import ContactRegression, load_regression

        if not isinstance(regression, (ContactRegression, str, os.PathLike)):
            raise TypeError(
                "regression must be a ContactRegression or a file path, not"
                f" {type(regression).__name__}"
            )
        if not isinstance(regression, ContactRegression):
            regression = load_regression(
                regression, num_layers=self.num_layers, num_heads=self.num_heads
            )
        weight = torch.as_tensor(np.asarray(regression.weight, dtype=np.float32))
        if weight.numel() != self.num_layers * self.num_heads:
            raise ValueError(
                f"regression has {weight.numel()} weights ({tuple(weight.shape)}) but {self.name}"
                f" has {self.num_layers} layers x {self.num_heads} heads"
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

        Returns
        -------
        predictor : ContactPredictor
            A predictor on the same model with weight ``1/k`` on each chosen head and bias 0.

        Raises
        ------
        ValueError
            `k` outside 1..layers x heads, or more than the heads with a positive weight
            (:meth:`esm_contacts.regression.ContactRegression.top_heads`).
        """
        return self.with_regression(self.regression().top_heads(k))

    @torch.no_grad()
    def _forward(self, sequences: Sequence[str], bar=None) -> List[np.ndarray]:
        """Contact maps of sequences that fit the context, in one forward pass; `bar` advances
        per layer."""
        logits = [
            torch.zeros((len(seq), len(seq)), dtype=torch.float32, device=self.device)
            for seq in sequences
        ]
        for layer, attentions in self.residue_attentions(sequences):
            if bar is not None:
                bar.update(1)
            heads = self._heads[layer]
            if len(heads) == 0:
                continue
            for logit, residues in zip(logits, attentions):
                add_weighted_heads(logit, residues, heads, self._head_weights[layer])
        return [self._probabilities(logit) for logit in logits]

    def tokenize(self, sequences: Sequence[str]) -> torch.Tensor:
        """Token indices of clean sequences, padded as fair-esm's ``BatchConverter`` pads them.

        Parameters
        ----------
        sequences : sequence of str
            Clean sequences (:func:`esm_contacts.sequence.clean_sequence`).

        Returns
        -------
        tokens : torch.Tensor
            (B, T) on this predictor's device.
        """
        _, _, tokens = self._batch_converter([(str(i), seq) for i, seq in enumerate(sequences)])
        return tokens.to(self.device)

    def residue_attentions(
        self, sequences: Sequence[str]
    ) -> Iterator[Tuple[int, List[torch.Tensor]]]:
        """Each layer's attention of each sequence on its own residues
        (:func:`esm_contacts.attention.residue_attentions`).

        Parameters
        ----------
        sequences : sequence of str
            Clean sequences that fit the context, run in one forward pass.

        Yields
        ------
        layer : int
            0-based layer index.
        attentions : list of torch.Tensor
            One (H, L, L) view per sequence, valid until the next item is requested.
        """
        lengths = [len(seq) for seq in sequences]
        with torch.no_grad():
            yield from residue_attentions(
                self.model, self.tokenize(sequences), lengths, self.alphabet.prepend_bos
            )

    def _probabilities(self, logit: torch.Tensor) -> np.ndarray:
        """The regression's sigmoid of a summed (L, L) logit, as a float32 numpy map."""
        probability = torch.sigmoid(logit + self.bias)
        # APC of a symmetric map is symmetric up to summation order; make it exact.
        probability = (probability + probability.T) / 2
        return probability.cpu().numpy().astype(np.float32, copy=False)


def length_batches(
    lengths: Sequence[int], max_tokens: int, max_batch_tokens: int
) -> Iterable[List[int]]:
    """Indices into ``lengths``, shortest first, grouped under the batch budget.

    The one grouping of sequences into forward passes (:meth:`ContactPredictor.predict_batch`,
    and the batches :mod:`esm_contacts.batch` sends to its workers): a batch of B sequences
    whose longest has T tokens (residues + 2) keeps ``B * T^2 <= max_tokens`` and
    ``B * T <= max_batch_tokens``; a sequence alone in its batch may exceed both.

    Parameters
    ----------
    lengths : sequence of int
        Residues per sequence.
    max_tokens, max_batch_tokens : int
        The budgets (:class:`ContactPredictor` ``max_tokens`` and ``max_batch_tokens``).

    Returns
    -------
    batches : iterable of list of int
        0-based indices into `lengths`, each batch's and the batches' lengths ascending.

    Examples
    --------
    Room for two sequences of at most 30 residues (32 tokens) per batch:

    >>> list(length_batches([30, 10, 20], max_tokens=2 * 32**2, max_batch_tokens=10**6))
    [[1, 2], [0]]
    """
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batch: List[int] = []
    for index in order:
        tokens = lengths[index] + 2
        size = len(batch) + 1
        if batch and (size * tokens * tokens > max_tokens or size * tokens > max_batch_tokens):
            yield batch
            batch = []
        batch.append(index)
    if batch:
        yield batch


def _warn_uncovered(length: int, window: int, starts: List[int], uncovered: int) -> None:
    if uncovered:
        warnings.warn(
            f"sequence of {length} residues is longer than the model context "
            f"({window}); {uncovered} residue pairs (separation >= "
            f"{window - (starts[1] - starts[0]) + 1 if len(starts) > 1 else window}) lie in no "
            "window and get probability 0 (see ContactPredictor.coverage)",
            stacklevel=4,
        )


def _block_pairs(
    total: np.ndarray,
    counts: np.ndarray,
    rows: int,
    min_sep: int,
    count: Optional[int],
    offset: int,
):
    """The best ``count`` covered pairs in the first ``rows`` rows of a window block, as global
    (i, j, p)."""
    from .metrics import rank_cells

    with np.errstate(invalid="ignore", divide="ignore"):
        # float32 / uint8 as the dense path divides, so the probabilities are the same bits.
        P = np.divide(
            total[:rows],
            counts[:rows],
            out=np.zeros((rows, total.shape[1]), np.float32),
            where=counts[:rows] > 0,
        )
    separation = (
        np.arange(total.shape[1], dtype=np.int32)[None, :]
        - np.arange(rows, dtype=np.int32)[:, None]
    )
    band = (separation >= min_sep) & (counts[:rows] > 0)
    i, j = rank_cells(P, band, count)
    return i + offset, j + offset, P[i, j].astype(np.float64)


def _merge_top(best, new, count: Optional[int]):
    """The best ``count`` of two ranked pair lists, as :func:`esm_contacts.metrics.top_pairs` ranks.

    Both lists are ordered by probability (descending), then i, then j, and every ``new``
    pair has a larger i than every ``best`` pair (rows are final in increasing order), so
    a new pair goes after the best ones of equal probability: a merge by insertion, O(count)
    per window instead of a sort.
    """
    best_i, best_j, best_p = best
    new_i, new_j, new_p = new
    if count is not None and len(best_p) and len(best_p) >= count:
        better = new_p > best_p[-1]  # ties lose to the lower i already kept
        new_i, new_j, new_p = new_i[better], new_j[better], new_p[better]
    if not len(new_p):
        return best
    at = np.searchsorted(-best_p, -new_p, side="right")
    merged = (
        np.insert(best_i, at, new_i),
        np.insert(best_j, at, new_j),
        np.insert(best_p, at, new_p),
    )
    return tuple(values[:count] for values in merged) if count is not None else merged


def _slide(block: np.ndarray, shift: int) -> None:
    """Move a square block ``shift`` rows and columns towards its start, in place; zero what is
    freed."""
    size = block.shape[0]
    block[: size - shift, : size - shift] = block[
        shift:, shift:
    ]  # numpy copies overlapping views safely
    block[size - shift :, :] = 0
    block[:, size - shift :] = 0


def window_starts(length: int, window: int) -> List[int]:
    """Start indices of the windows over a sequence: stride ``window // 2``, last one flush with the
    end.

    Parameters
    ----------
    length : int
        Residues of the sequence.
    window : int
        Residues per window (the predictor's ``max_length``).

    Returns
    -------
    starts : list of int
        0-based start of each window, ascending; ``[0]`` when the sequence fits one window.

    Examples
    --------
    >>> window_starts(500, 1022)
    [0]
    >>> window_starts(2500, 1022)
    [0, 511, 1022, 1478]
    """
    if length <= window:
        return [0]
    stride = max(window // 2, 1)
    starts = list(range(0, length - window, stride))
    starts.append(length - window)
    return starts


def _model_context(model) -> int:
    if isinstance(
        getattr(model, "context", None), int
    ):  # esm_contacts.hf.HFContactModel knows its own
        return model.context
    args = getattr(model, "args", None)
    if (
        args is not None
        and getattr(args, "max_positions", None)
        and getattr(model, "model_version", "") == "ESM-1b"
    ):
        # Learned positions include padding_idx + 1 offsets; fair-esm's limit is 1022 residues + BOS
        # + EOS.
        return int(args.max_positions) - 2
    return 1022


def _resolve_dtype(dtype, device: torch.device) -> torch.dtype:
    if dtype is None or dtype in ("float32", torch.float32):
        return torch.float32
    names = {
        "float16": torch.float16,
        "fp16": torch.float16,
        "half": torch.float16,
        "bfloat16": torch.bfloat16,
        "bf16": torch.bfloat16,
    }
    resolved = names.get(dtype, dtype) if isinstance(dtype, str) else dtype
    if resolved not in (torch.float16, torch.bfloat16):
        raise ValueError(f"unsupported dtype {dtype!r}: use float32, float16 or bfloat16")
    if device.type == "cpu":
        raise ValueError(f"dtype {dtype!r} needs a GPU; on the CPU the model runs in float32")
    return resolved
