"""Model-label disagreements: labeled items whose human label the model contradicts with
high confidence, found after each round and settled by a reviewer.

The model's opinion of a labeled item comes from out-of-fold predictions (a model that
never saw that item's label), so a memorised wrong label still shows up. Learners too
slow to refit several times (image models) use the round's own model instead.

The web process imports this module to list and settle disagreements; the fitting half
imports scikit-learn itself, so listing them does not load it.
"""
import numpy as np
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from annotations.errors import Conflict, InvalidInput
from annotations.models import Annotation, Item, ItemEvent, LabelClass, Project

from .learners import LEARNERS
from .models import Disagreement, Round

MAX_FOLDS = 5
MIN_LABELS = 10


def contradictions(proba: np.ndarray, classes: np.ndarray, labels: np.ndarray, threshold: float):
    """Rows where the model's top class differs from the label with probability >= threshold.
    Returns (rows, model classes, confidences), most confident first."""
    proba = np.asarray(proba, dtype=float)
    if proba.ndim != 2 or len(proba) != len(labels):
        raise ValueError(f"proba must be (n, k) with n = {len(labels)} labels, got shape {proba.shape}")
    top = proba.argmax(axis=1)
    confidence = proba[np.arange(len(proba)), top]
    predicted = np.asarray(classes)[top]
    rows = np.flatnonzero((predicted != np.asarray(labels)) & (confidence >= threshold))
    rows = rows[np.argsort(-confidence[rows], kind="stable")]
    return rows, predicted[rows], confidence[rows]


