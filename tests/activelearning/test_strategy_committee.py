"""Query by committee, on the two-member worked example."""
import numpy as np
import pytest

from activelearning.strategies import STRATEGIES, PoolInputs, StrategyInputError
from activelearning.strategies.committee import (
    consensus,
    consensus_entropy,
    kl_to_consensus,
    max_disagreement,
    vote_entropy,
)

P1 = [[.6, .4], [.2, .8], [.8, .2], [.4, .6], [.7, .3], [.2, .8], [.9, .1], [.5, .5], [.3, .7], [.1, .9]]
P2 = [[.3, .7], [.1, .9], [.9, .1], [.7, .3], [.4, .6], [.1, .9], [.8, .2], [.4, .6], [.6, .4], [.2, .8]]
COMMITTEE = np.array([P1, P2])  # (members, items, classes) = (2, 10, 2)


def _top(key, k):
    inputs = PoolInputs(n=10, committee_proba=COMMITTEE)
    return STRATEGIES[key].select(inputs, k, rng=np.random.default_rng(0))


def test_consensus_is_the_average_of_the_members():
    assert consensus(COMMITTEE)[0] == pytest.approx([0.45, 0.55])


def test_average_kl_to_the_consensus_ranks_points_1_4_5_and_9_highest():
    chosen = _top("kl_to_consensus", 4)
    assert sorted((chosen.indices + 1).tolist()) == [1, 4, 5, 9]  # 1-based, as in the example


def test_average_kl_of_point_1_by_hand():
    # Consensus (.45, .55); KL(.6,.4 || .45,.55) = .06525 bits, KL(.3,.7 || .45,.55) = .06806 bits.
    first = 0.6 * np.log2(0.6 / 0.45) + 0.4 * np.log2(0.4 / 0.55)
    second = 0.3 * np.log2(0.3 / 0.45) + 0.7 * np.log2(0.7 / 0.55)
    assert first == pytest.approx(0.06525, abs=1e-5) and second == pytest.approx(0.06806, abs=1e-5)
    assert kl_to_consensus(COMMITTEE)[0] == pytest.approx((first + second) / 2)
    assert max_disagreement(COMMITTEE)[0] == pytest.approx(second)


def test_consensus_entropy_ranks_points_1_4_5_8_and_9_highest_at_0_9928_bits():
    chosen = _top("consensus_entropy", 5)
    assert sorted((chosen.indices + 1).tolist()) == [1, 4, 5, 8, 9]
    assert chosen.scores == pytest.approx([0.9928] * 5, abs=1e-4)
    # The others average to (.15, .85) or (.85, .15): 0.6098 bits.
    assert consensus_entropy(COMMITTEE)[1] == pytest.approx(0.6098, abs=1e-4)


def test_vote_entropy_counts_hard_votes():
    # The members split on points 1, 4, 5, 8 (a .5/.5 tie votes for the first class) and 9.
    assert vote_entropy(COMMITTEE) == pytest.approx([1, 0, 0, 1, 1, 0, 0, 1, 1, 0])


def test_maximum_disagreement_ranks_the_split_points_and_point_8_last():
    scores = max_disagreement(COMMITTEE)
    assert sorted((np.argsort(-scores, kind="stable")[:4] + 1).tolist()) == [1, 4, 5, 9]
    assert int(np.argmin(scores)) == 7


def test_three_members_three_classes_vote_entropy_by_hand():
    committee = np.array([[[0.7, 0.2, 0.1]], [[0.1, 0.8, 0.1]], [[0.1, 0.1, 0.8]]])
    assert vote_entropy(committee) == pytest.approx([np.log2(3)])
    agreeing = np.repeat(committee[:1], 3, axis=0)
    assert vote_entropy(agreeing) == pytest.approx([0.0])
    assert kl_to_consensus(agreeing) == pytest.approx([0.0])


def test_a_one_member_committee_has_no_disagreement():
    single = COMMITTEE[:1]
    assert np.all(kl_to_consensus(single) == 0) and np.all(vote_entropy(single) == 0)


@pytest.mark.parametrize("bad", [np.ones((2, 3)), np.ones((0, 3, 2)), np.ones((2, 3, 0)), np.full((2, 3, 2), 1.5)])
def test_committee_input_is_checked(bad):
    with pytest.raises(StrategyInputError, match="committee probabilities"):
        vote_entropy(bad)
