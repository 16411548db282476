"""A detection or segmentation project's round: write the labeled images as a YOLO
dataset, train the detector, evaluate it on the evaluation split, predict on the pool,
keep the predictions as suggestions, and queue the next batch by a detection strategy.

Until enough images are labeled, or while the model is below the project's quality bar
(mAP50), its uncertainty is close to noise, so the batch is chosen by the diversity of
the images (core-set on thumbnails) or at random instead, and the round says so.

The round itself (train, evaluate, predict, select) is vision_engine.run_round, shared
with the simulator; this module reads the project from the database and writes back.
"""
import time
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Max

from annotations.events import publish_on_commit
from annotations.formats.regions import ImageRecord
from annotations.models import Item, LabelClass, Project
from annotations.vision_io import project_dataset

from . import vision_engine
from .config import validate_training
from .disagreements import find_region_disagreements
from .drift import uncertainty_histogram
from .features import image_pixels
from .learners import DETECTORS
from .models import ModelVersion, Prediction, QueueEntry, Round


def detection_round(project: Project, progress) -> Round:
    spec = DETECTORS[project.learner]
    training = validate_training(project.training)
    work = Path(settings.MODEL_DIR) / f"project_{project.pk}"
    dataset = project_dataset(project)
    eval_ids = set(Item.objects.filter(project=project, split=Item.Split.EVAL).values_list("pk", flat=True))
    train_records = [r for r in dataset.images if int(r.file_name.split("_", 1)[0]) not in eval_ids]
    eval_records = [r for r in dataset.images if int(r.file_name.split("_", 1)[0]) in eval_ids]
    candidates = list(
        Item.objects.filter(project=project, split=Item.Split.POOL, status=Item.Status.UNLABELED,
                            assigned_count__lt=project.overlap, is_gold=False).exclude(media="").order_by("pk")
        .values_list("pk", "media")
    )
    pool_records = [ImageRecord(file_name=str(media), width=0, height=0, path=str(Path(settings.MEDIA_ROOT) / media))
                    for _, media in candidates]
    number = (Round.objects.filter(project=project).aggregate(n=Max("number"))["n"] or 0) + 1
    run_training = dict(training)
    if training["weights"]:
        run_training["weights"] = str(Path(settings.MEDIA_ROOT) / "weights" / training["weights"])

    def embeddings():
        # Thumbnails kept per pool signature (features.image_pixels); the labeled side is
        # every labeled image of the project, evaluation ones included.
        ids, pixels = image_pixels(project)
        flat = pixels.reshape(len(pixels), -1)
        rows = np.searchsorted(ids, [pk for pk, _ in candidates])
        labeled_ids = [int(r.file_name.split("_", 1)[0]) for r in dataset.images]
        pool_vectors = flat[rows] if len(rows) else np.empty((0, flat.shape[1] if flat.size else 1))
        return pool_vectors, (flat[np.searchsorted(ids, labeled_ids)] if labeled_ids else None)

    target_ratios = None
    if project.strategy == "class_balanced":
        ratios = (project.sampling or {}).get("target_ratios") or {}
        keys = list(LabelClass.objects.filter(ontology_id=project.ontology_id).values_list("key", flat=True))
        target_ratios = {keys.index(k): v for k, v in ratios.items() if k in keys} or None
    outcome = vision_engine.run_round(
        train_records, pool_records, eval_records, dataset.classes, spec.task, project.strategy, project.batch_size,
        run_training, work, np.random.default_rng(number * 7919 + project.pk), detector=project.learner,
        run_name=f"round-{number}", config_dir=Path(settings.MODEL_DIR) / "ultralytics", embeddings=embeddings,
        target_ratios=target_ratios, progress=progress,
    )
    round_ = _write(project, number, outcome.learner, outcome.metrics, outcome.strategy, outcome.note, candidates,
                    outcome.predictions, outcome.selection, dict(outcome.timings), len(train_records), training)
    round_.refresh_from_db()
    started = time.perf_counter()
    found = find_region_disagreements(project, round_, outcome.learner, train_records, dataset.classes)
    Round.objects.filter(pk=round_.pk).update(
        timings={**round_.timings, "disagreements_s": round(time.perf_counter() - started, 4)},
        details={**round_.details, "disagreements": found},
    )
    round_.refresh_from_db()
    return round_


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
        details = {}
        if learner is not None and predictions:
            top = [max((obj["confidence"] for obj in objects), default=0.0) for objects in predictions]
            details["uncertainty"] = uncertainty_histogram(1.0 - np.asarray(top, dtype=float))
        round_ = Round.objects.create(
            project=project, number=number, model_version=version, strategy=project.strategy, strategy_used=strategy,
            details=details,
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
