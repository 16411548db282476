"""Expected model change: items whose label would move the model most (Settles,
Craven & Ray 2008, expected gradient length)."""
import numpy as np

from .validation import StrategyInputError, check_gradient_norms, check_proba


def expected_gradient_length(proba: np.ndarray, gradient_norms: np.ndarray) -> np.ndarray:
    """sum_j p(j | x_i) * ||grad loss(x_i, j)||: the gradient length expected under
    the model's own belief about the label. `gradient_norms[i, j]` is the norm of the
    loss gradient if item i had the label of column j."""
    proba = check_proba(proba)
    norms = check_gradient_norms(gradient_norms, proba.shape)
    return (proba * norms).sum(axis=1)


def logistic_gradient_norms(proba: np.ndarray, feature_sq_norms: np.ndarray, fit_intercept: bool = True,
                            binary_single_row: bool | None = None) -> np.ndarray:
    """Closed-form gradient norms of the log-loss of a logistic regression, (items, classes).

    Multinomial (one coefficient row per class): the gradient of -log p_j(x) with
    respect to the weights [W, b] is (p - e_j) outer [x, 1], whose Frobenius norm is
    ||p - e_j||_2 * sqrt(||x||^2 + 1) (the "+ 1" only with an intercept).

    Binary with a single coefficient row (scikit-learn's LogisticRegression on two
    classes): the gradient is (p_1 - y) [x, 1] with y = 1 for column 1, so its norm is
    |p_1 - y| * sqrt(||x||^2 + 1); i.e. p_1 for column 0 and p_0 for column 1. It is
    the multinomial norm divided by sqrt(2), so both rank alike.
    `binary_single_row=None` picks the single-row form exactly when there are 2 columns.

    `feature_sq_norms` are the squared L2 norms of the items' feature vectors (n,).
    The regularisation term is left out: it is the same for every candidate.
    """
    proba = check_proba(proba)
    sq = np.asarray(feature_sq_norms, dtype=float)
    if sq.shape != (proba.shape[0],):
        raise StrategyInputError(
            f"expected one squared feature norm per item, shape ({proba.shape[0]},), got {tuple(sq.shape)}"
        )
    if not np.all(np.isfinite(sq)) or np.any(sq < 0):
        raise StrategyInputError("squared feature norms must be finite and non-negative")
    k = proba.shape[1]
    single = (k == 2) if binary_single_row is None else bool(binary_single_row)
    scale = np.sqrt(sq + (1.0 if fit_intercept else 0.0))[:, None]
    if single:
        if k != 2:
            raise StrategyInputError(f"binary_single_row needs exactly 2 probability columns, got {k}")
        residual = np.column_stack([proba[:, 1], 1.0 - proba[:, 1]])
        return residual * scale
    # ||p - e_j||^2 = sum_c p_c^2 - 2 p_j + 1
    squared = (proba**2).sum(axis=1, keepdims=True) - 2.0 * proba + 1.0
    return np.sqrt(np.maximum(squared, 0.0)) * scale
