"""Annotator quality: accuracy and kappa against gold, agreement with peers, rejection
rate, pace. Counts are aggregated in the database; only the gold pairs (a few per
annotator) come to Python, for Cohen's kappa."""
from collections import defaultdict

from django.contrib.auth.models import User
from django.db.models import Avg, Count, F, Q

from .aggregates import utc_day
from .models import Annotation, Consensus, ItemEvent, Project
from .quality.agreement import accuracy_and_kappa

DECISIONS = (ItemEvent.Action.APPROVED, ItemEvent.Action.REJECTED, ItemEvent.Action.CORRECTED)


def _thresholds(project: Project) -> tuple[float, float]:
    review = project.review or {}
    return float(review.get("min_accuracy", 0.9)), float(review.get("min_kappa", 0.8))


def _gold_pairs(project: Project, annotator_ids=None) -> dict[int, tuple[list[str], list[str]]]:
    """(answers, truth) per annotator on gold classification items."""
    answers = Annotation.objects.filter(project=project, gold_score__isnull=False, label_class__isnull=False,
                                        item__gold_class__isnull=False)
    if annotator_ids is not None:
        answers = answers.filter(annotator_id__in=annotator_ids)
    pairs: dict[int, tuple[list[str], list[str]]] = defaultdict(lambda: ([], []))
    for annotator_id, given, truth in answers.values_list("annotator_id", "label_class__key", "item__gold_class__key"):
        pairs[annotator_id][0].append(given)
        pairs[annotator_id][1].append(truth)
    return pairs


def annotator_quality(project: Project) -> list[dict]:
    """One row per annotator who answered in the project, flagged when under the thresholds."""
    min_accuracy, min_kappa = _thresholds(project)
    rows = {
        row["annotator_id"]: row
        for row in Annotation.objects.filter(project=project, annotator__isnull=False)
        .values("annotator_id", username=F("annotator__username"))
        .annotate(
            answers=Count("pk", filter=Q(gold_score__isnull=True)),
            gold_checks=Count("pk", filter=Q(gold_score__isnull=False)),
            gold_accuracy=Avg("gold_score"),
            mean_ms=Avg("duration_ms", filter=Q(duration_ms__isnull=False)),
            with_consensus=Count("pk", filter=Q(item__consensus__label_class__isnull=False, gold_score__isnull=True)),
            agree_consensus=Count("pk", filter=Q(label_class=F("item__consensus__label_class"), gold_score__isnull=True)),
        )
    }
    decisions = (
        ItemEvent.objects.filter(project=project, action__in=DECISIONS, annotation__isnull=False)
        .values("annotation__annotator_id")
        .annotate(total=Count("pk"), against=Count("pk", filter=~Q(action=ItemEvent.Action.APPROVED)))
    )
    decided = {row["annotation__annotator_id"]: row for row in decisions}
    pairs = _gold_pairs(project, list(rows))
    result = []
    for annotator_id, row in sorted(rows.items(), key=lambda pair: pair[1]["username"]):
        given, truth = pairs.get(annotator_id, ([], []))
        kappa = accuracy_and_kappa(given, truth)[1] if len(given) >= 2 else None
        review = decided.get(annotator_id, {"total": 0, "against": 0})
        seconds = row["mean_ms"] / 1000 if row["mean_ms"] else None
        entry = {
            "annotator": annotator_id, "username": row["username"], "answers": row["answers"],
            "gold_checks": row["gold_checks"], "gold_accuracy": row["gold_accuracy"], "gold_kappa": kappa,
            "peer_agreement": row["agree_consensus"] / row["with_consensus"] if row["with_consensus"] else None,
            "reviewed": review["total"],
            "rejection_rate": review["against"] / review["total"] if review["total"] else None,
            "seconds_per_item": seconds, "items_per_hour": 3600 / seconds if seconds else None,
        }
        entry["flags"] = _flags(entry, min_accuracy, min_kappa)
        entry["flagged"] = bool(entry["flags"])
        result.append(entry)
    return result


def _flags(entry: dict, min_accuracy: float, min_kappa: float) -> list[str]:
    flags = []
    if entry["gold_accuracy"] is not None and entry["gold_accuracy"] < min_accuracy:
        flags.append(f"gold accuracy {entry['gold_accuracy']:.0%} < {min_accuracy:.0%}")
    if entry["gold_kappa"] is not None and entry["gold_kappa"] < min_kappa:
        flags.append(f"gold kappa {entry['gold_kappa']:.2f} < {min_kappa:.2f}")
    return flags


def below_thresholds(project: Project, user: User) -> bool:
    """Whether the user's gold record is under the project's thresholds (no record: no)."""
    min_accuracy, min_kappa = _thresholds(project)
    accuracy = Annotation.objects.filter(project=project, annotator=user, gold_score__isnull=False).aggregate(
        value=Avg("gold_score")
    )["value"]
    if accuracy is None:
        return False
    if accuracy < min_accuracy:
        return True
    given, truth = _gold_pairs(project, [user.pk]).get(user.pk, ([], []))
    kappa = accuracy_and_kappa(given, truth)[1] if len(given) >= 2 else None
    return kappa is not None and kappa < min_kappa


def quality_over_time(project: Project) -> list[dict]:
    """Per annotator and day: answers, gold checks and gold accuracy."""
    return list(
        Annotation.objects.filter(project=project, annotator__isnull=False)
        .annotate(day=utc_day("created_at"))
        .values("day", "annotator_id", username=F("annotator__username"))
        .annotate(
            answers=Count("pk", filter=Q(gold_score__isnull=True)),
            gold_checks=Count("pk", filter=Q(gold_score__isnull=False)),
            gold_accuracy=Avg("gold_score"),
        )
        .order_by("day", "username")
    )


def consensus_summary(project: Project) -> dict:
    return dict(Consensus.objects.filter(project=project).values_list("status").annotate(n=Count("pk")))
