"""Input checks shared by every scorer, so bad model output fails loudly and early."""
import numpy as np


class StrategyInputError(ValueError):
    """Model output a strategy cannot score (wrong shape, NaN, not probabilities)."""


def check_proba(proba: np.ndarray) -> np.ndarray:
    proba = np.asarray(proba, dtype=float)
    if proba.ndim != 2:
        raise StrategyInputError(f"expected probabilities of shape (n_items, n_classes), got shape {proba.shape}")
    if proba.shape[1] < 1:
        raise StrategyInputError("probabilities need at least one class column")
    if not np.all(np.isfinite(proba)):
        raise StrategyInputError("probabilities contain NaN or infinity")
    if np.any(proba < 0) or np.any(proba > 1 + 1e-9):
        raise StrategyInputError("probabilities must lie in [0, 1]")
    return proba


def check_scores(scores: np.ndarray) -> np.ndarray:
    scores = np.asarray(scores, dtype=float)
    if scores.ndim != 1:
        raise StrategyInputError(f"expected one score per item (shape (n,)), got shape {scores.shape}")
    if not np.all(np.isfinite(scores)):
        raise StrategyInputError("scores contain NaN or infinity")
    return scores
