"""A batch made of fractions from several strategies, e.g. "margin:0.7,coreset:0.2,
random:0.1": exploitation with some coverage and some exploration.

Counts come from the fractions by largest remainder. The parts run in the order
given, each on what is left of the pool (earlier picks are removed, and for
strategies that read labeled embeddings the earlier picks count as labeled), so a
batch never holds an item twice. The parts are then interleaved so that every
prefix of the batch keeps roughly the asked proportions (annotators rarely finish
a queue). Each item keeps the score its part gave it; scores of different parts are
not comparable, so the batch is not sorted by score.
"""
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .base import (
    COMMITTEE,
    DETECTIONS,
    EMBEDDINGS,
    GRADIENTS,
    LABELED_EMBEDDINGS,
    LABELED_SQ_DISTANCES,
    PROBA,
    RETRAIN,
    PoolInputs,
    Selection,
    Strategy,
)
from .diversity import min_sq_distances
from .scored import check_params, empty_selection, read_inputs
from .selection import largest_remainder
from .validation import StrategyInputError

DEFAULT_MIX = "margin:0.7,coreset:0.2,random:0.1"


@dataclass(frozen=True)
class MixPart:
    strategy: str
    fraction: float
    params: Mapping[str, Any] = field(default_factory=dict)


def _registry() -> dict[str, Strategy]:
    from . import STRATEGIES  # the registry imports this module

    return STRATEGIES


def _fraction(value: Any, where: str) -> float:
    try:
        fraction = float(value)
    except (TypeError, ValueError):
        raise StrategyInputError(f"{where}: the fraction must be a number, got {value!r}") from None
    if not np.isfinite(fraction) or fraction < 0 or fraction > 1:
        raise StrategyInputError(f"{where}: the fraction must lie in [0, 1], got {value!r}")
    return fraction


def strategy_spec(name: str) -> tuple[str, dict]:
    """A registry key, or a mix written "margin:0.7,coreset:0.2,random:0.1"."""
    if ":" in name:
        return "mix", {"mix": name}
    return name, {}


def parse_mix(spec: Any) -> tuple[MixPart, ...]:
    """Parts of a mix from "key:fraction,key:fraction", or a list of
    {"strategy": key, "fraction": f, "params": {...}} (params optional) or MixPart.
    Fractions must sum to 1 (within 1e-6); "mix" cannot be a part of itself."""
    if isinstance(spec, str):
        items: list[Any] = []
        for chunk in spec.split(","):
            if not chunk.strip():
                continue
            key, colon, value = chunk.partition(":")
            if not colon:
                raise StrategyInputError(f"mix part {chunk.strip()!r} must look like strategy:fraction, e.g. margin:0.7")
            items.append({"strategy": key.strip(), "fraction": value.strip()})
    elif isinstance(spec, Sequence):
        items = list(spec)
    else:
        raise StrategyInputError(f"a mix is a string like 'margin:0.7,random:0.3' or a list of parts, got {spec!r}")
    if not items:
        raise StrategyInputError("a mix needs at least one part")
    registry = _registry()
    parts = []
    for number, item in enumerate(items, start=1):
        if isinstance(item, MixPart):
            item = {"strategy": item.strategy, "fraction": item.fraction, "params": item.params}
        if not isinstance(item, Mapping) or "strategy" not in item or "fraction" not in item:
            raise StrategyInputError(f"mix part {number} must have a `strategy` and a `fraction`, got {item!r}")
        extra = set(item) - {"strategy", "fraction", "params"}
        if extra:
            raise StrategyInputError(f"mix part {number} has unknown field(s) {sorted(extra)}")
        key = item["strategy"]
        if key == "mix":
            raise StrategyInputError("a mix cannot contain another mix")
        if key not in registry:
            raise StrategyInputError(f"mix part {number}: unknown strategy {key!r}; known: {', '.join(registry)}")
        params = item.get("params") or {}
        if not isinstance(params, Mapping):
            raise StrategyInputError(f"mix part {number}: params must be a mapping, got {params!r}")
        parts.append(MixPart(key, _fraction(item["fraction"], f"mix part {number} ({key})"), dict(params)))
    total = sum(part.fraction for part in parts)
    if abs(total - 1.0) > 1e-6:
        listed = " + ".join(f"{part.fraction:g}" for part in parts)
        raise StrategyInputError(f"mix fractions must sum to 1, got {listed} = {total:g}")
    return tuple(parts)


def mix_needs(parts: Sequence[MixPart]) -> frozenset[str]:
    """The union of what the parts read."""
    registry = _registry()
    needs: frozenset[str] = frozenset()
    for part in parts:
        needs |= registry[part.strategy].required_inputs(part.params)
    return needs


def _rows(array: Any, remaining: np.ndarray, everything: bool) -> Any:
    """The `remaining` rows of an array: the array itself while nothing was taken."""
    return array if everything else array[remaining]


