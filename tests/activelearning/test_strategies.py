"""Query strategies, checked against numbers worked out by hand."""
import numpy as np
import pytest

from activelearning.strategies import STRATEGIES, StrategyInputError, top_k
from activelearning.strategies.uncertainty import (
    entropy,
    least_confidence,
    margin,
    margin_of,
    random_scores,
    ratio,
    ratio_of,
)

# Sample 1 is confident (0.85), sample 2 hesitates between 0.50 and 0.35.
PROBA = np.array([[0.05, 0.85, 0.10], [0.35, 0.15, 0.50]])
UNCERTAINTY_KEYS = [key for key, strategy in STRATEGIES.items() if strategy.needs_model]


def test_least_confidence_is_one_minus_the_top_probability():
    assert least_confidence(PROBA) == pytest.approx([0.15, 0.50])


def test_margin_of_is_the_gap_between_the_two_best_classes():
    assert margin_of(PROBA) == pytest.approx([0.75, 0.15])
    # The score turns it around so that higher means more informative.
    assert margin(PROBA) == pytest.approx([0.25, 0.85])


def test_ratio_of_divides_the_best_by_the_second_best():
    assert ratio_of(PROBA) == pytest.approx([8.5, 1.4286], abs=1e-4)
    assert ratio(PROBA) == pytest.approx([0.10 / 0.85, 0.35 / 0.50])


def test_entropy_is_in_bits():
    # -(0.05 log2 0.05 + 0.85 log2 0.85 + 0.10 log2 0.10) and the same for sample 2.
    assert entropy(PROBA) == pytest.approx([0.748, 1.441], abs=1e-3)


def test_entropy_of_a_certain_prediction_is_zero_and_of_a_uniform_one_is_log2_k():
    scores = entropy(np.array([[1.0, 0.0, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25]]))
    assert scores == pytest.approx([0.0, 2.0])


@pytest.mark.parametrize("key", UNCERTAINTY_KEYS)
def test_every_uncertainty_strategy_ranks_the_hesitant_sample_first(key):
    chosen, scores = STRATEGIES[key].select(PROBA, 2, rng=np.random.default_rng(0))
    assert list(chosen) == [1, 0]
    assert scores[0] > scores[1]


@pytest.mark.parametrize("key", UNCERTAINTY_KEYS)
def test_top_k_of_one_picks_the_hesitant_sample(key):
    scores = STRATEGIES[key].scorer(PROBA)
    assert list(top_k(scores, 1)) == [1]


def test_top_k_returns_best_first_and_breaks_ties_with_the_seed():
    scores = np.array([0.2, 0.9, 0.5, 0.9, 0.1])
    chosen = top_k(scores, 3, rng=np.random.default_rng(3))
    assert set(chosen[:2]) == {1, 3}
    assert chosen[2] == 2
    again = top_k(scores, 3, rng=np.random.default_rng(3))
    assert list(chosen) == list(again)


def test_top_k_of_zero_is_empty_and_negative_k_is_refused():
    assert len(top_k(np.array([0.3, 0.4]), 0)) == 0
    with pytest.raises(ValueError):
        top_k(np.array([0.3, 0.4]), -1)


def test_top_k_refuses_nan_scores():
    with pytest.raises(StrategyInputError):
        top_k(np.array([0.3, np.nan]), 1)


def test_binary_least_confidence_margin_and_entropy_rank_identically():
    rng = np.random.default_rng(11)
    positive = rng.uniform(0.0, 1.0, size=200)
    proba = np.column_stack([1 - positive, positive])
    rankings = [
        list(STRATEGIES[key].select(proba, len(proba), rng=np.random.default_rng(0))[0])
        for key in ("least_confidence", "margin", "entropy")
    ]
    assert rankings[0] == rankings[1] == rankings[2]
    # And the first pick is the sample closest to 50/50.
    assert rankings[0][0] == int(np.argmin(np.abs(positive - 0.5)))


# The contract every registered strategy keeps, the baseline included.


def _pool(n: int = 40, k: int = 3, seed: int = 5) -> np.ndarray:
    return np.random.default_rng(seed).dirichlet(np.ones(k), size=n)


@pytest.mark.parametrize("key", list(STRATEGIES))
def test_strategy_returns_n_distinct_indices_into_the_pool(key):
    proba = _pool()
    chosen, scores = STRATEGIES[key].select(proba, 7, rng=np.random.default_rng(1))
    assert len(chosen) == 7
    assert len(set(chosen.tolist())) == 7
    assert all(0 <= i < len(proba) for i in chosen)
    assert len(scores) == 7
    # Best first.
    assert list(scores) == sorted(scores, reverse=True)


@pytest.mark.parametrize("key", list(STRATEGIES))
def test_strategy_returns_the_whole_pool_when_n_is_at_least_its_size(key):
    proba = _pool(n=6)
    for n in (6, 50):
        chosen, _ = STRATEGIES[key].select(proba, n, rng=np.random.default_rng(2))
        assert sorted(chosen.tolist()) == list(range(6))


@pytest.mark.parametrize("key", list(STRATEGIES))
def test_strategy_handles_an_empty_pool(key):
    chosen, scores = STRATEGIES[key].select(np.empty((0, 2)), 5, rng=np.random.default_rng(0))
    assert len(chosen) == 0 and len(scores) == 0


@pytest.mark.parametrize("key", list(STRATEGIES))
def test_strategy_rejects_nan_probabilities(key):
    proba = _pool()
    proba[3, 1] = np.nan
    with pytest.raises(StrategyInputError):
        STRATEGIES[key].select(proba, 5, rng=np.random.default_rng(0))


@pytest.mark.parametrize("key", list(STRATEGIES))
@pytest.mark.parametrize(
    "bad",
    [np.array([0.2, 0.8, 0.5]), np.ones((2, 3, 2)) / 2, np.empty((4, 0)), np.array([[0.5, 1.5]]), np.array([[-0.1, 1.1]])],
    ids=["one-dimensional", "three-dimensional", "no-classes", "above-one", "negative"],
)
def test_strategy_rejects_input_that_is_not_a_probability_matrix(key, bad):
    with pytest.raises(StrategyInputError):
        STRATEGIES[key].select(bad, 1, rng=np.random.default_rng(0))


@pytest.mark.parametrize("key", list(STRATEGIES))
def test_strategy_is_deterministic_for_a_seed(key):
    proba = _pool(n=100)
    first, first_scores = STRATEGIES[key].select(proba, 10, rng=np.random.default_rng(42))
    second, second_scores = STRATEGIES[key].select(proba, 10, rng=np.random.default_rng(42))
    assert first.tolist() == second.tolist()
    assert np.array_equal(first_scores, second_scores)


def test_random_baseline_differs_between_seeds_and_ignores_the_probabilities():
    proba = _pool(n=100)
    a, _ = STRATEGIES["random"].select(proba, 10, rng=np.random.default_rng(1))
    b, _ = STRATEGIES["random"].select(proba, 10, rng=np.random.default_rng(2))
    assert a.tolist() != b.tolist()
    scores = random_scores(proba, rng=np.random.default_rng(1))
    same = random_scores(np.flip(proba, axis=0), rng=np.random.default_rng(1))
    assert np.array_equal(scores, same)


def test_only_the_random_baseline_works_without_a_model():
    assert [key for key, s in STRATEGIES.items() if not s.needs_model] == ["random"]
