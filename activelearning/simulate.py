"""The simulator: the real round (`engine.run_round`) in a loop, with an oracle that
answers from known labels. What the worker does on a project, this does on a dataset,
so a strategy's curve here is the curve annotators would see."""
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from sklearn.model_selection import train_test_split

from . import engine
from .config import strategy_params, target_ratios_by_id, validate_sampling
from .datasets import Dataset
from .learners import LEARNERS, build_features, learner_choices
from .strategies.mix import strategy_spec

ProgressFn = Callable[[str, int, int], None]


@dataclass
class SimulationConfig:
    strategies: list[str]
    learner: str = "tfidf_logreg"
    initial: int = 20
    batch: int = 10
    budget: int = 300
    seeds: int = 5
    test_fraction: float = 0.3
    sampling: dict = field(default_factory=dict)


def default_learner(kind: str) -> str:
    return "tfidf_logreg" if kind == "text" else "image_cnn"


class Features:
    """The dataset as the learner sees it, computed once for every seed and strategy."""

    def __init__(self, dataset: Dataset, learner: str):
        kind = LEARNERS[learner].features
        self.dense_cache = None
        if kind == "tfidf":
            self.matrix = build_features("simulation", np.arange(len(dataset.inputs)), list(dataset.inputs)).matrix
        elif kind == "sentence_embedding":
            from .learners import embed_texts

            self.matrix = embed_texts(list(dataset.inputs))
            self.dense_cache = self.matrix
        else:
            self.matrix = np.asarray(dataset.inputs, dtype=np.float32)

    def dense(self) -> np.ndarray:
        if self.dense_cache is None:
            if hasattr(self.matrix, "tocsr"):
                from sklearn.decomposition import TruncatedSVD

                components = max(1, min(64, self.matrix.shape[1] - 1, self.matrix.shape[0] - 1))
                self.dense_cache = TruncatedSVD(components, random_state=0).fit_transform(self.matrix)
            else:
                self.dense_cache = self.matrix.reshape(len(self.matrix), -1)
        return self.dense_cache


def simulate(dataset: Dataset, config: SimulationConfig, progress: ProgressFn | None = None) -> dict:
    """Learning curves per strategy: mean and std over seeds of accuracy and macro-F1
    on a held-out test split, at each number of labels, and the time per round."""
    if config.learner not in LEARNERS:
        raise ValueError(f"unknown learner {config.learner!r}; choose from {', '.join(LEARNERS)}")
    if LEARNERS[config.learner].kind != dataset.kind:
        choices = ", ".join(key for key, _ in learner_choices(dataset.kind))
        raise ValueError(f"the learner {config.learner!r} does not fit {dataset.kind} data; choose from {choices}")
    names = sorted(set(dataset.labels.tolist()))
    y = np.searchsorted(names, dataset.labels)
    features = Features(dataset, config.learner)
    class_names = dict(enumerate(names))
    specs = {name: strategy_spec(name) for name in config.strategies}
    steps_total = len(specs) * config.seeds
    curves: dict[str, dict] = {}
    full = []
    for seed in range(config.seeds):
        split = _split(y, config.test_fraction, seed)
        full.append(_full_accuracy(features, y, split, config.learner, seed))
    for position, (name, (key, extra)) in enumerate(specs.items()):
        if key == "class_balanced" and not config.sampling.get("target_ratios"):
            # No ratios given (the command has no option for them): an even split.
            extra = {**extra, "target_ratios": dict.fromkeys(names, 1.0 / len(names))}
        sampling = validate_sampling({**config.sampling, **extra}, key, names)
        runs = []
        for seed in range(config.seeds):
            runs.append(_one_run(features, y, _split(y, config.test_fraction, seed), key, sampling, config, seed, class_names))
            if progress:
                progress("simulating", position * config.seeds + seed + 1, steps_total)
        curves[name] = _summarise(runs)
    full_accuracy = float(np.mean(full))
    return {
        "config": {
            "strategies": config.strategies, "learner": config.learner, "initial": config.initial,
            "batch": config.batch, "budget": config.budget, "seeds": config.seeds,
            "test_fraction": config.test_fraction, "items": int(len(y)), "classes": names,
        },
        "full_accuracy": full_accuracy,
        "strategies": curves,
        "labels_to_95pct": {name: labels_to_reach(curve, 0.95 * full_accuracy) for name, curve in curves.items()},
    }


