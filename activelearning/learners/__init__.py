"""Learner families; the worker picks one by the project's kind."""
from .text import FeatureCache, TextFeatures, build_features, make_classifier, pool_signature

LEARNERS = {"tfidf_logreg": make_classifier}

__all__ = ["LEARNERS", "FeatureCache", "TextFeatures", "build_features", "make_classifier", "pool_signature"]