def _nearest_labeled_sq(arrays: dict, remaining: np.ndarray, taken: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """The caller's nearest-labeled distances, lowered by the picks of earlier parts,
    which count as labeled: only those few picks are measured against the pool."""
    nearest = _rows(arrays[LABELED_SQ_DISTANCES], remaining, not len(taken))
    if not len(taken):
        return nearest
    return np.minimum(nearest, min_sq_distances(pool, arrays[EMBEDDINGS][taken]))


def _subset(inputs: PoolInputs, arrays: dict, needs: frozenset[str], remaining: np.ndarray,
            taken: np.ndarray) -> PoolInputs:
    """What a part reads, restricted to the `remaining` pool items; earlier picks join the
    labeled set. Inputs the part does not read are left out rather than copied (at a
    million items each embeddings copy costs 244 MB and a third of a second)."""
    everything = not len(taken)
    fields: dict[str, Any] = {"n": len(remaining), "classes": inputs.classes, "target_ratios": inputs.target_ratios}
    if needs & {PROBA, GRADIENTS}:
        fields[PROBA] = _rows(arrays[PROBA], remaining, everything)
    if COMMITTEE in needs:
        fields[COMMITTEE] = arrays[COMMITTEE] if everything else arrays[COMMITTEE][:, remaining]
    if GRADIENTS in needs:
        fields[GRADIENTS] = _rows(arrays[GRADIENTS], remaining, everything)
    if needs & {EMBEDDINGS, LABELED_EMBEDDINGS}:
        fields[EMBEDDINGS] = _rows(arrays[EMBEDDINGS], remaining, everything)
    if LABELED_EMBEDDINGS in needs:
        fields[LABELED_EMBEDDINGS] = np.concatenate([arrays[LABELED_EMBEDDINGS], arrays[EMBEDDINGS][taken]])
        if LABELED_SQ_DISTANCES in arrays:
            fields[LABELED_SQ_DISTANCES] = _nearest_labeled_sq(arrays, remaining, taken, fields[EMBEDDINGS])
    if RETRAIN in needs:
        retrain = arrays[RETRAIN]
        fields[RETRAIN] = retrain if everything else (lambda index, column: retrain(int(remaining[index]), column))
    if DETECTIONS in needs and inputs.detections is not None:
        fields[DETECTIONS] = inputs.detections if everything else [inputs.detections[i] for i in remaining]
    return PoolInputs(**fields)


def select_mix(parts: Sequence[MixPart], inputs: PoolInputs, k: int, *, rng: np.random.Generator) -> Selection:
    registry = _registry()
    arrays = read_inputs(inputs, mix_needs(parts))
    n = arrays["n"]
    k = min(k, n)
    if k == 0:
        return empty_selection(parts=[])
    counts = largest_remainder([part.fraction for part in parts], k)
    taken = np.zeros(n, dtype=bool)
    picks: list[tuple[float, int, int, float]] = []  # (interleaving key, part, index, score)
    reports = []
    for number, (part, count) in enumerate(zip(parts, counts)):
        report = {"strategy": part.strategy, "fraction": part.fraction, "count": int(count)}
        if count > 0:
            remaining = np.flatnonzero(~taken)
            needs = registry[part.strategy].required_inputs(part.params)
            sub = _subset(inputs, arrays, needs, remaining, np.flatnonzero(taken))
            selection = registry[part.strategy].select(sub, int(count), rng=rng, **part.params)
            chosen = remaining[selection.indices]
            taken[chosen] = True
            picks.extend(
                ((rank + 0.5) / count, number, int(index), float(score))
                for rank, (index, score) in enumerate(zip(chosen, selection.scores))
            )
            report["details"] = selection.details
        reports.append(report)
    picks.sort(key=lambda pick: (pick[0], pick[1]))
    return Selection(
        indices=np.array([pick[2] for pick in picks], dtype=int),
        scores=np.array([pick[3] for pick in picks], dtype=float),
        details={"parts": reports, "part_of": [parts[pick[1]].strategy for pick in picks]},
    )


def select_registered_mix(inputs: PoolInputs, k: int, *, rng: np.random.Generator, parts: Any = DEFAULT_MIX,
                          **params: Any) -> Selection:
    """The registered "mix": its parts come from the `parts` parameter."""
    check_params("mix", params, ["parts"])
    return select_mix(parse_mix(parts), inputs, k, rng=rng)


def make_mix(parts: Any, key: str = "mix", label: str | None = None) -> Strategy:
    """A Strategy with fixed parts (anything `parse_mix` accepts); needs = union of the parts'."""
    parsed = parse_mix(parts)

    def select_fn(inputs: PoolInputs, k: int, *, rng: np.random.Generator, **params: Any) -> Selection:
        check_params(key, params, [])
        return select_mix(parsed, inputs, k, rng=rng)

    described = ", ".join(f"{part.strategy} {part.fraction:.0%}" for part in parsed)
    return Strategy(key, label or f"Mix ({described})", "mix", mix_needs(parsed), select_fn,
                    description=f"A batch made of {described}.")
