"""Stream-based selective sampling: threshold, sliding quantile and hard budget."""
import numpy as np
import pytest

from activelearning.strategies import BudgetRateSampler, StrategyInputError, query_by_budget, query_by_threshold
from activelearning.strategies.stream import query_by_hard_budget, within_budget


def test_threshold():
    assert query_by_threshold(0.6, 0.5) and query_by_threshold(0.5, 0.5) and not query_by_threshold(0.4, 0.5)
    with pytest.raises(StrategyInputError, match="score"):
        query_by_threshold(float("nan"), 0.5)


def test_budget_queries_the_top_fraction_of_the_recent_window():
    recent = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]  # with the new item: 10 scores, top 10% = best one
    assert query_by_budget(0.95, recent, 0.1)
    assert not query_by_budget(0.85, recent, 0.1)  # 0.9 is higher
    assert query_by_budget(0.85, recent, 0.2)  # top 2 of 10
    assert query_by_budget(0.0, [], 0.1)  # nothing to compare with yet


def test_hard_budget_never_exceeds_the_rate():
    assert within_budget(queried=0, seen=10, rate=0.1)
    assert not within_budget(queried=1, seen=10, rate=0.1)
    assert not query_by_hard_budget(0.99, [0.1], 0.1, queried=0, seen=2)


def test_the_sampler_queries_about_the_rate_and_is_deterministic():
    scores = np.random.default_rng(0).random(2000)
    sampler = BudgetRateSampler(0.1, window=100)
    decisions = [sampler.offer(s) for s in scores]
    again = BudgetRateSampler(0.1, window=100)
    assert decisions == [again.offer(s) for s in scores]
    assert 0.07 < np.mean(decisions) < 0.13
    assert sampler.seen == 2000 and sampler.queried == sum(decisions)


def test_the_hard_budget_sampler_stays_within_budget_at_every_step():
    sampler = BudgetRateSampler(0.1, window=50, hard_budget=True)
    for score in np.random.default_rng(1).random(1000):
        sampler.offer(score)
        assert sampler.queried <= 0.1 * sampler.seen + 1e-9


@pytest.mark.parametrize("rate", [0, 1.5, -0.1])
def test_a_rate_outside_0_1_is_refused(rate):
    with pytest.raises(StrategyInputError, match="rate"):
        BudgetRateSampler(rate)


def test_a_run_of_equal_scores_does_not_exhaust_the_budget():
    sampler = BudgetRateSampler(rate=0.25, window=50)
    decisions = [sampler.offer(0.4) for _ in range(20)]
    assert decisions[0] is True and sum(decisions) == 1
