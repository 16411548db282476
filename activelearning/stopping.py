"""Stopping criteria: when is more labeling unlikely to pay off?

Evaluated after every round over the whole history of rounds; the result is advice shown
on the dashboard, never an action: nothing here stops the loop.

A round record (oldest first) is a mapping with
  "labels_used"      int, labeled training items the model was fitted on
  "metrics"          dict, possibly empty: "accuracy", "macro_f1" and "per_class"
                     ({class: {"precision", "recall", "support"}}) on the evaluation split
  "train_accuracy"   float or None, accuracy on the training items
  "stability_kappa"  float or None, Cohen's kappa between this model's and the previous
                     model's predictions on a fixed stop set (the caller computes it)
  "elapsed_seconds"  float, seconds since the first round

A configuration turns criteria on by naming them (an absent key is off):
  {"target": {"accuracy": 0.95, "macro_f1": 0.9, "precision": 0.9, "recall": 0.9},
   "plateau": {"epsilon": 0.005, "rounds": 3, "metric": "accuracy"},
   "budget": {"labels": 500, "seconds": 3600},
   "stability": {"kappa": 0.99, "rounds": 2},
   "overfitting": {"gap": 0.15},
   "drift": {"threshold": 0.15}}

Each target metric and each budget is its own criterion; any criterion that fires
recommends stopping. Overfitting is a warning (the curve may still rise, but the model
memorises its training items): it recommends stopping too, because more labels of the same
kind are not the cure; a simpler learner or more regularisation is. "drift" is not a
stopping criterion: it carries the threshold of drift.drift_report and is only validated
here, since it lives in the same project setting.
No Django here.
"""
import math
from collections.abc import Mapping, Sequence
from typing import Any

from .drift import DEFAULT_THRESHOLD, validate_drift_threshold

DEFAULT_STOPPING: dict[str, dict[str, Any]] = {
    "plateau": {"epsilon": 0.005, "rounds": 3, "metric": "accuracy"},
    "stability": {"kappa": 0.99, "rounds": 2},
    "overfitting": {"gap": 0.2},
}

TARGET_METRICS = {"accuracy": "accuracy", "macro_f1": "macro-F1", "precision": "macro precision", "recall": "macro recall"}
PLATEAU_METRICS = tuple(TARGET_METRICS)
SECTIONS = ("target", "plateau", "budget", "stability", "overfitting", "drift")
MAX_ROUNDS = 100
# Metrics are floats: 0.9 - 0.7 is 0.20000000000000007. A value this close to its
# threshold counts as equal to it, so a hand-set threshold behaves as written.
TOLERANCE = 1e-9


# Validation -------------------------------------------------------------------------------


def _number(value: Any, field: str, low: float, high: float, what: str) -> float:
    # bool is an int to Python, but `true` is no threshold.
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{field} must be {what}")
    if not low <= value <= high:
        raise ValueError(f"{field} must be {what}")
    return float(value)


def _fraction(value: Any, field: str) -> float:
    return _number(value, field, 0.0, 1.0, "a number between 0 and 1")


def _integer(value: Any, field: str, low: int, high: int) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{field} must be a whole number between {low} and {high}")
    return value


def _section(data: Mapping, name: str, allowed: Sequence[str]) -> dict:
    section = data[name]
    if not isinstance(section, Mapping):
        raise ValueError(f"stopping.{name} must be an object")
    for key in section:
        if key not in allowed:
            raise ValueError(f"stopping.{name}.{key} is not a known setting (known: {', '.join(allowed)})")
    # A null field is the same as an absent one.
    return {key: value for key, value in section.items() if value is not None}


