"""One detection (or segmentation) round as a pure function: no Django models, no
database. The worker's round (vision_rounds.detection_round) and the simulator
(simulate.simulate_detection) both call `run_round`, so what the simulator measures is
what a project does.

A round writes the labeled images as a YOLO dataset, trains the detector, evaluates it on
the evaluation images, predicts on the pool and selects the next batch with a detection
strategy. Until `min_labeled` images are labeled, or while the model is below the
quality bar (mAP50), its uncertainty is close to noise: the batch is then chosen by the
diversity of the images (core-set on thumbnails) instead, and the note says so.
"""
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from annotations.formats.regions import Dataset, ImageRecord
from annotations.formats.yolo import write_yolo

from .learners import DETECTORS
from .strategies import STRATEGIES, PoolInputs, Selection, detections_from_predictions

PREDICT_BATCH = 32
THUMBNAIL_SIDE = 32  # as features.IMAGE_SIDE: the thumbnails core-set compares

EmbeddingsFn = Callable[[], tuple[np.ndarray, np.ndarray | None]]


@dataclass
class VisionOutcome:
    """What a round produced: the trained learner (None when too few images were
    labeled), its metrics on the evaluation images, the strategy that chose the batch
    (with a note when it is not the one asked for), the predictions per pool image (None
    without a learner) and the batch as pool indices."""

    learner: Any
    metrics: dict
    strategy: str
    note: str
    predictions: list[list[dict]] | None
    selection: Selection
    timings: dict[str, float] = field(default_factory=dict)


def _report(progress, phase: str, done: int | None = None, total: int | None = None, force: bool = False) -> None:
    if progress is None:
        return
    if done is None:
        progress.report(phase, force=force)
    else:
        progress.report(phase, done, total)


def write_dataset(records: Sequence[ImageRecord], classes: Sequence[str], folder: Path, task: str,
                  val_fraction: float) -> Path:
    """The records (each with `.path`) as a fresh YOLO folder; returns its data.yaml."""
    if folder.exists():
        shutil.rmtree(folder)
    return write_yolo(Dataset(list(classes), list(records)), folder, image_path=lambda record: Path(record.path),
                      task=task, val_fraction=val_fraction, seed=0)


def strategy_for(wanted: str, metrics: dict, predictions, training: dict) -> tuple[str, str]:
    """The strategy that chooses this batch, and a note when it is not `wanted`."""
    wanted = wanted if wanted in STRATEGIES else "random"
    family = STRATEGIES[wanted].family
    if family != "detection" and wanted not in ("class_balanced",):
        return wanted, ""
    if predictions is None:
        return "coreset", ""
    if metrics and metrics.get("mAP50", 0.0) < training["quality_bar"]:
        return "coreset", (f"mAP50 {metrics.get('mAP50', 0):.3f} is below the quality bar {training['quality_bar']}: "
                           "this batch is chosen by diversity until the model improves.")
    return wanted, ""


