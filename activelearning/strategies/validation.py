"""Input checks shared by every scorer, so bad model output fails loudly and early.

Each message says what was expected and what arrived, e.g. "expected committee
probabilities of shape (members, items, classes), got (3, 4)".
"""
import numbers

import numpy as np


class StrategyInputError(ValueError):
    """Input a strategy cannot use (wrong shape, NaN, not probabilities, bad parameter)."""


def _shape(array: np.ndarray) -> str:
    return str(tuple(int(s) for s in array.shape))


def _as_float(value, what: str) -> np.ndarray:
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError) as error:
        raise StrategyInputError(f"{what} must be numeric arrays: {error}") from None


def _check_items(count: int, n: int | None, what: str) -> None:
    if n is not None and count != n:
        raise StrategyInputError(f"expected {what} for {n} pool items, got {count}")


def _all_finite(array: np.ndarray) -> bool:
    """A finite sum proves every element finite (NaN and infinity propagate) in one pass
    and without an (n, d) mask; only a sum that overflowed needs the element-wise check."""
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(array.sum()):
            return True
    return bool(np.all(np.isfinite(array)))


def _check_unit_interval(array: np.ndarray, what: str) -> None:
    """Reductions rather than element-wise masks: no temporary as large as the array."""
    if not _all_finite(array):
        raise StrategyInputError(f"{what} contain NaN or infinity")
    if array.size and (array.min() < 0 or array.max() > 1 + 1e-9):
        raise StrategyInputError(f"{what} must lie in [0, 1]")


def check_proba(proba: np.ndarray, n: int | None = None) -> np.ndarray:
    """Class probabilities (items, classes); `n`, when given, is the pool size."""
    proba = _as_float(proba, "probabilities")
    if proba.ndim != 2:
        raise StrategyInputError(f"expected probabilities of shape (n_items, n_classes), got shape {proba.shape}")
    if proba.shape[1] < 1:
        raise StrategyInputError("probabilities need at least one class column")
    _check_items(proba.shape[0], n, "probabilities")
    _check_unit_interval(proba, "probabilities")
    return proba


def check_committee(committee: np.ndarray, n: int | None = None) -> np.ndarray:
    """Committee probabilities (members, items, classes)."""
    committee = _as_float(committee, "committee probabilities")
    if committee.ndim != 3:
        raise StrategyInputError(
            f"expected committee probabilities of shape (members, items, classes), got {_shape(committee)}"
        )
    if committee.shape[0] < 1:
        raise StrategyInputError("committee probabilities need at least one member")
    if committee.shape[2] < 1:
        raise StrategyInputError("committee probabilities need at least one class column")
    _check_items(committee.shape[1], n, "committee probabilities")
    _check_unit_interval(committee, "committee probabilities")
    return committee


def check_embeddings(embeddings: np.ndarray, n: int | None = None, *, what: str = "embeddings",
                     dim: int | None = None) -> np.ndarray:
    """Dense vectors (items, dimensions). float32 stays float32 (large pools), other dtypes become float64."""
    array = np.asarray(embeddings)
    if array.dtype != np.float32:
        array = _as_float(array, what)
    if array.ndim != 2:
        raise StrategyInputError(f"expected {what} of shape (items, dimensions), got {_shape(array)}")
    if array.shape[1] < 1:
        raise StrategyInputError(f"{what} need at least one dimension, got {_shape(array)}")
    if dim is not None and array.shape[1] != dim:
        raise StrategyInputError(f"expected {what} with {dim} dimensions like the pool embeddings, got {_shape(array)}")
    _check_items(array.shape[0], n, what)
    if not _all_finite(array):
        raise StrategyInputError(f"{what} contain NaN or infinity")
    return array


def check_sq_distances(distances: np.ndarray, n: int | None = None) -> np.ndarray:
    """Squared distances, one per pool item: non-negative, no NaN; infinity means no
    labeled item to be near. float32 stays float32, like embeddings."""
    array = np.asarray(distances)
    if array.dtype != np.float32:
        array = _as_float(array, "squared distances")
    if array.ndim != 1:
        raise StrategyInputError(f"expected one squared distance per pool item (shape (n,)), got {_shape(array)}")
    _check_items(len(array), n, "squared distances")
    if np.isnan(array).any() or (array < 0).any():
        raise StrategyInputError("squared distances must be non-negative numbers (infinity allowed), got NaN or < 0")
    return array


def check_gradient_norms(norms: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Gradient norms (items, classes), aligned with the probabilities."""
    norms = _as_float(norms, "gradient norms")
    if norms.shape != tuple(shape):
        raise StrategyInputError(
            f"expected gradient norms of shape (items, classes) = {tuple(shape)} like the probabilities, got {_shape(norms)}"
        )
    if not np.all(np.isfinite(norms)):
        raise StrategyInputError("gradient norms contain NaN or infinity")
    if np.any(norms < 0):
        raise StrategyInputError("gradient norms must be non-negative")
    return norms


def check_scores(scores: np.ndarray) -> np.ndarray:
    scores = np.asarray(scores, dtype=float)
    if scores.ndim != 1:
        raise StrategyInputError(f"expected one score per item (shape (n,)), got shape {scores.shape}")
    if not np.all(np.isfinite(scores)):
        raise StrategyInputError("scores contain NaN or infinity")
    return scores


def check_k(k) -> int:
    """The batch size: a non-negative integer (bool refused)."""
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise StrategyInputError(f"the batch size k must be a non-negative integer, got {k!r}")
    if k < 0:
        raise StrategyInputError(f"the batch size k must be non-negative, got {int(k)}")
    return int(k)


def check_n(n) -> int:
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
        raise StrategyInputError(f"the pool size n must be a non-negative integer, got {n!r}")
    return int(n)


def check_positive_int(value, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise StrategyInputError(f"`{name}` must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_number(value, name: str, *, minimum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise StrategyInputError(f"`{name}` must be a finite number, got {value!r}")
    if minimum is not None and value < minimum:
        raise StrategyInputError(f"`{name}` must be >= {minimum}, got {value!r}")
    return float(value)


def check_choice(value, name: str, choices) -> str:
    if not isinstance(value, str) or value not in choices:
        raise StrategyInputError(f"`{name}` must be one of {sorted(choices)}, got {value!r}")
    return value
