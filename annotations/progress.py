"""Counts for the annotators' progress bars, the project list and the dashboard.

Every claim returns them, so they must not cost a scan of the item table per request:
large projects are counted from a recent snapshot (annotations/snapshots.py). The
caller's own count and the model's queue length are always exact (index lookups).
"""
from django.conf import settings
from django.contrib.auth.models import User
from django.db.models import Count, Q

from activelearning.models import QueueEntry

from . import snapshots
from .models import Annotation, Item, Project
from .prepared import PreparedQuery, PreparedUnion


def _count_of(queryset, by: str):
    """One row holding how many rows `queryset` has (none when it has none), in a form
    PreparedQuery can compile: grouped by a column the filter fixes."""
    return queryset.order_by().values(by).annotate(n=Count("pk")).values_list("n")


# Asked on every claim: compiled once (annotations/prepared.py).
QUEUE_LENGTH = PreparedQuery(
    lambda project_id: _count_of(QueueEntry.objects.filter(project_id=project_id), "project_id"), "project_id"
)
MY_ANSWERS = PreparedQuery(
    lambda project_id, user_id: _count_of(
        Annotation.objects.filter(project_id=project_id, annotator_id=user_id), "annotator_id"
    ),
    "project_id", "user_id",
)
QUEUE_AND_MINE = PreparedUnion((QUEUE_LENGTH, 0), (MY_ANSWERS, 0))  # both in one statement


def _single_count(rows: list[tuple]) -> int:
    return rows[0][0] if rows else 0


def count_items(project_id: int) -> dict:
    """One grouped scan over the project's items (gold checks excluded)."""
    counts = Item.objects.filter(project_id=project_id, is_gold=False).aggregate(
        total=Count("pk"),
        labeled=Count("pk", filter=Q(status=Item.Status.LABELED)),
        eval_total=Count("pk", filter=Q(split=Item.Split.EVAL)),
        eval_labeled=Count("pk", filter=Q(split=Item.Split.EVAL, status=Item.Status.LABELED)),
    )
    counts["remaining"] = counts["total"] - counts["labeled"]
    return counts


def is_large(project_id: int) -> bool:
    """Whether the project's last item count reached LABELER_PROGRESS_EXACT_BELOW."""
    counts = snapshots.kept(("items", project_id))
    return counts is not None and counts["total"] >= settings.LABELER_PROGRESS_EXACT_BELOW


def item_counts(project_id: int) -> dict:
    """Total, labeled and remaining items (and of the evaluation split): exact for small
    projects, a recent snapshot for large ones."""
    return snapshots.recent(("items", project_id), count_items, is_large(project_id))


def project_progress(project: Project, user: User | None = None) -> dict:
    """The progress bars' counts, the model's queue length, and the caller's answers."""
    counts = item_counts(project.pk)
    if user is None:
        counts["queue"] = _single_count(QUEUE_LENGTH.rows(project_id=project.pk))
        return counts
    queue, mine = QUEUE_AND_MINE.rows(project_id=project.pk, user_id=user.pk)
    counts["queue"], counts["mine"] = _single_count(queue), _single_count(mine)
    return counts
