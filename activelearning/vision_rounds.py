"""A detection or segmentation project's round: write the labeled images as a YOLO
dataset, train the detector, evaluate it on the evaluation split, predict on the pool,
keep the predictions as suggestions, and queue the next batch by a detection strategy.

Until enough images are labeled, or while the model is below the project's quality bar
(mAP50), its uncertainty is close to noise, so the batch is chosen by the diversity of
the images (core-set on thumbnails) or at random instead, and the round says so.
"""
import shutil
import time
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Max

from annotations.events import publish_on_commit
from annotations.formats.regions import Dataset
from annotations.formats.yolo import write_yolo
from annotations.models import Item, LabelClass, Project
from annotations.vision_io import project_dataset

from .config import validate_training
from .features import image_pixels
from .learners import DETECTORS
from .models import ModelVersion, Prediction, QueueEntry, Round
from .strategies import STRATEGIES, PoolInputs, detections_from_predictions

PREDICT_BATCH = 32


def _write_dataset(dataset: Dataset, folder: Path, task: str, val_fraction: float) -> Path:
    if folder.exists():
        shutil.rmtree(folder)
    return write_yolo(dataset, folder, image_path=lambda record: Path(record.path), task=task,
                      val_fraction=val_fraction, seed=0)


def detection_round(project: Project, progress) -> Round:
    timings: dict[str, float] = {}
    spec = DETECTORS[project.learner]
    training = validate_training(project.training)
    work = Path(settings.MODEL_DIR) / f"project_{project.pk}"
    dataset = project_dataset(project)
    eval_ids = set(Item.objects.filter(project=project, split=Item.Split.EVAL).values_list("pk", flat=True))
    train_records = [r for r in dataset.images if int(r.file_name.split("_", 1)[0]) not in eval_ids]
    eval_records = [r for r in dataset.images if int(r.file_name.split("_", 1)[0]) in eval_ids]
    candidates = list(
        Item.objects.filter(project=project, split=Item.Split.POOL, status=Item.Status.UNLABELED,
                            assigned_count__lt=project.overlap).exclude(media="").order_by("pk")
        .values_list("pk", "media")
    )
    number = (Round.objects.filter(project=project).aggregate(n=Max("number"))["n"] or 0) + 1
    learner, metrics, note, predictions = None, {}, "", None
    if len(train_records) >= training["min_labeled"]:
        progress.report("fitting", force=True)
        started = time.perf_counter()
        data_yaml = _write_dataset(Dataset(dataset.classes, train_records), work / "yolo_train", spec.task, 0.2)
        params = {"epochs": training["epochs"], "imgsz": training["imgsz"], "batch": training["batch"],
                  "device": training["device"], "random_state": 0, "run_dir": work / "yolo_runs",
                  "name": f"round-{number}", "config_dir": Path(settings.MODEL_DIR) / "ultralytics"}
        if training["weights"]:
            params["weights"] = str(Path(settings.MEDIA_ROOT) / "weights" / training["weights"])
        learner = spec.build(**params).fit(data_yaml)
        timings["fit_s"] = time.perf_counter() - started
        if eval_records:
            started = time.perf_counter()
            # With no val share, data.yaml's val points at all the evaluation images.
            eval_yaml = _write_dataset(Dataset(dataset.classes, eval_records), work / "yolo_eval", spec.task, 0.0)
            metrics = learner.evaluate(eval_yaml, split="val")
            metrics["evaluated_on"] = len(eval_records)
            timings["evaluate_s"] = time.perf_counter() - started
        started = time.perf_counter()
        paths = [str(Path(settings.MEDIA_ROOT) / media) for _, media in candidates]
        predictions = []
        for start in range(0, len(paths), PREDICT_BATCH):
            predictions.extend(learner.predict(paths[start:start + PREDICT_BATCH], batch=PREDICT_BATCH))
            progress.report("scoring", min(start + PREDICT_BATCH, len(paths)), len(paths))
        timings["score_s"] = time.perf_counter() - started
    else:
        note = (f"{len(train_records)} of {training['min_labeled']} labeled images needed to train the detector: "
                "this batch is chosen by diversity.")

    progress.report("selecting", force=True)
    started = time.perf_counter()
    strategy, used_note = _strategy_for(project, metrics, predictions, training)
    note = note or used_note
    rng = np.random.default_rng(number * 7919 + project.pk)
    inputs = _inputs(project, strategy, candidates, predictions, dataset)
    selection = STRATEGIES[strategy].select(inputs, project.batch_size, rng=rng)
    timings["select_s"] = time.perf_counter() - started
    return _write(project, number, learner, metrics, strategy, note, candidates, predictions, selection, timings,
                  len(train_records), training)


