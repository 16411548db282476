"""Class-balanced selection toward target ratios."""
import numpy as np
import pytest

from activelearning.strategies import STRATEGIES, PoolInputs, StrategyInputError
from activelearning.strategies.balance import resolve_ratios

# 20 items: 12 predicted class 0 (p0 > .5), 8 predicted class 1; margins vary.
P0 = np.array([0.51, 0.52, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.99,
               0.49, 0.45, 0.4, 0.35, 0.3, 0.2, 0.1, 0.05])
PROBA = np.column_stack([P0, 1 - P0])


def _select(k, **params):
    inputs = PoolInputs(n=20, proba=PROBA, classes=params.pop("classes", None),
                        target_ratios=params.pop("inputs_ratios", None))
    return STRATEGIES["class_balanced"].select(inputs, k, rng=np.random.default_rng(0), **params)


def _per_class(selection):
    return {row["class"]: (row["target"], row["achieved"], row["shortfall"]) for row in selection.details["per_class"]}


def test_eighty_twenty_of_ten_is_eight_and_two_each_the_most_uncertain_of_its_class():
    selection = _select(10, target_ratios={0: 0.8, 1: 0.2})
    predicted = PROBA[selection.indices].argmax(axis=1)
    assert (predicted == 0).sum() == 8 and (predicted == 1).sum() == 2
    assert set(selection.indices[predicted == 0].tolist()) == set(range(8))  # closest to .5 among class 0
    assert set(selection.indices[predicted == 1].tolist()) == {12, 13}
    assert _per_class(selection) == {0: (8, 8, 0), 1: (2, 2, 0)}
    assert list(selection.scores) == sorted(selection.scores, reverse=True)


def test_ratios_are_normalised():
    assert _select(10, target_ratios={0: 4, 1: 1}).indices.tolist() == _select(
        10, target_ratios={0: 0.8, 1: 0.2}).indices.tolist()


def test_a_rare_class_shortfall_is_filled_from_the_others_by_score():
    selection = _select(10, target_ratios={0: 0.1, 1: 0.9})
    # Class 1 should get 9 but only 8 are predicted 1: one more of class 0, by margin.
    assert _per_class(selection) == {0: (1, 2, 0), 1: (9, 8, 1)}
    assert selection.details["filled"] == 1
    assert set(selection.indices.tolist()) == set(range(12, 20)) | {0, 1}


def test_class_ids_come_from_inputs_classes_and_json_string_keys_match():
    selection = _select(10, classes=np.array([7, 9]), target_ratios={"7": 0.8, "9": 0.2})
    assert _per_class(selection) == {7: (8, 8, 0), 9: (2, 2, 0)}


def test_the_ratios_of_the_inputs_are_used_and_the_default_is_an_even_split():
    assert _per_class(_select(10, inputs_ratios={0: 0.8, 1: 0.2})) == {0: (8, 8, 0), 1: (2, 2, 0)}
    assert _per_class(_select(10)) == {0: (5, 5, 0), 1: (5, 5, 0)}


def test_another_base_score_and_a_density_can_be_used():
    rng = np.random.default_rng(0)
    inputs = PoolInputs(n=20, proba=PROBA, embeddings=rng.normal(size=(20, 3)))
    selection = STRATEGIES["class_balanced"].select(
        inputs, 4, rng=np.random.default_rng(0), base="entropy", density="similarity"
    )
    assert selection.details["base"] == "entropy" and "density" in selection.details


@pytest.mark.parametrize(
    ("ratios", "words"),
    [
        ({0: -0.5, 1: 1.5}, "must not be negative"),
        ({0: 0, 1: 0}, "all zero"),
        ({2: 1.0}, "not one of the classes"),
        ({0: "lots"}, "finite number"),
        ({}, "non-empty mapping"),
    ],
)
def test_bad_ratios_are_refused_clearly(ratios, words):
    with pytest.raises(StrategyInputError, match=words):
        _select(10, target_ratios=ratios)


def test_a_base_that_is_not_score_based_is_refused():
    with pytest.raises(StrategyInputError, match="score-based"):
        _select(3, base="coreset")


def test_resolve_ratios_aligns_with_the_classes():
    assert resolve_ratios({"b": 3, "a": 1}, np.array(["a", "b", "c"])).tolist() == [0.25, 0.75, 0.0]
