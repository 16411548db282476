"""A project's review and quality settings: which submissions a reviewer sees, how
consensus is reached, how much of each queue is gold, and when an annotator is flagged.

Stored whole in `Project.review`; `validate_review` is the one gate, used by the API, the
settings page and configuration import, so every bad value gets the same message.
"""
from typing import Any

POLICIES = {
    "none": "No review: submissions count as soon as they are in.",
    "all": "Every submission is reviewed.",
    "random": "A random fraction of submissions is reviewed.",
    "low_agreement": "Items whose annotators agree less than the threshold are reviewed.",
    "disagreements": "Items whose label the model contradicts with high confidence are reviewed.",
    "low_quality": "Submissions from annotators under their quality thresholds are reviewed.",
}

DEFAULT_REVIEW: dict[str, Any] = {
    "policy": "none",
    "fraction": 0.2,
    "agreement_threshold": 0.7,
    "quorum": 1,
    "consensus_iou": 0.5,
    "gold_fraction": 0.0,
    "qualification": {"required": False, "count": 5, "min_accuracy": 0.8},
    "min_accuracy": 0.9,
    "min_kappa": 0.8,
    "disagreement_confidence": 0.9,
}


def default_review() -> dict:
    """A fresh copy for a model field's default (a shared dict would be mutated)."""
    return {**DEFAULT_REVIEW, "qualification": dict(DEFAULT_REVIEW["qualification"])}


class ReviewConfigError(ValueError):
    """A review setting that cannot be used; the message names the field and what to send."""


def validate_review(data: Any) -> dict:
    """Merge `data` over the defaults and check every value; raise ReviewConfigError."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ReviewConfigError("review must be an object such as {\"policy\": \"random\", \"fraction\": 0.2}.")
    unknown = sorted(set(data) - set(DEFAULT_REVIEW))
    if unknown:
        raise ReviewConfigError(f"review has unknown settings {', '.join(unknown)}; use {', '.join(DEFAULT_REVIEW)}.")
    clean = default_review()
    clean.update({key: value for key, value in data.items() if key != "qualification"})
    if clean["policy"] not in POLICIES:
        raise ReviewConfigError(f"review.policy {clean['policy']!r} is unknown; use one of {', '.join(POLICIES)}.")
    for key in ("fraction", "agreement_threshold", "gold_fraction", "min_accuracy", "disagreement_confidence"):
        clean[key] = _share(clean[key], f"review.{key}")
    clean["consensus_iou"] = _share(clean["consensus_iou"], "review.consensus_iou", low_open=True)
    clean["min_kappa"] = _number(clean["min_kappa"], "review.min_kappa", -1.0, 1.0)
    clean["quorum"] = _count(clean["quorum"], "review.quorum", 1, 20)
    if clean["gold_fraction"] > 0.5:
        raise ReviewConfigError("review.gold_fraction must be at most 0.5, or annotators would mostly label known items.")
    clean["qualification"] = _qualification(data.get("qualification", {}))
    return clean


def _qualification(data: Any) -> dict:
    if not isinstance(data, dict):
        raise ReviewConfigError("review.qualification must be an object such as {\"required\": true, \"count\": 5}.")
    unknown = sorted(set(data) - set(DEFAULT_REVIEW["qualification"]))
    if unknown:
        raise ReviewConfigError(f"review.qualification has unknown settings {', '.join(unknown)}.")
    clean = {**DEFAULT_REVIEW["qualification"], **data}
    if not isinstance(clean["required"], bool):
        raise ReviewConfigError("review.qualification.required must be true or false.")
    clean["count"] = _count(clean["count"], "review.qualification.count", 1, 200)
    clean["min_accuracy"] = _share(clean["min_accuracy"], "review.qualification.min_accuracy")
    return clean


def _number(value: Any, name: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise ReviewConfigError(f"{name} must be a number between {low:g} and {high:g}, got {value!r}.")
    if not low <= value <= high:
        raise ReviewConfigError(f"{name} must be between {low:g} and {high:g}, got {value!r}.")
    return float(value)


def _share(value: Any, name: str, *, low_open: bool = False) -> float:
    share = _number(value, name, 0.0, 1.0)
    if low_open and share == 0:
        raise ReviewConfigError(f"{name} must be above 0 (an overlap of 0 would match anything).")
    return share


def _count(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ReviewConfigError(f"{name} must be a whole number between {low} and {high}, got {value!r}.")
    return value
