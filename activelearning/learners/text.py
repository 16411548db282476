"""Text learner: TF-IDF features (fitted once per pool) and logistic regression."""
import hashlib
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
from scipy import sparse
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression


@dataclass
class TextFeatures:
    """A project's whole pool, vectorised once: row i belongs to `item_ids[i]`."""

    signature: str
    item_ids: np.ndarray
    matrix: sparse.csr_matrix
    # Kept so that an item arriving later can be scored by the current model
    # (stream sampling) before the next round refits the vocabulary.
    vectorizer: TfidfVectorizer | None = None

    def rows_for(self, item_ids: Iterable[int]) -> np.ndarray:
        index = np.searchsorted(self.item_ids, np.asarray(list(item_ids), dtype=np.int64))
        return index


def pool_signature(count: int, max_id: int | None, min_id: int | None, origin: str = "") -> str:
    """Changes whenever items are added or removed, so the cache follows the pool.
    `origin` (the project's creation time) tells a project recreated with the same ids,
    after a database reset, from the one whose features are still on disk."""
    return hashlib.sha1(f"{origin}:{count}:{min_id}:{max_id}".encode()).hexdigest()[:16]


def build_features(signature: str, item_ids: np.ndarray, texts: list[str]) -> TextFeatures:
    vectorizer = TfidfVectorizer(sublinear_tf=True, min_df=1, ngram_range=(1, 2), max_features=200_000)
    matrix = vectorizer.fit_transform(texts).tocsr()
    return TextFeatures(
        signature=signature, item_ids=np.asarray(item_ids, dtype=np.int64), matrix=matrix, vectorizer=vectorizer
    )


SVD_COMPONENTS = 64
SVD_SAMPLE_ROWS = 100_000
SVD_CHUNK_ROWS = 50_000


def svd_components(matrix) -> int:
    """64, or fewer when the matrix is too small for that many."""
    return max(1, min(SVD_COMPONENTS, matrix.shape[1] - 1, matrix.shape[0] - 1))


def tfidf_svd(matrix, *, sample_rows: int = SVD_SAMPLE_ROWS, chunk_rows: int = SVD_CHUNK_ROWS,
              seed: int = 0) -> np.ndarray:
    """Dense float32 rows of a truncated SVD of the TF-IDF matrix, one per row.

    The SVD is fitted on a seeded sample of at most `sample_rows` rows and then applied
    to the pool chunk by chunk: fitted on all of a million rows it held several
    (n, 74) float64 blocks at once and peaked at 2.2 GB. Pools up to `sample_rows` rows
    are fitted on every row.
    """
    n = matrix.shape[0]
    sample = np.sort(np.random.default_rng(seed).choice(n, size=sample_rows, replace=False)) if n > sample_rows else None
    svd = TruncatedSVD(n_components=svd_components(matrix), random_state=seed)
    svd.fit(matrix if sample is None else matrix[sample])
    vectors = np.empty((n, svd.n_components), dtype=np.float32)
    for start in range(0, n, chunk_rows):
        vectors[start:start + chunk_rows] = svd.transform(matrix[start:start + chunk_rows])
    return vectors


class FeatureCache:
    """Memory first, then disk; a changed pool signature means a new vectoriser."""

    def __init__(self, root: Path):
        self.root = root
        self._memory: dict[int, TextFeatures] = {}
        self._lock = threading.Lock()

    def _path(self, project_id: int) -> Path:
        return self.root / f"project_{project_id}" / "features.joblib"

    def get(self, project_id: int, signature: str) -> TextFeatures | None:
        with self._lock:
            cached = self._memory.get(project_id)
        if cached is not None and cached.signature == signature:
            return cached
        path = self._path(project_id)
        if path.exists():
            stored = joblib.load(path)
            if stored.signature == signature:
                with self._lock:
                    self._memory[project_id] = stored
                return stored
        return None

    def latest(self, project_id: int) -> TextFeatures | None:
        """Whatever was built last for the project, whatever the pool is now."""
        with self._lock:
            cached = self._memory.get(project_id)
        if cached is not None:
            return cached
        path = self._path(project_id)
        return joblib.load(path) if path.exists() else None

    def put(self, project_id: int, features: TextFeatures) -> None:
        path = self._path(project_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        joblib.dump(features, tmp)
        tmp.replace(path)
        with self._lock:
            self._memory[project_id] = features


def make_classifier(random_state: int = 0) -> LogisticRegression:
    """A fresh model per round, so no state leaks between rounds."""
    return LogisticRegression(C=4.0, max_iter=1000, class_weight="balanced", random_state=random_state)


def feature_sq_norms(matrix) -> np.ndarray:
    """Squared L2 norm of each row, sparse or dense: with the class probabilities this gives
    logistic regression's per-label gradient norms in closed form, ‖p − e_j‖·√(‖x‖² + 1)
    with an intercept, so expected gradient length needs no autograd."""
    if sparse.issparse(matrix):
        return np.asarray(matrix.multiply(matrix).sum(axis=1), dtype=np.float64).ravel()
    dense = np.asarray(matrix, dtype=np.float64)
    if dense.ndim > 2:  # images: a row is every pixel
        dense = dense.reshape(dense.shape[0], -1)
    return np.einsum("ij,ij->i", dense, dense)