def out_of_fold_proba(factory, X, y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Each item's class probabilities from a model fitted without it; None when a class
    has fewer than two labels (no fold split keeps it on both sides)."""
    classes, counts = np.unique(y, return_counts=True)
    folds = min(MAX_FOLDS, int(counts.min()))
    if len(classes) < 2 or folds < 2:
        return None
    from sklearn.model_selection import StratifiedKFold

    proba = np.zeros((len(y), len(classes)))
    for fit_rows, held_rows in StratifiedKFold(folds, shuffle=True, random_state=seed).split(np.zeros(len(y)), y):
        model = factory(seed).fit(X[fit_rows], y[fit_rows])
        columns = np.searchsorted(classes, model.classes_)
        proba[np.ix_(held_rows, columns)] = model.predict_proba(X[held_rows])
    return proba, classes


def find_disagreements(project: Project, round_: Round, model, train_X, train: np.ndarray, learner: str) -> int:
    """Record this round's disagreements for a classification project; returns how many are new."""
    if model is None or len(train) < MIN_LABELS:
        return 0
    threshold = float((project.review or {}).get("disagreement_confidence", 0.9))
    labels = train[:, 1]
    spec = LEARNERS[learner]
    result = out_of_fold_proba(spec.factory, train_X, labels, seed=round_.number) if spec.kind == "text" else None
    if result is None:
        proba, classes = model.predict_proba(train_X), np.asarray(model.classes_)
    else:
        proba, classes = result
    rows, predicted, confidence = contradictions(proba, classes, labels, threshold)
    return _record(project, round_, train[rows, 0], labels[rows], predicted, confidence)


MAX_REGION_IMAGES = 500
REGION_IOU = 0.5


def region_contradictions(human: list, predicted: list, width: int, height: int) -> list[dict]:
    """The model's confident shapes that no human shape covers (a missed object) or that
    cover one with another class (a wrong class). Both lists hold formats.regions.Region."""
    from annotations.geometry import match_regions

    matches = match_regions(human, predicted, REGION_IOU, width=width, height=height)
    matched = {m.b: m for m in matches}
    found = []
    for index, region in enumerate(predicted):
        match = matched.get(index)
        if match is None:
            found.append({"problem": "missed", "model_label": region.label, "human_label": None,
                          "box": list(region.box), "confidence": region.score})
        elif human[match.a].label != region.label:
            found.append({"problem": "class", "model_label": region.label, "human_label": human[match.a].label,
                          "box": list(region.box), "iou": match.iou, "confidence": region.score})
    return found


def find_region_disagreements(project: Project, round_: Round, learner, records, class_names: list[str]) -> int:
    """Record disagreements on labeled images of a detection or segmentation project."""
    from annotations.formats.regions import Region

    if learner is None or not records:
        return 0
    threshold = float((project.review or {}).get("disagreement_confidence", 0.9))
    records = list(records)[-MAX_REGION_IMAGES:]
    predictions = learner.predict([record.path for record in records], conf=threshold)
    classes = list(LabelClass.objects.filter(ontology_id=project.ontology_id).order_by("order", "pk"))
    by_name = dict(zip(class_names, classes))
    rows = []
    for record, objects in zip(records, predictions):
        predicted = [Region(label=class_names[o["label"]], kind="box", box=tuple(o["box"]), score=o["confidence"])
                     for o in objects if o["label"] < len(class_names)]
        human = [Region(label=r.label, kind="box", box=tuple(r.box)) for r in record.regions]
        found = region_contradictions(human, predicted, record.width, record.height)
        if not found:
            continue
        worst = max(found, key=lambda f: f["confidence"])
        rows.append((int(record.file_name.split("_", 1)[0]), by_name.get(worst["human_label"]),
                     by_name.get(worst["model_label"]), worst["confidence"], found))
    fresh = [
        Disagreement(project=project, item_id=item_id, round=round_, human_class=human, model_class=model,
                     confidence=float(confidence), detail={"shapes": found})
        for item_id, human, model, confidence, found in rows
        if not Disagreement.objects.filter(item_id=item_id).exists()
    ]
    Disagreement.objects.bulk_create(fresh, ignore_conflicts=True)
    _review_disagreeing(project, fresh)
    return len(fresh)


def _review_disagreeing(project: Project, fresh: list) -> None:
    if (project.review or {}).get("policy") == "disagreements":
        from annotations.review import send_item_to_review

        for entry in fresh:
            send_item_to_review(Item(pk=entry.item_id))


def _record(project, round_, item_ids, human, predicted, confidence) -> int:
    settled = set(
        Disagreement.objects.filter(project=project, item_id__in=item_ids.tolist())
        .exclude(outcome=Disagreement.Outcome.OPEN).values_list("item_id", "human_class_id")
    )
    open_items = set(
        Disagreement.objects.filter(project=project, outcome=Disagreement.Outcome.OPEN).values_list("item_id", flat=True)
    )
    fresh = [
        Disagreement(project=project, item_id=int(item), round=round_, human_class_id=int(label),
                     model_class_id=int(model_class), confidence=float(conf))
        for item, label, model_class, conf in zip(item_ids, human, predicted, confidence)
        if int(item) not in open_items and (int(item), int(label)) not in settled
    ]
    Disagreement.objects.bulk_create(fresh, ignore_conflicts=True)
    _review_disagreeing(project, fresh)
    return len(fresh)


def settle(project: Project, reviewer: User, disagreement_id: int, outcome: str, label_key: str | None = None,
           reason: str = "") -> Disagreement:
    """Confirm the human label (model weakness), correct it, or send it for re-labeling
    (human error). Settling twice is refused; the outcome is in the item's history."""
    from annotations import review

    disagreement = Disagreement.objects.filter(pk=disagreement_id, project=project).select_related("item").first()
    if disagreement is None:
        raise InvalidInput(f"No disagreement {disagreement_id} in this project.")
    choices = [Disagreement.Outcome.CONFIRMED, Disagreement.Outcome.CORRECTED, Disagreement.Outcome.RELABEL]
    if outcome not in choices:
        raise InvalidInput(f"outcome must be one of {', '.join(choices)}.")
    if disagreement.outcome != Disagreement.Outcome.OPEN:
        if disagreement.outcome == outcome:
            return disagreement
        raise Conflict(f"This disagreement was already settled ({disagreement.outcome}).")
    item = disagreement.item
    answers = list(Annotation.objects.filter(item=item, annotator__isnull=False, gold_score__isnull=True))
    with transaction.atomic():
        if not Disagreement.objects.filter(pk=disagreement.pk, outcome=Disagreement.Outcome.OPEN).update(
            outcome=outcome, settled_by=reviewer, settled_at=timezone.now()
        ):
            raise Conflict("Another reviewer settled this disagreement just now; reload it.")
        if outcome == Disagreement.Outcome.CORRECTED and project.has_regions:
            pass  # the reviewer fixed the shapes through the review page's correct action
        elif outcome == Disagreement.Outcome.CORRECTED:
            if not label_key:
                raise InvalidInput("Send `label`: the class the item should have.")
            if project.overlap > 1 or len(answers) != 1:
                review.decide(project, reviewer, item.pk, label_key)
            else:
                review.correct(project, reviewer, answers[0].pk, label_key, None)
        elif outcome == Disagreement.Outcome.RELABEL:
            if not answers:
                raise InvalidInput("This label was imported; correct it instead of sending it for re-labeling.")
            text = reason.strip() or "The model disagrees with this label; please look again."
            for answer in answers:
                review.reject(project, reviewer, answer.pk, text)
        model_class = LabelClass.objects.filter(pk=disagreement.model_class_id).values_list("key", flat=True).first()
        review.record(item, reviewer, ItemEvent.Action.DISAGREEMENT, None, outcome=outcome,
                      model_label=model_class, confidence=disagreement.confidence)
    disagreement.refresh_from_db()
    return disagreement


def outcome_counts(project: Project) -> dict:
    from django.db.models import Count

    counts = dict(Disagreement.objects.filter(project=project).values_list("outcome").annotate(n=Count("pk")))
    return {
        **{outcome: counts.get(outcome, 0) for outcome in Disagreement.Outcome.values},
        "human_error": counts.get("corrected", 0) + counts.get("relabel", 0),
        "model_weakness": counts.get("confirmed", 0),
    }
