"""The logistic-regression contact head: fair-esm's weight files, training, top-k heads.

``P_ij = sigmoid(b0 + sum_lh w_lh A'_lhij)`` with ``A'`` the symmetrized, APC-corrected
attention of layer l, head h (Rao et al. 2021, section 4.4 and appendix A.7). The
authors fitted the released weights with scikit-learn's ``LogisticRegression`` with an
L1 penalty, the ``liblinear`` solver and C = 0.15 (fair-esm issue 249; the paper's
"lambda = 0.15" is this C), one example per residue pair with separation >= 6 and
known truth. :func:`train_regression` does the same.

Memory
------
Features are computed one layer at a time (:func:`esm_contacts.attention.layer_attentions`)
and only the training pairs are kept, in float32, so the feature matrix is
``pairs x (layers * heads) x 4`` bytes (20 proteins of 300 residues, ESM-1b: 0.87 M
pairs x 660 = 2.3 GB). liblinear itself copies the data twice more (a row-wise
``feature_node`` list and, for L1, a column-wise transpose, 16 bytes per value each),
about 36 bytes per value in all (measured: 30 000 pairs x 660 features, 0.73 GB above
the features for 0.64 GB predicted). That, not the features, bounds a fit: the 20 x 300
example needs about 21 GB inside liblinear; ``max_pairs`` samples the pairs to fit a
budget (8 GB holds about 330 000 ESM-1b pairs; see :func:`estimate_memory`).
"""

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

__all__ = [
    "ContactRegression",
    "load_regression",
    "train_regression",
    "pair_features",
    "training_pairs",
    "fit_l1_logistic",
    "estimate_memory",
]

WEIGHT_KEY = "contact_head.regression.weight"
BIAS_KEY = "contact_head.regression.bias"
#: Top-level key of the JSON metadata in saved files (fair-esm reads only "model").
METADATA_KEY = "esm_contacts"


