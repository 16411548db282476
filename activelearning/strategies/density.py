"""Density: how representative an item is of the pool, so that informative outliers
do not crowd a batch (Settles & Craven 2008, "information density").

Every measure returns one value per item in [0, 1], higher = denser, computed from
pool embeddings (n, d) in chunks so 100,000 x 384 needs neither n^2 memory nor time:

- "similarity": mean cosine similarity to the whole pool, (1 + x_i . mean_j x_j) / 2
  with unit rows, O(n d) (the item itself is part of the pool, as in Settles & Craven);
- "knn": mean cosine similarity to the `neighbors` nearest items, mapped to [0, 1]
  by (1 + s) / 2; above `reference` items the neighbours are looked for in a seeded
  random sample of that many pool items (same estimator, coarser scale);
- "kde": Gaussian kernel density on the same reference sample, divided by its maximum;
  `bandwidth` None = the median pairwise distance in the sample (median heuristic);
- "kmeans": cosine similarity to the centroid of the item's k-means cluster (on unit
  rows; fitted on a sample of 10,000, see clustering.py), mapped by (1 + s) / 2.

`weight_scores` folds a density into any informativeness score (see there).
"""
from collections.abc import Mapping
from typing import Any

import numpy as np

from .clustering import kmeans
from .validation import (
    StrategyInputError,
    check_choice,
    check_embeddings,
    check_number,
    check_positive_int,
    check_scores,
)

MEASURES = ("similarity", "knn", "kde", "kmeans")
COMBINES = ("multiplicative", "exponential", "additive")
DEFAULT_REFERENCE = 2000
_CHUNK_ELEMENTS = 4_000_000  # per chunk of a similarity matrix: 16 MB in float32


