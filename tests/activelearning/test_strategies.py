"""Uncertainty strategies, the top-k selector and the registry, checked against numbers
worked out by hand. The contract every registered strategy keeps is in
test_strategy_contract.py; each other family has its own test_strategy_*.py."""
import numpy as np
import pytest

from activelearning.strategies import (
    EMBEDDINGS,
    FAMILIES,
    PROBA,
    STRATEGIES,
    PoolInputs,
    Selection,
    StrategyInputError,
    required_inputs,
    strategy_choices,
    top_k,
)
from activelearning.strategies.selection import largest_remainder
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
PROBA_2 = np.array([[0.05, 0.85, 0.10], [0.35, 0.15, 0.50]])
UNCERTAINTY_KEYS = [key for key, strategy in STRATEGIES.items() if strategy.family == "uncertainty"]


def _select(key, proba, k, seed=0, **params) -> Selection:
    return STRATEGIES[key].select(PoolInputs(n=len(proba), proba=proba), k, rng=np.random.default_rng(seed), **params)


def test_least_confidence_is_one_minus_the_top_probability():
    assert least_confidence(PROBA_2) == pytest.approx([0.15, 0.50])


def test_margin_of_is_the_gap_between_the_two_best_classes():
    assert margin_of(PROBA_2) == pytest.approx([0.75, 0.15])
    # The score turns it around so that higher means more informative.
    assert margin(PROBA_2) == pytest.approx([0.25, 0.85])


@pytest.mark.parametrize("classes", [1, 2, 3, 5, 6, 10])
def test_margin_and_ratio_find_the_two_best_classes_as_sorting_each_row_does(classes):
    proba = np.random.default_rng(classes).dirichlet(np.ones(classes), size=500)
    proba[::7] = np.round(proba[::7], 1)  # ties between the best classes
    ordered = np.sort(proba, axis=1)
    first, second = ordered[:, -1], ordered[:, -2] if classes > 1 else np.zeros(len(proba))
    assert np.array_equal(margin_of(proba), first - second)
    assert np.array_equal(margin(proba), 1.0 - (first - second))
    assert np.array_equal(ratio(proba), np.where(first > 0, second / np.where(first > 0, first, 1.0), 0.0))


def test_ratio_of_divides_the_best_by_the_second_best():
    assert ratio_of(PROBA_2) == pytest.approx([8.5, 1.4286], abs=1e-4)
    assert ratio(PROBA_2) == pytest.approx([0.10 / 0.85, 0.35 / 0.50])


def test_entropy_is_in_bits():
    # -(0.05 log2 0.05 + 0.85 log2 0.85 + 0.10 log2 0.10) and the same for sample 2.
    assert entropy(PROBA_2) == pytest.approx([0.748, 1.441], abs=1e-3)


def test_entropy_of_a_certain_prediction_is_zero_and_of_a_uniform_one_is_log2_k():
    scores = entropy(np.array([[1.0, 0.0, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25]]))
    assert scores == pytest.approx([0.0, 2.0])
    assert not np.signbit(scores[0])


@pytest.mark.parametrize("key", UNCERTAINTY_KEYS)
def test_every_uncertainty_strategy_ranks_the_hesitant_sample_first(key):
    selection = _select(key, PROBA_2, 2)
    assert list(selection.indices) == [1, 0]
    assert selection.scores[0] > selection.scores[1]


@pytest.mark.parametrize("key", UNCERTAINTY_KEYS)
def test_top_one_is_the_hesitant_sample(key):
    assert list(_select(key, PROBA_2, 1).indices) == [1]


def test_uncertainty_family_is_the_four_classic_measures():
    assert UNCERTAINTY_KEYS == ["least_confidence", "margin", "ratio", "entropy"]


def test_top_k_returns_best_first_and_breaks_ties_with_the_seed():
    scores = np.array([0.2, 0.9, 0.5, 0.9, 0.1])
    chosen = top_k(scores, 3, rng=np.random.default_rng(3))
    assert set(chosen[:2]) == {1, 3}
    assert chosen[2] == 2
    again = top_k(scores, 3, rng=np.random.default_rng(3))
    assert list(chosen) == list(again)


@pytest.mark.parametrize("k", [1, 7, 100, 999, 1000])
def test_top_k_picks_what_a_full_sort_with_the_same_tie_break_picks(k):
    # Scores with few distinct values: most of the pool ties at the threshold.
    scores = np.random.default_rng(4).integers(0, 5, size=1000) / 4
    rng = np.random.default_rng(8)
    chosen = top_k(scores, k, rng=rng)
    reference_rng = np.random.default_rng(8)
    reference = np.lexsort((reference_rng.random(len(scores)), -scores))[:k]
    assert chosen.tolist() == reference.tolist()
    assert rng.random() == reference_rng.random()  # the generator is left where a full sort leaves it


