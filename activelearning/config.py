"""A project's sampling configuration: what the admin sets, checked once here so the
worker, the simulator and the API read the same clean values.

`validate_sampling` returns a complete dict (defaults filled in) or raises
`ConfigError` with a message that names the field to fix.
"""
from collections.abc import Iterable, Mapping
from typing import Any

from . import drift, stopping
from .strategies import STRATEGIES, StrategyInputError, parse_mix


class ConfigError(ValueError):
    """A setting that cannot be used; the message says which and why."""


DENSITY_MEASURES = ("knn", "kde", "kmeans", "similarity")
DENSITY_COMBINES = ("multiplicative", "exponential", "additive")
COMMITTEE_MODES = ("bagging", "seeds")
STREAM_MODES = ("off", "threshold", "budget")

DEFAULT_SAMPLING: dict[str, Any] = {
    "mix": None,
    "density": None,
    "committee_size": 5,
    "committee_mode": "bagging",
    "target_ratios": {},
    "eer_candidates": 100,
    "exploration": 0.0,
    "stream": {"mode": "off", "threshold": 0.3, "rate": 0.1},
}


def _number(value: Any, field: str, low: float, high: float, integer: bool = False) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{field} must be a number, got {value!r}")
    if integer and int(value) != value:
        raise ConfigError(f"{field} must be a whole number, got {value!r}")
    if not low <= value <= high:
        raise ConfigError(f"{field} must be between {low:g} and {high:g}, got {value!r}")
    return int(value) if integer else float(value)


def _choice(value: Any, field: str, choices: Iterable[str]) -> str:
    choices = tuple(choices)
    if value not in choices:
        raise ConfigError(f"{field} must be one of {', '.join(choices)}; got {value!r}")
    return value


def _mix(value: Any) -> list[dict] | None:
    if value in (None, "", []):
        return None
    try:
        parts = parse_mix(value)
    except (StrategyInputError, ValueError, TypeError) as exc:
        raise ConfigError(f"sampling.mix: {exc}") from exc
    if any(part.strategy == "class_balanced" for part in parts):
        raise ConfigError("sampling.mix: class_balanced cannot be a part of a mix; use it as the strategy")
    return [{"strategy": part.strategy, "fraction": round(float(part.fraction), 6)} for part in parts]


def _density(value: Any) -> dict | None:
    if value in (None, "", {}):
        return None
    if not isinstance(value, Mapping):
        raise ConfigError("sampling.density must be an object like {\"measure\": \"knn\", \"combine\": \"multiplicative\", \"beta\": 1}")
    return {
        "measure": _choice(value.get("measure", "similarity"), "sampling.density.measure", DENSITY_MEASURES),
        "combine": _choice(value.get("combine", "multiplicative"), "sampling.density.combine", DENSITY_COMBINES),
        "beta": _number(value.get("beta", 1.0), "sampling.density.beta", 0.0, 10.0),
    }


def _ratios(value: Any, class_keys: Iterable[str] | None) -> dict[str, float]:
    if value in (None, "", {}):
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError("sampling.target_ratios must map class keys to fractions, e.g. {\"negative\": 0.8, \"positive\": 0.2}")
    known = set(class_keys) if class_keys is not None else None
    ratios = {}
    for key, ratio in value.items():
        if known is not None and key not in known:
            raise ConfigError(f"sampling.target_ratios names the class {key!r}, which the project does not have")
        ratios[str(key)] = _number(ratio, f"sampling.target_ratios.{key}", 0.0, 1.0)
    if ratios and sum(ratios.values()) <= 0:
        raise ConfigError("sampling.target_ratios must give at least one class a fraction above 0")
    return ratios


def _stream(value: Any) -> dict:
    value = value or {}
    if not isinstance(value, Mapping):
        raise ConfigError("sampling.stream must be an object like {\"mode\": \"threshold\", \"threshold\": 0.3}")
    default = DEFAULT_SAMPLING["stream"]
    return {
        "mode": _choice(value.get("mode", default["mode"]), "sampling.stream.mode", STREAM_MODES),
        "threshold": _number(value.get("threshold", default["threshold"]), "sampling.stream.threshold", 0.0, 1.0),
        "rate": _number(value.get("rate", default["rate"]), "sampling.stream.rate", 0.0, 1.0),
    }


