"""A project's round: its rows as arrays for the engine, and the outcome written back
(model version, round with metrics, stopping and drift, the ranked queue) in one
transaction, with `batch.ready` published after the commit."""
import time
from pathlib import Path

import joblib
import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Max

from annotations.events import publish_on_commit
from annotations.models import Item, LabelClass, Project

from . import engine
from .config import ConfigError, strategy_params, target_ratios_by_id, validate_sampling
from .disagreements import find_disagreements
from .drift import drift_report, uncertainty_histogram
from .features import ProjectMatrix
from .models import ModelVersion, QueueEntry, Round
from .stopping import evaluate_stopping
from .strategies import STRATEGIES

STOP_SET_SIZE = 1000


def _pairs(queryset) -> np.ndarray:
    return np.array(list(queryset.values_list("pk", "final_class_id")), dtype=np.int64).reshape(-1, 2)


def _sampling(project: Project, class_keys: list[str]) -> tuple[str, dict]:
    """The project's strategy and clean settings; a setting made invalid since it was
    saved (a class removed) falls back to the defaults rather than failing the round."""
    strategy = project.strategy if project.strategy in STRATEGIES else "random"
    try:
        return strategy, validate_sampling(project.sampling, strategy, class_keys)
    except ConfigError:
        return ("random" if strategy in ("mix", "class_balanced") else strategy), validate_sampling({})


def _previous_stop_predictions(project: Project, stop_ids: np.ndarray) -> np.ndarray | None:
    last = Round.objects.filter(project=project).exclude(details__stop=None).order_by("-number").first()
    if last is None:
        return None
    stored = last.details.get("stop") or {}
    if stored.get("ids") != stop_ids.tolist()[:5] + [len(stop_ids)]:
        return None
    return np.asarray(stored.get("predictions"))


def fit_score_select(project: Project, progress) -> Round:
    if project.has_regions:
        from .vision_rounds import detection_round

        return detection_round(project, progress)
    started = time.perf_counter()
    progress.report("fitting", force=True)
    learner = project.learner
    matrix = ProjectMatrix(project, learner)
    features_s = time.perf_counter() - started

    labeled = Item.objects.filter(project=project, status=Item.Status.LABELED, final_class__isnull=False)
    train = _pairs(labeled.filter(split=Item.Split.POOL))
    evaluation = _pairs(labeled.filter(split=Item.Split.EVAL))
    candidates = np.fromiter(
        Item.objects.filter(
            project=project, split=Item.Split.POOL, status=Item.Status.UNLABELED, assigned_count__lt=project.overlap,
            is_gold=False,
        ).order_by("pk").values_list("pk", flat=True).iterator(chunk_size=20000),
        dtype=np.int64,
    )
    stop_ids = np.fromiter(
        Item.objects.filter(project=project, split=Item.Split.POOL).order_by("pk")
        .values_list("pk", flat=True)[:STOP_SET_SIZE],
        dtype=np.int64,
    )
    classes = dict(LabelClass.objects.filter(ontology_id=project.ontology_id).values_list("pk", "key"))
    ids_by_key = {key: pk for pk, key in classes.items()}
    strategy, sampling = _sampling(project, list(ids_by_key))

    candidate_rows = matrix.rows_for(candidates)
    train_rows = matrix.rows_for(train[:, 0])

    def embeddings():
        dense = matrix.dense()
        return dense[candidate_rows], dense[train_rows]

    def labeled_sq_distances():
        return matrix.nearest_labeled_sq(train[:, 0])[candidate_rows]

    problem = engine.Problem(
        train_X=matrix.matrix[train_rows], train_y=train[:, 1], pool_X=matrix.matrix[candidate_rows],
        eval_X=matrix.matrix[matrix.rows_for(evaluation[:, 0])] if len(evaluation) else None,
        eval_y=evaluation[:, 1] if len(evaluation) else None,
        stop_X=matrix.matrix[matrix.rows_for(stop_ids)] if len(stop_ids) else None,
        embeddings=embeddings, labeled_sq_distances=labeled_sq_distances,
        target_ratios=target_ratios_by_id(sampling, ids_by_key),
    )
    run_settings = engine.Settings(
        strategy=strategy, batch_size=project.batch_size, learner=learner, sampling=sampling,
        params=strategy_params(strategy, sampling, ids_by_key), seed=int(len(train)) * 7919 + project.pk,
    )

    def report(phase: str, done: int, total: int) -> None:
        progress.report(phase, done, total, force=phase != "scoring")

    outcome = engine.run_round(problem, run_settings, class_names=classes, progress=report)
    timings = {"features_s": round(features_s, 4), **outcome.timings}
    kappa = engine.stability_kappa(_previous_stop_predictions(project, stop_ids), outcome.stop_predictions)
    drift = _drift(project, outcome, candidates, problem)
    round_ = _write(project, outcome, candidates, train, learner, strategy, sampling, timings, kappa, drift, stop_ids)
    started = time.perf_counter()
    found = find_disagreements(project, round_, outcome.model, problem.train_X, train, learner)
    Round.objects.filter(pk=round_.pk).update(
        timings={**timings, "disagreements_s": round(time.perf_counter() - started, 4)},
        details={**round_.details, "disagreements": found},
    )
    round_.refresh_from_db()
    return round_


