"""Uncertainty scores over class probabilities `(n, k)`; higher = more informative.

The raw measures (`margin_of`, `ratio_of`) are kept apart from the scores so that the
numbers of the literature can be checked as they are usually written.
"""
import numpy as np

from .validation import check_proba

# Up to this many classes a running maximum over the columns finds the two largest
# probabilities faster than a partition of each row (0.6 against 2.6 ms for 100,000 x 3).
COLUMN_SWEEP_MAX_CLASSES = 5


def _top_two(proba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The largest and second-largest probability of each row, without sorting rows:
    the margin and ratio of a large pool need nothing more."""
    n_classes = proba.shape[1]
    if n_classes == 1:
        return proba[:, 0].copy(), np.zeros(len(proba))
    if n_classes > COLUMN_SWEEP_MAX_CLASSES:
        top = np.partition(proba, n_classes - 2, axis=1)
        return np.ascontiguousarray(top[:, -1]), np.ascontiguousarray(top[:, -2])
    first = np.maximum(proba[:, 0], proba[:, 1])
    second = np.minimum(proba[:, 0], proba[:, 1])
    lower = np.empty_like(first) if n_classes > 2 else None
    for column in range(2, n_classes):
        values = proba[:, column]
        np.minimum(first, values, out=lower)
        np.maximum(second, lower, out=second)
        np.maximum(first, values, out=first)
    return first, second


def least_confidence(proba: np.ndarray, *, rng: np.random.Generator | None = None) -> np.ndarray:
    """1 - p(most likely class)."""
    proba = check_proba(proba)
    return 1.0 - proba.max(axis=1)


def margin_of(proba: np.ndarray) -> np.ndarray:
    """p(first) - p(second): small when the model hesitates between two classes."""
    proba = check_proba(proba)
    if proba.shape[1] == 2:  # |p0 - p1| is exactly max - min, with one temporary instead of three
        gap = np.subtract(proba[:, 0], proba[:, 1])
        return np.abs(gap, out=gap)
    first, second = _top_two(proba)
    return np.subtract(first, second, out=first)


def margin(proba: np.ndarray, *, rng: np.random.Generator | None = None) -> np.ndarray:
    """1 - margin, so that higher is more informative."""
    gap = margin_of(proba)
    return np.subtract(1.0, gap, out=gap)


def ratio_of(proba: np.ndarray) -> np.ndarray:
    """p(first) / p(second): close to 1 when the two best classes tie."""
    first, second = _top_two(check_proba(proba))
    with np.errstate(divide="ignore"):
        return np.where(second > 0, first / np.where(second > 0, second, 1.0), np.inf)


def ratio(proba: np.ndarray, *, rng: np.random.Generator | None = None) -> np.ndarray:
    """p(second) / p(first), the inverse ratio of confidence: higher is more informative."""
    first, second = _top_two(check_proba(proba))
    return np.where(first > 0, second / np.where(first > 0, first, 1.0), 0.0)


def entropy(proba: np.ndarray, *, rng: np.random.Generator | None = None) -> np.ndarray:
    """Shannon entropy in bits."""
    proba = check_proba(proba)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(proba > 0, proba * np.log2(proba), 0.0)
    return 0.0 - terms.sum(axis=1)  # 0.0, not -0.0, for certain predictions


def random_scores(proba: np.ndarray, *, rng: np.random.Generator | None = None) -> np.ndarray:
    """Uniform noise: the baseline every strategy has to beat."""
    proba = check_proba(proba)
    rng = rng if rng is not None else np.random.default_rng()
    return rng.random(len(proba))