def thumbnails(paths: Sequence[str | Path]) -> np.ndarray:
    """(n, 32*32*3) float32 pixels in [0, 1] of the images, as the worker's core-set sees them."""
    from PIL import Image

    rows = []
    for path in paths:
        with Image.open(path) as image:
            small = image.convert("RGB").resize((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
            rows.append(np.asarray(small, dtype=np.float32).reshape(-1) / 255.0)
    return np.stack(rows) if rows else np.empty((0, THUMBNAIL_SIDE * THUMBNAIL_SIDE * 3), dtype=np.float32)


def run_round(train: Sequence[ImageRecord], pool: Sequence[ImageRecord], evaluation: Sequence[ImageRecord],
              classes: Sequence[str], task: str, strategy: str, batch_size: int, training: dict, work_dir: str | Path,
              rng: np.random.Generator, *, detector: str | None = None, run_name: str = "round",
              config_dir: str | Path | None = None, embeddings: EmbeddingsFn | None = None,
              target_ratios: dict | None = None, progress=None) -> VisionOutcome:
    """One round. `training` holds epochs, imgsz, batch, device, min_labeled,
    quality_bar and weights (a .pt path, or "" to train from the architecture yaml).
    `embeddings()` returns (pool vectors, labeled vectors) for core-set; by default the
    thumbnails of the pool and of the train records. `progress`, if given, has
    `report(phase, done, total)` / `report(phase, force=True)`."""
    work = Path(work_dir)
    spec = DETECTORS[detector] if detector else next(s for s in DETECTORS.values() if s.task == task)
    timings: dict[str, float] = {}
    learner, metrics, note, predictions = None, {}, "", None
    if len(train) >= training["min_labeled"]:
        _report(progress, "fitting", force=True)
        started = time.perf_counter()
        data_yaml = write_dataset(train, classes, work / "yolo_train", spec.task, 0.2)
        params = {"epochs": training["epochs"], "imgsz": training["imgsz"], "batch": training["batch"],
                  "device": training["device"], "random_state": 0, "run_dir": work / "yolo_runs",
                  "name": run_name, "config_dir": config_dir}
        if training.get("weights"):
            params["weights"] = str(training["weights"])
        learner = spec.build(**params).fit(data_yaml)
        timings["fit_s"] = time.perf_counter() - started
        if evaluation:
            started = time.perf_counter()
            # With no val share, data.yaml's val points at all the evaluation images.
            eval_yaml = write_dataset(evaluation, classes, work / "yolo_eval", spec.task, 0.0)
            metrics = learner.evaluate(eval_yaml, split="val")
            metrics["evaluated_on"] = len(evaluation)
            timings["evaluate_s"] = time.perf_counter() - started
        started = time.perf_counter()
        paths = [str(record.path) for record in pool]
        predictions = []
        if batch_size > 0:  # the last round of a simulation selects nothing: no need to score
            for start in range(0, len(paths), PREDICT_BATCH):
                predictions.extend(learner.predict(paths[start:start + PREDICT_BATCH], batch=PREDICT_BATCH))
                _report(progress, "scoring", min(start + PREDICT_BATCH, len(paths)), len(paths))
        else:
            predictions = [[] for _ in paths]
        timings["score_s"] = time.perf_counter() - started
    else:
        note = (f"{len(train)} of {training['min_labeled']} labeled images needed to train the detector: "
                "this batch is chosen by diversity.")

    _report(progress, "selecting", force=True)
    started = time.perf_counter()
    used, used_note = strategy_for(strategy, metrics, predictions, training)
    note = note or used_note
    if batch_size <= 0 or not pool:
        selection = Selection(np.empty(0, dtype=int), np.empty(0))
    else:
        inputs = _inputs(used, pool, train, predictions, embeddings, target_ratios)
        selection = STRATEGIES[used].select(inputs, batch_size, rng=rng)
    timings["select_s"] = time.perf_counter() - started
    return VisionOutcome(learner, metrics, used, note, predictions, selection, timings)


def _inputs(strategy: str, pool, train, predictions, embeddings: EmbeddingsFn | None,
            target_ratios: dict | None) -> PoolInputs:
    fields: dict = {"n": len(pool)}
    needs = STRATEGIES[strategy].needs
    if predictions is not None:
        fields["detections"] = detections_from_predictions(predictions)
    if needs & {"embeddings", "labeled_embeddings"}:
        if embeddings is None:
            pool_vectors = thumbnails([record.path for record in pool])
            labeled_vectors = thumbnails([record.path for record in train]) if train else None
        else:
            pool_vectors, labeled_vectors = embeddings()
        fields["embeddings"] = pool_vectors
        fields["labeled_embeddings"] = labeled_vectors
    if strategy == "class_balanced" and predictions is not None:
        fields["target_ratios"] = target_ratios or None
    return PoolInputs(**fields)


__all__ = ["PREDICT_BATCH", "VisionOutcome", "run_round", "strategy_for", "thumbnails", "write_dataset"]
