"""The production server (labeler/http_server.py) keeps bodies out of the web process's
memory both ways: a streamed response read by a slow client waits for the connection to
drain instead of queueing, and a large upload reaches the application in pieces, which
the WSGI bridge spools to disk."""
import socket
import time
from pathlib import Path

from tests.script_server import script_server

REPO = Path(__file__).resolve().parent.parent
BODY_MB = 48
BLOCK = 512 * 1024

# The project's server with one app that streams BODY_MB of fresh bytes in 512 KiB blocks,
# as an export's StreamedFileResponse does; argv: port, then "stream", or "held" for an
# app that keeps every block it sent (what the memory bound must catch).
DOWNLOAD_SERVER = f"""
import os, sys
sys.path.insert(0, {str(REPO)!r})
from labeler.http_server import serve

held = []

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({{"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/octet-stream")]}})
    for n in range({BODY_MB * 1024 * 1024 // BLOCK}):
        block = os.urandom({BLOCK})
        if sys.argv[2] == "held":
            held.append(block)
        await send({{"type": "http.response.body", "body": block, "more_body": True}})
    await send({{"type": "http.response.body", "body": b"", "more_body": False}})

serve(app, port=int(sys.argv[1]))
"""


def _growth_while_read_slowly(kind: str) -> tuple[float, int]:
    """Peak RSS growth (MB) of the server while a client reads the body at about
    8 MB/s, and the bytes it read."""
    with script_server(DOWNLOAD_SERVER, kind, client_timeout=5) as (process, client):
        baseline = peak = process.memory_info().rss
        received = 0
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        client.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        while True:
            data = client.recv(64 * 1024)
            if not data:
                break
            received += len(data)
            peak = max(peak, process.memory_info().rss)
            time.sleep(0.008)
        return (peak - baseline) / 2**20, received


def test_a_slowly_read_body_is_not_queued_in_the_server():
    growth, received = _growth_while_read_slowly("stream")
    assert received > BODY_MB * 2**20, "the whole body arrived"
    assert growth < 16, f"the server grew by {growth:.0f} MB while streaming {BODY_MB} MB"

    held_growth, _ = _growth_while_read_slowly("held")
    assert held_growth > BODY_MB / 2, "a body kept in memory shows (what the bound above catches)"


# The project's server whose one application, through the WSGI bridge, reads the request
# body and answers its length; argv: port, then "spooled" (Django's in-memory limit, as
# configured) or "in-memory" (a limit above the upload: the bridge keeps it in memory).
UPLOAD_SERVER = f"""
import sys
sys.path.insert(0, {str(REPO)!r})
from django.conf import settings
settings.configure(FILE_UPLOAD_MAX_MEMORY_SIZE=2_621_440 if sys.argv[2] == "spooled" else 1 << 30)
from labeler.http_bridge import WSGIBridge
from labeler.http_server import serve

def count(environ, start_response):
    size, stream = 0, environ["wsgi.input"]
    while block := stream.read(1 << 20):
        size += len(block)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(size).encode()]

serve(WSGIBridge(count, threads=2), port=int(sys.argv[1]))
"""
UPLOAD_MB = 64


def _growth_while_uploading(kind: str) -> tuple[float, bytes]:
    """Peak RSS growth (MB) of the server while it takes an UPLOAD_MB body, and its answer."""
    with script_server(UPLOAD_SERVER, kind) as (process, client):
        baseline = peak = process.memory_info().rss
        block = b"x" * (1 << 20)
        client.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                       + f"Content-Length: {UPLOAD_MB << 20}\r\n\r\n".encode())
        for _ in range(UPLOAD_MB):
            client.sendall(block)
            peak = max(peak, process.memory_info().rss)
        answer = b""
        while data := client.recv(65536):
            answer += data
            peak = max(peak, process.memory_info().rss)
        return (peak - baseline) / 2**20, answer


def test_a_large_upload_waits_on_disk_not_in_the_server():
    growth, answer = _growth_while_uploading("spooled")
    assert b"\r\n\r\n" + str(UPLOAD_MB << 20).encode() in answer, answer[-200:]
    assert growth < 16, f"the server grew by {growth:.0f} MB while taking a {UPLOAD_MB} MB body"

    in_memory_growth, _ = _growth_while_uploading("in-memory")
    assert in_memory_growth > UPLOAD_MB / 2, "a body kept in memory shows (what the bound above catches)"
