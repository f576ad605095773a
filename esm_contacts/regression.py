"""The logistic-regression contact head: fair-esm's weight files, training, top-k heads.

``P_ij = sigmoid(b0 + sum_lh w_lh A'_lhij)`` with ``A'`` the symmetrized, APC-corrected
attention of layer l, head h (Rao et al. 2021, section 4.4 and appendix A.7). The
authors fitted the released weights with scikit-learn's ``LogisticRegression`` with an
L1 penalty, the ``liblinear`` solver and C = 0.15 (fair-esm issue 249; the paper's
"lambda = 0.15" is this C), one example per residue pair with separation >= 6 and
known truth. :func:`train_regression` does the same.

**Memory.** Features are computed one layer at a time
(:func:`esm_contacts.attention.layer_attentions`) and only the training pairs are kept, in
float32, so the feature matrix is
``pairs x (layers * heads) x 4`` bytes (20 proteins of 300 residues, ESM-1b: 0.87 M
pairs x 660 = 2.3 GB). A liblinear fit copies the data three times more: scikit-learn
converts X to float64 (8 bytes per value), and liblinear builds a row-wise
``feature_node`` list and, for L1, a column-wise transpose (16 bytes per value each), so
:func:`estimate_fit_memory` counts 4 + 8 + 16 + 16 = 44 bytes per value. That is an upper
bound, since not all copies peak together: measured peaks were 35 bytes per value in all
(20 000 pairs x 660 APC-sized features, scikit-learn 1.9: 31.3 above the float32 features)
and 37 in a review, which the earlier 4 + 16 + 16 = 36 undercounted. These copies, not
the features, bound a liblinear fit: the 20 x 300 example needs about 24 GB.
scikit-learn's SAGA solver minimizes the same L1 objective on the float32 matrix itself
(C-contiguous float32 is passed to
its ``sag32`` routine without a copy) plus a few numbers per pair, so
``solver="auto"`` (the default) uses liblinear when :func:`estimate_fit_memory` says it fits
in ``memory_limit`` and SAGA otherwise (on a float64 copy when that fits too, since
float32 SAGA stops a few % short of the optimum; measured on 867 000 x 660 synthetic
APC-like float32 features: 2.4 GiB peak for the whole process, 130 s, 18 epochs).
``max_pairs`` samples the pairs to fit a smaller budget still.
"""

import json
import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from .checkpoints import (
    REGRESSION_BIAS_KEY,
    REGRESSION_WEIGHT_KEY,
    CheckpointError,
    check_state_dict,
    safe_load,
)
from .messages import size_text
from .metrics import MIN_SEP
from .progress import progress_bar
from .sequence import clean_sequence

__all__ = [
    "ContactRegression",
    "load_regression",
    "train_regression",
    "pair_features",
    "training_pairs",
    "fit_l1_logistic",
    "estimate_fit_memory",
    "choose_solver",
]

#: Top-level key of the JSON metadata in saved files (fair-esm reads only "model").
METADATA_KEY = "esm_contacts"
#: Solvers of :func:`fit_l1_logistic` ("auto" picks one by memory, :func:`choose_solver`).
SOLVERS = ("auto", "liblinear", "saga")
#: Default memory budget of a fit, bytes (the issue's 8 GB).
DEFAULT_MEMORY_LIMIT = 8 * 10**9
#: SAGA's stopping rule (largest weight change in an epoch / largest weight) and epoch cap.
SAGA_TOL = 1e-4
SAGA_MAX_ITER = 300
#: Recorded in the metadata of top-k head averages (:meth:`ContactRegression.top_heads`).
TOP_HEADS_NOTE = (
    "sigmoid(mean APC attention of the top-k heads), no regression: values near 0.5 "
    "that rank pairs, not calibrated probabilities"
)

logger = logging.getLogger(__name__)


