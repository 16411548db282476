"""The HTTP and websocket server of `manage.py serve`: granian, embedded in this process.

Granian parses HTTP, frames websockets and writes responses in Rust, outside the GIL,
and hands the ASGI application its requests on this process's asyncio loop. Daphne did
that work in Python (Twisted): under twenty annotators it took a third of the web
process's Python time, and the loop it ran on delayed every answer behind it.

What daphne needed the project's own help with, granian does itself: a response body
waits while the client's connection is full, and a request body reaches the application
in pieces as it arrives (labeler/http_bridge.py spools it to disk), never whole in memory.
"""
import asyncio
import logging
import signal
from collections.abc import Callable

from granian._granian import SocketHolder
from granian.constants import Interfaces
from granian.log import LogLevels
from granian.server.embed import Server
from granian.utils.proxies import wrap_asgi_with_proxy_headers


class _QuietEmbedding(logging.Filter):
    """Granian warns at every start that embedding it is experimental: noise to a user
    reading the server's output, since the project embeds it on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "experimental" not in record.getMessage()


class _EmbeddedServer(Server):
    """Granian's embedded server, listening on a socket it is given when it has one: the
    socket `serve --processes N` bound once and shares with every web process."""

    def __init__(self, *args, fd: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self._given_fd = fd

    def _init_shared_socket(self):
        if self._given_fd is None:
            return super()._init_shared_socket()
        self._ssp = None
        self._shd = SocketHolder(self._given_fd, False, self.backlog)
        self._sfd = self._given_fd


def serve(application, *, host: str = "127.0.0.1", port: int = 8000, fd: int | None = None,
          behind_proxy: bool = False, on_ready: Callable[[], None] | None = None) -> None:
    """Serve `application` until SIGINT or SIGTERM. Behind a proxy the client's address
    and scheme come from its X-Forwarded-For and X-Forwarded-Proto headers; otherwise
    those headers are ignored, as any client could forge them."""
    if behind_proxy:
        application = wrap_asgi_with_proxy_headers(application, trusted_hosts="*")
    server = _EmbeddedServer(
        application, address=host, port=port, fd=fd, interface=Interfaces.ASGINL, websockets=True,
        log_level=LogLevels.warning,
    )
    logging.getLogger("_granian").addFilter(_QuietEmbedding())
    if on_ready is not None:
        server.on_startup(lambda: asyncio.get_running_loop().call_soon(on_ready))
    asyncio.run(_run(server))


async def _run(server: _EmbeddedServer) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, server.stop)
    await server.serve()
