"""Counts for the annotators' progress bars.

Every claim returns them, so they must not cost a scan of the item table per request.
A project under `LABELER_PROGRESS_EXACT_BELOW` items is counted on every call (a few
milliseconds). A larger one is served from a per-process snapshot at most
`LABELER_PROGRESS_MAX_AGE_S` old, or twenty times as old as the count took, so that
counting never takes more than a twentieth of a core; when it goes stale, one
background thread counts again while requests keep getting the previous figures. The caller's own count and the
model's queue length are always exact (both are index lookups).
"""
import threading
import time

from django.conf import settings
from django.contrib.auth.models import User
from django.db import close_old_connections, connection
from django.db.models import Count, Q

from activelearning.models import QueueEntry

from .models import Annotation, Item, Project

_snapshots: dict[int, tuple[float, float, dict]] = {}  # project: (taken at, seconds taken, counts)
_refreshing: dict[int, threading.Thread] = {}
_lock = threading.Lock()


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


def item_counts(project_id: int) -> dict:
    """Exact for small projects; a recent snapshot for large ones (see the module note)."""
    with _lock:
        snapshot = _snapshots.get(project_id)
    if snapshot is None or snapshot[2]["total"] < settings.LABELER_PROGRESS_EXACT_BELOW:
        return dict(_count_and_keep(project_id))
    taken_at, took_s, counts = snapshot
    if time.monotonic() - taken_at > max(settings.LABELER_PROGRESS_MAX_AGE_S, 20 * took_s):
        refresh_in_background(project_id)
    return dict(counts)


def _count_and_keep(project_id: int) -> dict:
    started = time.monotonic()
    counts = count_items(project_id)
    with _lock:
        _snapshots[project_id] = (time.monotonic(), time.monotonic() - started, counts)
    return counts


def refresh_in_background(project_id: int) -> threading.Thread:
    """Count again off the request thread; at most one refresh per project at a time."""
    with _lock:
        running = _refreshing.get(project_id)
        if running is not None and running.is_alive():
            return running
        thread = threading.Thread(target=_refresh, args=(project_id,), name=f"progress-{project_id}", daemon=True)
        _refreshing[project_id] = thread
    thread.start()
    return thread


def _refresh(project_id: int) -> None:
    try:
        _count_and_keep(project_id)
    finally:
        close_old_connections()
        connection.close()


def forget(project_id: int | None = None) -> None:
    """Drop snapshots (all, or one project's): the next call counts afresh."""
    with _lock:
        if project_id is None:
            _snapshots.clear()
        else:
            _snapshots.pop(project_id, None)


def project_progress(project: Project, user: User | None = None) -> dict:
    """The progress bars' counts, the model's queue length, and the caller's answers."""
    counts = item_counts(project.pk)
    counts["queue"] = QueueEntry.objects.filter(project=project).count()
    if user is not None:
        counts["mine"] = Annotation.objects.filter(project=project, annotator=user).count()
    return counts
