"""Figures of large projects served from a recent per-process snapshot.

Counting a project of 1,000,000 items takes a good part of a second; the progress bars
(returned with every claim), the project list and the dashboard need their figures
within milliseconds. A small project (under `LABELER_PROGRESS_EXACT_BELOW` items) is
counted on every call. A large one is served from the last snapshot; once that is older
than `LABELER_PROGRESS_MAX_AGE_S`, or twenty times as old as computing it took (so that
recounting never takes more than a twentieth of a core), one background thread computes
it again while requests keep getting the previous figures. Each snapshot says when it
was taken (`as_of`).
"""
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from django.conf import settings
from django.db import close_old_connections, connection

Key = tuple[str, int]  # (what, project id)

_snapshots: dict[Key, tuple[float, float, dict]] = {}  # key: (taken at, seconds it took, value)
_refreshing: dict[Key, threading.Thread] = {}
_lock = threading.Lock()


def recent(key: Key, compute: Callable[[int], dict], large: bool) -> dict:
    """`compute(project_id)` now when the project is small or nothing is kept yet;
    otherwise the kept value, refreshed in the background when it has gone stale."""
    with _lock:
        kept = _snapshots.get(key)
    if kept is None or not large:
        return dict(_compute_and_keep(key, compute))
    taken_at, took_s, value = kept
    if time.monotonic() - taken_at > max(settings.LABELER_PROGRESS_MAX_AGE_S, 20 * took_s):
        refresh_in_background(key, compute)
    return dict(value)


def kept(key: Key) -> dict | None:
    with _lock:
        found = _snapshots.get(key)
    return None if found is None else found[2]


def refresh_in_background(key: Key, compute: Callable[[int], dict]) -> threading.Thread:
    """Compute again off the request thread; at most one refresh per key at a time."""
    with _lock:
        running = _refreshing.get(key)
        if running is not None and running.is_alive():
            return running
        thread = threading.Thread(target=_refresh, args=(key, compute), name=f"snapshot-{key[0]}-{key[1]}",
                                  daemon=True)
        _refreshing[key] = thread
    thread.start()
    return thread


def _refresh(key: Key, compute: Callable[[int], dict]) -> None:
    try:
        _compute_and_keep(key, compute)
    finally:
        close_old_connections()
        connection.close()


def _compute_and_keep(key: Key, compute: Callable[[int], dict]) -> dict:
    started = time.monotonic()
    value = {**compute(key[1]), "as_of": datetime.now(UTC).isoformat(timespec="seconds")}
    with _lock:
        _snapshots[key] = (time.monotonic(), time.monotonic() - started, value)
    return value


def forget(project_id: int | None = None) -> None:
    """Drop snapshots (all, or one project's): the next call computes afresh."""
    with _lock:
        for key in [k for k in _snapshots if project_id is None or k[1] == project_id]:
            del _snapshots[key]
