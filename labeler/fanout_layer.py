"""The in-memory channel layer, reaching every process of one installation.

In embedded mode (no Redis) each process keeps its pages' groups in memory. With
`manage.py serve --processes N`, or a job worker run as its own process, an event sent in
one process must also reach the pages connected to the others. Here every process that
has pages listens on a Unix datagram socket in one directory per var dir; a group send
is delivered in the process and written once to each other socket there. A socket whose
process has gone is removed by the first sender that finds it dead.

Delivery between processes is as the in-memory layer's own: at most once, to the pages
connected at the time; a page that reconnects re-syncs its queue.
"""
import asyncio
import hashlib
import logging
import os
import secrets
import socket
import tempfile
import weakref
from pathlib import Path

import msgpack
from channels.layers import InMemoryChannelLayer

logger = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 64 * 1024  # events are a few hundred bytes; a datagram must fit in one send


def default_directory() -> Path:
    """Short (a socket path must fit in 108 bytes) and the same for every process that
    shares the var dir."""
    from django.conf import settings

    digest = hashlib.sha256(str(settings.VAR_DIR).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"labeler-layer-{digest}"


class FanOutChannelLayer(InMemoryChannelLayer):
    def __init__(self, directory: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.directory = Path(directory) if directory else default_directory()
        self.address: Path | None = None  # this process's socket, once it has pages
        self._inbox: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._outbox = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._outbox.setblocking(False)
        weakref.finalize(self, _close, self._outbox, None)

    async def group_add(self, group, channel):
        await super().group_add(group, channel)
        self._listen()

    async def group_send(self, group, message):
        await super().group_send(group, message)
        self._forward(group, message)

    def _forward(self, group: str, message: dict) -> None:
        data = msgpack.packb([group, message], use_bin_type=True)
        if len(data) > MAX_MESSAGE_BYTES:
            logger.error("an event for %s is %d bytes, over %d: sent to this process's pages only",
                         group, len(data), MAX_MESSAGE_BYTES)
            return
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return
        for name in names:
            peer = self.directory / name
            if peer == self.address or not name.endswith(".sock"):
                continue
            try:
                self._outbox.sendto(data, str(peer))
            except (ConnectionRefusedError, FileNotFoundError):
                peer.unlink(missing_ok=True)  # its process has gone
            except OSError as exc:  # its buffer is full (a stalled process): this event is lost there
                logger.warning("could not pass an event to web process %s: %s", name, exc)

    def _listen(self) -> None:
        """Bind this process's socket (once) and read it on the running loop."""
        loop = asyncio.get_running_loop()
        if self._inbox is None:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.address = self.directory / f"{os.getpid()}-{secrets.token_hex(4)}.sock"
            self._inbox = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._inbox.bind(str(self.address))
            self._inbox.setblocking(False)
            weakref.finalize(self, _close, self._inbox, self.address)  # also at exit
        if self._loop is not loop:  # the first page, or a new loop (tests run one per test)
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(self._inbox.fileno())
            loop.add_reader(self._inbox.fileno(), self._receive)
            self._loop = loop

    def _receive(self) -> None:
        while True:
            try:
                data = self._inbox.recv(MAX_MESSAGE_BYTES)
            except (BlockingIOError, InterruptedError):
                return
            try:
                group, message = msgpack.unpackb(data, raw=False)
            except ValueError:
                logger.warning("ignored a malformed event datagram")
                continue
            task = self._loop.create_task(InMemoryChannelLayer.group_send(self, group, message))
            task.add_done_callback(_log_failure)


def _close(sock: socket.socket, address: Path | None) -> None:
    sock.close()
    if address is not None:
        address.unlink(missing_ok=True)


def _log_failure(done) -> None:
    if not done.cancelled() and done.exception() is not None:
        logger.error("could not deliver an event from another process", exc_info=done.exception())