def _split(y: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    indices = np.arange(len(y))
    counts = np.bincount(y)
    stratify = y if counts[counts > 0].min() >= 2 else None
    pool, test = train_test_split(indices, test_size=test_fraction, random_state=seed, stratify=stratify)
    return np.sort(pool), np.sort(test)


def _full_accuracy(features: Features, y, split, learner: str, seed: int) -> float:
    pool, test = split
    model = LEARNERS[learner].factory(seed).fit(features.matrix[pool], y[pool])
    return float((model.predict(features.matrix[test]) == y[test]).mean())


def _one_run(features: Features, y, split, key: str, sampling: dict, config: SimulationConfig, seed: int,
             class_names: dict) -> dict:
    pool, test = split
    rng = np.random.default_rng(seed)
    labeled = list(rng.choice(pool, size=min(config.initial, len(pool)), replace=False))
    unlabeled = np.setdiff1d(pool, labeled)
    target = min(config.initial + config.budget, len(pool))
    labels, accuracy, macro_f1, seconds = [], [], [], []
    dense = features.dense if key != "random" else None
    while True:
        train = np.asarray(labeled)
        settings = engine.Settings(
            strategy=key, batch_size=min(config.batch, target - len(labeled)) if len(labeled) < target else 0,
            learner=config.learner, sampling=sampling, params=strategy_params(key, sampling, {}), seed=seed * 7919 + len(train),
        )

        def embeddings(train=train, unlabeled=unlabeled):
            vectors = dense()
            return vectors[unlabeled], vectors[train]

        problem = engine.Problem(
            train_X=features.matrix[train], train_y=y[train], pool_X=features.matrix[unlabeled],
            eval_X=features.matrix[test], eval_y=y[test], embeddings=embeddings if dense else None,
            target_ratios=target_ratios_by_id(sampling, {name: index for index, name in class_names.items()}),
        )
        started = time.perf_counter()
        outcome = engine.run_round(problem, settings, class_names=class_names)
        seconds.append(time.perf_counter() - started)
        labels.append(len(train))
        if outcome.metrics:
            accuracy.append(outcome.metrics["accuracy"])
            macro_f1.append(outcome.metrics["macro_f1"])
        else:  # one class seen so far: the model can only predict it
            only = y[train][0]
            accuracy.append(float((y[test] == only).mean()))
            macro_f1.append(0.0)
        if len(labeled) >= target or not len(unlabeled):
            break
        chosen = unlabeled[outcome.selection.indices]
        labeled.extend(chosen.tolist())  # the oracle answers y[chosen]
        unlabeled = np.setdiff1d(unlabeled, chosen)
    return {"labels": labels, "accuracy": accuracy, "macro_f1": macro_f1, "seconds": seconds}


def _summarise(runs: list[dict]) -> dict:
    length = min(len(run["labels"]) for run in runs)
    accuracy = np.array([run["accuracy"][:length] for run in runs])
    macro_f1 = np.array([run["macro_f1"][:length] for run in runs])
    labels = runs[0]["labels"][:length]
    mean = accuracy.mean(axis=0)
    return {
        "labels": labels,
        "accuracy_mean": mean.round(5).tolist(),
        "accuracy_std": accuracy.std(axis=0).round(5).tolist(),
        "macro_f1_mean": macro_f1.mean(axis=0).round(5).tolist(),
        "macro_f1_std": macro_f1.std(axis=0).round(5).tolist(),
        "seconds_per_round": round(float(np.mean([np.mean(run["seconds"]) for run in runs])), 5),
        "area_under_curve": round(area_under_curve(labels, mean), 5),
    }


def labels_to_reach(curve: dict, level: float) -> int | None:
    """The first number of labels at which the mean accuracy reaches `level`."""
    for labels, accuracy in zip(curve["labels"], curve["accuracy_mean"]):
        if accuracy >= level:
            return int(labels)
    return None


def area_under_curve(labels: list[int], accuracy) -> float:
    """Mean accuracy over the labeling budget (trapezoids, normalised to [0, 1])."""
    if len(labels) < 2:
        return float(accuracy[0]) if len(labels) else 0.0
    x = np.asarray(labels, dtype=float)
    return float(np.trapezoid(accuracy, x) / (x[-1] - x[0]))


def plot_curves(result: dict, path: str, metric: str = "accuracy") -> None:
    """Learning curves of `metric` ("accuracy", "macro_f1", "map50", "map50_95") with
    ±1 std bands, and the 95%-of-full-data line when the result has one."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(8, 5), dpi=110)
    for name, curve in result["strategies"].items():
        x = np.asarray(curve["labels"])
        mean, std = np.asarray(curve[f"{metric}_mean"]), np.asarray(curve[f"{metric}_std"])
        (line,) = axis.plot(x, mean, label=name, linewidth=1.6, marker="o" if len(x) < 30 else None, markersize=3)
        axis.fill_between(x, mean - std, mean + std, color=line.get_color(), alpha=0.15)
    full = result.get("full_accuracy") if metric == "accuracy" else result.get(f"full_{metric}")
    if full is not None:
        level = 0.95 * full
        axis.axhline(level, color="grey", linestyle="--", linewidth=1, label=f"95% of full data ({level:.3f})")
    config = result["config"]
    names = {"accuracy": "accuracy", "macro_f1": "macro-F1", "map50": "box mAP50", "map50_95": "box mAP50-95"}
    axis.set_xlabel("labels" if "detector" not in config else "labeled images")
    axis.set_ylabel(f"{names.get(metric, metric)} on the test split")
    learner = config.get("learner") or config.get("detector")
    axis.set_title(f"{learner}, {config['items']} items, {config['seeds']} seeds")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


# ---------------------------------------------------------------------------------------
# Detection: the worker's detection round (vision_engine.run_round) in a loop


def simulate_detection(data_yaml, strategies: list[str], initial: int = 20, batch: int = 20, budget: int = 100,
                       seeds: int = 2, training: dict | None = None, test_fraction: float = 0.3,
                       detector: str | None = None, work_dir=None, progress: ProgressFn | None = None,
                       task: str = "detect", first_seed: int = 0) -> dict:
    """Learning curves of a detector per strategy on a YOLO dataset (its data.yaml or
    folder; train and val images are pooled). Per seed, `test_fraction` of the images
    is held out; `initial` random images are labeled; every round trains the detector on
    the labeled images (the project's round: `training` as a project's training settings),
    measures box mAP50 and mAP50-95 on the held-out images, and the oracle labels the
    `batch` images the strategy chose (their YOLO labels), until `budget` more are labeled.
    Returns mean and std over seeds per round, the strategy that actually chose each
    batch (core-set below min_labeled or the quality bar), and seconds per round. Seeds
    are first_seed .. first_seed + seeds - 1 (to add seeds to an earlier run)."""
    import shutil
    import tempfile
    from pathlib import Path

    from annotations.formats.yolo import read_yolo

    from . import vision_engine
    from .config import validate_training
    from .learners import DETECTORS
    from .strategies import STRATEGIES

    for name in strategies:
        if name not in STRATEGIES:
            raise ValueError(f"unknown strategy {name!r}")
    detector = detector or next(key for key, spec in DETECTORS.items() if spec.task == task)
    settings = validate_training(training or {})
    dataset = read_yolo(data_yaml, task=DETECTORS[detector].task)
    records = dataset.images
    if len(records) < 4:
        raise ValueError(f"{data_yaml}: {len(records)} images; the simulation needs at least 4")
    owned = work_dir is None
    root = Path(work_dir) if work_dir is not None else Path(tempfile.mkdtemp(prefix="al-detect-"))
    curves: dict[str, dict] = {}
    steps_total = len(strategies) * seeds
    try:
        for position, name in enumerate(strategies):
            runs = []
            for seed in range(first_seed, first_seed + seeds):
                runs.append(_detection_run(records, dataset.classes, name, initial, batch, budget, settings,
                                           test_fraction, seed, detector, root / f"{name}-{seed}", vision_engine,
                                           DETECTORS[detector].task))
                if progress:
                    progress("simulating", position * seeds + seed - first_seed + 1, steps_total)
            curves[name] = _summarise_detection(runs)
    finally:
        if owned:
            shutil.rmtree(root, ignore_errors=True)
    return {
        "config": {
            "strategies": list(strategies), "detector": detector, "task": DETECTORS[detector].task,
            "initial": initial, "batch": batch, "budget": budget, "seeds": seeds, "first_seed": first_seed,
            "test_fraction": test_fraction,
            "items": len(records), "classes": list(dataset.classes), "training": settings, "data": str(data_yaml),
        },
        "strategies": curves,
    }


def _detection_run(records, classes, strategy: str, initial: int, batch: int, budget: int, training: dict,
                   test_fraction: float, seed: int, detector: str, work, vision_engine, task: str) -> dict:
    indices = np.arange(len(records))
    pool, test = train_test_split(indices, test_size=test_fraction, random_state=seed)
    pool, test = np.sort(pool), np.sort(test)
    rng = np.random.default_rng(seed)
    labeled = list(rng.choice(pool, size=min(initial, len(pool)), replace=False))
    unlabeled = np.setdiff1d(pool, labeled)
    target = min(initial + budget, len(pool))
    evaluation = [records[i] for i in test]
    out: dict[str, list] = {"labels": [], "map50": [], "map50_95": [], "seconds": [], "strategy_used": []}
    number = 0
    while True:
        number += 1
        size = min(batch, target - len(labeled)) if len(labeled) < target else 0
        started = time.perf_counter()
        outcome = vision_engine.run_round(
            [records[i] for i in labeled], [records[i] for i in unlabeled], evaluation, classes,
            task, strategy, size, training, work,
            np.random.default_rng(seed * 7919 + len(labeled)), detector=detector, run_name=f"round-{number}",
        )
        out["seconds"].append(time.perf_counter() - started)
        out["labels"].append(len(labeled))
        out["map50"].append(float(outcome.metrics.get("mAP50", 0.0)))  # no model yet: nothing found
        out["map50_95"].append(float(outcome.metrics.get("mAP50-95", 0.0)))
        out["strategy_used"].append(outcome.strategy)
        if len(labeled) >= target or not len(unlabeled):
            break
        chosen = unlabeled[outcome.selection.indices]
        labeled.extend(chosen.tolist())  # the oracle answers with the YOLO labels of `chosen`
        unlabeled = np.setdiff1d(unlabeled, chosen)
    return out


def _summarise_detection(runs: list[dict]) -> dict:
    length = min(len(run["labels"]) for run in runs)
    map50 = np.array([run["map50"][:length] for run in runs])
    map50_95 = np.array([run["map50_95"][:length] for run in runs])
    labels = runs[0]["labels"][:length]
    mean = map50.mean(axis=0)
    return {
        "labels": labels,
        "map50_mean": mean.round(5).tolist(),
        "map50_std": map50.std(axis=0).round(5).tolist(),
        "map50_95_mean": map50_95.mean(axis=0).round(5).tolist(),
        "map50_95_std": map50_95.std(axis=0).round(5).tolist(),
        "strategy_used": [run["strategy_used"][:length] for run in runs],
        "seconds_per_round": round(float(np.mean([np.mean(run["seconds"]) for run in runs])), 5),
        "area_under_curve": round(area_under_curve(labels, mean), 5),
    }