@dataclass
class ContactRegression:
    """Weights of fair-esm's ``ContactPredictionHead`` regression.

    Attributes
    ----------
    weight : numpy.ndarray
        float32 (layers, heads).
    bias : float
    model : str
        Name of the model the weights belong to.
    metadata : dict
        How they were made (JSON-serialisable: C, pairs, proteins, range...).
    """

    weight: np.ndarray
    bias: float
    model: str = ""
    metadata: dict = field(default_factory=dict)

    def __post_init__(self):
        self.weight = np.asarray(self.weight, dtype=np.float32)
        if self.weight.ndim != 2:
            raise ValueError(f"regression weight must be (layers, heads), got shape {self.weight.shape}")
        self.bias = float(self.bias)

    @property
    def num_layers(self) -> int:
        return int(self.weight.shape[0])

    @property
    def num_heads(self) -> int:
        return int(self.weight.shape[1])

    @property
    def nonzero_heads(self) -> int:
        """Number of heads with a non-zero weight (the L1 fit zeroes most)."""
        return int(np.count_nonzero(self.weight))

    def top_heads(self, k: int) -> "ContactRegression":
        """The k heads with the largest weights, averaged without a regression.

        Weight ``1/k`` on each of them and bias 0, so a predictor using it returns
        ``sigmoid(mean of the k APC maps)`` (Table 2's "top-k heads"); ties go to the
        lower layer, then head.
        """
        k = int(k)
        if not 1 <= k <= self.weight.size:
            raise ValueError(f"top_heads must be between 1 and {self.weight.size} (layers x heads), got {k}")
        flat = self.weight.ravel()
        order = np.argsort(-flat, kind="stable")[:k]
        weight = np.zeros_like(flat)
        weight[order] = 1.0 / k
        heads = [[int(index // self.num_heads), int(index % self.num_heads)] for index in order]
        metadata = {**self.metadata, "top_heads": k, "heads": heads}
        return ContactRegression(weight.reshape(self.weight.shape), 0.0, model=self.model, metadata=metadata)

    def save(self, path: Union[str, Path]) -> Path:
        """Write fair-esm's ``*-contact-regression.pt`` layout.

        ``{"model": {"contact_head.regression.weight": (1, layers*heads),
        "contact_head.regression.bias": (1,)}}`` (layer-major order), plus the metadata as
        a JSON string under ``"esm_contacts"``, which fair-esm ignores. Written to a
        temporary file and renamed.

        Returns
        -------
        path : Path
        """
        import torch

        from .io import atomic_write

        path = Path(path)
        metadata = {**self.metadata, "model": self.model, "layers": self.num_layers, "heads": self.num_heads}
        data = {
            "model": {
                WEIGHT_KEY: torch.from_numpy(self.weight.reshape(1, -1).copy()),
                BIAS_KEY: torch.tensor([self.bias], dtype=torch.float32),
            },
            METADATA_KEY: json.dumps(metadata),
        }
        with atomic_write(path, "wb") as stream:
            torch.save(data, stream)
        return path


def load_regression(
    path: Union[str, Path], num_layers: Optional[int] = None, num_heads: Optional[int] = None
) -> ContactRegression:
    """Read a ``*-contact-regression.pt`` file (fair-esm's or one saved here).

    Parameters
    ----------
    path : str or Path
    num_layers, num_heads : int, optional
        The model's shape; needed only for fair-esm files of models not in
        :data:`esm_contacts.models.KNOWN_MODELS` (files saved here record it).

    Returns
    -------
    regression : ContactRegression
    """
    from .models import KNOWN_MODELS, safe_load

    path = Path(path)
    data = safe_load(path)
    state = data["model"]
    if WEIGHT_KEY not in state or BIAS_KEY not in state:
        raise ValueError(f"{path}: not a contact-regression file (needs {WEIGHT_KEY} and {BIAS_KEY})")
    weight = state[WEIGHT_KEY].detach().float().numpy().ravel()
    bias = float(state[BIAS_KEY].detach().float().ravel()[0])
    metadata = json.loads(data[METADATA_KEY]) if isinstance(data.get(METADATA_KEY), str) else {}
    name = metadata.pop("model", None) or path.name.replace("-contact-regression.pt", "").replace(".pt", "")
    layers = num_layers or metadata.pop("layers", None) or getattr(KNOWN_MODELS.get(name), "layers", None)
    heads = num_heads or metadata.pop("heads", None) or getattr(KNOWN_MODELS.get(name), "heads", None)
    metadata.pop("layers", None)
    metadata.pop("heads", None)
    if not layers or not heads:
        raise ValueError(f"{path}: {weight.size} weights of unknown shape; give num_layers and num_heads")
    if layers * heads != weight.size:
        raise ValueError(f"{path}: {weight.size} weights, not {layers} layers x {heads} heads")
    return ContactRegression(weight.reshape(layers, heads), bias, model=name, metadata=metadata)


# -- features --------------------------------------------------------------------------


def training_pairs(
    contacts: np.ndarray, min_sep: int = 6, max_sep: Optional[int] = None
) -> Tuple[np.ndarray, np.ndarray]:
    """Pairs i < j with ``min_sep <= j - i`` (``< max_sep``) whose truth is known.

    Returns
    -------
    i, j : numpy.ndarray
        int64, row-major order.
    """
    length = contacts.shape[0]
    i, j = np.triu_indices(length, k=max(int(min_sep), 1))
    keep = contacts[i, j] != -1
    if max_sep is not None:
        keep &= (j - i) < max_sep
    return i[keep], j[keep]


def pair_features(predictor, sequence: str, i: np.ndarray, j: np.ndarray, out: Optional[np.ndarray] = None) -> np.ndarray:
    """Symmetrized, APC-corrected attention of every layer and head at chosen pairs.

    Computed one layer at a time; only the requested cells are kept.

    Parameters
    ----------
    predictor : ContactPredictor
    sequence : str
        At most ``predictor.max_length`` residues.
    i, j : numpy.ndarray
        Residue pairs (0-based).
    out : numpy.ndarray, optional
        float32 (len(i), layers * heads) to fill (avoids a copy when stacking proteins).

    Returns
    -------
    features : numpy.ndarray
        float32 (len(i), layers * heads), columns in fair-esm's layer-major order.
    """
    import torch

    from .attention import apc_features, crop_to_residues, layer_attentions
    from .predictor import HEAD_CHUNK, clean_sequence

    sequence = clean_sequence(sequence)
    if len(sequence) > predictor.max_length:
        raise ValueError(
            f"sequence of {len(sequence)} residues is longer than the model context ({predictor.max_length}); "
            "train on shorter chains"
        )
    heads = predictor.num_heads
    if out is None:
        out = np.empty((len(i), predictor.num_layers * heads), dtype=np.float32)
    _, _, tokens = predictor._batch_converter([("0", sequence)])
    rows = torch.as_tensor(np.asarray(i), device=predictor.device)
    cols = torch.as_tensor(np.asarray(j), device=predictor.device)
    with torch.no_grad():
        for layer, attention in layer_attentions(predictor.model, tokens.to(predictor.device)):
            residues = crop_to_residues(attention[0], len(sequence), predictor.alphabet.prepend_bos)
            for start in range(0, heads, HEAD_CHUNK):
                chunk = torch.arange(start, min(start + HEAD_CHUNK, heads), device=predictor.device)
                values = apc_features(residues, chunk)[:, rows, cols]  # (h, pairs)
                column = layer * heads + start
                out[:, column : column + len(chunk)] = values.T.cpu().numpy()
    return out


def estimate_memory(pairs: int, features: int) -> int:
    """Bytes a fit needs: float32 features plus liblinear's two 16-byte-per-value copies."""
    return int(pairs) * (int(features) + 2) * (4 + 16 + 16)


# -- fitting ---------------------------------------------------------------------------


def fit_l1_logistic(X: np.ndarray, y: np.ndarray, C: float = 0.15, seed: int = 0) -> Tuple[np.ndarray, float]:
    """L1-penalized logistic regression with liblinear (the authors' fit).

    Parameters
    ----------
    X : numpy.ndarray
        (samples, features), float32 or float64 (float32 is not copied).
    y : numpy.ndarray
        0/1 labels.
    C : float
        Inverse regularization strength, scikit-learn's convention.
    seed : int
        liblinear's random state.

    Returns
    -------
    weight : numpy.ndarray
        float32 (features,).
    bias : float
    """
    import sklearn
    from sklearn.linear_model import LogisticRegression

    y = np.asarray(y)
    classes = np.unique(y)
    if len(classes) < 2:
        raise ValueError(
            f"training pairs are all {'contacts' if classes.size and classes[0] == 1 else 'non-contacts'}: "
            "a regression needs both (add proteins or lower min_sep)"
        )
    major, minor = (int(part) for part in sklearn.__version__.split(".")[:2])
    # scikit-learn 1.8 deprecated `penalty`; l1_ratio=1 is the same L1 problem.
    penalty = {"l1_ratio": 1.0} if (major, minor) >= (1, 8) else {"penalty": "l1"}
    model = LogisticRegression(C=C, solver="liblinear", random_state=seed, **penalty)
    model.fit(X, y)
    return model.coef_.ravel().astype(np.float32), float(model.intercept_[0])


def train_regression(
    predictor,
    sequences: Sequence[str],
    contacts: Sequence[np.ndarray],
    C: float = 0.15,
    min_sep: int = 6,
    ranges: Optional[Sequence[str]] = None,
    top_heads: Optional[int] = None,
    max_pairs: Optional[int] = None,
    seed: int = 0,
    progress: bool = False,
) -> Union[ContactRegression, Dict[str, ContactRegression]]:
    """Fit the contact regression on proteins of known structure.

    One example per pair i < j with ``j - i >= min_sep`` whose truth is known (-1
    excluded); features are every layer's and head's symmetrized APC attention at that
    pair (:func:`pair_features`); the fit is :func:`fit_l1_logistic`.

    Parameters
    ----------
    predictor : ContactPredictor
        Supplies the model (its own regression is not used).
    sequences : sequence of str
        Training sequences (each within the model context).
    contacts : sequence of numpy.ndarray
        Truth per sequence, int8 (L, L): 1, 0, -1 unknown
        (:func:`esm_contacts.structure.true_contacts`).
    C : float
        scikit-learn's C (0.15 as the authors).
    min_sep : int
        Minimum separation of training pairs.
    ranges : sequence of str, optional
        Names from :data:`esm_contacts.metrics.RANGES`: one regression per range,
        trained on that range's pairs only (its bounds replace ``min_sep``), as the
        paper's Fig. 4.
    top_heads : int, optional
        Return, instead of the fit, its k largest-weight heads averaged with no
        regression (:meth:`ContactRegression.top_heads`).
    max_pairs : int, optional
        Use a random sample of this many pairs (all by default); see
        :func:`estimate_memory`.
    seed : int
        Seed of the pair sample and of liblinear.
    progress : bool
        Progress bar over proteins.

    Returns
    -------
    regression : ContactRegression or dict
        ``metadata`` records C, min_sep, proteins, pairs, contacts and ``nonzero_heads``;
        with ``ranges``, ``{range name: ContactRegression}``.
    """
    from .predictor import _progress, clean_sequence

    if len(sequences) != len(contacts):
        raise ValueError(f"{len(sequences)} sequences but {len(contacts)} contact maps")
    if not sequences:
        raise ValueError("no training proteins")
    cleaned = [clean_sequence(seq, name=f"training protein {n + 1}") for n, seq in enumerate(sequences)]
    truths = []
    for number, (sequence, truth) in enumerate(zip(cleaned, contacts), start=1):
        truth = np.asarray(truth)
        if truth.shape != (len(sequence), len(sequence)):
            raise ValueError(f"training protein {number}: contact map {truth.shape} does not match its {len(sequence)} residues")
        truths.append(truth)
    bounds = _range_bounds(ranges, min_sep)
    lowest = min(low for low, _ in bounds.values())
    highest = None if any(high is None for _, high in bounds.values()) else max(high for _, high in bounds.values())
    pairs = [training_pairs(truth, lowest, highest) for truth in truths]
    if max_pairs is not None:
        pairs = _sample_pairs(pairs, int(max_pairs), seed)
    total = sum(len(i) for i, _ in pairs)
    features = predictor.num_layers * predictor.num_heads
    if total == 0:
        raise ValueError(f"no training pairs with separation >= {lowest} and known truth")
    if estimate_memory(total, features) > 8 * 1024**3:
        warnings.warn(
            f"{total} pairs x {features} features: the liblinear fit needs about "
            f"{estimate_memory(total, features) / 1024**3:.1f} GB (use max_pairs to sample)",
            stacklevel=2,
        )
    X = np.empty((total, features), dtype=np.float32)
    y = np.empty(total, dtype=np.int8)
    separation = np.empty(total, dtype=np.int64)
    row = 0
    bar = _progress(len(cleaned), progress, f"{predictor.name} features")
    for sequence, truth, (i, j) in zip(cleaned, truths, pairs):
        pair_features(predictor, sequence, i, j, out=X[row : row + len(i)])
        y[row : row + len(i)] = truth[i, j]
        separation[row : row + len(i)] = j - i
        row += len(i)
        bar.update(1)
    bar.close()
    results = {}
    for name, (low, high) in bounds.items():
        mask = (separation >= low) & ((separation < high) if high is not None else True)
        X_range, y_range = (X, y) if mask.all() else (X[mask], y[mask])
        weight, bias = fit_l1_logistic(X_range, y_range, C=C, seed=seed)
        regression = ContactRegression(
            weight.reshape(predictor.num_layers, predictor.num_heads), bias, model=predictor.name,
            metadata={"C": C, "min_sep": low, "max_sep": high, "range": name, "proteins": len(cleaned),
                      "pairs": int(len(y_range)), "contacts": int(np.count_nonzero(y_range == 1)),
                      "nonzero_heads": int(np.count_nonzero(weight))},
        )
        results[name] = regression.top_heads(top_heads) if top_heads else regression
    return results if ranges is not None else results["all"]


def _range_bounds(ranges: Optional[Sequence[str]], min_sep: int) -> Dict[str, Tuple[int, Optional[int]]]:
    if ranges is None:
        return {"all": (int(min_sep), None)}
    from .metrics import RANGES

    if isinstance(ranges, str):
        ranges = (ranges,)
    unknown = [name for name in ranges if name not in RANGES]
    if unknown:
        raise ValueError(f"unknown range {unknown[0]!r}; known: {', '.join(RANGES)}")
    return {name: RANGES[name] for name in ranges}


def _sample_pairs(pairs: List[Tuple[np.ndarray, np.ndarray]], max_pairs: int, seed: int):
    total = sum(len(i) for i, _ in pairs)
    if max_pairs >= total:
        return pairs
    if max_pairs < 1:
        raise ValueError(f"max_pairs must be at least 1, got {max_pairs}")
    chosen = np.zeros(total, dtype=bool)
    chosen[np.random.default_rng(seed).choice(total, size=max_pairs, replace=False)] = True
    sampled, start = [], 0
    for i, j in pairs:
        keep = chosen[start : start + len(i)]
        sampled.append((i[keep], j[keep]))
        start += len(i)
    return sampled
