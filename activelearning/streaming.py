"""Stream-based selective sampling: an item that arrives on its own (POSTed through the
API) is scored by the latest model at once and, when informative enough, put at the
front of the queue without waiting for the next round. The decision rule is the
project's `sampling.stream`: a fixed uncertainty threshold, or a budget rate (the top
`rate` fraction of the recent arrivals' scores).

The web process calls `route_arrivals` for every item added through the API; the model
and its features (joblib, scikit-learn) are loaded only when the stream is on."""
import numpy as np
from django.db import transaction
from django.db.models import F

from annotations.events import publish_on_commit
from annotations.models import Item, Project

from .learners import LEARNERS
from .models import ModelVersion, QueueEntry, Round, StreamDecision
from .strategies import query_by_budget, query_by_threshold
from .strategies.uncertainty import least_confidence

WINDOW = 100


def _latest_scorer(project: Project):
    """(model version number, texts -> probabilities, model) from the latest model, or
    None when there is none yet or its features no longer match it."""
    version = ModelVersion.objects.filter(project=project).order_by("-version").first()
    if version is None or not version.artifact:
        return None
    import joblib

    from . import features

    model = joblib.load(version.artifact)
    kind = LEARNERS[version.learner].features if version.learner in LEARNERS else None
    if kind == "tfidf":
        cached = features.FEATURES.latest(project.pk)
        vectorizer = getattr(cached, "vectorizer", None)
        if vectorizer is None or len(vectorizer.vocabulary_) != getattr(model, "n_features_in_", -1):
            return None
        return version.version, lambda texts: model.predict_proba(vectorizer.transform(texts)), model
    if kind == "sentence_embedding":
        from .learners import embed_texts

        return version.version, lambda texts: model.predict_proba(embed_texts(texts)), model
    return None


def _decide(mode: str, settings: dict, score: float, recent: list[float]) -> bool:
    if mode == "threshold":
        return query_by_threshold(score, settings.get("threshold", 0.3))
    return query_by_budget(score, recent[-WINDOW:], settings.get("rate", 0.1))


def route_arrivals(project: Project, item_ids: list[int]) -> list[StreamDecision]:
    """Decide for each newly arrived pool item whether it goes to annotators now."""
    stream = (project.sampling or {}).get("stream") or {}
    mode = stream.get("mode", "off")
    if mode == "off" or not item_ids:
        return []
    scorer = _latest_scorer(project)
    latest_round = Round.objects.filter(project=project).order_by("-number").first()
    if scorer is None or latest_round is None:
        return []  # no model yet: the next round ranks these items with the rest
    version, predict, model = scorer
    items = list(
        Item.objects.filter(pk__in=item_ids, project=project, split=Item.Split.POOL, status=Item.Status.UNLABELED)
        .order_by("pk").values_list("pk", "text")
    )
    if not items:
        return []
    proba = predict([text for _, text in items])
    scores = least_confidence(proba)
    recent = list(
        StreamDecision.objects.filter(project=project).order_by("-id").values_list("score", flat=True)[:WINDOW]
    )[::-1]
    decisions = []
    for (item_id, _), score in zip(items, scores):
        queried = _decide(mode, stream, float(score), recent)
        recent.append(float(score))
        decisions.append(StreamDecision(
            project=project, item_id=item_id, score=float(score), queried=queried, mode=mode, model_version=version,
        ))
    chosen = [(decision, row) for row, decision in enumerate(decisions) if decision.queried]
    with transaction.atomic():
        StreamDecision.objects.bulk_create(decisions)
        if chosen:
            QueueEntry.objects.filter(project=project).update(rank=F("rank") + len(chosen))
            predicted = model.classes_[proba.argmax(axis=1)]
            QueueEntry.objects.bulk_create([
                QueueEntry(
                    project=project, item_id=decision.item_id, round=latest_round, rank=rank, score=decision.score,
                    predicted_class_id=int(predicted[row]), confidence=float(np.max(proba[row])),
                )
                for rank, (decision, row) in enumerate(chosen)
            ])
            publish_on_commit(
                project.pk, "batch.ready", round=latest_round.number, model_version=version, size=len(chosen),
                strategy="stream", metrics=latest_round.metrics,
            )
    return decisions
