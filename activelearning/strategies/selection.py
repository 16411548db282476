"""Selectors: turn scores into the indices of a batch."""
import numpy as np

from .validation import check_scores


def top_k(scores: np.ndarray, k: int, *, rng: np.random.Generator | None = None) -> np.ndarray:
    """Indices of the k highest scores, best first; ties broken by the seeded generator."""
    scores = check_scores(scores)
    if k < 0:
        raise ValueError("k must be non-negative")
    k = min(k, len(scores))
    if k == 0:
        return np.empty(0, dtype=int)
    rng = rng if rng is not None else np.random.default_rng(0)
    tie_breaker = rng.random(len(scores))
    # lexsort sorts by the last key first: score descending, then the random key.
    order = np.lexsort((tie_breaker, -scores))
    return order[:k]
