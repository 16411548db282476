"""Daphne response bodies sent no faster than the client takes them.

Daphne hands every body chunk the application sends straight to Twisted, which queues
what the socket cannot take yet; nothing makes the application wait. A large download
(an export of 1,000,000 items is about 280 MB) read by a slower client therefore piles
up in the web process's memory. Twisted tells a request's registered producer to pause
when the connection's send buffer is full and to resume once it has drained: the server
below registers one for each streamed response and holds the application's next `send`
while it is paused.
"""
import asyncio
from functools import partial

from daphne.server import Server
from django.conf import settings

from labeler.daphne_uploads import SpooledBodyQueue


class _SendWindow:
    """A push producer for Twisted: open while the connection can take more."""

    def __init__(self):
        self.open = asyncio.Event()
        self.open.set()

    def pauseProducing(self):  # noqa: N802  (Twisted's producer interface)
        self.open.clear()

    def resumeProducing(self):  # noqa: N802
        self.open.set()

    def stopProducing(self):  # noqa: N802  (the connection is gone: nothing more will be sent)
        self.open.set()


class FlowControlledServer(Server):
    """Daphne's server, whose `send` waits while the client's connection is full, and
    whose request bodies wait on disk (labeler/daphne_uploads.py)."""

    def create_application(self, protocol, scope):
        """Daphne's own, with a `SpooledBodyQueue` for the application's input."""
        assert "application_instance" not in self.connections[protocol]
        input_queue = SpooledBodyQueue(settings.FILE_UPLOAD_MAX_MEMORY_SIZE)
        scope.setdefault("asgi", {"version": "3.0"})
        application_instance = self.application(
            scope=scope, receive=input_queue.get, send=partial(self.handle_reply, protocol)
        )
        if protocol not in self.connections:
            return None
        self.connections[protocol]["application_instance"] = asyncio.ensure_future(application_instance)
        return input_queue

    async def handle_reply(self, protocol, message):
        streaming = message.get("type") == "http.response.body"
        window = getattr(protocol, "labeler_send_window", None)
        if streaming and not message.get("more_body", False) and window is not None:
            protocol.unregisterProducer()  # the last chunk: Twisted finishes the response
            protocol.labeler_send_window = window = None
        if streaming and message.get("more_body", False) and window is None and self._open(protocol):
            window = protocol.labeler_send_window = _SendWindow()
            protocol.registerProducer(window, True)
        await super().handle_reply(protocol, message)
        if window is not None and self._open(protocol):
            await window.open.wait()

    def _open(self, protocol) -> bool:
        connection = self.connections.get(protocol)
        return (
            connection is not None and not connection.get("disconnected")
            and not getattr(protocol, "finished", True) and getattr(protocol, "channel", None) is not None
        )
