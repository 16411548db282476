"""The worker's round: fit on the labels so far, score the pool, write the next batch.

A plain function on a job id, safe to run twice: it claims the job with a
conditional UPDATE, and writes the model, the round and the queue in one
transaction, so a failure leaves the last model and queue as they were.
"""
import logging
import time
import traceback
from pathlib import Path

import joblib
import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max, Min
from django.utils import timezone
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

from annotations.events import publish_now, publish_on_commit
from annotations.models import Item, LabelClass, Project

from .learners import FeatureCache, build_features, make_classifier, pool_signature
from .models import ModelVersion, QueueEntry, Round, TrainingJob
from .strategies import STRATEGIES

logger = logging.getLogger(__name__)

FEATURES = FeatureCache(Path(settings.MODEL_DIR))
SCORE_CHUNK = 20_000
PROGRESS_EVERY_S = 0.25


class Progress:
    """Phase and n-of-N, stored on the job and pushed to the project's pages (throttled)."""

    def __init__(self, job: TrainingJob):
        self.job = job
        self._last = 0.0

    def report(self, phase: str, done: int = 0, total: int = 0, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < PROGRESS_EVERY_S:
            return
        self._last = now
        TrainingJob.objects.filter(pk=self.job.pk).update(phase=phase, progress_done=done, progress_total=total)
        publish_now(self.job.project_id, "job.progress", job=self.job.pk, phase=phase, done=done, total=total)


def project_features(project: Project):
    """TF-IDF over the whole pool, refitted only when items were added or removed."""
    items = Item.objects.filter(project=project)
    stats = items.aggregate(count=Count("pk"), low=Min("pk"), high=Max("pk"))
    signature = pool_signature(stats["count"], stats["high"], stats["low"], origin=project.created_at.isoformat())
    features = FEATURES.get(project.pk, signature)
    if features is None:
        ids, texts = [], []
        for item_id, text in items.order_by("pk").values_list("pk", "text").iterator(chunk_size=5000):
            ids.append(item_id)
            texts.append(text)
        features = build_features(signature, np.asarray(ids, dtype=np.int64), texts)
        FEATURES.put(project.pk, features)
    return features


def evaluation_metrics(model, features, eval_rows: np.ndarray, eval_labels: np.ndarray, classes: dict[int, str]) -> dict:
    if len(eval_rows) == 0:
        return {}
    predicted = model.predict(features.matrix[eval_rows])
    labels = sorted(set(eval_labels) | set(model.classes_))
    precision, recall, _, support = precision_recall_fscore_support(
        eval_labels, predicted, labels=labels, zero_division=0
    )
    return {
        "accuracy": float(accuracy_score(eval_labels, predicted)),
        "macro_f1": float(f1_score(eval_labels, predicted, labels=labels, average="macro", zero_division=0)),
        "evaluated_on": int(len(eval_rows)),
        "per_class": {
            classes.get(int(label), str(label)): {
                "precision": float(p), "recall": float(r), "support": int(s)
            }
            for label, p, r, s in zip(labels, precision, recall, support)
        },
    }


def run_round(job_id: int) -> None:
    now = timezone.now()
    if not TrainingJob.objects.filter(pk=job_id, state=TrainingJob.State.QUEUED).update(
        state=TrainingJob.State.RUNNING, started_at=now, phase="starting"
    ):
        return  # already run, or taken by another worker
    job = TrainingJob.objects.select_related("project").get(pk=job_id)
    progress = Progress(job)
    try:
        round_ = _fit_score_select(job.project, progress)
    except Exception as exc:
        logger.exception("round for project %s failed (job %s)", job.project_id, job_id)
        TrainingJob.objects.filter(pk=job_id).update(
            state=TrainingJob.State.FAILED, error=f"{type(exc).__name__}: {exc}",
            traceback=traceback.format_exc(), finished_at=timezone.now(),
        )
        publish_now(job.project_id, "job.failed", job=job_id, error=f"{type(exc).__name__}: {exc}")
        _rerun_if_requested(job_id, job.project_id)
        return
    TrainingJob.objects.filter(pk=job_id).update(
        state=TrainingJob.State.SUCCEEDED, round=round_, phase="done", finished_at=timezone.now()
    )
    _rerun_if_requested(job_id, job.project_id)


def _rerun_if_requested(job_id: int, project_id: int) -> None:
    from .services import request_round

    if TrainingJob.objects.filter(pk=job_id, rerun_requested=True).exists():
        request_round(project_id, reason="coalesced")


def _fit_score_select(project: Project, progress: Progress) -> Round:
    timings: dict[str, float] = {}
    progress.report("fitting", force=True)
    started = time.perf_counter()
    features = project_features(project)
    timings["features_s"] = time.perf_counter() - started

    labeled = Item.objects.filter(project=project, status=Item.Status.LABELED, final_class__isnull=False)
    train = np.array(list(labeled.filter(split=Item.Split.POOL).values_list("pk", "final_class_id")), dtype=np.int64).reshape(-1, 2)
    evaluation = np.array(list(labeled.filter(split=Item.Split.EVAL).values_list("pk", "final_class_id")), dtype=np.int64).reshape(-1, 2)
    candidates = np.array(
        list(
            Item.objects.filter(
                project=project, split=Item.Split.POOL, status=Item.Status.UNLABELED, assigned_count__lt=project.overlap
            ).order_by("pk").values_list("pk", flat=True)
        ),
        dtype=np.int64,
    )
    classes = dict(LabelClass.objects.filter(ontology_id=project.ontology_id).values_list("pk", "key"))
    strategy = STRATEGIES.get(project.strategy, STRATEGIES["random"])
    rng = np.random.default_rng(int(train.shape[0]) * 7919 + project.pk)

    model = None
    note = ""
    started = time.perf_counter()
    if len(np.unique(train[:, 1])) >= 2:
        model = make_classifier(random_state=0).fit(features.matrix[features.rows_for(train[:, 0])], train[:, 1])
    else:
        note = "Fewer than two classes labeled yet: this batch is random."
    timings["fit_s"] = time.perf_counter() - started

    started = time.perf_counter()
    candidate_rows = features.rows_for(candidates)
    n_classes = len(model.classes_) if model is not None else 1
    proba = np.empty((len(candidates), n_classes))
    for start in range(0, len(candidates), SCORE_CHUNK):
        stop = start + SCORE_CHUNK
        if model is not None:
            proba[start:stop] = model.predict_proba(features.matrix[candidate_rows[start:stop]])
        else:
            proba[start:stop] = 1.0
        progress.report("scoring", min(stop, len(candidates)), len(candidates))
    timings["score_s"] = time.perf_counter() - started

    progress.report("selecting", force=True)
    started = time.perf_counter()
    used = strategy if (model is not None or not strategy.needs_model) else STRATEGIES["random"]
    chosen, scores = used.select(proba, project.batch_size, rng=rng)
    timings["select_s"] = time.perf_counter() - started

    metrics = {}
    if model is not None and len(evaluation):
        metrics = evaluation_metrics(model, features, features.rows_for(evaluation[:, 0]), evaluation[:, 1], classes)

    started = time.perf_counter()
    with transaction.atomic():
        number = (Round.objects.filter(project=project).aggregate(n=Max("number"))["n"] or 0) + 1
        version = None
        if model is not None:
            version = ModelVersion.objects.create(
                project=project, version=number, learner="tfidf_logreg", artifact=_save_model(project, number, model),
                labels_used=len(train), metrics=metrics,
            )
        round_ = Round.objects.create(
            project=project, number=number, model_version=version, strategy=project.strategy,
            strategy_used=used.key, batch_size=project.batch_size, selected=len(chosen), pool_size=len(candidates),
            labels_used=len(train), metrics=metrics, timings={}, note=note,
        )
        QueueEntry.objects.filter(project=project).delete()
        predicted = model.classes_[proba[chosen].argmax(axis=1)] if model is not None else [None] * len(chosen)
        QueueEntry.objects.bulk_create(
            [
                QueueEntry(
                    project=project, item_id=int(candidates[index]), round=round_, rank=rank, score=float(score),
                    predicted_class_id=int(label) if label is not None else None,
                    confidence=float(proba[index].max()) if model is not None else None,
                )
                for rank, (index, score, label) in enumerate(zip(chosen, scores, predicted))
            ],
            batch_size=1000,
        )
        timings["write_s"] = time.perf_counter() - started
        Round.objects.filter(pk=round_.pk).update(timings={k: round(v, 4) for k, v in timings.items()})
        publish_on_commit(
            project.pk, "batch.ready", round=number, model_version=number if model is not None else None,
            size=len(chosen), strategy=used.key, metrics=metrics,
        )
    return round_


def _save_model(project: Project, number: int, model) -> str:
    path = Path(settings.MODEL_DIR) / f"project_{project.pk}" / f"model-{number}.joblib"
    path.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, path)
    return str(path)
