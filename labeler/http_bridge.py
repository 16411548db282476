"""HTTP requests served by Django's WSGI handler, each on one of a fixed set of threads.

Django's ASGI handler runs a synchronous project at a high price per request: it starts
a new thread for every request (so no database connection is ever reused: SQLite opens
its file again each time), and every middleware built on `MiddlewareMixin` crosses from
the event loop to that thread and back twice, once for its request hook and once for its
response hook. Measured on a claim and a submit, that was about 7 ms of CPU per request
on top of the 11 ms the view and middleware themselves cost.

Here the server's loop reads the request body, then hands the whole request, middleware
and view, to one thread in one crossing, through Django's WSGI handler. The threads are
kept ("lanes", `LABELER_WEB_THREADS` of them), so each keeps its database connection
between requests (`CONN_MAX_AGE`). A response of one block (every API answer) goes
back to the loop with the thread's result and is sent from there, the thread already
free. A longer one is streamed from the thread through the server's `send`, one block at
a time, each `send` waiting while the client's connection is full (the server,
labeler/http_server.py, sees to that), and a client that goes away stops it at the next
block.
"""
import asyncio
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from io import BytesIO
from tempfile import SpooledTemporaryFile

from asgiref.sync import AsyncToSync, SyncToAsync
from asgiref.wsgi import WsgiToAsgiInstance
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler


class ClientGone(Exception):
    """The client disconnected before its request body arrived whole."""


class Lanes:
    """A fixed set of one-thread executors, lent to one request at a time; the one given
    back last is lent first, so a quiet server keeps using a few warm threads."""

    def __init__(self, count: int):
        self.count = count
        self._free: asyncio.Queue | None = None

    def _queue(self) -> asyncio.Queue:
        # Made on first use, inside the server's event loop.
        if self._free is None:
            self._free = asyncio.LifoQueue()
            for n in range(self.count):
                self._free.put_nowait(ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"http-lane-{n}"))
        return self._free

    async def borrow(self) -> ThreadPoolExecutor:
        return await self._queue().get()

    def give_back(self, lane: ThreadPoolExecutor) -> None:
        self._queue().put_nowait(lane)


class WSGIBridge:
    """An ASGI application for the `http` scope that runs Django's WSGI handler."""

    def __init__(self, wsgi_app=None, threads: int | None = None):
        self.handler = wsgi_app or WSGIHandler()
        self.lanes = Lanes(threads or settings.LABELER_WEB_THREADS)

    async def __call__(self, scope, receive, send):
        try:
            body = await _read_body(receive)
        except ClientGone:
            return
        try:
            exchange = _Exchange(scope, send, body)
            watcher = asyncio.ensure_future(_wait_for_disconnect(receive, exchange.gone))
            lane = await self.lanes.borrow()
            try:
                loop = asyncio.get_running_loop()
                whole = await loop.run_in_executor(lane, _in_lane, loop, exchange.run, self.handler)
            finally:
                self.lanes.give_back(lane)
                watcher.cancel()
            if whole:
                await exchange._send_all(*whole)
        finally:
            body.close()


def _in_lane(loop, function, *args):
    """Run `function` in a lane thread as a plain WSGI server's thread would, with one
    thing more: asgiref's AsyncToSync (a streamed response's sends, an event published
    through Redis) finds the server's loop here as it would in a thread SyncToAsync had
    started. A plain hand-off costs a fraction of SyncToAsync's, which copies the
    context and sets up its thread-sensitive machinery on every request."""
    SyncToAsync.threadlocal.main_event_loop = loop
    SyncToAsync.threadlocal.main_event_loop_pid = os.getpid()
    return function(*args)


async def _read_body(receive):
    """The request body as a file, written from its messages as they arrive: in memory
    while small, on disk past FILE_UPLOAD_MAX_MEMORY_SIZE (an import may be 100 MB). A
    body that came whole in its first message (every API call) is wrapped as it is, with
    no spooled file to set up."""
    message = await receive()
    if message["type"] == "http.disconnect":
        raise ClientGone
    if not message.get("more_body", False):
        return BytesIO(message.get("body", b""))
    body = SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE)
    try:
        while True:
            body.write(message.get("body", b""))
            if not message.get("more_body", False):
                body.seek(0)
                return body
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientGone
    except BaseException:
        body.close()
        raise


async def _wait_for_disconnect(receive, gone: threading.Event) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    gone.set()


class _Exchange:
    """One request's environ and response, handled in a lane thread."""

    def __init__(self, scope, send, body):
        self.scope = scope
        self.body = body
        self.gone = threading.Event()
        self.start: dict | None = None
        self._send = send

    async def _send_all(self, *messages: dict) -> None:
        for message in messages:
            await self._send(message)

    def start_response(self, status: str, headers: list, exc_info=None):
        self.start = {
            "type": "http.response.start",
            "status": int(status.split(" ", 1)[0]),
            "headers": [(name.lower().encode("latin1"), value.encode("latin1")) for name, value in headers],
        }

    def environ(self) -> dict:
        """asgiref's translation of the scope, with the body's real length: a chunked
        upload has no Content-Length, and Django reads no further than it says."""
        translate = WsgiToAsgiInstance(None)
        translate.scope = self.scope
        environ = translate.build_environ(self.scope, self.body)
        size = self.body.seek(0, 2)
        self.body.seek(0)
        environ["CONTENT_LENGTH"] = str(size)
        return environ

    def run(self, handler) -> list[dict]:
        """Handle the request. A response of one block is returned, headers and body, for
        the server's loop to send once this thread is done: one crossing fewer than
        sending it from here. A longer one is streamed from here, and [] returned."""
        try:
            environ = self.environ()
        except ValueError as exc:  # asgiref refuses too many repeats of one header
            self.start_response("400 Bad Request", [("Content-Type", "text/plain")])
            return [self.start, {"type": "http.response.body", "body": str(exc).encode(), "more_body": False}]
        response = handler(environ, self.start_response)
        try:
            blocks = iter(response)
            first = next(blocks, None)
            following = next(blocks, None) if first is not None else None
            if following is None:
                return [self.start, {"type": "http.response.body", "body": first or b"", "more_body": False}]
            self._stream(first, following, blocks)
            return []
        finally:
            close = getattr(response, "close", None)
            if close is not None:
                close()  # request_finished: Django returns the database connection

    def _stream(self, block, following, blocks) -> None:
        """The first block goes with the headers, the last with the end of the body."""
        send = AsyncToSync(self._send_all)  # made here: only a streamed response needs it
        while block is not None:
            message = {"type": "http.response.body", "body": block, "more_body": following is not None}
            if self.start is not None:
                send(self.start, message)
                self.start = None
            else:
                send(message)
            if self.gone.is_set():
                return
            block, following = following, next(blocks, None) if following is not None else None
