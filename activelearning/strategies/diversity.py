"""Diversity: a batch that covers the pool instead of many near-duplicates of the
single most uncertain item.

- k-center greedy (core-set, Sener & Savarese 2018): repeatedly take the item farthest
  (Euclidean) from every labeled item and every item already taken. Distances are
  computed in chunks, so 100,000 x 384 needs O(n) memory and O(n d) per pick.
- cluster-then-uncertainty: k-means the pool into k clusters and take the most
  uncertain item of each (in the spirit of Zhdanov 2019, diverse mini-batch AL).
"""
import numpy as np

from .clustering import kmeans
from .selection import top_k
from .uncertainty import entropy, least_confidence, margin, ratio
from .validation import check_embeddings, check_proba

_CHUNK_ELEMENTS = 4_000_000
UNCERTAINTY = {"margin": margin, "least_confidence": least_confidence, "ratio": ratio, "entropy": entropy}


def _sq_norms(x: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", x, x).astype(float)


def min_sq_distances(x: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Squared distance of each row of x to its nearest center, chunked on both sides."""
    out = np.full(len(x), np.inf)
    if len(centers) == 0 or len(x) == 0:
        return out
    x_sq, c_sq = _sq_norms(x), _sq_norms(centers)
    c_step = min(len(centers), 4096)
    x_step = max(1, _CHUNK_ELEMENTS // c_step)
    for c_start in range(0, len(centers), c_step):
        c = centers[c_start:c_start + c_step]
        cs = c_sq[c_start:c_start + c_step]
        for start in range(0, len(x), x_step):
            stop = min(start + x_step, len(x))
            sq = x_sq[start:stop, None] + cs[None, :] - 2.0 * (x[start:stop] @ c.T)
            np.minimum(out[start:stop], sq.min(axis=1), out=out[start:stop])
    return np.maximum(out, 0.0)


def k_center_greedy(embeddings: np.ndarray, k: int, labeled: np.ndarray | None = None,
                    rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
    """(indices in pick order, distance of each pick to its nearest center when picked, details).

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
    if labeled is not None and len(labeled):
        labeled = check_embeddings(labeled, what="labeled embeddings", dim=x.shape[1]).astype(x.dtype, copy=False)
        min_sq = min_sq_distances(x, labeled)
        start = None
    else:
        start = int(rng.integers(n))
        min_sq = np.full(n, np.inf)
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
        sq = np.maximum(x_sq + x_sq[pick] - 2.0 * (x @ x[pick]).astype(float), 0.0)
        sq[pick] = 0.0
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