@dataclass
class ContactRegression:
    """Weights of fair-esm's ``ContactPredictionHead`` regression.

    Attributes
    ----------
    weight : numpy.ndarray
        float32 (layers, heads).
    bias : float
        The intercept ``b0`` (logit scale).
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
            raise ValueError(
                f"regression weight must be (layers, heads), got shape {self.weight.shape}"
            )
        self.bias = float(self.bias)

    @property
    def num_layers(self) -> int:
        return int(self.weight.shape[0])

    @property
    def num_heads(self) -> int:
        return int(self.weight.shape[1])

    @property
    def nonzero_heads(self) -> int:
        """Number of heads with a non-zero weight (the L1 fit zeroes most).

        Returns
        -------
        count : int
            Heads over all layers.
        """
        return int(np.count_nonzero(self.weight))

    def top_heads(self, k: int) -> "ContactRegression":
        """The k heads with the largest positive weights, averaged without a regression.

        Weight ``1/k`` on each of them and bias 0, so a predictor using it returns
        ``sigmoid(mean of the k APC maps)`` (Table 2's "top-k heads"); ties go to the
        lower layer, then head. APC values are small (about +-0.05), so these values sit
        near 0.5: they rank pairs (precision at L, L/5...) but are not calibrated
        probabilities; the metadata says so (``"calibrated": False``).

        Only heads with a positive weight count as predictive (a zero weight is a head the
        L1 fit dropped, a negative one anti-correlates with contacts), so asking for more
        heads than have a positive weight is an error rather than a silent pick of
        arbitrary zero-weight heads.

        Parameters
        ----------
        k : int
            Number of heads.

        Returns
        -------
        regression : ContactRegression
            Same shape and model; metadata adds ``top_heads``, ``heads`` (``[layer, head]``
            pairs, 0-based, largest weight first), ``calibrated`` and ``note``.

        Raises
        ------
        ValueError
            ``k`` outside 1..layers x heads, or more than the number of heads with a
            positive weight (the message gives that number).

        Examples
        --------
        >>> import numpy as np
        >>> regression = ContactRegression(np.array([[0.0, 2.0], [0.5, -1.0]]), -3.0)
        >>> top = regression.top_heads(2)
        >>> top.weight.tolist(), top.bias, top.metadata["heads"]
        ([[0.0, 0.5], [0.5, 0.0]], 0.0, [[0, 1], [1, 0]])
        """
        k = int(k)
        if not 1 <= k <= self.weight.size:
            raise ValueError(
                f"top_heads must be between 1 and {self.weight.size} (layers x heads), got {k}"
            )
        flat = self.weight.ravel()
        positive = int(np.count_nonzero(flat > 0))
        if k > positive:
            raise ValueError(
                f"top {k} heads asked for, but only {positive} of {flat.size} heads have a positive"
                f" regression weight; choose k <= {positive}"
            )
        order = np.argsort(-flat, kind="stable")[:k]
        weight = np.zeros_like(flat)
        weight[order] = 1.0 / k
        heads = [[int(index // self.num_heads), int(index % self.num_heads)] for index in order]
        metadata = {
            **self.metadata,
            "top_heads": k,
            "heads": heads,
            "calibrated": False,
            "note": TOP_HEADS_NOTE,
        }
        return ContactRegression(
            weight.reshape(self.weight.shape), 0.0, model=self.model, metadata=metadata
        )

    def save(self, path: Union[str, Path]) -> Path:
        """Write fair-esm's ``*-contact-regression.pt`` layout.

        ``{"model": {"contact_head.regression.weight": (1, layers*heads),
        "contact_head.regression.bias": (1,)}}`` (layer-major order), plus the metadata as
        a JSON string under ``"esm_contacts"``, which fair-esm ignores. Written to a
        temporary file and renamed.

        Parameters
        ----------
        path : str or Path
            The file to write (its folder must exist).

        Returns
        -------
        path : Path
            `path`, written.
        """
        import torch

        from .io import atomic_write

        path = Path(path)
        metadata = {
            **self.metadata,
            "model": self.model,
            "layers": self.num_layers,
            "heads": self.num_heads,
        }
        data = {
            "model": {
                REGRESSION_WEIGHT_KEY: torch.from_numpy(self.weight.reshape(1, -1).copy()),
                REGRESSION_BIAS_KEY: torch.tensor([self.bias], dtype=torch.float32),
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
        :data:`esm_contacts.catalog.KNOWN_MODELS` (files saved here record it).

    Returns
    -------
    regression : ContactRegression

    Raises
    ------
    esm_contacts.checkpoints.CheckpointError
        Not a regression file: 'model' not a dictionary of tensors, keys missing,
        metadata that is not JSON or whose layer and head counts are not positive
        whole numbers matching the weights (one line naming the file; a ValueError).
    """
    from .catalog import KNOWN_MODELS

    path = Path(path)
    data = safe_load(path)
    state = check_state_dict(path, data["model"], "contact regression")
    if REGRESSION_WEIGHT_KEY not in state or REGRESSION_BIAS_KEY not in state:
        raise CheckpointError(
            f"{path}: not a contact-regression file (needs {REGRESSION_WEIGHT_KEY} and"
            f" {REGRESSION_BIAS_KEY})"
        )
    if state[REGRESSION_BIAS_KEY].numel() != 1 or not state[REGRESSION_WEIGHT_KEY].numel():
        raise CheckpointError(
            f"{path}: {REGRESSION_BIAS_KEY} has shape {tuple(state[REGRESSION_BIAS_KEY].shape)} and"
            f" {REGRESSION_WEIGHT_KEY} {tuple(state[REGRESSION_WEIGHT_KEY].shape)}; expected one"
            " bias and at least one weight"
        )
    weight = state[REGRESSION_WEIGHT_KEY].detach().float().numpy().ravel()
    bias = float(state[REGRESSION_BIAS_KEY].detach().float().ravel()[0])
    metadata = _regression_metadata(path, data.get(METADATA_KEY))
    name = metadata.pop("model", None) or path.name.replace("-contact-regression.pt", "").replace(
        ".pt", ""
    )
    if not isinstance(name, str):
        raise CheckpointError(
            f"{path}: metadata 'model' is a {type(name).__name__}; expected a model name"
        )
    layers = (
        num_layers
        or metadata.pop("layers", None)
        or getattr(KNOWN_MODELS.get(name), "layers", None)
    )
    heads = (
        num_heads or metadata.pop("heads", None) or getattr(KNOWN_MODELS.get(name), "heads", None)
    )
    metadata.pop("layers", None)
    metadata.pop("heads", None)
    if not layers or not heads:
        raise CheckpointError(
            f"{path}: {weight.size} weights of unknown shape; give num_layers and num_heads"
        )
    for label, count in (("layers", layers), ("heads", heads)):
        if not isinstance(count, (int, np.integer)) or isinstance(count, bool) or count < 1:
            raise CheckpointError(f"{path}: {label} is {count!r}; expected a positive whole number")
    if layers * heads != weight.size:
        raise CheckpointError(f"{path}: {weight.size} weights, not {layers} layers x {heads} heads")
    return ContactRegression(
        weight.reshape(int(layers), int(heads)), bias, model=name, metadata=metadata
    )


def _regression_metadata(path: Path, text) -> dict:
    """The JSON metadata a file saved here carries ({} for fair-esm's own files)."""

    if not isinstance(text, str):
        return {}
    try:
        metadata = json.loads(text)
    except ValueError as error:
        raise CheckpointError(f"{path}: metadata {METADATA_KEY!r} is not JSON ({error})") from None
    if not isinstance(metadata, dict):
        raise CheckpointError(
            f"{path}: metadata {METADATA_KEY!r} is a JSON {type(metadata).__name__}, not an object"
        )
    return metadata


# -- features --------------------------------------------------------------------------


def training_pairs(
    contacts: np.ndarray, min_sep: int = MIN_SEP, max_sep: Optional[int] = None
) -> Tuple[np.ndarray, np.ndarray]:
    """Pairs i < j with ``min_sep <= j - i`` (``< max_sep``) whose truth is known.

    Parameters
    ----------
    contacts : numpy.ndarray, shape=(L, L)
        Truth: 1 contact, 0 none, -1 unknown (:func:`esm_contacts.structure.true_contacts`).
    min_sep : int
        Smallest separation ``j - i``.
    max_sep : int, optional
        Separations below this bound only (exclusive); None: no bound.

    Returns
    -------
    i, j : numpy.ndarray
        int64, 0-based, row-major order.

    Examples
    --------
    >>> import numpy as np
    >>> truth = np.zeros((8, 8), dtype=int)
    >>> truth[0, 7] = -1  # unknown: no training example
    >>> i, j = training_pairs(truth, min_sep=6)
    >>> i.tolist(), j.tolist()
    ([0, 1], [6, 7])
    """
    from .metrics import range_mask

    i, j = np.triu_indices(contacts.shape[0], k=max(int(min_sep), 1))
    keep = (contacts[i, j] != -1) & range_mask(j - i, int(min_sep), max_sep)
    return i[keep], j[keep]


def pair_features(
    predictor, sequence: str, i: np.ndarray, j: np.ndarray, out: Optional[np.ndarray] = None
) -> np.ndarray:
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

    from .attention import apc_feature_chunks

    sequence = clean_sequence(sequence)
    if len(sequence) > predictor.max_length:
        raise ValueError(
            f"sequence of {len(sequence)} residues is longer than the model context"
            f" ({predictor.max_length}); train on shorter chains"
        )
    heads = predictor.num_heads
    if out is None:
        out = np.empty((len(i), predictor.num_layers * heads), dtype=np.float32)
    rows = torch.as_tensor(np.asarray(i), device=predictor.device)
    cols = torch.as_tensor(np.asarray(j), device=predictor.device)
    every_head = torch.arange(heads, device=predictor.device)
    for layer, (residues,) in predictor.residue_attentions([sequence]):
        for chunk, features in apc_feature_chunks(residues, every_head):
            column = layer * heads + int(chunk[0])
            out[:, column : column + len(chunk)] = (
                features[:, rows, cols].T.cpu().numpy()
            )  # (pairs, h)
    return out


def estimate_fit_memory(pairs: int, features: int, solver: str = "liblinear") -> int:
    """Bytes a fit needs, the training features included.

    liblinear: 44 bytes per value, over ``features + 2`` values per pair (the intercept
    and liblinear's end-of-row marker): the
    float32 features (4), scikit-learn's float64 copy of them (8) and liblinear's row-wise
    and column-wise ``feature_node`` copies (16 + 16); a slight overestimate of the
    measured peak (about 37), since the float64 copy need not outlive the others. SAGA: the
    float32 features (used in place) plus about 32 bytes per pair (labels, sample weights,
    gradient memory, the pair separations kept by :func:`train_regression`).

    Parameters
    ----------
    pairs, features : int
    solver : {"liblinear", "saga"}

    Returns
    -------
    bytes : int
    """
    pairs, features = int(pairs), int(features)
    if solver == "liblinear":
        return pairs * (features + 2) * (4 + 8 + 16 + 16)
    if solver == "saga":
        return pairs * (features * 4 + 32)
    raise ValueError(f"unknown solver {solver!r}; estimate_fit_memory knows liblinear and saga")


def choose_solver(
    pairs: int,
    features: int,
    solver: str = "auto",
    memory_limit: Optional[float] = DEFAULT_MEMORY_LIMIT,
) -> Tuple[str, str]:
    """The solver of a fit and why.

    Parameters
    ----------
    pairs, features : int
    solver : {"auto", "liblinear", "saga"}
        "auto": liblinear (the authors' fit) when its :func:`estimate_fit_memory` is within
        ``memory_limit``, else SAGA.
    memory_limit : float, optional
        Bytes; None: no limit.

    Returns
    -------
    solver : str
        "liblinear" or "saga".
    reason : str
        One line for the log.
    """
    if solver not in SOLVERS:
        raise ValueError(f"unknown solver {solver!r}; choose one of {', '.join(SOLVERS)}")
    need = estimate_fit_memory(pairs, features, "liblinear")
    sizes = f"{pairs} pairs x {features} features"
    if solver != "auto":
        return solver, f"solver {solver} as asked ({sizes})"
    if memory_limit is None or need <= memory_limit:
        limit = (
            "no memory limit"
            if memory_limit is None
            else f"within the {size_text(memory_limit)} memory limit"
        )
        return (
            "liblinear",
            f"solver liblinear (the authors' fit): {sizes} need about {size_text(need)}, {limit}",
        )
    return (
        "saga",
        (
            f"solver saga: liblinear would need about {size_text(need)} for {sizes}, over the"
            f" {size_text(memory_limit)} memory limit; saga needs about"
            f" {size_text(estimate_fit_memory(pairs, features, 'saga'))}"
        ),
    )


def fit_l1_logistic(
    X: np.ndarray,
    y: np.ndarray,
    C: float = 0.15,
    seed: int = 0,
    solver: str = "liblinear",
    tol: Optional[float] = None,
    max_iter: Optional[int] = None,
) -> Tuple[np.ndarray, float]:
    """L1-penalized logistic regression: liblinear (the authors' fit) or SAGA.

    Both minimize ``C * sum_k logloss_k + |w|_1`` over the same raw features (no
    standardization: the weights apply to APC features as fair-esm uses them). They differ
    in the intercept: liblinear treats it as the weight of an extra constant feature
    (``intercept_scaling`` = 1) and so penalizes it by ``|b|`` too; SAGA leaves it
    unpenalized. With many pairs (``C * pairs`` in the thousands) the difference is far
    below the solvers' tolerance. liblinear copies X into 40 bytes per value (scikit-learn's
    float64 copy, then liblinear's two); SAGA uses a
    C-contiguous float32 X in place (scikit-learn's ``sag32``).

    SAGA on float32 accumulates its lazy updates in float32 and stalls a little short of
    the optimum on APC-sized features (values ~0.005, weights ~100): on 217 000 synthetic
    APC-like pairs x 660 features the float32 fit stopped after 29 epochs with the same
    result at tol 1e-4 and 1e-6, its objective 5e-4 (relative) above a float64 SAGA fit and
    its weights within 7% of the largest weight (same non-zero heads; liblinear: 2.3%).
    Float64 X reaches the optimum at twice the memory and ~3x the time (140 s there).

    Parameters
    ----------
    X : numpy.ndarray
        (samples, features), float32 or float64 (C-contiguous float32 is not copied by
        SAGA; liblinear always builds its own copies).
    y : numpy.ndarray
        0/1 labels.
    C : float
        Inverse regularization strength, scikit-learn's convention.
    seed : int
        The solver's random state.
    solver : {"liblinear", "saga"}
    tol, max_iter : optional
        Stopping rule; defaults: scikit-learn's for liblinear (1e-4, 100), and
        :data:`SAGA_TOL`, :data:`SAGA_MAX_ITER` epochs for SAGA. SAGA stops when an
        epoch changes no weight by more than ``tol`` times the largest weight; at
        ``max_iter`` it warns (ConvergenceWarning).

    Returns
    -------
    weight : numpy.ndarray
        float32 (features,).
    bias : float
    """
    import sklearn
    from sklearn.linear_model import LogisticRegression

    if solver not in ("liblinear", "saga"):
        raise ValueError(f"unknown solver {solver!r}; fit_l1_logistic takes liblinear or saga")
    y = np.asarray(y)
    classes = np.unique(y)
    if len(classes) < 2:
        raise ValueError(
            "training pairs are all"
            f" {'contacts' if classes.size and classes[0] == 1 else 'non-contacts'}: a regression"
            " needs both (add proteins or lower min_sep)"
        )
    major, minor = (int(part) for part in sklearn.__version__.split(".")[:2])
    # scikit-learn 1.8 deprecated `penalty`; l1_ratio=1 is the same L1 problem.
    penalty = {"l1_ratio": 1.0} if (major, minor) >= (1, 8) else {"penalty": "l1"}
    if solver == "saga":
        stop = {
            "tol": SAGA_TOL if tol is None else tol,
            "max_iter": SAGA_MAX_ITER if max_iter is None else max_iter,
        }
        if X.dtype not in (np.float32, np.float64) or not X.flags.c_contiguous:
            # One copy here rather than scikit-learn's float64 one.
            X = np.ascontiguousarray(X, dtype=np.float32)
    else:
        stop = {
            key: value for key, value in (("tol", tol), ("max_iter", max_iter)) if value is not None
        }
    model = LogisticRegression(C=C, solver=solver, random_state=seed, **penalty, **stop)
    model.fit(X, y)
    if solver == "saga":
        logger.info(
            "saga: %d epochs (tol %g, max_iter %d)",
            int(np.max(model.n_iter_)),
            stop["tol"],
            stop["max_iter"],
        )
        if not np.any(model.coef_):
            _fix_zero_saga(model, X, y, C)
    return model.coef_.ravel().astype(np.float32), float(model.intercept_[0])


def _fix_zero_saga(model, X: np.ndarray, y: np.ndarray, C: float) -> None:
    """Finish a SAGA fit that zeroed every weight.

    scikit-learn's SAGA stops on the weights' change alone, so when all weights are zero
    after an epoch it stops with the intercept wherever that epoch left it. With w = 0 the
    best unpenalized intercept is the log-odds of the labels; w = 0 is then optimal if no
    feature's gradient exceeds the L1 threshold, else the fit restarts from that intercept.
    """
    rate = float(np.mean(y == model.classes_[1]))
    model.intercept_ = np.array([np.log(rate / (1 - rate))])
    residual = ((y == model.classes_[1]) - rate).astype(X.dtype)
    if C * np.abs(X.T @ residual).max() > 1:
        model.set_params(warm_start=True)
        model.fit(X, y)


def train_regression(
    predictor,
    sequences: Sequence[str],
    contacts: Sequence[np.ndarray],
    C: float = 0.15,
    min_sep: int = MIN_SEP,
    ranges: Optional[Sequence[str]] = None,
    top_heads: Optional[int] = None,
    max_pairs: Optional[int] = None,
    seed: int = 0,
    progress: bool = False,
    solver: str = "auto",
    memory_limit: Optional[float] = DEFAULT_MEMORY_LIMIT,
    names: Optional[Sequence[str]] = None,
) -> Union[ContactRegression, Dict[str, ContactRegression]]:
    """Fit the contact regression on proteins of known structure.

    One example per pair i < j with ``j - i >= min_sep`` whose truth is known (-1
    excluded); features are every layer's and head's symmetrized APC attention at that
    pair (:func:`pair_features`); the fit is :func:`fit_l1_logistic`, with liblinear as
    the authors when it fits in ``memory_limit`` and SAGA (same objective, unpenalized
    intercept, no copy of the features) otherwise.

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
        :func:`estimate_fit_memory`.
    seed : int
        Seed of the pair sample and of the solver.
    progress : bool
        Progress bar over proteins.
    solver : {"auto", "liblinear", "saga"}
        "auto": liblinear when :func:`estimate_fit_memory` is within ``memory_limit``, else
        SAGA (:func:`choose_solver`; the choice and why are logged at INFO level).
    memory_limit : float, optional
        Bytes a fit may use (default 8 GB; None: unlimited). Beyond it "auto" switches
        to SAGA, and a fit still over it warns. SAGA fits a float64 copy of the features
        when that fits too (more precise; ESM-1b, 20 x 300: 2.3 + 4.6 GB), else the float32
        features in place.
    names : sequence of str, optional
        A label per protein for error messages (e.g. ``"1hvr.pdb:A"``); default
        ``"training protein N"``.

    Returns
    -------
    regression : ContactRegression or dict
        ``metadata`` records C, min_sep, proteins, pairs, contacts, ``nonzero_heads``,
        ``solver``, ``solver_reason`` and ``precision`` (of the fitted features); with ``ranges``,
        ``{range name: ContactRegression}``.
    """

    if len(sequences) != len(contacts):
        raise ValueError(f"{len(sequences)} sequences but {len(contacts)} contact maps")
    if not sequences:
        raise ValueError("no training proteins")
    if names is None:
        names = [f"training protein {n}" for n in range(1, len(sequences) + 1)]
    elif len(names) != len(sequences):
        raise ValueError(f"{len(sequences)} sequences but {len(names)} names")
    # Every protein is checked before any feature is computed: a bad last one fails at once.
    cleaned = [clean_sequence(seq, name=name) for name, seq in zip(names, sequences)]
    truths = []
    for name, sequence, truth in zip(names, cleaned, contacts):
        if len(sequence) > predictor.max_length:
            raise ValueError(
                f"{name}: {len(sequence)} residues, longer than the model context of"
                f" {predictor.name} ({predictor.max_length}); train on shorter chains"
            )
        truth = np.asarray(truth)
        if truth.shape != (len(sequence), len(sequence)):
            raise ValueError(
                f"{name}: contact map {truth.shape} does not match its {len(sequence)} residues"
            )
        bad = ~np.isin(truth, (-1, 0, 1))
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise ValueError(
                f"{name}: contact map value {truth[i, j].item()!r} at ({i}, {j}); truth must be 1"
                " (contact), 0 (no contact) or -1 (unknown)"
            )
        truths.append(truth.astype(np.int8))
    bounds = _range_bounds(ranges, min_sep)
    lowest = min(low for low, _ in bounds.values())
    highest = (
        None
        if any(high is None for _, high in bounds.values())
        else max(high for _, high in bounds.values())
    )
    pairs = [training_pairs(truth, lowest, highest) for truth in truths]
    if max_pairs is not None:
        pairs = _sample_pairs(pairs, int(max_pairs), seed)
    total = sum(len(i) for i, _ in pairs)
    features = predictor.num_layers * predictor.num_heads
    if total == 0:
        raise ValueError(f"no training pairs with separation >= {lowest} and known truth")
    chosen, reason = choose_solver(total, features, solver, memory_limit)
    logger.info(reason)
    need = estimate_fit_memory(total, features, chosen)
    if memory_limit is not None and need > memory_limit:
        warnings.warn(
            f"{total} pairs x {features} features: the {chosen} fit needs about {size_text(need)},"
            f" over the {size_text(memory_limit)} memory limit (use max_pairs to sample)",
            stacklevel=2,
        )
    X = np.empty((total, features), dtype=np.float32)
    y = np.empty(total, dtype=np.int8)
    separation = np.empty(total, dtype=np.int64)
    row = 0
    bar = progress_bar(len(cleaned), progress, f"{predictor.name} features")
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
        precision = "float32"
        if chosen == "saga" and (memory_limit is None or need + X_range.size * 8 <= memory_limit):
            # float32 SAGA stalls a few % short of the optimum (see fit_l1_logistic).
            X_range, precision = X_range.astype(np.float64), "float64"
        logger.info("fitting %s on %s features", chosen, precision)
        weight, bias = fit_l1_logistic(X_range, y_range, C=C, seed=seed, solver=chosen)
        del X_range
        regression = ContactRegression(
            weight.reshape(predictor.num_layers, predictor.num_heads),
            bias,
            model=predictor.name,
            metadata={
                "C": C,
                "min_sep": low,
                "max_sep": high,
                "range": name,
                "proteins": len(cleaned),
                "pairs": int(len(y_range)),
                "contacts": int(np.count_nonzero(y_range == 1)),
                "nonzero_heads": int(np.count_nonzero(weight)),
                "solver": chosen,
                "solver_reason": reason,
                "precision": precision,
            },
        )
        results[name] = regression.top_heads(top_heads) if top_heads else regression
    return results if ranges is not None else results["all"]


def _range_bounds(
    ranges: Optional[Sequence[str]], min_sep: int
) -> Dict[str, Tuple[int, Optional[int]]]:
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
