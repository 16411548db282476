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
    n = len(scores)
    tie_breaker = rng.random(n)
    if k < n:
        # Only items scoring at least the k-th best can be chosen, and of those tied with
        # it only the ones with the smallest tie-break draws: two partitions (O(n)) find
        # them, so no more than k items are ever sorted, however many ties there are.
        threshold = np.partition(scores, n - k)[n - k]
        above = np.flatnonzero(scores > threshold)
        tied = np.flatnonzero(scores == threshold)
        wanted = k - len(above)
        if len(tied) > wanted:
            tied = tied[np.argpartition(tie_breaker[tied], wanted - 1)[:wanted]]
        candidates = np.concatenate([above, tied])
    else:
        candidates = np.arange(n)
    # lexsort sorts by the last key first: score descending, then the random key.
    return candidates[np.lexsort((tie_breaker[candidates], -scores[candidates]))]


def largest_remainder(fractions, total: int) -> np.ndarray:
    """Split `total` into integer counts proportional to `fractions` (which sum to 1):
    floors first, then one more for the largest remainders (earlier entries win ties)."""
    fractions = np.asarray(fractions, dtype=float)
    exact = fractions * total
    counts = np.floor(exact + 1e-9).astype(int)
    left = total - int(counts.sum())
    if left > 0:
        order = np.argsort(-(exact - counts), kind="stable")
        counts[order[:left]] += 1
    return counts


def rank_positions(order: np.ndarray) -> np.ndarray:
    """Inverse of a ranking: position[i] is where item i stands in `order`."""
    position = np.empty(len(order), dtype=int)
    position[order] = np.arange(len(order))
    return position