def validate_stopping_config(data: Any) -> dict:
    """A cleaned copy of a stopping configuration, or ValueError naming the bad field.

    None means every criterion off. A null section is dropped; missing fields of a section
    that is present take the defaults of DEFAULT_STOPPING (plateau, stability, overfitting)
    or of the drift report (threshold 0.15). A target or budget section with no fields is
    dropped.
    """
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ValueError("stopping must be an object")
    for key in data:
        if key not in SECTIONS:
            raise ValueError(f"stopping.{key} is not a known criterion (known: {', '.join(SECTIONS)})")
    data = {key: value for key, value in data.items() if value is not None}
    clean: dict[str, dict[str, Any]] = {}

    if "target" in data:
        section = _section(data, "target", tuple(TARGET_METRICS))
        target = {key: _fraction(value, f"stopping.target.{key}") for key, value in section.items()}
        if target:
            clean["target"] = target

    if "plateau" in data:
        section = {**DEFAULT_STOPPING["plateau"], **_section(data, "plateau", ("epsilon", "rounds", "metric"))}
        if section["metric"] not in PLATEAU_METRICS:
            raise ValueError(f"stopping.plateau.metric must be one of {', '.join(PLATEAU_METRICS)}")
        clean["plateau"] = {
            "epsilon": _fraction(section["epsilon"], "stopping.plateau.epsilon"),
            "rounds": _integer(section["rounds"], "stopping.plateau.rounds", 1, MAX_ROUNDS),
            "metric": section["metric"],
        }

    if "budget" in data:
        section = _section(data, "budget", ("labels", "seconds"))
        budget: dict[str, Any] = {}
        if "labels" in section:
            budget["labels"] = _integer(section["labels"], "stopping.budget.labels", 1, 10**9)
        if "seconds" in section:
            budget["seconds"] = _number(section["seconds"], "stopping.budget.seconds", 1, 10**9, "a number of seconds of at least 1")
        if budget:
            clean["budget"] = budget

    if "stability" in data:
        section = {**DEFAULT_STOPPING["stability"], **_section(data, "stability", ("kappa", "rounds"))}
        clean["stability"] = {
            "kappa": _number(section["kappa"], "stopping.stability.kappa", -1.0, 1.0, "a number between -1 and 1"),
            "rounds": _integer(section["rounds"], "stopping.stability.rounds", 1, MAX_ROUNDS),
        }

    if "overfitting" in data:
        section = {**DEFAULT_STOPPING["overfitting"], **_section(data, "overfitting", ("gap",))}
        clean["overfitting"] = {"gap": _fraction(section["gap"], "stopping.overfitting.gap")}

    if "drift" in data:
        section = {"threshold": DEFAULT_THRESHOLD, **_section(data, "drift", ("threshold",))}
        clean["drift"] = {"threshold": validate_drift_threshold(section["threshold"])}
    return clean


# Evaluation -------------------------------------------------------------------------------


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def _metric(round_: Mapping, name: str) -> float | None:
    """accuracy and macro_f1 as stored; precision and recall as the macro average of
    per_class, as scikit-learn averages over the classes listed."""
    metrics = round_.get("metrics") or {}
    if name in ("precision", "recall"):
        per_class = metrics.get("per_class") or {}
        values = [row[name] for row in per_class.values() if row.get(name) is not None]
        return float(sum(values) / len(values)) if values else None
    value = metrics.get(name)
    return None if value is None else float(value)


def _criterion(key: str, label: str, fired: bool, value: float | None, threshold: Any, message: str,
               warning: bool = False) -> dict:
    return {"key": key, "label": label, "fired": bool(fired), "value": value, "threshold": threshold,
            "message": message, "warning": warning}


def _target(rounds: Sequence[Mapping], metric: str, target: float) -> dict:
    name = TARGET_METRICS[metric]
    value = _metric(rounds[-1], metric) if rounds else None
    label = f"Target {name}"
    if value is None:
        return _criterion(f"target.{metric}", label, False, None, target,
                          f"No {name} on the evaluation split yet (target {_fmt(target)}).")
    fired = value >= target - TOLERANCE
    sign = "≥" if fired else "<"
    return _criterion(f"target.{metric}", label, fired, value, target,
                      f"{name[0].upper()}{name[1:]} {_fmt(value)} {sign} target {_fmt(target)} on the evaluation split.")


def _plateau(rounds: Sequence[Mapping], epsilon: float, count: int, metric: str) -> dict:
    name = TARGET_METRICS[metric]
    values = [v for v in (_metric(r, metric) for r in rounds) if v is not None]
    if len(values) < count + 1:
        return _criterion("plateau", "Plateau", False, None, epsilon,
                          f"Needs {name} from {count + 1} rounds; {len(values)} so far.")
    # The best of the last `count` rounds against the round before them: a dip and a
    # recovery to the same level is no improvement.
    improvement = max(values[-count:]) - values[-count - 1]
    fired = improvement < epsilon - TOLERANCE
    verb = "improved by only" if fired else "improved by"
    sign = "<" if fired else "≥"
    return _criterion("plateau", "Plateau", fired, improvement, epsilon,
                      f"{name[0].upper()}{name[1:]} {verb} {_fmt(improvement)} over the last {count} rounds "
                      f"({sign} {_fmt(epsilon)}).")