def unit_rows(embeddings: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (zero rows stay zero), keeping float32 when given."""
    norms = np.linalg.norm(embeddings, axis=1, keepdims=True)
    return embeddings / np.where(norms > 0, norms, 1).astype(embeddings.dtype)


def _row_chunks(n: int, width: int):
    step = max(1, _CHUNK_ELEMENTS // max(width, 1))
    for start in range(0, n, step):
        yield start, min(start + step, n)


def _reference(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    if n <= size:
        return np.arange(n)
    return np.sort(rng.choice(n, size=size, replace=False))


def similarity_density(embeddings: np.ndarray) -> np.ndarray:
    """Mean cosine similarity to every pool item, in [0, 1]: O(n d) through the mean direction."""
    x = check_embeddings(embeddings)
    if len(x) == 0:
        return np.empty(0)
    unit = unit_rows(x)
    mean_direction = unit.mean(axis=0, dtype=np.float64).astype(unit.dtype)
    return np.clip((1.0 + (unit @ mean_direction).astype(float)) / 2.0, 0.0, 1.0)


def knn_density(embeddings: np.ndarray, neighbors: int = 10, *, reference: int = DEFAULT_REFERENCE,
                rng: np.random.Generator | None = None) -> np.ndarray:
    """Mean cosine similarity to the `neighbors` most similar other items, in [0, 1]."""
    x = check_embeddings(embeddings)
    neighbors = check_positive_int(neighbors, "neighbors")
    n = len(x)
    if n == 0:
        return np.empty(0)
    rng = rng if rng is not None else np.random.default_rng(0)
    ref = _reference(n, check_positive_int(reference, "reference", 2), rng)
    count = min(neighbors, len(ref) - 1)
    if count < 1:
        return np.ones(n)
    unit = unit_rows(x)
    ref_unit = unit[ref]
    position = np.full(n, -1)
    position[ref] = np.arange(len(ref))
    out = np.empty(n)
    for start, stop in _row_chunks(n, len(ref)):
        sims = unit[start:stop] @ ref_unit.T
        rows = np.flatnonzero(position[start:stop] >= 0)
        sims[rows, position[start:stop][rows]] = -np.inf  # an item is not its own neighbour
        nearest = np.partition(sims, len(ref) - count, axis=1)[:, len(ref) - count:]
        out[start:stop] = nearest.mean(axis=1, dtype=np.float64)
    return np.clip((1.0 + out) / 2.0, 0.0, 1.0)


def _squared_distances(a: np.ndarray, b: np.ndarray, b_sq: np.ndarray) -> np.ndarray:
    a_sq = np.einsum("ij,ij->i", a, a)
    return np.maximum(a_sq[:, None] + b_sq[None, :] - 2.0 * (a @ b.T), 0.0)


def median_bandwidth(sample: np.ndarray) -> float:
    """Median pairwise distance of (up to 1,000 of) the sample: a scale-free default."""
    sample = sample[:1000]
    if len(sample) < 2:
        return 1.0
    sq = _squared_distances(sample, sample, np.einsum("ij,ij->i", sample, sample))
    upper = np.sqrt(sq[np.triu_indices(len(sample), k=1)])
    positive = upper[upper > 0]
    return float(np.median(positive)) if len(positive) else 1.0


def kde_density(embeddings: np.ndarray, bandwidth: float | None = None, *, reference: int = DEFAULT_REFERENCE,
                rng: np.random.Generator | None = None) -> np.ndarray:
    """Gaussian kernel density over a reference sample of the pool, divided by its maximum."""
    x = check_embeddings(embeddings)
    n = len(x)
    if n == 0:
        return np.empty(0)
    rng = rng if rng is not None else np.random.default_rng(0)
    ref = x[_reference(n, check_positive_int(reference, "reference"), rng)]
    if bandwidth is None:
        bandwidth = median_bandwidth(ref)
    bandwidth = check_number(bandwidth, "bandwidth")
    if bandwidth <= 0:
        raise StrategyInputError(f"`bandwidth` must be positive, got {bandwidth!r}")
    ref_sq = np.einsum("ij,ij->i", ref, ref)
    log_density = np.empty(n)
    for start, stop in _row_chunks(n, len(ref)):
        exponent = -_squared_distances(x[start:stop], ref, ref_sq).astype(float) / (2.0 * bandwidth**2)
        top = exponent.max(axis=1, keepdims=True)
        log_density[start:stop] = top[:, 0] + np.log(np.exp(exponent - top).sum(axis=1))
    return np.exp(log_density - log_density.max())


def kmeans_density(embeddings: np.ndarray, clusters: int = 8, *, rng: np.random.Generator | None = None) -> np.ndarray:
    """Cosine similarity to the centroid of the item's cluster, in [0, 1]."""
    x = check_embeddings(embeddings)
    clusters = check_positive_int(clusters, "clusters")
    if len(x) == 0:
        return np.empty(0)
    unit = unit_rows(x)
    labels, centers = kmeans(unit, clusters, rng if rng is not None else np.random.default_rng(0))
    centroids = unit_rows(centers.astype(unit.dtype))
    cos = np.einsum("ij,ij->i", unit, centroids[labels]).astype(float)
    return np.clip((1.0 + cos) / 2.0, 0.0, 1.0)


_OPTIONS = {"similarity": set(), "knn": {"neighbors", "reference"}, "kde": {"bandwidth", "reference"},
            "kmeans": {"clusters"}}


def parse_density(spec: Any) -> dict | None:
    """Validate a `density=` parameter: None, a measure name, or
    {"measure": ..., "combine": ..., "beta": ..., plus the measure's options}."""
    if spec is None or spec is False:
        return None
    if isinstance(spec, str):
        spec = {"measure": spec}
    if not isinstance(spec, Mapping):
        raise StrategyInputError(f"`density` must be a measure name or a mapping with a `measure`, got {spec!r}")
    spec = dict(spec)
    measure = check_choice(spec.pop("measure", "similarity"), "density measure", MEASURES)
    combine = check_choice(spec.pop("combine", "multiplicative"), "density combine", COMBINES)
    beta = check_number(spec.pop("beta", 1.0), "density beta", minimum=0.0)
    unknown = set(spec) - _OPTIONS[measure]
    if unknown:
        raise StrategyInputError(
            f"unknown option(s) {sorted(unknown)} for density measure {measure!r}; accepted: "
            f"measure, combine, beta{''.join(', ' + o for o in sorted(_OPTIONS[measure]))}"
        )
    return {"measure": measure, "combine": combine, "beta": beta, **spec}


def compute_density(embeddings: np.ndarray, spec: Mapping[str, Any], rng: np.random.Generator) -> np.ndarray:
    """The density named by a parsed spec, in [0, 1]."""
    options = {key: value for key, value in spec.items() if key not in ("measure", "combine", "beta")}
    measure = spec["measure"]
    if measure == "similarity":
        return similarity_density(embeddings)
    if measure == "knn":
        return knn_density(embeddings, rng=rng, **options)
    if measure == "kde":
        return kde_density(embeddings, rng=rng, **options)
    return kmeans_density(embeddings, rng=rng, **options)


def normalize(values: np.ndarray) -> np.ndarray:
    """Min-max to [0, 1]; constant values become 0."""
    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        return values
    low, high = values.min(), values.max()
    return (values - low) / (high - low) if high > low else np.zeros_like(values)


def weight_scores(scores: np.ndarray, density: np.ndarray, combine: str = "multiplicative",
                  beta: float = 1.0) -> np.ndarray:
    """Fold density d in [0, 1] into informativeness scores s (higher = better):

    - multiplicative: s * d**beta (Settles & Craven's information density);
    - exponential: s * exp(beta * d);
    - additive: normalize(s) + beta * d, with s min-max scaled to [0, 1] first so that
      beta is the weight of density relative to informativeness (beta = 1 weighs them
      equally; it ranks like (1 - b) s + b d with b = beta / (1 + beta)).

    Multiplying needs non-negative scores: scores with a negative minimum (expected
    error reduction) are first shifted so that their minimum is 0.
    """
    scores = check_scores(scores)
    density = np.asarray(density, dtype=float)
    if density.shape != scores.shape:
        raise StrategyInputError(f"expected one density per score ({scores.shape}), got {density.shape}")
    check_choice(combine, "density combine", COMBINES)
    beta = check_number(beta, "density beta", minimum=0.0)
    if combine == "additive":
        return normalize(scores) + beta * density
    if len(scores) and scores.min() < 0:
        scores = scores - scores.min()
    if combine == "multiplicative":
        return scores * density**beta
    return scores * np.exp(beta * density)