def test_top_k_of_zero_is_empty_and_negative_k_is_refused():
    assert len(top_k(np.array([0.3, 0.4]), 0)) == 0
    with pytest.raises(ValueError):
        top_k(np.array([0.3, 0.4]), -1)


def test_top_k_refuses_nan_scores():
    with pytest.raises(StrategyInputError):
        top_k(np.array([0.3, np.nan]), 1)


def test_largest_remainder_splits_a_total_by_fractions():
    assert largest_remainder([0.7, 0.2, 0.1], 10).tolist() == [7, 2, 1]
    # 4.9, 1.4, 0.7: floors 4, 1, 0; the two leftovers go to .9 and .7.
    assert largest_remainder([0.7, 0.2, 0.1], 7).tolist() == [5, 1, 1]
    assert largest_remainder([0.5, 0.5], 3).tolist() == [2, 1]
    assert largest_remainder([1.0], 0).tolist() == [0]


def test_binary_least_confidence_margin_and_entropy_rank_identically():
    rng = np.random.default_rng(11)
    positive = rng.uniform(0.0, 1.0, size=200)
    proba = np.column_stack([1 - positive, positive])
    rankings = [list(_select(key, proba, len(proba)).indices) for key in ("least_confidence", "margin", "entropy")]
    assert rankings[0] == rankings[1] == rankings[2]
    # And the first pick is the sample closest to 50/50.
    assert rankings[0][0] == int(np.argmin(np.abs(positive - 0.5)))


def test_random_baseline_differs_between_seeds_and_ignores_the_probabilities():
    proba = np.random.default_rng(5).dirichlet(np.ones(3), size=100)
    a = STRATEGIES["random"].select(PoolInputs(n=100), 10, rng=np.random.default_rng(1)).indices
    b = STRATEGIES["random"].select(PoolInputs(n=100), 10, rng=np.random.default_rng(2)).indices
    assert a.tolist() != b.tolist()
    scores = random_scores(proba, rng=np.random.default_rng(1))
    same = random_scores(np.flip(proba, axis=0), rng=np.random.default_rng(1))
    assert np.array_equal(scores, same)


def test_the_random_baseline_and_the_core_set_work_without_a_model():
    assert [key for key, s in STRATEGIES.items() if not s.needs_model] == ["random", "coreset"]


def test_registry_lists_every_strategy_with_a_known_family():
    assert list(STRATEGIES) == [
        "least_confidence", "margin", "ratio", "entropy", "random", "vote_entropy", "consensus_entropy",
        "max_disagreement", "kl_to_consensus", "egl", "eer_log_loss", "eer_zero_one", "information_density",
        "coreset", "cluster_uncertainty", "class_balanced", "det_least_confident", "det_mean_confidence",
        "det_entropy", "det_count_weighted", "seg_mask_quality", "det_class_balanced", "mix",
    ]
    assert {s.family for s in STRATEGIES.values()} == set(FAMILIES)
    assert strategy_choices()[:2] == [("least_confidence", "Least confidence"), ("margin", "Margin")]
    assert all(s.key == key and s.label and s.description for key, s in STRATEGIES.items())


def test_required_inputs_adds_embeddings_for_density_weighting():
    assert required_inputs("margin") == {PROBA}
    assert required_inputs(STRATEGIES["margin"], {"density": {"measure": "knn"}}) == {PROBA, EMBEDDINGS}
    assert required_inputs("random", {"density": "similarity"}) == {EMBEDDINGS}
    assert required_inputs("information_density") == {PROBA, EMBEDDINGS}
    assert required_inputs("class_balanced", {"base": "egl"}) == {PROBA, "gradient_norms"}
    with pytest.raises(StrategyInputError, match="unknown strategy 'nope'"):
        required_inputs("nope")


def test_a_missing_input_is_named():
    with pytest.raises(StrategyInputError, match="needs `proba`"):
        STRATEGIES["margin"].select(PoolInputs(n=3), 1, rng=np.random.default_rng(0))


@pytest.mark.parametrize("k", [-1, 1.5, True, "3"])
def test_a_batch_size_that_is_not_a_non_negative_integer_is_refused(k):
    with pytest.raises(StrategyInputError, match="batch size k"):
        _select("margin", PROBA_2, k)


def test_numpy_integer_batch_sizes_are_fine():
    assert len(_select("margin", PROBA_2, np.int64(1)).indices) == 1
