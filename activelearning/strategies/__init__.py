"""Query strategies: pure numpy, no Django. The registry is what the API, UI and worker read."""
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .selection import top_k
from .uncertainty import entropy, least_confidence, margin, random_scores, ratio
from .validation import StrategyInputError

Scorer = Callable[..., np.ndarray]


@dataclass(frozen=True)
class Strategy:
    key: str
    label: str
    scorer: Scorer
    needs_model: bool = True

    def select(self, proba: np.ndarray, k: int, *, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Return (indices of the batch, best first; their scores)."""
        scores = self.scorer(proba, rng=rng)
        chosen = top_k(scores, k, rng=rng)
        return chosen, scores[chosen]


STRATEGIES: dict[str, Strategy] = {
    s.key: s
    for s in (
        Strategy("least_confidence", "Least confidence", least_confidence),
        Strategy("margin", "Margin", margin),
        Strategy("ratio", "Ratio of confidence", ratio),
        Strategy("entropy", "Entropy", entropy),
        Strategy("random", "Random", random_scores, needs_model=False),
    )
}


def strategy_choices() -> list[tuple[str, str]]:
    return [(s.key, s.label) for s in STRATEGIES.values()]


__all__ = ["STRATEGIES", "Strategy", "StrategyInputError", "strategy_choices", "top_k"]
