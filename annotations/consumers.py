"""Push-only websocket: one group per project; all writes go through the REST API."""
import asyncio

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.http import Http404

from .events import project_group, remember_server_loop
from .permissions import access_project


class ProjectConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        remember_server_loop(asyncio.get_running_loop())
        self.group = None
        user = self.scope.get("user")
        project_id = int(self.scope["url_route"]["kwargs"]["project_id"])
        allowed = await database_sync_to_async(_may_watch)(user, project_id)
        if not allowed:
            await self.close(code=4403)
            return
        self.group = project_group(project_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send_json({"type": "hello", "project": project_id})

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs) -> None:
        if content.get("type") == "ping":
            await self.send_json({"type": "pong"})

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
