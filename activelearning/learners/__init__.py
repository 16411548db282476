"""Learner families and their registry; the worker and simulator pick one by key.

Nothing here imports torch or sentence-transformers: the torch learners import them
when first fitted or asked to embed, so Django start-up stays fast.
"""
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .committee import Committee
from .embeddings import EmbeddingLogReg, SentenceEmbedder, embed_texts, make_embedding_classifier
from .gradients import torch_gradient_norms
from .image import (
    ImageEmbeddingClassifier,
    SmallCNNClassifier,
    make_cnn,
    make_image_embedding_classifier,
)
from .text import (
    FeatureCache,
    TextFeatures,
    build_features,
    feature_sq_norms,
    make_classifier,
    pool_signature,
    tfidf_svd,
)
from .yolo import DEFAULT_MODELS, DetectorSpec, YoloLearner, configure_offline

KINDS = ("text", "image")
FEATURE_TYPES = ("tfidf", "sentence_embedding", "pixels")


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
            "tfidf_logreg", "TF-IDF + logistic regression", "text", "tfidf", make_classifier,
            "Word and bigram TF-IDF with balanced logistic regression: fast, no model files, a strong baseline.",
        ),
        LearnerSpec(
            "minilm_logreg", "MiniLM sentence embeddings + logistic regression", "text", "sentence_embedding",
            make_embedding_classifier,
            "all-MiniLM-L6-v2 vectors (computed once per item, offline) with logistic regression: "
            "better with few labels and paraphrases; embedding costs about 5 ms per item on CPU.",
        ),
        LearnerSpec(
            "image_cnn", "Small CNN", "image", "pixels", make_cnn,
            "A two-layer convolutional net trained from scratch each round: for small images such as digits.",
        ),
        LearnerSpec(
            "image_embedding_logreg", "Frozen conv features + logistic regression", "image", "pixels",
            make_image_embedding_classifier,
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


__all__ = [
    "DETECTORS",
    "LEARNERS",
    "Committee",
    "DetectorSpec",
    "EmbeddingLogReg",
    "FeatureCache",
    "ImageEmbeddingClassifier",
    "LearnerSpec",
    "SentenceEmbedder",
    "SmallCNNClassifier",
    "TextFeatures",
    "YoloLearner",
    "build_features",
    "configure_offline",
    "embed_texts",
    "feature_sq_norms",
    "learner_choices",
    "make_classifier",
    "make_cnn",
    "make_embedding_classifier",
    "make_image_embedding_classifier",
    "pool_signature",
    "tfidf_svd",
    "torch_gradient_norms",
]
