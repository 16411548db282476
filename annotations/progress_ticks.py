"""`progress.changed`, sent at most once per project per interval by each process.

Every submit, skip and undo changes a project's counts, and every page open on the
project fetches them again when told (pages wait 3 s and fetch once, live.js). Told once
per answer, twenty annotators at 100 labels/s would mean 100 events a second, each sent
to every open page: thousands of websocket frames, and a channel-layer send (a Redis
round trip) in every submit, for counts a page would fetch once anyway. Here the first
change after a quiet interval is announced at once, and the changes that follow within
the interval become one event at its end, so the last change always reaches the pages.
"""
import os
import threading
import time
from collections.abc import Callable

from asgiref.sync import SyncToAsync


class ProgressTicks:
    """One per process; `changed(project_id)` is called after a commit that changed the
    project's counts, from any thread."""

    def __init__(self, send: Callable[[int], None], interval_s: Callable[[], float]):
        self._send = send
        self._interval_s = interval_s
        self._lock = threading.Lock()
        self._last_sent: dict[int, float] = {}
        self._trailing: set[int] = set()

    def changed(self, project_id: int) -> None:
        interval = self._interval_s()
        if interval <= 0:
            self._send(project_id)
            return
        now = time.monotonic()
        with self._lock:
            if project_id in self._trailing:
                return  # an event is already due at the interval's end
            wait = self._last_sent.get(project_id, now - interval) + interval - now
            if wait <= 0:
                self._last_sent[project_id] = now
            else:
                self._trailing.add(project_id)
        if wait <= 0:
            self._send(project_id)
            return
        # A request thread of the web server knows the server's loop (labeler/http_bridge.py):
        # the timer's send uses it too, and with it the loop's channel-layer connections.
        loop = getattr(SyncToAsync.threadlocal, "main_event_loop", None)
        timer = threading.Timer(wait, self._send_trailing, args=(project_id, loop))
        timer.daemon = True
        timer.start()

    def _send_trailing(self, project_id: int, loop) -> None:
        if loop is not None and loop.is_running():
            SyncToAsync.threadlocal.main_event_loop = loop
            SyncToAsync.threadlocal.main_event_loop_pid = os.getpid()
        with self._lock:
            self._trailing.discard(project_id)
            self._last_sent[project_id] = time.monotonic()
        self._send(project_id)
