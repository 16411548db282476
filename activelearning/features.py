"""A project's items as matrices, computed once per pool and cached under MODEL_DIR.

TF-IDF is refitted only when items are added or removed; its 64-dimensional SVD serves
as the dense embedding of density and diversity strategies for the TF-IDF learner;
sentence embeddings are computed once per item and kept, so a round never re-embeds;
images are decoded and shrunk to 32x32 once per pool. Core-set's distance from every
item to its nearest labeled item is kept too, and each round only adds the new labels.
"""
import threading
import zlib
from pathlib import Path

import joblib
import numpy as np
from django.conf import settings
from django.db.models import Count, Max, Min

from annotations.models import Item, Project

from .learners import LEARNERS, FeatureCache, TextFeatures, build_features, pool_signature, tfidf_svd
from .strategies.diversity import min_sq_distances

FEATURES = FeatureCache(Path(settings.MODEL_DIR))
EMBED_BATCH = 256
_svd_lock = threading.Lock()
_embed_lock = threading.Lock()
_nearest_lock = threading.Lock()


def _signature(project: Project) -> str:
    stats = Item.objects.filter(project=project).aggregate(count=Count("pk"), low=Min("pk"), high=Max("pk"))
    return pool_signature(stats["count"], stats["high"], stats["low"], origin=project.created_at.isoformat())


def project_features(project: Project) -> TextFeatures:
    """TF-IDF over the whole pool, refitted only when items were added or removed."""
    signature = _signature(project)
    features = FEATURES.get(project.pk, signature)
    if features is None:
        ids, texts = [], []
        items = Item.objects.filter(project=project).order_by("pk").values_list("pk", "text")
        for item_id, text in items.iterator(chunk_size=5000):
            ids.append(item_id)
            texts.append(text)
        features = build_features(signature, np.asarray(ids, dtype=np.int64), texts)
        FEATURES.put(project.pk, features)
    return features


def _project_dir(project: Project) -> Path:
    path = Path(settings.MODEL_DIR) / f"project_{project.pk}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def tfidf_embeddings(project: Project, features: TextFeatures) -> np.ndarray:
    """Dense float32 rows aligned with `features.item_ids`: a truncated SVD of the TF-IDF
    matrix (fitted on a seeded sample of large pools, see `learners.tfidf_svd`)."""
    path = _project_dir(project) / "svd.joblib"
    with _svd_lock:
        if path.exists():
            stored = joblib.load(path)
            if stored["signature"] == features.signature:
                return stored["vectors"]
        vectors = tfidf_svd(features.matrix)
        joblib.dump({"signature": features.signature, "vectors": vectors}, path)
        return vectors


def sentence_embeddings(project: Project) -> tuple[np.ndarray, np.ndarray]:
    """(item ids, unit vectors) for every item, embedding only those not seen before."""
    from .learners import embed_texts

    path = _project_dir(project) / "sentence_embeddings.npz"
    with _embed_lock:
        if path.exists():
            stored = np.load(path)
            ids, vectors = stored["ids"], stored["vectors"]
        else:
            ids, vectors = np.empty(0, dtype=np.int64), np.empty((0, 384), dtype=np.float32)
        current = np.fromiter(
            Item.objects.filter(project=project).order_by("pk").values_list("pk", flat=True).iterator(chunk_size=10000),
            dtype=np.int64,
        )
        missing = np.setdiff1d(current, ids)
        if len(missing):
            new_vectors = []
            for start in range(0, len(missing), EMBED_BATCH):
                chunk = missing[start:start + EMBED_BATCH].tolist()
                texts = dict(Item.objects.filter(pk__in=chunk).values_list("pk", "text"))
                new_vectors.append(embed_texts([texts[pk] for pk in chunk]))
            ids = np.concatenate([ids, missing])
            vectors = np.concatenate([vectors, *new_vectors]).astype(np.float32)
            order = np.argsort(ids)
            ids, vectors = ids[order], vectors[order]
            tmp = path.with_suffix(".tmp.npz")
            np.savez(tmp, ids=ids, vectors=vectors)
            tmp.replace(path)
        keep = np.isin(ids, current)
        return ids[keep], vectors[keep]


IMAGE_SIDE = 32
_pixels_lock = threading.Lock()


def _thumbnail(item_media) -> np.ndarray:
    from PIL import Image

    with item_media.open("rb") as handle, Image.open(handle) as image:
        small = image.convert("RGB").resize((IMAGE_SIDE, IMAGE_SIDE))
        return np.asarray(small, dtype=np.uint8)


