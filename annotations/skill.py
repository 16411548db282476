"""Annotator quality: accuracy and kappa against gold, agreement with peers, rejection
rate, pace. Counts, time and review decisions come from the daily roll-up of answers
(`activelearning.models.AnswerDay`), agreement from the consensus rows; only the gold
pairs (a few per annotator) come to Python, for Cohen's kappa."""
from collections import defaultdict

from django.contrib.auth.models import User
from django.db.models import Avg, Count, F, Q, Sum

from activelearning.answer_days import COUNTS as ROLLED_UP
from activelearning.models import AnswerDay

from .models import Annotation, Consensus, Item, Project
from .quality.agreement import accuracy_and_kappa


def _thresholds(project: Project) -> tuple[float, float]:
    review = project.review or {}
    return float(review.get("min_accuracy", 0.9)), float(review.get("min_kappa", 0.8))


def _gold_pairs(project: Project, annotator_ids=None) -> dict[int, tuple[list[str], list[str]]]:
    """(answers, truth) per annotator on gold classification items. Starts from the items
    with a known class (a few, found by the index on `gold_class`): asked for the project's
    answers first, SQLite would read all of them to find the gold checks."""
    gold_items = Item.objects.filter(gold_class__isnull=False).values("pk")
    answers = Annotation.objects.filter(item__in=gold_items, item__project=project, gold_score__isnull=False,
                                        label_class__isnull=False)
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
    totals = _answer_totals(project)
    peers = _peer_agreement(project)
    pairs = _gold_pairs(project, list(totals))
    result = []
    for annotator_id, row in sorted(totals.items(), key=lambda pair: pair[1]["username"]):
        given, truth = pairs.get(annotator_id, ([], []))
        kappa = accuracy_and_kappa(given, truth)[1] if len(given) >= 2 else None
        with_consensus, agreeing = peers.get(annotator_id, (0, 0))
        mean_ms = _ratio(row["duration_ms_total"], row["timed"])
        seconds = mean_ms / 1000 if mean_ms else None
        entry = {
            "annotator": annotator_id, "username": row["username"], "answers": row["answers"],
            "gold_checks": row["gold_checks"], "gold_accuracy": _ratio(row["gold_score_total"], row["gold_checks"]),
            "gold_kappa": kappa, "peer_agreement": _ratio(agreeing, with_consensus),
            "reviewed": row["reviewed"], "rejection_rate": _ratio(row["overruled"], row["reviewed"]),
            "seconds_per_item": seconds, "items_per_hour": 3600 / seconds if seconds else None,
        }
        entry["flags"] = _flags(entry, min_accuracy, min_kappa)
        entry["flagged"] = bool(entry["flags"])
        result.append(entry)
    return result


def _answer_totals(project: Project) -> dict[int, dict]:
    """Per annotator with an answer in the project: the sums of their daily roll-up rows
    (a few hundred rows, not every answer)."""
    sums = (
        AnswerDay.objects.filter(project=project).values("annotator_id", username=F("annotator__username"))
        .annotate(**{f"sum_{name}": Sum(name) for name in ROLLED_UP})
    )
    totals = {}
    for row in sums.order_by():
        counts = {name: row[f"sum_{name}"] for name in ROLLED_UP}
        if counts["answers"] or counts["gold_checks"]:
            totals[row["annotator_id"]] = {"username": row["username"], **counts}
    return totals


def _peer_agreement(project: Project) -> dict[int, tuple[int, int]]:
    """(answers on items with a consensus class, those that agree with it) per annotator.
    Starts from the consensus rows, which only items answered by several annotators have."""
    settled = Consensus.objects.filter(project=project, label_class__isnull=False).values("item_id")
    rows = (
        Annotation.objects.filter(item_id__in=settled, annotator__isnull=False, gold_score__isnull=True)
        .values("annotator_id")
        .annotate(answers=Count("pk"), agreeing=Count("pk", filter=Q(label_class=F("item__consensus__label_class"))))
    )
    return {row["annotator_id"]: (row["answers"], row["agreeing"]) for row in rows.order_by()}


def _ratio(part, whole):
    return part / whole if whole else None


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
    """Per annotator and day: answers, gold checks and gold accuracy, from the daily roll-up."""
    days = (
        AnswerDay.objects.filter(project=project).filter(Q(answers__gt=0) | Q(gold_checks__gt=0))
        .values("day", "annotator_id", "answers", "gold_checks", "gold_score_total", username=F("annotator__username"))
        .order_by("day", "username")
    )
    return [
        {"day": row["day"].isoformat(), "annotator_id": row["annotator_id"], "username": row["username"],
         "answers": row["answers"], "gold_checks": row["gold_checks"],
         "gold_accuracy": _ratio(row["gold_score_total"], row["gold_checks"])}
        for row in days
    ]


def consensus_summary(project: Project) -> dict:
    return dict(Consensus.objects.filter(project=project).values_list("status").annotate(n=Count("pk")))
