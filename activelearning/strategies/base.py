"""The one shape every query strategy has, so the worker, the simulator and the API can
treat them alike.

A strategy reads what it needs from `PoolInputs` (arrays about the unlabeled pool; the
engine computes only the fields the strategy names in `needs`) and returns a
`Selection`: the indices of a batch, best first, and one score per chosen item.
Scorers are plain functions returning one float per item, higher = more informative;
selectors turn scores into indices. No Django here.
"""
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .validation import StrategyInputError, check_k

# What a strategy can ask the engine for. Each name is a field of PoolInputs.
PROBA = "proba"                            # (n, k) class probabilities of the current model
COMMITTEE = "committee_proba"              # (m, n, k) probabilities of m committee members
EMBEDDINGS = "embeddings"                  # (n, d) dense vectors of the pool items
LABELED_EMBEDDINGS = "labeled_embeddings"  # (l, d) dense vectors of the labeled items
GRADIENTS = "gradient_norms"               # (n, k) norm of the loss gradient if item i had label j
RETRAIN = "retrain"                        # callable, see PoolInputs.retrain
DETECTIONS = "detections"                  # n arrays (objects, 2 or 3): confidence, class id[, mask quality]
INPUT_NAMES = frozenset({PROBA, COMMITTEE, EMBEDDINGS, LABELED_EMBEDDINGS, GRADIENTS, RETRAIN, DETECTIONS})
# Not asked for: an optional shortcut the engine passes along with labeled embeddings.
LABELED_SQ_DISTANCES = "labeled_sq_distances"  # (n,) squared distance to the nearest labeled embedding


@dataclass(frozen=True)
class PoolInputs:
    """Everything a strategy may read about the n unlabeled candidates.

    `retrain(index, label_column)` returns the class probabilities, shape (e, k), on
    the engine's fixed estimation set after adding candidate `index` (a row of the
    pool, 0..n-1) with the label of column `label_column` to the training set
    (expected error reduction uses it). It must leave the current model untouched,
    score the same e items on every call and be deterministic; it is called about
    `candidates` x k times per batch.
    `classes` are the class ids of the probability columns; `target_ratios` maps a class
    id to the fraction of the batch the admin wants of it.
    `detections` (detection and segmentation models) holds one array per pool image,
    shape (objects, 2) or (objects, 3): each object's confidence in [0, 1], its class id
    (as in `classes`) and, for segmentation, a mask quality in [0, 1]; (0, 2) when nothing
    was detected. See strategies/detection.py.
    `labeled_sq_distances`, optional, is each pool item's squared distance to its nearest
    row of `labeled_embeddings`, kept by a caller between rounds so that core-set need not
    measure the whole pool against every labeled item again; leave it None otherwise.
    """

    n: int
    proba: np.ndarray | None = None
    committee_proba: np.ndarray | None = None
    embeddings: np.ndarray | None = None
    labeled_embeddings: np.ndarray | None = None
    gradient_norms: np.ndarray | None = None
    retrain: Callable[[int, int], np.ndarray] | None = None
    classes: np.ndarray | None = None
    target_ratios: Mapping[Any, float] | None = None
    detections: Sequence[np.ndarray] | None = None
    labeled_sq_distances: np.ndarray | None = None

    def require(self, name: str) -> Any:
        value = getattr(self, name)
        if value is None:
            raise StrategyInputError(f"this strategy needs `{name}`, which was not provided")
        return value


@dataclass(frozen=True)
class Selection:
    """A batch: pool indices best first, with the score each was chosen on."""

    indices: np.ndarray
    scores: np.ndarray
    details: dict = field(default_factory=dict)


SelectFn = Callable[..., Selection]


@dataclass(frozen=True)
class Strategy:
    """A registered strategy: `select(inputs, k, rng=rng, **params) -> Selection`.

    `needs` are the inputs the strategy reads with its default `params`. When the
    inputs depend on the parameters (density weighting adds embeddings, a mix needs
    what its parts need), `needs_for(merged_params)` says what they are instead; call
    `required_inputs(params)` rather than reading `needs` directly.
    """

    key: str
    label: str
    family: str
    needs: frozenset[str]
    select_fn: SelectFn
    description: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)
    needs_for: Callable[[Mapping[str, Any]], frozenset[str]] | None = None

    def required_inputs(self, params: Mapping[str, Any] | None = None) -> frozenset[str]:
        """The PoolInputs fields this strategy reads when called with `params`."""
        if self.needs_for is None:
            return self.needs
        return frozenset(self.needs_for({**self.params, **(params or {})}))

    @property
    def needs_model(self) -> bool:
        return bool(self.needs & {PROBA, COMMITTEE, GRADIENTS, RETRAIN, DETECTIONS})

    def select(self, inputs: PoolInputs, k: int, *, rng: np.random.Generator, **params: Any) -> Selection:
        k = check_k(k)
        merged = {**self.params, **params}
        return self.select_fn(inputs, k, rng=rng, **merged)
