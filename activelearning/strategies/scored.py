"""Score-then-rank strategies, and the input checks every strategy shares.

A score-based strategy is a function from the validated inputs to one score per item
(higher = more informative); `ScoredSelect` turns it into a select function that also
accepts `density=` (see density.py) and ranks with `top_k`.
"""
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from .base import (
    COMMITTEE,
    EMBEDDINGS,
    GRADIENTS,
    LABELED_EMBEDDINGS,
    LABELED_SQ_DISTANCES,
    PROBA,
    RETRAIN,
    PoolInputs,
    Selection,
)
from .density import compute_density, parse_density, weight_scores
from .selection import top_k
from .validation import (
    StrategyInputError,
    check_committee,
    check_embeddings,
    check_gradient_norms,
    check_n,
    check_proba,
    check_scores,
    check_sq_distances,
)

ScoreFn = Callable[..., "np.ndarray | tuple[np.ndarray, dict]"]


def read_inputs(inputs: PoolInputs, names: Iterable[str]) -> dict[str, Any]:
    """The named fields, validated against each other and the pool size `inputs.n`.

    `labeled_embeddings` may be None or empty (nothing labeled yet): it is then an
    empty (0, d) array. With the labeled embeddings come their precomputed distances
    (`labeled_sq_distances`) when the caller supplies them.
    """
    if not isinstance(inputs, PoolInputs):
        raise StrategyInputError(f"expected PoolInputs, got {type(inputs).__name__}")
    names = set(names)
    n = check_n(inputs.n)
    out: dict[str, Any] = {"n": n}
    if PROBA in names or GRADIENTS in names:
        out[PROBA] = check_proba(inputs.require(PROBA), n)
    if COMMITTEE in names:
        out[COMMITTEE] = check_committee(inputs.require(COMMITTEE), n)
    if EMBEDDINGS in names or LABELED_EMBEDDINGS in names:
        out[EMBEDDINGS] = check_embeddings(inputs.require(EMBEDDINGS), n)
    if LABELED_EMBEDDINGS in names:
        labeled = inputs.labeled_embeddings
        dim = out[EMBEDDINGS].shape[1]
        if labeled is None or np.size(labeled) == 0:
            out[LABELED_EMBEDDINGS] = np.empty((0, dim), dtype=out[EMBEDDINGS].dtype)
        else:
            out[LABELED_EMBEDDINGS] = check_embeddings(labeled, what="labeled embeddings", dim=dim)
        if inputs.labeled_sq_distances is not None:
            out[LABELED_SQ_DISTANCES] = check_sq_distances(inputs.labeled_sq_distances, n)
    if GRADIENTS in names:
        out[GRADIENTS] = check_gradient_norms(inputs.require(GRADIENTS), out[PROBA].shape)
    if RETRAIN in names:
        retrain = inputs.require(RETRAIN)
        if not callable(retrain):
            raise StrategyInputError("`retrain` must be a callable retrain(index, label_column) -> (e, k) probabilities")
        out[RETRAIN] = retrain
    return out


def check_params(key: str, params: Mapping[str, Any], accepted: Iterable[str]) -> None:
    unknown = set(params) - set(accepted)
    if unknown:
        listed = ", ".join(sorted(accepted)) or "none"
        raise StrategyInputError(f"unknown parameter(s) {sorted(unknown)} for strategy {key!r}; accepted: {listed}")


def empty_selection(**details: Any) -> Selection:
    return Selection(indices=np.empty(0, dtype=int), scores=np.empty(0), details=dict(details))


class ScoredSelect:
    """select(inputs, k, rng=..., density=None, **params) for a score function
    `score_fn(arrays, rng=rng, **params)` over the validated `read_inputs` dict."""

    def __init__(self, key: str, needs: frozenset[str], score_fn: ScoreFn, defaults: Mapping[str, Any]):
        self.key = key
        self.base_needs = frozenset(needs)
        self.score_fn = score_fn
        self.defaults = dict(defaults)

    def needs_for(self, params: Mapping[str, Any]) -> frozenset[str]:
        """Density weighting reads the pool embeddings as well."""
        return self.base_needs | ({EMBEDDINGS} if parse_density(params.get("density")) else frozenset())

    def _prepare(self, inputs: PoolInputs, density: Any, params: Mapping[str, Any]):
        check_params(self.key, {**params, "density": density}, [*self.defaults, "density"])
        spec = parse_density(density)
        return spec, read_inputs(inputs, self.base_needs | ({EMBEDDINGS} if spec else frozenset()))

    def _score(self, arrays: dict, spec: dict | None, rng: np.random.Generator,
               params: Mapping[str, Any]) -> tuple[np.ndarray, dict]:
        if arrays["n"] == 0:
            return np.empty(0), {}
        result = self.score_fn(arrays, rng=rng, **{**self.defaults, **params})
        scores, details = result if isinstance(result, tuple) else (result, {})
        scores = check_scores(scores)
        if len(scores) != arrays["n"]:
            raise StrategyInputError(f"expected {arrays['n']} scores, one per pool item, got {len(scores)}")
        details = dict(details)
        if spec:
            weights = compute_density(arrays[EMBEDDINGS], spec, rng)
            scores = weight_scores(scores, weights, spec["combine"], spec["beta"])
            details["density"] = dict(spec)
        return scores, details

    def scores(self, inputs: PoolInputs, *, rng: np.random.Generator, density: Any = None,
               **params: Any) -> tuple[np.ndarray, dict]:
        """One score per pool item (density-weighted when asked) and details."""
        spec, arrays = self._prepare(inputs, density, params)
        return self._score(arrays, spec, rng, params)

    def __call__(self, inputs: PoolInputs, k: int, *, rng: np.random.Generator, density: Any = None,
                 **params: Any) -> Selection:
        spec, arrays = self._prepare(inputs, density, params)
        if k == 0 or arrays["n"] == 0:
            return empty_selection()
        scores, details = self._score(arrays, spec, rng, params)
        chosen = top_k(scores, k, rng=rng)
        return Selection(indices=chosen, scores=scores[chosen], details=details)
