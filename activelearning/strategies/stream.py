"""Stream-based selective sampling: items arrive one at a time and each is either
sent to an annotator now or let go (Atlas, Cohn & Ladner 1990; Settles 2009, 2.2).

Scores are any informativeness score of the item (e.g. `margin(proba[None])[0]`).
Everything here is deterministic: no randomness, decisions depend only on the
numbers passed in.
"""
from collections import deque

import numpy as np

from .validation import StrategyInputError, check_number, check_positive_int


def _score(score: float) -> float:
    return check_number(score, "score")


def _rate(rate: float) -> float:
    rate = check_number(rate, "rate")
    if not 0 < rate <= 1:
        raise StrategyInputError(f"`rate` must lie in (0, 1], got {rate!r}")
    return rate


def query_by_threshold(score: float, threshold: float) -> bool:
    """Query when the score reaches a fixed threshold (score >= threshold)."""
    return _score(score) >= check_number(threshold, "threshold")


def query_by_budget(score: float, recent_scores, rate: float) -> bool:
    """Query when the score is in the top `rate` fraction of the recent window plus
    itself: fewer than rate * (len(recent) + 1) recent scores are as high or higher
    (ties are not queried, so a run of equal scores cannot exhaust the budget).

    A sliding quantile: with a stationary stream about `rate` of the items are
    queried, and the threshold follows drift in the scores. An empty window queries.
    """
    score, rate = _score(score), _rate(rate)
    recent = np.asarray(recent_scores, dtype=float).reshape(-1)
    if not np.all(np.isfinite(recent)):
        raise StrategyInputError("recent scores contain NaN or infinity")
    return int((recent >= score).sum()) < rate * (len(recent) + 1)


def within_budget(queried: int, seen: int, rate: float) -> bool:
    """Whether one more query keeps queried / seen <= rate; `seen` counts the current item."""
    if queried < 0 or seen < 1 or queried >= seen:
        raise StrategyInputError(f"need 0 <= queried < seen, got queried={queried}, seen={seen}")
    return queried + 1 <= _rate(rate) * seen + 1e-12


def query_by_hard_budget(score: float, recent_scores, rate: float, queried: int, seen: int) -> bool:
    """`query_by_budget`, but never beyond the hard budget queried / seen <= rate
    (`queried` so far, `seen` including the current item)."""
    return within_budget(queried, seen, rate) and query_by_budget(score, recent_scores, rate)


class BudgetRateSampler:
    """Stateful convenience around `query_by_budget` / `query_by_hard_budget`: keeps the
    last `window` scores and the counts. `offer(score) -> bool` decides and records."""

    def __init__(self, rate: float, window: int = 100, hard_budget: bool = False):
        self.rate = _rate(rate)
        self.window = check_positive_int(window, "window")
        self.hard_budget = bool(hard_budget)
        self.recent: deque[float] = deque(maxlen=self.window)
        self.seen = 0
        self.queried = 0

    def offer(self, score: float) -> bool:
        score = _score(score)
        self.seen += 1
        if self.hard_budget:
            decision = query_by_hard_budget(score, list(self.recent), self.rate, self.queried, self.seen)
        else:
            decision = query_by_budget(score, list(self.recent), self.rate)
        self.recent.append(score)
        self.queried += int(decision)
        return decision
