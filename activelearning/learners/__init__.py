"""Learner families and their registry; the worker and simulator pick one by key.

The web process reads this registry (settings validation, `GET /api/learners/`) but never
fits a model, so nothing here imports scikit-learn, SciPy or torch: a learner's factory
is imported on its first call, and the implementations re-exported below when first
asked for (`from activelearning.learners import build_features` still works, and loads
the text learner then).
"""
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from .yolo import DEFAULT_MODELS, DetectorSpec, YoloLearner, configure_offline

KINDS = ("text", "image")
FEATURE_TYPES = ("tfidf", "sentence_embedding", "pixels")


@dataclass(frozen=True)
class ImportedFactory:
    """`seed -> estimator` from a function of one of the learner modules, imported on the
    first call, so that building the registry imports none of them."""

    module: str
    name: str

    def __call__(self, seed: int) -> Any:
        return getattr(import_module(f"{__name__}.{self.module}"), self.name)(seed)


@dataclass(frozen=True)
class LearnerSpec:
    """A learner as the API, UI and worker see it. `features` says what X the factory's
    estimator takes: a TF-IDF matrix, stored (n, 384) sentence embeddings, or pixels."""

    key: str
    label: str
    kind: str
    features: str
    factory: Callable[[int], Any]
    description: str = ""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"{self.key}: kind must be one of {KINDS}")
        if self.features not in FEATURE_TYPES:
            raise ValueError(f"{self.key}: features must be one of {FEATURE_TYPES}")


LEARNERS: dict[str, LearnerSpec] = {
    spec.key: spec
    for spec in (
        LearnerSpec(
            "tfidf_logreg", "TF-IDF + logistic regression", "text", "tfidf",
            ImportedFactory("text", "make_classifier"),
            "Word and bigram TF-IDF with balanced logistic regression: fast, no model files, a strong baseline.",
        ),
        LearnerSpec(
            "minilm_logreg", "MiniLM sentence embeddings + logistic regression", "text", "sentence_embedding",
            ImportedFactory("embeddings", "make_embedding_classifier"),
            "all-MiniLM-L6-v2 vectors (computed once per item, offline) with logistic regression: "
            "better with few labels and paraphrases; embedding costs about 5 ms per item on CPU.",
        ),
        LearnerSpec(
            "image_cnn", "Small CNN", "image", "pixels", ImportedFactory("image", "make_cnn"),
            "A two-layer convolutional net trained from scratch each round: for small images such as digits.",
        ),
        LearnerSpec(
            "image_embedding_logreg", "Frozen conv features + logistic regression", "image", "pixels",
            ImportedFactory("image", "make_image_embedding_classifier"),
            "Fixed random convolutional features and a logistic-regression head: cheaper rounds, stable embeddings.",
        ),
    )
}


# Detectors have their own registry: a YoloLearner trains on a YOLO data.yaml (images
# and box or polygon files on disk), not on an X, y pair from a factory's sklearn-style
# estimator, and predicts objects per image rather than class probabilities, so it fits
# neither LearnerSpec's kinds and features nor the engine's fit/predict_proba round.
DETECTORS: dict[str, DetectorSpec] = {
    spec.key: spec
    for spec in (
        DetectorSpec(
            "yolo_detect", "YOLO object detection", "detect", DEFAULT_MODELS["detect"],
            "The smallest YOLO detector, trained from scratch (or from an uploaded .pt) on the labeled boxes; "
            "offline, CPU or GPU.",
        ),
        DetectorSpec(
            "yolo_segment", "YOLO instance segmentation", "segment", DEFAULT_MODELS["segment"],
            "The smallest YOLO segmenter, trained on the labeled polygons; predicts boxes, outlines and a mask "
            "quality per object.",
        ),
    )
}


def learner_choices(kind: str | None = None) -> list[tuple[str, str]]:
    """(key, label) pairs, optionally only those for "text" or "image" projects."""
    return [(spec.key, spec.label) for spec in LEARNERS.values() if kind in (None, "", spec.kind)]


# The implementations, imported on first access (PEP 562): name -> submodule.
_LAZY = {
    "Committee": "committee",
    "EmbeddingLogReg": "embeddings",
    "SentenceEmbedder": "embeddings",
    "embed_texts": "embeddings",
    "make_embedding_classifier": "embeddings",
    "torch_gradient_norms": "gradients",
    "ImageEmbeddingClassifier": "image",
    "SmallCNNClassifier": "image",
    "make_cnn": "image",
    "make_image_embedding_classifier": "image",
    "FeatureCache": "text",
    "TextFeatures": "text",
    "build_features": "text",
    "feature_sq_norms": "text",
    "make_classifier": "text",
    "pool_signature": "text",
    "tfidf_svd": "text",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


__all__ = [
    "DETECTORS", "LEARNERS", "DetectorSpec", "ImportedFactory", "LearnerSpec", "YoloLearner", "configure_offline",
    "learner_choices", *_LAZY,
]