def image_pixels(project: Project) -> tuple[np.ndarray, np.ndarray]:
    """(item ids, (n, 32, 32, 3) float32 in [0, 1]) for the image items, each image
    decoded and shrunk once; kept per pool signature like the TF-IDF matrix."""
    signature = _signature(project)
    path = _project_dir(project) / "pixels.npz"
    with _pixels_lock:
        if path.exists():
            stored = np.load(path)
            if str(stored["signature"]) == signature:
                return stored["ids"], stored["pixels"].astype(np.float32) / 255.0
        ids, pixels = [], []
        items = Item.objects.filter(project=project).exclude(media="").order_by("pk")
        for item in items.iterator(chunk_size=500):
            ids.append(item.pk)
            pixels.append(_thumbnail(item.media))
        ids_array = np.asarray(ids, dtype=np.int64)
        stacked = np.stack(pixels) if pixels else np.empty((0, IMAGE_SIDE, IMAGE_SIDE, 3), dtype=np.uint8)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, signature=signature, ids=ids_array, pixels=stacked)
        tmp.replace(path)
        return ids_array, stacked.astype(np.float32) / 255.0


def _dense_fingerprint(kind: str, signature: str, dense: np.ndarray) -> str:
    """Which vectors stored distances were measured on: the pool, the kind of features
    and a checksum of about a thousand rows (a recomputed SVD changes it)."""
    step = max(1, len(dense) // 1000)
    checksum = zlib.crc32(np.ascontiguousarray(dense[::step]).tobytes())
    return f"{kind}:{signature}:{dense.shape}:{checksum:08x}"


def _stored_nearest(path: Path, fingerprint: str) -> tuple[np.ndarray, np.ndarray] | None:
    if not path.exists():
        return None
    with np.load(path) as stored:
        if str(stored["fingerprint"]) != fingerprint:
            return None
        return stored["labeled_ids"], stored["sq"]


def nearest_labeled_sq(project: Project, fingerprint: str, dense: np.ndarray, item_ids: np.ndarray,
                       labeled_ids: np.ndarray) -> np.ndarray:
    """Squared distance from every row of `dense` to its nearest labeled row, kept per pool.

    A round adds about one batch of labels, so only the labels new since the stored
    distances are measured against the pool (exact: a running minimum). At a million
    items that is about 100 labels a round instead of all 5,000. A label that was taken
    back, or a changed pool, means measuring from scratch.
    """
    path = _project_dir(project) / "nearest_labeled.npz"
    labeled_ids = np.unique(np.asarray(labeled_ids, dtype=np.int64))
    with _nearest_lock:
        stored = _stored_nearest(path, fingerprint)
        if stored is not None and np.isin(stored[0], labeled_ids).all():
            covered, sq = stored
        else:
            covered, sq = np.empty(0, dtype=np.int64), np.full(len(dense), np.inf, dtype=dense.dtype)
        new = np.setdiff1d(labeled_ids, covered)
        if len(new):
            rows = np.searchsorted(item_ids, new)
            np.minimum(sq, min_sq_distances(dense, dense[rows]), out=sq)
            tmp = path.with_suffix(".tmp.npz")
            np.savez(tmp, fingerprint=fingerprint, labeled_ids=labeled_ids, sq=sq)
            tmp.replace(path)
        return sq


class ProjectMatrix:
    """The learner's feature rows for a project's items, addressable by item id."""

    def __init__(self, project: Project, learner: str):
        self.project = project
        self.features_kind = LEARNERS[learner].features
        if self.features_kind == "sentence_embedding":
            self.item_ids, self.matrix = sentence_embeddings(project)
            self._tfidf = None
        elif self.features_kind == "tfidf":
            self._tfidf = project_features(project)
            self.item_ids, self.matrix = self._tfidf.item_ids, self._tfidf.matrix
        elif self.features_kind == "pixels":
            self.item_ids, self.matrix = image_pixels(project)
            self._tfidf = None
        else:
            raise ValueError(f"the learner {learner!r} does not apply to this project")
        self._dense = None

    def rows_for(self, item_ids) -> np.ndarray:
        return np.searchsorted(self.item_ids, np.asarray(item_ids, dtype=np.int64))

    def dense(self) -> np.ndarray:
        """Dense vectors for density and diversity strategies, rows as `item_ids`; read
        once per round (the TF-IDF's SVD is a 244 MB file at a million items)."""
        if self._dense is None:
            self._dense = self._read_dense()
        return self._dense

    def _read_dense(self) -> np.ndarray:
        if self.features_kind == "sentence_embedding":
            return self.matrix
        if self.features_kind == "pixels":
            return self.matrix.reshape(len(self.matrix), -1)
        return tfidf_embeddings(self.project, self._tfidf)

    def nearest_labeled_sq(self, labeled_ids) -> np.ndarray:
        """Each row's squared distance to its nearest labeled item in `dense()`, kept
        between rounds (see `nearest_labeled_sq`)."""
        dense = self.dense()
        fingerprint = _dense_fingerprint(self.features_kind, _signature(self.project), dense)
        return nearest_labeled_sq(self.project, fingerprint, dense, self.item_ids, labeled_ids)
