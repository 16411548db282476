"""Expected error reduction (Roy & McCallum 2001): the item whose label, whatever it
turns out to be, leaves the model least unsure on the rest of the data.

For a candidate x and each label column j the model is refitted with (x, j) added
(`retrain(index, j)` gives the refitted model's probabilities p' on a fixed
estimation set of e items) and its expected loss on that set is measured:

- log loss (expected entropy): -sum_e sum_c p'(c) log p'(c), in nats;
- 0/1 loss: sum_e (1 - max_c p'(c)).

The candidate's score is -(sum_j p(j | x) * loss_j): higher = lower expected error.
Refits are expensive (classes x candidates), so only the `candidates` items with the
smallest margin are evaluated; every other item gets the lowest evaluated score
minus 1, which keeps scores finite and ranks them after all evaluated items.
Columns with p(j | x) = 0 contribute nothing and are not refitted.
"""
import time
from collections.abc import Callable

import numpy as np

from .selection import top_k
from .uncertainty import margin
from .validation import StrategyInputError, check_positive_int, check_proba

LOSSES = ("log", "zero_one")


def expected_loss(proba_after: np.ndarray, loss: str) -> float:
    """Loss of a refitted model on the estimation set, summed over its items."""
    if loss == "log":
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(proba_after > 0, proba_after * np.log(proba_after), 0.0)
        return float(-terms.sum())
    if loss == "zero_one":
        return float((1.0 - proba_after.max(axis=1)).sum())
    raise StrategyInputError(f"`loss` must be one of {list(LOSSES)}, got {loss!r}")


def expected_error_reduction(proba: np.ndarray, retrain: Callable[[int, int], np.ndarray], *, loss: str = "log",
                             candidates: int = 100, rng: np.random.Generator | None = None) -> tuple[np.ndarray, dict]:
    """(scores of all n items, details with `refits`, `seconds`, `evaluated`)."""
    proba = check_proba(proba)
    if loss not in LOSSES:
        raise StrategyInputError(f"`loss` must be one of {list(LOSSES)}, got {loss!r}")
    candidates = check_positive_int(candidates, "candidates")
    if not callable(retrain):
        raise StrategyInputError("`retrain` must be a callable retrain(index, label_column) -> (e, k) probabilities")
    started = time.perf_counter()
    n = len(proba)
    evaluated = top_k(margin(proba), min(candidates, n), rng=rng)
    scores = np.empty(n)
    refits, estimation_size = 0, None
    for index in evaluated:
        total = 0.0
        for column in np.flatnonzero(proba[index] > 0):
            after = check_proba(retrain(int(index), int(column)))
            if estimation_size is None:
                estimation_size = len(after)
            elif len(after) != estimation_size:
                raise StrategyInputError(
                    f"retrain must score the same estimation set every time: got {len(after)} rows, "
                    f"earlier {estimation_size}"
                )
            refits += 1
            total += proba[index, column] * expected_loss(after, loss)
        scores[index] = -total
    if len(evaluated) < n:
        rest = np.ones(n, dtype=bool)
        rest[evaluated] = False
        scores[rest] = (scores[evaluated].min() if len(evaluated) else 0.0) - 1.0
    details = {"loss": loss, "evaluated": int(len(evaluated)), "refits": refits,
               "estimation_size": int(estimation_size or 0), "seconds": round(time.perf_counter() - started, 4)}
    return scores, details