def validate_sampling(data: Any, strategy: str | None = None, class_keys: Iterable[str] | None = None) -> dict:
    """Clean sampling settings; `strategy` "mix" requires a mix, `class_keys` bound target ratios."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError("sampling must be an object")
    unknown = set(data) - set(DEFAULT_SAMPLING)
    if unknown:
        raise ConfigError(f"sampling has unknown settings: {', '.join(sorted(unknown))}")
    clean = {
        "mix": _mix(data.get("mix")),
        "density": _density(data.get("density")),
        "committee_size": _number(data.get("committee_size", 5), "sampling.committee_size", 2, 20, integer=True),
        "committee_mode": _choice(data.get("committee_mode", "bagging"), "sampling.committee_mode", COMMITTEE_MODES),
        "target_ratios": _ratios(data.get("target_ratios"), class_keys),
        "eer_candidates": _number(data.get("eer_candidates", 100), "sampling.eer_candidates", 1, 5000, integer=True),
        "exploration": _number(data.get("exploration", 0.0), "sampling.exploration", 0.0, 1.0),
        "stream": _stream(data.get("stream")),
    }
    if strategy is not None and strategy not in STRATEGIES:
        raise ConfigError(f"strategy must be one of {', '.join(STRATEGIES)}; got {strategy!r}")
    if strategy == "mix" and not clean["mix"]:
        raise ConfigError("sampling.mix: the strategy 'mix' needs its parts, e.g. \"margin:0.7, coreset:0.2, random:0.1\"")
    if strategy == "class_balanced" and not clean["target_ratios"]:
        raise ConfigError("sampling.target_ratios: class-balanced sampling needs a target fraction per class")
    return clean


def strategy_params(strategy: str, sampling: Mapping[str, Any], class_ids_by_key: Mapping[str, int]) -> dict:
    """The keyword parameters the registered strategy is called with, from clean settings."""
    params: dict[str, Any] = {}
    accepted = STRATEGIES[strategy].params if strategy in STRATEGIES else {}
    if sampling.get("density") and "density" in accepted:
        params["density"] = dict(sampling["density"])
    if strategy == "mix":
        params["parts"] = [dict(part) for part in sampling["mix"]]
    if strategy in ("eer_log_loss", "eer_zero_one"):
        params["candidates"] = sampling.get("eer_candidates", 100)
    return params


def target_ratios_by_id(sampling: Mapping[str, Any], class_ids_by_key: Mapping[str, int]) -> dict[int, float] | None:
    ratios = sampling.get("target_ratios") or {}
    mapped = {class_ids_by_key[key]: ratio for key, ratio in ratios.items() if key in class_ids_by_key}
    return mapped or None


def default_sampling() -> dict:
    """A fresh copy for a model field's default (a shared dict would be mutated)."""
    return {**DEFAULT_SAMPLING, "target_ratios": {}, "stream": dict(DEFAULT_SAMPLING["stream"])}


DEFAULT_STOPPING: dict[str, Any] = {**stopping.DEFAULT_STOPPING, "drift": {"threshold": drift.DEFAULT_THRESHOLD}}


def default_stopping() -> dict:
    return {key: dict(value) for key, value in DEFAULT_STOPPING.items()}


# Which learners a project of each kind can use, and the one it starts with.
DEFAULT_LEARNER = {
    "text_classification": "tfidf_logreg",
    "image_classification": "image_cnn",
    "detection": "yolo_detect",
    "segmentation": "yolo_segment",
}


def _detector_keys(task: str) -> list[str]:
    from . import learners

    detectors = getattr(learners, "DETECTORS", {})
    return [key for key, spec in detectors.items() if getattr(spec, "task", None) == task]


def learners_for(project_kind: str) -> list[str]:
    from .learners import LEARNERS

    if project_kind == "text_classification":
        return [key for key, spec in LEARNERS.items() if spec.kind == "text"]
    if project_kind == "image_classification":
        return [key for key, spec in LEARNERS.items() if spec.kind == "image"]
    return _detector_keys("detect" if project_kind == "detection" else "segment")


def learner_fits(learner: str, project_kind: str) -> bool:
    return learner in learners_for(project_kind)


def default_learner_for(project_kind: str) -> str:
    return DEFAULT_LEARNER.get(project_kind, "tfidf_logreg")


def all_learner_choices() -> list[tuple[str, str]]:
    from . import learners

    choices = list(learners.learner_choices())
    for key, spec in getattr(learners, "DETECTORS", {}).items():
        choices.append((key, getattr(spec, "label", key)))
    return choices


def strategy_fits(strategy: str, project_kind: str) -> bool:
    """Detection strategies read detections, the others class probabilities or vectors."""
    if strategy not in STRATEGIES:
        return False
    detection = STRATEGIES[strategy].family == "detection"
    if project_kind in ("detection", "segmentation"):
        return detection or strategy in ("random", "coreset", "class_balanced")
    return not detection


DEVICES = ("cpu", "cuda")
MODEL_SIZES = ("n", "s", "m", "l", "x")
DEFAULT_TRAINING: dict[str, Any] = {
    "model_size": "n", "epochs": 30, "imgsz": 160, "batch": 8, "device": "cpu", "weights": "",
    "min_labeled": 8, "quality_bar": 0.05,
}


def default_training() -> dict:
    return dict(DEFAULT_TRAINING)


def validate_training(data: Any) -> dict:
    """Detector training settings: model size, epochs, image size, batch, device, the
    admin-uploaded weights file, and when the model's uncertainty starts to steer."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError("training must be an object")
    unknown = set(data) - set(DEFAULT_TRAINING)
    if unknown:
        raise ConfigError(f"training has unknown settings: {', '.join(sorted(unknown))}")
    merged = {**DEFAULT_TRAINING, **data}
    weights = merged["weights"]
    if not isinstance(weights, str) or (weights and not weights.endswith(".pt")):
        raise ConfigError("training.weights must be the name of an uploaded .pt file, or empty to train from the model yaml")
    return {
        "model_size": _choice(merged["model_size"], "training.model_size", MODEL_SIZES),
        "epochs": _number(merged["epochs"], "training.epochs", 1, 1000, integer=True),
        "imgsz": _number(merged["imgsz"], "training.imgsz", 32, 2048, integer=True),
        "batch": _number(merged["batch"], "training.batch", 1, 256, integer=True),
        "device": _choice(merged["device"], "training.device", DEVICES),
        "weights": weights,
        "min_labeled": _number(merged["min_labeled"], "training.min_labeled", 2, 100000, integer=True),
        "quality_bar": _number(merged["quality_bar"], "training.quality_bar", 0.0, 1.0),
    }