def _strategy_for(project: Project, metrics: dict, predictions, training: dict) -> tuple[str, str]:
    wanted = project.strategy if project.strategy in STRATEGIES else "random"
    family = STRATEGIES[wanted].family
    if family != "detection" and wanted not in ("class_balanced",):
        return wanted, ""
    if predictions is None:
        return "coreset", ""
    if metrics and metrics.get("mAP50", 0.0) < training["quality_bar"]:
        return "coreset", (f"mAP50 {metrics.get('mAP50', 0):.3f} is below the quality bar {training['quality_bar']}: "
                           "this batch is chosen by diversity until the model improves.")
    return wanted, ""


def _inputs(project: Project, strategy: str, candidates, predictions, dataset: Dataset) -> PoolInputs:
    fields: dict = {"n": len(candidates)}
    needs = STRATEGIES[strategy].needs
    if predictions is not None:
        fields["detections"] = detections_from_predictions(predictions)
    if needs & {"embeddings", "labeled_embeddings"}:
        ids, pixels = image_pixels(project)
        flat = pixels.reshape(len(pixels), -1)
        rows = np.searchsorted(ids, [pk for pk, _ in candidates])
        labeled_ids = [int(r.file_name.split("_", 1)[0]) for r in dataset.images]
        fields["embeddings"] = flat[rows] if len(rows) else np.empty((0, flat.shape[1] if flat.size else 1))
        fields["labeled_embeddings"] = flat[np.searchsorted(ids, labeled_ids)] if labeled_ids else None
    if strategy == "class_balanced" and predictions is not None:
        ratios = (project.sampling or {}).get("target_ratios") or {}
        keys = list(LabelClass.objects.filter(ontology_id=project.ontology_id).values_list("key", flat=True))
        fields["target_ratios"] = {keys.index(k): v for k, v in ratios.items() if k in keys} or None
    return PoolInputs(**fields)


def _write(project, number, learner, metrics, strategy, note, candidates, predictions, selection, timings,
           labels_used, training) -> Round:
    started = time.perf_counter()
    classes = list(LabelClass.objects.filter(ontology_id=project.ontology_id).order_by("order", "pk"))
    with transaction.atomic():
        version = None
        if learner is not None:
            path = Path(settings.MODEL_DIR) / f"project_{project.pk}" / f"model-{number}.pt"
            learner.save(path)
            version = ModelVersion.objects.create(
                project=project, version=number, learner=project.learner, artifact=str(path),
                labels_used=labels_used, metrics=metrics,
            )
            Prediction.objects.filter(project=project).delete()
            Prediction.objects.bulk_create([
                Prediction(project=project, item_id=pk, model_version=number,
                           regions=[_suggestion(obj, classes) for obj in objects if obj["label"] < len(classes)])
                for (pk, _), objects in zip(candidates, predictions)
            ], batch_size=500)
        round_ = Round.objects.create(
            project=project, number=number, model_version=version, strategy=project.strategy, strategy_used=strategy,
            batch_size=project.batch_size, selected=len(selection.indices), pool_size=len(candidates),
            labels_used=labels_used, metrics=metrics, timings={}, note=note, learner=project.learner,
            config={"strategy": project.strategy, "learner": project.learner, "training": training},
        )
        QueueEntry.objects.filter(project=project).delete()
        QueueEntry.objects.bulk_create([
            QueueEntry(project=project, item_id=int(candidates[index][0]), round=round_, rank=rank, score=float(score))
            for rank, (index, score) in enumerate(zip(selection.indices, selection.scores))
        ], batch_size=1000)
        timings["write_s"] = time.perf_counter() - started
        Round.objects.filter(pk=round_.pk).update(timings={k: round(v, 4) for k, v in timings.items()})
        publish_on_commit(project.pk, "batch.ready", round=number, model_version=number if version else None,
                          size=len(selection.indices), strategy=strategy, metrics=metrics)
    return round_


def _suggestion(obj: dict, classes: list[LabelClass]) -> dict:
    geometry = {"box": [float(v) for v in obj["box"]]}
    kind = "box"
    if obj.get("polygons"):
        geometry["polygons"] = obj["polygons"]
        kind = "polygon"
    return {"label": classes[int(obj["label"])].key, "kind": kind, "geometry": geometry,
            "confidence": float(obj["confidence"])}
