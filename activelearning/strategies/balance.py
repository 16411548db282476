"""Class-balanced selection: steer a batch toward target class ratios, e.g. to find
more of a rare class. Items are grouped by the class the model predicts for them
(argmax of the probabilities, mapped through `classes`); within a class the best
items by a base score (default margin) are taken.

If a class has too few predicted items, its shortfall is filled with the best
remaining items of any class; the details report target, achieved and shortfall per
class so that the admin sees when a ratio could not be met.
"""
import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np

from .selection import largest_remainder, top_k
from .validation import StrategyInputError, check_scores


def resolve_ratios(target_ratios: Mapping[Any, float], classes: np.ndarray) -> np.ndarray:
    """Ratios aligned with `classes`, normalised to sum 1. Keys are class ids; a key
    that is not a class but whose text equals a class's text (JSON keys) also matches.
    Classes without a ratio get 0."""
    if not isinstance(target_ratios, Mapping) or not target_ratios:
        raise StrategyInputError(f"target ratios must be a non-empty mapping of class id to ratio, got {target_ratios!r}")
    listed = [c.item() if hasattr(c, "item") else c for c in classes]
    by_text = {str(c): i for i, c in enumerate(listed)}
    ratios = np.zeros(len(listed))
    for key, value in target_ratios.items():
        if key in listed:
            position = listed.index(key)
        elif str(key) in by_text:
            position = by_text[str(key)]
        else:
            raise StrategyInputError(f"target ratio for class {key!r}, which is not one of the classes {listed}")
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
            raise StrategyInputError(f"target ratio for class {key!r} must be a finite number, got {value!r}")
        if value < 0:
            raise StrategyInputError(f"target ratio for class {key!r} must not be negative, got {value!r}")
        ratios[position] += float(value)
    if ratios.sum() <= 0:
        raise StrategyInputError("target ratios are all zero: at least one class needs a positive ratio")
    return ratios / ratios.sum()


def class_balanced(scores: np.ndarray, predicted: np.ndarray, classes: np.ndarray, ratios: np.ndarray, k: int,
                   rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
    """(indices best first, their scores, details). `predicted[i]` is the position in
    `classes` of item i's predicted class; `ratios` are aligned with `classes`."""
    scores = check_scores(scores)
    n = len(scores)
    k = min(k, n)
    order = top_k(scores, n, rng=rng)  # the global ranking, ties broken by rng
    targets = largest_remainder(ratios, k)
    taken = np.zeros(n, dtype=bool)
    ranked_classes = predicted[order]
    shortfalls = np.zeros(len(classes), dtype=int)
    for position, target in enumerate(targets):
        if target == 0:
            continue
        members = order[ranked_classes == position][:target]
        taken[members] = True
        shortfalls[position] = target - len(members)
    filled = int(shortfalls.sum())
    if filled:
        taken[order[~taken[order]][:filled]] = True
    chosen = order[taken[order]]
    achieved = np.bincount(predicted[chosen], minlength=len(classes))
    per_class = [
        {"class": c.item() if hasattr(c, "item") else c, "target": int(t), "achieved": int(a), "shortfall": int(s)}
        for c, t, a, s in zip(classes, targets, achieved, shortfalls)
    ]
    return chosen, scores[chosen], {"per_class": per_class, "filled": filled}