def _budget_labels(rounds: Sequence[Mapping], limit: int) -> dict:
    used = int(rounds[-1].get("labels_used") or 0) if rounds else 0
    fired = used >= limit
    text = "reached" if fired else "not reached"
    return _criterion("budget.labels", "Label budget", fired, float(used), limit,
                      f"{used} of {limit} labels used: budget {text}.")


def _budget_seconds(rounds: Sequence[Mapping], limit: float) -> dict:
    elapsed = float(rounds[-1].get("elapsed_seconds") or 0.0) if rounds else 0.0
    fired = elapsed >= limit
    text = "reached" if fired else "not reached"
    return _criterion("budget.seconds", "Time budget", fired, elapsed, limit,
                      f"{elapsed:.0f} of {limit:.0f} seconds since the first round: budget {text}.")


def _stability(rounds: Sequence[Mapping], kappa: float, count: int) -> dict:
    recent = [r.get("stability_kappa") for r in rounds[-count:]]
    if len(recent) < count or any(k is None for k in recent):
        known = next((float(k) for k in reversed(recent) if k is not None), None)
        return _criterion("stability", "Prediction stability", False, known, kappa,
                          f"Needs the agreement (kappa) with the previous model for the last {count} rounds.")
    lowest = float(min(recent))
    fired = lowest >= kappa - TOLERANCE
    if fired:
        message = (f"Predictions are stable: kappa with the previous model ≥ {_fmt(kappa)} for the last {count} "
                   f"rounds (lowest {_fmt(lowest)}).")
    else:
        message = f"Predictions still change: lowest kappa of the last {count} rounds {_fmt(lowest)} < {_fmt(kappa)}."
    return _criterion("stability", "Prediction stability", fired, lowest, kappa, message)


def _overfitting(rounds: Sequence[Mapping], gap: float) -> dict:
    last = rounds[-1] if rounds else {}
    train = last.get("train_accuracy")
    evaluated = _metric(last, "accuracy") if rounds else None
    if train is None or evaluated is None:
        return _criterion("overfitting", "Overfitting", False, None, gap,
                          "Needs the accuracy on both the training items and the evaluation split.", warning=True)
    difference = float(train) - evaluated
    fired = difference > gap + TOLERANCE
    if fired:
        message = (f"Warning: training accuracy {_fmt(float(train))} is {_fmt(difference)} above the evaluation "
                   f"accuracy {_fmt(evaluated)} (> {_fmt(gap)}): the model may be overfitting.")
    else:
        message = f"Training accuracy is {_fmt(difference)} above the evaluation accuracy (≤ {_fmt(gap)})."
    return _criterion("overfitting", "Overfitting", fired, difference, gap, message, warning=True)


def evaluate_stopping(rounds: Sequence[Mapping], config: Mapping | None) -> dict:
    """The stopping advice after the last of `rounds` (oldest first).

    Returns {"recommend_stop": bool, "fired": [keys], "criteria": [{"key", "label", "fired",
    "value", "threshold", "message", "warning"}]}, one entry per criterion that `config`
    turns on, in a fixed order. Raises ValueError for a bad config (see
    validate_stopping_config).
    """
    config = validate_stopping_config(config)
    rounds = list(rounds)
    criteria = []
    for metric, target in config.get("target", {}).items():
        criteria.append(_target(rounds, metric, target))
    if "plateau" in config:
        plateau = config["plateau"]
        criteria.append(_plateau(rounds, plateau["epsilon"], plateau["rounds"], plateau["metric"]))
    budget = config.get("budget", {})
    if "labels" in budget:
        criteria.append(_budget_labels(rounds, budget["labels"]))
    if "seconds" in budget:
        criteria.append(_budget_seconds(rounds, budget["seconds"]))
    if "stability" in config:
        criteria.append(_stability(rounds, config["stability"]["kappa"], config["stability"]["rounds"]))
    if "overfitting" in config:
        criteria.append(_overfitting(rounds, config["overfitting"]["gap"]))
    fired = [c["key"] for c in criteria if c["fired"]]
    return {"recommend_stop": bool(fired), "fired": fired, "criteria": criteria}
