"""Publishing to a project's websocket group, the one way pages learn of changes.

`publish_on_commit` is for events that announce a write: a rolled-back write never
reaches a page. `publish_now` is for progress, which describes work still under way.

After Redis restarts, the layer's pooled connections are dead until used once: a send
that meets one is tried again on a fresh connection (LAYER_ATTEMPTS in all).
"""
import asyncio
import logging
import threading
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings
from django.db import transaction
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .progress_ticks import ProgressTicks

logger = logging.getLogger(__name__)

LAYER_LOST = (RedisConnectionError, RedisTimeoutError, ConnectionError)
LAYER_ATTEMPTS = 3

_server_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


def project_group(project_id: int) -> str:
    return f"project-{project_id}"


def remember_server_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Called by consumers: the in-memory layer's queues live on this loop, so sends
    from worker threads must be handed to it rather than run on a loop of their own."""
    global _server_loop
    with _loop_lock:
        _server_loop = loop


def _send(group: str, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    loop = _server_loop
    if isinstance(layer, InMemoryChannelLayer) and loop is not None and loop.is_running():
        # The in-memory layer's queues live on the server's loop. The send is handed to
        # it and not waited for: a request thread that waited would hold its answer
        # until the loop, busy with every other connection, got round to it. Sends from
        # one thread keep their order (first in, first out); a failure is logged.
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            loop.create_task(layer.group_send(group, message)).add_done_callback(_log_failure)
        else:
            asyncio.run_coroutine_threadsafe(layer.group_send(group, message), loop).add_done_callback(_log_failure)
        return
    # Through Redis the send is waited for: a send that meets a connection Redis dropped
    # is tried again on a fresh one before anything else uses the pool.
    async_to_sync(layer_call)(layer.group_send, group, message)


def _log_failure(done) -> None:
    if not done.cancelled() and done.exception() is not None:
        logger.error("could not publish to a project's pages", exc_info=done.exception())


async def layer_call(method, *args):
    """A channel layer call, tried again when it meets a connection Redis has dropped."""
    for attempt in range(1, LAYER_ATTEMPTS + 1):
        try:
            return await method(*args)
        except LAYER_LOST:
            if attempt == LAYER_ATTEMPTS:
                raise


def publish_now(project_id: int, event_type: str, **payload: Any) -> None:
    """Send an event to every page open on the project; a failure is logged, never raised,
    because a missed progress tick must not fail the work it reports on."""
    message = {"type": "project.event", "event": {"type": event_type, "project": project_id, **payload}}
    try:
        _send(project_group(project_id), message)
    except Exception:
        logger.exception("could not publish %s to project %s", event_type, project_id)


def publish_on_commit(project_id: int, event_type: str, **payload: Any) -> None:
    transaction.on_commit(lambda: publish_now(project_id, event_type, **payload))


PROGRESS_TICKS = ProgressTicks(
    send=lambda project_id: publish_now(project_id, "progress.changed"),
    interval_s=lambda: settings.LABELER_PROGRESS_TICK_S,
)


def progress_changed_on_commit(project_id: int) -> None:
    """Tell the project's pages its counts changed, once the write commits; changes close
    together are told as one (annotations/progress_ticks.py)."""
    transaction.on_commit(lambda: PROGRESS_TICKS.changed(project_id))
