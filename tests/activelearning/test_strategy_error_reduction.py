"""Expected error reduction with a fake retrain whose answers are tabled by hand."""
import numpy as np
import pytest

from activelearning.strategies import STRATEGIES, PoolInputs, StrategyInputError
from activelearning.strategies.error_reduction import expected_error_reduction

# Two candidates, two classes; an estimation set of one item.
PROBA = np.array([[0.5, 0.5], [0.9, 0.1], [0.95, 0.05]])
AFTER = {  # (candidate, label column) -> probabilities on the estimation set after refitting
    (0, 0): [[0.9, 0.1]], (0, 1): [[0.5, 0.5]],
    (1, 0): [[0.6, 0.4]], (1, 1): [[1.0, 0.0]],
    (2, 0): [[0.5, 0.5]], (2, 1): [[0.5, 0.5]],
}


def fake_retrain(calls):
    def retrain(index, column):
        calls.append((index, column))
        return np.array(AFTER[(index, column)])

    return retrain


def _h(*p):
    return -sum(q * np.log(q) for q in p if q > 0)


def test_zero_one_loss_by_hand():
    # Item 0: .5 (1 - .9) + .5 (1 - .5) = .3; item 1: .9 (1 - .6) + .1 * 0 = .36; item 2: .5.
    scores, details = expected_error_reduction(PROBA, fake_retrain([]), loss="zero_one")
    assert scores == pytest.approx([-0.3, -0.36, -0.5])
    assert details["refits"] == 6 and details["evaluated"] == 3 and details["estimation_size"] == 1
    assert details["seconds"] >= 0


def test_log_loss_is_the_expected_entropy_by_hand():
    scores, _ = expected_error_reduction(PROBA, fake_retrain([]), loss="log")
    expected = [
        0.5 * _h(0.9, 0.1) + 0.5 * _h(0.5, 0.5),  # .5091
        0.9 * _h(0.6, 0.4) + 0.1 * _h(1.0),  # .6057
        _h(0.5, 0.5),
    ]
    assert scores == pytest.approx([-e for e in expected])
    assert -scores[0] == pytest.approx(0.5091, abs=1e-4)


@pytest.mark.parametrize("key", ["eer_log_loss", "eer_zero_one"])
def test_the_strategies_pick_the_item_with_the_lowest_expected_loss(key):
    inputs = PoolInputs(n=3, proba=PROBA, retrain=fake_retrain([]))
    selection = STRATEGIES[key].select(inputs, 3, rng=np.random.default_rng(0))
    assert selection.indices.tolist() == [0, 1, 2]
    assert selection.details["refits"] == 6


def test_only_the_most_uncertain_candidates_are_refitted_and_the_rest_rank_after_them():
    calls = []
    inputs = PoolInputs(n=3, proba=PROBA, retrain=fake_retrain(calls))
    selection = STRATEGIES["eer_zero_one"].select(inputs, 3, rng=np.random.default_rng(0), candidates=1)
    assert calls == [(0, 0), (0, 1)]  # item 0 has the smallest margin
    assert selection.details["refits"] == 2 and selection.details["evaluated"] == 1
    assert selection.indices[0] == 0
    # The others get the lowest evaluated score minus 1: finite, and after every evaluated item.
    assert selection.scores.tolist() == pytest.approx([-0.3, -1.3, -1.3])


def test_a_label_the_model_rules_out_is_not_refitted():
    calls = []
    expected_error_reduction(np.array([[1.0, 0.0]]), lambda i, j: calls.append((i, j)) or np.array([[0.5, 0.5]]))
    assert calls == [(0, 0)]


def test_retrain_must_score_the_same_estimation_set():
    sizes = iter([1, 2])

    def retrain(index, column):
        return np.full((next(sizes), 2), 0.5)

    with pytest.raises(StrategyInputError, match="same estimation set"):
        expected_error_reduction(np.array([[0.5, 0.5]]), retrain)


def test_bad_parameters_are_refused():
    with pytest.raises(StrategyInputError, match="candidates"):
        expected_error_reduction(PROBA, fake_retrain([]), candidates=0)
    with pytest.raises(StrategyInputError, match="loss"):
        expected_error_reduction(PROBA, fake_retrain([]), loss="hinge")
