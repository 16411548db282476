"""HTTP through Django's WSGI handler on kept threads (labeler/http_bridge.py): what the
server sends, the request body it hands on, and the threads and connections it reuses."""
import threading

import pytest
from asgiref.sync import sync_to_async
from asgiref.testing import ApplicationCommunicator
from django.db import connections
from django.db.backends.signals import connection_created
from rest_framework.authtoken.models import Token

from labeler.http_bridge import WSGIBridge
from tests.conftest import make_user


def scope(path="/", method="GET", headers=()):
    return {
        "type": "http", "http_version": "1.1", "method": method, "path": path, "root_path": "", "scheme": "http",
        "query_string": b"", "headers": list(headers), "client": ("127.0.0.1", 5000), "server": ("testserver", 80),
    }


async def exchange(app, request_scope, *bodies: bytes) -> list[dict]:
    """Send the body in the given pieces and return every message the app sent."""
    talk = ApplicationCommunicator(app, request_scope)
    for n, piece in enumerate(bodies or (b"",)):
        await talk.send_input({"type": "http.request", "body": piece, "more_body": n < len(bodies) - 1})
    await talk.wait(timeout=5)
    sent = []
    while not talk.output_queue.empty():
        sent.append(talk.output_queue.get_nowait())
    return sent


def echo(environ, start_response):
    """The request body, read as Django reads it: no further than Content-Length."""
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    start_response("201 Created", [("Content-Type", "text/plain"), ("X-Thread", str(threading.get_ident()))])
    return [b"got " + body]


@pytest.mark.asyncio
async def test_a_plain_response_goes_out_as_headers_and_whole_body():
    sent = await exchange(WSGIBridge(echo, threads=2), scope(method="POST"), b"hello")
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert sent[0]["status"] == 201 and (b"content-type", b"text/plain") in sent[0]["headers"]
    assert sent[1]["body"] == b"got hello" and not sent[1]["more_body"]


@pytest.mark.asyncio
async def test_a_one_block_response_is_sent_after_its_lane_is_free_and_a_longer_one_streams_from_the_lane():
    lanes_free = []

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"one", b"two", b"three"] if environ["PATH_INFO"] == "/long" else [b"whole"]

    async def send(message):
        lanes_free.append(bridge.lanes._queue().qsize())
        sent.append(message)

    bridge = WSGIBridge(app, threads=1)
    for path, bodies in (("/", [b"whole"]), ("/long", [b"one", b"two", b"three"])):
        sent, lanes_free = [], []
        talk = ApplicationCommunicator(bridge, {**scope(), "path": path})
        await talk.send_input({"type": "http.request", "body": b""})
        await bridge(talk.scope, talk.input_queue.get, send)
        assert [m.get("body") for m in sent[1:]] == bodies
        assert [m["more_body"] for m in sent[1:]] == [True] * (len(bodies) - 1) + [False]
        assert set(lanes_free) == ({1} if path == "/" else {0})  # the one lane: given back, or still sending


@pytest.mark.asyncio
async def test_a_body_sent_in_pieces_without_a_length_reaches_the_app_whole():
    sent = await exchange(WSGIBridge(echo, threads=2), scope(method="POST"), b"chunk one, ", b"chunk two")
    assert sent[1]["body"] == b"got chunk one, chunk two"


@pytest.mark.asyncio
async def test_requests_reuse_the_same_thread_and_never_run_on_the_event_loop():
    bridge = WSGIBridge(echo, threads=4)
    threads = set()
    for _ in range(5):
        sent = await exchange(bridge, scope())
        threads.add(dict(sent[0]["headers"])[b"x-thread"])
    assert len(threads) == 1
    assert threads != {str(threading.get_ident()).encode()}


@pytest.mark.asyncio
async def test_a_client_gone_before_its_body_arrived_gets_nothing():
    called = []
    talk = ApplicationCommunicator(WSGIBridge(lambda e, s: called.append(1) or [], threads=1), scope(method="POST"))
    await talk.send_input({"type": "http.request", "body": b"half", "more_body": True})
    await talk.send_input({"type": "http.disconnect"})
    await talk.wait(timeout=5)
    assert called == [] and talk.output_queue.empty()


@pytest.mark.asyncio
async def test_a_client_gone_before_any_body_gets_nothing():
    called = []
    talk = ApplicationCommunicator(WSGIBridge(lambda e, s: called.append(1) or [], threads=1), scope(method="POST"))
    await talk.send_input({"type": "http.disconnect"})
    await talk.wait(timeout=5)
    assert called == [] and talk.output_queue.empty()


class Endless:
    """A streamed body with no end, which records how far it was read and its close."""

    def __init__(self):
        self.blocks = 0
        self.closed = False
        self.release = threading.Event()

    def __iter__(self):
        while True:
            if self.blocks == 2:  # the first block is out (one block is read ahead)
                self.release.wait(5)  # until the test has hung up
            self.blocks += 1
            yield b"x" * 1024

    def close(self):
        self.closed = True


@pytest.mark.asyncio
async def test_a_streamed_response_stops_and_is_closed_when_the_client_goes_away():
    body = Endless()

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return body

    talk = ApplicationCommunicator(WSGIBridge(app, threads=1), scope())
    await talk.send_input({"type": "http.request", "body": b""})
    assert (await talk.receive_output(timeout=5))["type"] == "http.response.start"
    assert (await talk.receive_output(timeout=5))["more_body"]
    await talk.send_input({"type": "http.disconnect"})
    await sync_to_async(threading.Event().wait)(0.2)  # the bridge notices the hang-up
    body.release.set()
    await talk.wait(timeout=5)
    assert body.closed
    assert body.blocks <= 3  # stopped at once, or after the block it had read ahead
    rest = []
    while not talk.output_queue.empty():
        rest.append(talk.output_queue.get_nowait())
    assert len(rest) <= 1  # at most the block already read ahead went out


def _connections_opened() -> int:
    """Server connections opened so far: by PostgreSQL's pool, or (SQLite) none known."""
    pool = getattr(connections["default"], "pool", None)
    return pool.get_stats().get("connections_num", 0) if pool is not None else 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_django_requests_keep_their_database_connection():
    """SQLite: the request's thread keeps the connection it opened. PostgreSQL: each
    request borrows one from the pool, which opens no new one for requests in turn."""
    from labeler.asgi import application

    token = await sync_to_async(lambda: Token.objects.create(user=make_user("bridged")).key)()
    vendor = connections["default"].vendor
    pool_opened_before = await sync_to_async(_connections_opened)()
    created = []
    connection_created.connect(lambda **kwargs: created.append(1), weak=False, dispatch_uid="bridge-test")
    try:
        statuses = []
        for _ in range(4):
            sent = await exchange(application, scope("/api/projects/", headers=[
                (b"authorization", f"Token {token}".encode()), (b"host", b"testserver")]))
            statuses.append(sent[0]["status"])
        pool_opened = await sync_to_async(_connections_opened)() - pool_opened_before
    finally:
        connection_created.disconnect(dispatch_uid="bridge-test")
        await sync_to_async(connections.close_all)()
    assert statuses == [200] * 4
    if vendor == "postgresql" and await sync_to_async(lambda: connections["default"].pool is not None)():
        assert pool_opened <= 1, f"the pool opened {pool_opened} connections for 4 requests"
    else:
        assert len(created) <= 1, f"{len(created)} connections opened for 4 requests"
