"""k-means for the density and diversity strategies, affordable on large pools: fit on
a seeded sample (at least ten items per cluster), then assign every item to its
nearest centroid."""
import warnings

import numpy as np

DEFAULT_SAMPLE = 10_000


def kmeans(x: np.ndarray, clusters: int, rng: np.random.Generator,
           sample: int = DEFAULT_SAMPLE) -> tuple[np.ndarray, np.ndarray]:
    """(cluster of each row, centroids); `clusters` is capped at the number of rows."""
    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning

    n = len(x)
    clusters = min(clusters, n)
    size = min(n, max(sample, 10 * clusters))
    seed = int(rng.integers(2**31 - 1))
    fit_on = x if size == n else x[np.sort(rng.choice(n, size=size, replace=False))]
    with warnings.catch_warnings():
        # Duplicate rows can leave fewer distinct clusters than asked: callers cope.
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = KMeans(n_clusters=clusters, n_init=1, random_state=seed).fit(fit_on)
    labels = model.labels_ if size == n else model.predict(x)
    return np.asarray(labels), model.cluster_centers_
