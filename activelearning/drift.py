"""Drift: do the items that arrived since the last round look unlike the labeled data?

The model's uncertainty (least confidence, 1 - top probability, in [0, 1]) is a cheap
proxy: items from a new distribution tend to be less certain than the data the model
was trained on. The report compares the mean uncertainty of the new items with that of
the labeled (reference) items and keeps both histograms for the dashboard. It is advice:
an alert suggests labeling some of the new items, it changes nothing by itself.
No Django here.
"""
import math
from typing import Any

import numpy as np

DEFAULT_THRESHOLD = 0.15
DEFAULT_MIN_NEW = 20


def validate_drift_threshold(value: Any, field: str = "stopping.drift.threshold") -> float:
    """The rise in mean uncertainty that raises an alert: a number in [0, 1], or
    ValueError naming `field`."""
    # bool is an int to Python, but `true` is no threshold.
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or not 0 <= value <= 1:
        raise ValueError(f"{field} must be a number between 0 and 1")
    return float(value)


def _clean(values: Any, name: str) -> np.ndarray:
    array = np.asarray(values if values is not None else [], dtype=float).ravel()
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinity")
    if np.any(array < -1e-9) or np.any(array > 1 + 1e-9):
        raise ValueError(f"{name} must lie in [0, 1] (least confidence)")
    return np.clip(array, 0.0, 1.0)


def _fractions(values: np.ndarray, edges: np.ndarray) -> list[float]:
    if len(values) == 0:
        return [0.0] * (len(edges) - 1)
    counts, _ = np.histogram(values, bins=edges)  # the last bin includes 1.0
    return [float(c) / len(values) for c in counts]


def drift_report(
    new_uncertainty: Any,
    reference_uncertainty: Any,
    threshold: float = DEFAULT_THRESHOLD,
    bins: int = 10,
    min_new: int = DEFAULT_MIN_NEW,
) -> dict:
    """Compare the uncertainty of new items with the labeled items'.

    Returns {"alert", "new_items", "reference_items", "new_mean", "reference_mean", "rise",
    "threshold", "min_new", "histogram": {"edges", "new", "reference"}, "message"}. Means
    and rise are None when their side is empty; histogram values are fractions of each
    side over `bins` equal bins of [0, 1]. The alert needs rise > threshold and at least
    `min_new` new items (a handful of odd items is no drift). Raises ValueError for values
    outside [0, 1], NaN, a bad threshold or bin count.
    """
    threshold = validate_drift_threshold(threshold, field="threshold")
    if isinstance(bins, bool) or not isinstance(bins, int) or not 1 <= bins <= 100:
        raise ValueError("bins must be a whole number between 1 and 100")
    if isinstance(min_new, bool) or not isinstance(min_new, int) or min_new < 1:
        raise ValueError("min_new must be a whole number of at least 1")
    new = _clean(new_uncertainty, "new_uncertainty")
    reference = _clean(reference_uncertainty, "reference_uncertainty")
    edges = np.linspace(0.0, 1.0, bins + 1)
    new_mean = float(new.mean()) if len(new) else None
    reference_mean = float(reference.mean()) if len(reference) else None
    rise = new_mean - reference_mean if new_mean is not None and reference_mean is not None else None

    alert = False
    if new_mean is None:
        message = "No new items since the last round: nothing to compare."
    elif reference_mean is None:
        message = "No labeled items to compare the new items with yet."
    elif len(new) < min_new:
        message = (f"Only {len(new)} new items since the last round (a drift alert needs at least {min_new}); "
                   f"mean uncertainty {new_mean:.2f} against {reference_mean:.2f} on the labeled items.")
    elif rise > threshold + 1e-9:  # floats: a rise of 0.15000000000000008 is 0.15
        alert = True
        message = (f"Possible drift: the {len(new)} new items are less certain than the labeled items "
                   f"(mean uncertainty {new_mean:.2f} against {reference_mean:.2f}, a rise of {rise:.2f} "
                   f"> {threshold:.2f}). Consider labeling some of them.")
    else:
        message = (f"No drift: mean uncertainty of the {len(new)} new items {new_mean:.2f} against "
                   f"{reference_mean:.2f} on the labeled items (rise {rise:.2f} ≤ {threshold:.2f}).")
    return {
        "alert": alert,
        "new_items": int(len(new)),
        "reference_items": int(len(reference)),
        "new_mean": new_mean,
        "reference_mean": reference_mean,
        "rise": rise,
        "threshold": threshold,
        "min_new": min_new,
        "histogram": {
            "edges": [float(e) for e in edges],
            "new": _fractions(new, edges),
            "reference": _fractions(reference, edges),
        },
        "message": message,
    }


HISTOGRAM_BINS = 20


def uncertainty_histogram(uncertainty: Any, bins: int = HISTOGRAM_BINS) -> dict:
    """The pool's uncertainty (0 = sure, 1 = no idea) in equal bins over [0, 1], for the
    dashboard's per-round distribution; counts, so rounds of different sizes compare."""
    values = _clean(uncertainty, "uncertainty")
    counts, edges = np.histogram(np.clip(values, 0.0, 1.0), bins=bins, range=(0.0, 1.0))
    return {"edges": edges.round(4).tolist(), "counts": counts.tolist(), "items": int(len(values)),
            "mean": float(values.mean()) if len(values) else None}
