"""Uncertainty scores over class probabilities `(n, k)`; higher = more informative.

The raw measures (`margin_of`, `ratio_of`) are kept apart from the scores so that the
numbers of the literature can be checked as they are usually written.
"""
import numpy as np

from .validation import check_proba


def _top_two(proba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ordered = np.sort(proba, axis=1)
    second = ordered[:, -2] if proba.shape[1] > 1 else np.zeros(len(proba))
    return ordered[:, -1], second


def least_confidence(proba: np.ndarray, *, rng: np.random.Generator | None = None) -> np.ndarray:
    """1 - p(most likely class)."""
    proba = check_proba(proba)
    return 1.0 - proba.max(axis=1)


def margin_of(proba: np.ndarray) -> np.ndarray:
    """p(first) - p(second): small when the model hesitates between two classes."""
    first, second = _top_two(check_proba(proba))
    return first - second


def margin(proba: np.ndarray, *, rng: np.random.Generator | None = None) -> np.ndarray:
    """1 - margin, so that higher is more informative."""
    return 1.0 - margin_of(proba)


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
