"""Push-only websocket: one group per project; all writes go through the REST API.

When the channel layer's Redis restarts, its group memberships are gone: pages still
connected would hear nothing more. The one consumer whose receive fails then closes
every page socket of this process with 1012 (service restart); the pages reconnect,
join their groups again and reload what they show (frontend/static/frontend/js/ws.js).
"""
import asyncio
import contextlib
import json
import logging
import weakref

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.http import Http404

from .events import LAYER_LOST, layer_call, project_group, remember_server_loop
from .permissions import access_project

logger = logging.getLogger(__name__)

SERVICE_RESTART = 1012
MAX_CLIENT_MESSAGE_CHARS = 4096

_open_sockets: "weakref.WeakSet[ProjectConsumer]" = weakref.WeakSet()


class ProjectConsumer(AsyncJsonWebsocketConsumer):
    async def __call__(self, scope, receive, send):
        try:
            await super().__call__(scope, receive, send)
        except LAYER_LOST as exc:
            logger.warning("channel layer connection lost (%s): pages of this process are asked to reconnect", exc)
            _open_sockets.discard(self)
            await _close_open_sockets()
            with contextlib.suppress(Exception):
                await send({"type": "websocket.close", "code": SERVICE_RESTART})

    async def connect(self) -> None:
        self.event_loop = asyncio.get_running_loop()
        remember_server_loop(self.event_loop)
        self.group = None
        user = self.scope.get("user")
        project_id = int(self.scope["url_route"]["kwargs"]["project_id"])
        allowed = await database_sync_to_async(_may_watch)(user, project_id)
        if not allowed:
            await self.close(code=4403)
            return
        self.group = project_group(project_id)
        await layer_call(self.channel_layer.group_add, self.group, self.channel_name)
        await self.accept()
        _open_sockets.add(self)
        await self.send_json({"type": "hello", "project": project_id})

    async def disconnect(self, code: int) -> None:
        _open_sockets.discard(self)
        if self.group:
            with contextlib.suppress(*LAYER_LOST):
                await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None, **kwargs) -> None:
        """Pages only ever send a small `{"type": "ping"}`; anything else is answered with
        an error message, never allowed to raise (that would drop this page's socket)."""
        if text_data is None or len(text_data) > MAX_CLIENT_MESSAGE_CHARS:
            await self.send_json({"type": "error", "message": f"Send JSON text under {MAX_CLIENT_MESSAGE_CHARS} characters."})
            return
        try:
            content = json.loads(text_data)
        except (ValueError, RecursionError):
            await self.send_json({"type": "error", "message": "Send a JSON object such as {\"type\": \"ping\"}."})
            return
        await self.receive_json(content)

    async def receive_json(self, content, **kwargs) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})
        else:
            await self.send_json({"type": "error", "message": "Unknown message; the only one understood is {\"type\": \"ping\"}."})

    async def project_event(self, message) -> None:
        await self.send_json(message["event"])


def _may_watch(user, project_id: int) -> bool:
    if user is None or not user.is_authenticated:
        return False
    try:
        access_project(user, project_id)
    except Http404:
        return False
    return True


async def _close_open_sockets() -> None:
    loop = asyncio.get_running_loop()
    for consumer in list(_open_sockets):
        if consumer.event_loop is not loop:
            continue
        _open_sockets.discard(consumer)
        with contextlib.suppress(Exception):
            await consumer.close(code=SERVICE_RESTART)
