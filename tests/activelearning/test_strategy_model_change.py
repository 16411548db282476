"""Expected gradient length and the closed-form logistic-regression gradient norms."""
import numpy as np
import pytest

from activelearning.strategies import STRATEGIES, PoolInputs, StrategyInputError, logistic_gradient_norms
from activelearning.strategies.model_change import expected_gradient_length


def test_binary_single_row_norms_and_egl_by_hand():
    # p1 = .8, ||x||^2 = 3, intercept: sqrt(3 + 1) = 2. Label 0: |.8 - 0| * 2, label 1: |.8 - 1| * 2.
    proba = np.array([[0.2, 0.8]])
    norms = logistic_gradient_norms(proba, np.array([3.0]))
    assert norms[0] == pytest.approx([1.6, 0.4])
    assert expected_gradient_length(proba, norms) == pytest.approx([0.2 * 1.6 + 0.8 * 0.4])


def test_multinomial_norms_by_hand():
    # p = (.5, .3, .2), ||x||^2 = 8, no intercept: ||p - e_j|| * sqrt(8).
    # ||p - e_0||^2 = .25 + .09 + .04 = .38; e_1: .78; e_2: .98 -> sqrt(.98 * 8) = 2.8.
    proba = np.array([[0.5, 0.3, 0.2]])
    norms = logistic_gradient_norms(proba, np.array([8.0]), fit_intercept=False)
    assert norms[0] == pytest.approx([np.sqrt(3.04), np.sqrt(6.24), 2.8])
    egl = expected_gradient_length(proba, norms)
    assert egl == pytest.approx([0.5 * np.sqrt(3.04) + 0.3 * np.sqrt(6.24) + 0.2 * 2.8])


def test_two_columns_can_use_the_multinomial_form_which_is_sqrt2_larger():
    proba = np.array([[0.3, 0.7], [0.9, 0.1]])
    sq = np.array([1.0, 4.0])
    single = logistic_gradient_norms(proba, sq)
    multi = logistic_gradient_norms(proba, sq, binary_single_row=False)
    assert multi == pytest.approx(single * np.sqrt(2))


def _softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def test_multinomial_norms_match_a_finite_difference_gradient():
    rng = np.random.default_rng(0)
    W, b, x = rng.normal(size=(3, 4)), rng.normal(size=3), rng.normal(size=4)
    p = _softmax(W @ x + b)
    formula = logistic_gradient_norms(p[None], np.array([x @ x]))[0]
    for label in range(3):
        params = np.concatenate([W.ravel(), b])

        def loss(theta, label=label):
            return -np.log(_softmax(theta[:12].reshape(3, 4) @ x + theta[12:])[label])

        eps = 1e-6
        grad = np.array([(loss(params + eps * e) - loss(params - eps * e)) / (2 * eps) for e in np.eye(15)])
        assert np.linalg.norm(grad) == pytest.approx(formula[label], rel=1e-5)


def test_binary_norms_match_a_finite_difference_gradient():
    rng = np.random.default_rng(1)
    w, b, x = rng.normal(size=4), 0.3, rng.normal(size=4)
    p1 = 1 / (1 + np.exp(-(w @ x + b)))
    formula = logistic_gradient_norms(np.array([[1 - p1, p1]]), np.array([x @ x]))[0]
    for y in (0, 1):
        def loss(theta, y=y):
            q = 1 / (1 + np.exp(-(theta[:4] @ x + theta[4])))
            return -(y * np.log(q) + (1 - y) * np.log(1 - q))

        params, eps = np.append(w, b), 1e-6
        grad = np.array([(loss(params + eps * e) - loss(params - eps * e)) / (2 * eps) for e in np.eye(5)])
        assert np.linalg.norm(grad) == pytest.approx(formula[y], rel=1e-5)


def test_egl_strategy_prefers_the_item_with_the_larger_expected_gradient():
    proba = np.array([[0.5, 0.5], [0.99, 0.01], [0.5, 0.5]])
    norms = logistic_gradient_norms(proba, np.array([1.0, 1.0, 100.0]))
    inputs = PoolInputs(n=3, proba=proba, gradient_norms=norms)
    selection = STRATEGIES["egl"].select(inputs, 3, rng=np.random.default_rng(0))
    # Equally uncertain, but item 2 has the longer feature vector: a bigger step.
    assert selection.indices.tolist() == [2, 0, 1]


def test_bad_arguments_are_refused():
    with pytest.raises(StrategyInputError, match="squared feature norm"):
        logistic_gradient_norms(np.array([[0.5, 0.5]]), np.array([1.0, 2.0]))
    with pytest.raises(StrategyInputError, match="non-negative"):
        logistic_gradient_norms(np.array([[0.5, 0.5]]), np.array([-1.0]))
    with pytest.raises(StrategyInputError, match="exactly 2"):
        logistic_gradient_norms(np.array([[0.2, 0.3, 0.5]]), np.array([1.0]), binary_single_row=True)
    with pytest.raises(StrategyInputError, match="gradient norms"):
        expected_gradient_length(np.array([[0.5, 0.5]]), np.array([[1.0, -1.0]]))
