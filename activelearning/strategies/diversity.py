"""Diversity: a batch that covers the pool instead of many near-duplicates of the
single most uncertain item.

- k-center greedy (core-set, Sener & Savarese 2018): repeatedly take the item farthest
  (Euclidean) from every labeled item and every item already taken. Distances are
  computed in chunks, in the embeddings' own precision (float32 pools stay float32),
  so 1,000,000 x 64 needs O(n) memory and O(n d) per pick. The distance of each item to
  its nearest labeled item can be handed in precomputed (`nearest_sq`): a caller that
  keeps it between rounds only measures the newly labeled items against the pool.
- cluster-then-uncertainty: k-means the pool into k clusters and take the most
  uncertain item of each (in the spirit of Zhdanov 2019, diverse mini-batch AL).
"""
import numpy as np

from .clustering import kmeans
from .selection import top_k
from .uncertainty import entropy, least_confidence, margin, ratio
from .validation import check_embeddings, check_proba, check_sq_distances

_CHUNK_ELEMENTS = 1_000_000
_MAX_CENTERS_PER_BLOCK = 16_384
UNCERTAINTY = {"margin": margin, "least_confidence": least_confidence, "ratio": ratio, "entropy": entropy}


def _working_dtype(*arrays: np.ndarray) -> np.dtype:
    """float32 when every input is float32 (a 1M-item pool), float64 otherwise."""
    return np.result_type(np.float32, *(array.dtype for array in arrays))


def _sq_norms(x: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", x, x)


def min_sq_distances(x: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Squared distance of each row of x to its nearest center.

    ||x - c||^2 = ||x||^2 + (||c||^2 - 2 x.c): the minimum over centers only needs the
    bracket, one BLAS product per chunk, and ||x||^2 is added once at the end. This keeps
    5,000 centers against 1,000,000 rows to seconds instead of minutes.
    """
    dtype = _working_dtype(x, centers)
    out = np.full(len(x), np.inf, dtype=dtype)
    if len(centers) == 0 or len(x) == 0:
        return out
    x = x.astype(dtype, copy=False)
    minus_two_ct = np.ascontiguousarray(-2.0 * centers.astype(dtype, copy=False).T)
    c_sq = _sq_norms(centers.astype(dtype, copy=False))
    c_step = min(len(centers), _MAX_CENTERS_PER_BLOCK)
    x_step = max(1, _CHUNK_ELEMENTS // c_step)
    for start in range(0, len(x), x_step):
        rows = x[start:start + x_step]
        nearest = out[start:start + x_step]
        for c_start in range(0, len(centers), c_step):
            block = rows @ minus_two_ct[:, c_start:c_start + c_step]
            block += c_sq[c_start:c_start + c_step]
            np.minimum(nearest, block.min(axis=1), out=nearest)
    out += _sq_norms(x)
    return np.maximum(out, 0.0, out=out)


def _sq_distances_to(x: np.ndarray, x_sq: np.ndarray, pick: int) -> np.ndarray:
    """Squared distance of every row of x to row `pick` (0 for the pick itself)."""
    sq = x @ x[pick]
    sq *= -2.0
    sq += x_sq
    sq += x_sq[pick]
    np.maximum(sq, 0.0, out=sq)
    sq[pick] = 0.0
    return sq


def _nearest_labeled_sq(x: np.ndarray, labeled: np.ndarray | None, nearest_sq: np.ndarray | None) -> np.ndarray:
    """Each item's squared distance to its nearest labeled item, as a fresh array the
    greedy may lower in place; infinity everywhere when nothing is labeled."""
    if nearest_sq is not None:
        return check_sq_distances(nearest_sq, len(x)).astype(x.dtype, copy=True)
    if labeled is not None and len(labeled):
        labeled = check_embeddings(labeled, what="labeled embeddings", dim=x.shape[1]).astype(x.dtype, copy=False)
        return min_sq_distances(x, labeled)
    return np.full(len(x), np.inf, dtype=x.dtype)


def k_center_greedy(embeddings: np.ndarray, k: int, labeled: np.ndarray | None = None,
                    rng: np.random.Generator | None = None,
                    nearest_sq: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
    """(indices in pick order, distance of each pick to its nearest center when picked, details).

    `nearest_sq`, when given, is each item's squared distance to its nearest `labeled`
    item, already computed (a worker keeps it between rounds); it replaces measuring
    the pool against `labeled` and gives the same picks.
    Without labeled items the first pick is drawn with `rng`; its score is the largest
    distance from it to any pool item (the radius it covers), so scores never increase.
    """
    x = check_embeddings(embeddings)
    n = len(x)
    k = min(k, n)
    if k == 0:
        return np.empty(0, dtype=int), np.empty(0), {"radius": None}
    rng = rng if rng is not None else np.random.default_rng(0)
    x_sq = _sq_norms(x)
    min_sq = _nearest_labeled_sq(x, labeled, nearest_sq)
    start = int(rng.integers(n)) if np.isinf(min_sq).all() else None
    initial = float(np.sqrt(min_sq.max())) if start is None else None
    taken = np.zeros(n, dtype=bool)
    chosen = np.empty(k, dtype=int)
    scores = np.empty(k)
    for step in range(k):
        if step == 0 and start is not None:
            pick = start
        else:
            pick = int(np.argmax(np.where(taken, -1.0, min_sq)))
        taken[pick] = True
        chosen[step] = pick
        sq = _sq_distances_to(x, x_sq, pick)
        scores[step] = np.sqrt(sq.max()) if (step == 0 and start is not None) else np.sqrt(min_sq[pick])
        np.minimum(min_sq, sq, out=min_sq)
    remaining = min_sq[~taken]
    details = {"radius": float(np.sqrt(remaining.max())) if len(remaining) else 0.0, "initial_radius": initial,
               "started_from_labeled": start is None}
    return chosen, scores, details


def cluster_uncertainty(proba: np.ndarray, embeddings: np.ndarray, k: int, *, uncertainty: str = "margin",
                        rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
    """k-means into k clusters, the most uncertain item of each; best first.

    If k-means finds fewer distinct clusters than k (duplicate items), the batch is
    filled with the most uncertain items not yet taken.
    """
    proba = check_proba(proba)
    x = check_embeddings(embeddings, len(proba))
    n = len(proba)
    k = min(k, n)
    rng = rng if rng is not None else np.random.default_rng(0)
    scores = UNCERTAINTY[uncertainty](proba)
    order = top_k(scores, n, rng=rng)  # full ranking, ties broken by rng
    if k == 0:
        return np.empty(0, dtype=int), np.empty(0), {"clusters": 0}
    if k == n:
        return order, scores[order], {"clusters": n}
    labels, _ = kmeans(x, k, rng)
    _, first = np.unique(labels[order], return_index=True)
    positions = np.sort(first)[:k]
    if len(positions) < k:
        spare = np.setdiff1d(np.arange(n), positions)[: k - len(positions)]
        positions = np.sort(np.concatenate([positions, spare]))
    chosen = order[positions]
    return chosen, scores[chosen], {"clusters": int(len(first)), "uncertainty": uncertainty}