def _drift(project: Project, outcome: engine.Outcome, candidates: np.ndarray, problem: engine.Problem) -> dict:
    """Least-confidence uncertainty of items that arrived since the last round, against
    the labeled training items', both under the new model."""
    if outcome.model is None or outcome.proba is None:
        return {}
    last = Round.objects.filter(project=project).order_by("-number").first()
    if last is None:
        return {}
    arrived = set(
        Item.objects.filter(project=project, split=Item.Split.POOL, created_at__gt=last.created_at)
        .values_list("pk", flat=True)
    )
    new_rows = np.flatnonzero(np.isin(candidates, list(arrived))) if arrived else np.empty(0, dtype=int)
    new_uncertainty = 1.0 - outcome.proba[new_rows].max(axis=1) if len(new_rows) else np.empty(0)
    reference = 1.0 - outcome.model.predict_proba(problem.train_X).max(axis=1)
    threshold = (project.stopping or {}).get("drift", {}).get("threshold", 0.15)
    return drift_report(new_uncertainty, reference, threshold=threshold)


def _history(project: Project) -> tuple[list[dict], object]:
    first = Round.objects.filter(project=project).order_by("number").values_list("created_at", flat=True).first()
    records = []
    for round_ in Round.objects.filter(project=project).order_by("number"):
        records.append({
            "labels_used": round_.labels_used, "metrics": round_.metrics, "train_accuracy": round_.train_accuracy,
            "stability_kappa": round_.stability_kappa,
            "elapsed_seconds": (round_.created_at - first).total_seconds() if first else 0.0,
        })
    return records, first


def _write(project, outcome, candidates, train, learner, strategy, sampling, timings, kappa, drift, stop_ids) -> Round:
    from django.utils import timezone

    started = time.perf_counter()
    selection = outcome.selection
    with transaction.atomic():
        number = (Round.objects.filter(project=project).aggregate(n=Max("number"))["n"] or 0) + 1
        history, first = _history(project)
        history.append({
            "labels_used": len(train), "metrics": outcome.metrics, "train_accuracy": outcome.train_accuracy,
            "stability_kappa": kappa,
            "elapsed_seconds": (timezone.now() - first).total_seconds() if first else 0.0,
        })
        stopping = evaluate_stopping(history, project.stopping or {})
        version = None
        if outcome.model is not None:
            version = ModelVersion.objects.create(
                project=project, version=number, learner=learner, artifact=_save_model(project, number, outcome.model),
                labels_used=len(train), metrics=outcome.metrics,
            )
        details = _plain(selection.details)
        if outcome.proba is not None and len(outcome.proba):
            details["uncertainty"] = uncertainty_histogram(1.0 - outcome.proba.max(axis=1))
        if outcome.stop_predictions is not None:
            details["stop"] = {
                "ids": stop_ids.tolist()[:5] + [len(stop_ids)], "predictions": outcome.stop_predictions.tolist(),
            }
        round_ = Round.objects.create(
            project=project, number=number, model_version=version, strategy=project.strategy,
            strategy_used=outcome.strategy_used, batch_size=project.batch_size, selected=len(selection.indices),
            pool_size=len(candidates), labels_used=len(train), metrics=outcome.metrics, timings={},
            note=outcome.note, learner=learner, config={"strategy": strategy, "learner": learner, **sampling},
            details=details, train_accuracy=outcome.train_accuracy, stability_kappa=kappa,
            stopping=stopping, drift=drift,
        )
        QueueEntry.objects.filter(project=project).delete()
        predicted = outcome.predicted
        confidence = outcome.confidence
        QueueEntry.objects.bulk_create(
            [
                QueueEntry(
                    project=project, item_id=int(candidates[index]), round=round_, rank=rank, score=float(score),
                    predicted_class_id=int(predicted[rank]) if predicted is not None else None,
                    confidence=float(confidence[rank]) if confidence is not None else None,
                )
                for rank, (index, score) in enumerate(zip(selection.indices, selection.scores))
            ],
            batch_size=1000,
        )
        timings["write_s"] = round(time.perf_counter() - started, 4)
        Round.objects.filter(pk=round_.pk).update(timings=timings)
        publish_on_commit(
            project.pk, "batch.ready", round=number, model_version=number if version is not None else None,
            size=len(selection.indices), strategy=outcome.strategy_used, metrics=outcome.metrics,
            stopping={"recommend_stop": stopping.get("recommend_stop", False), "fired": stopping.get("fired", [])},
            drift_alert=bool(drift.get("alert")),
        )
    return round_


def _plain(value):
    """What a strategy reports, made JSON-safe (numpy scalars and arrays to Python)."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def _save_model(project: Project, number: int, model) -> str:
    path = Path(settings.MODEL_DIR) / f"project_{project.pk}" / f"model-{number}.joblib"
    path.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, path)
    return str(path)
