"""A streamed response read by a slow client stays out of the web process's memory:
the server waits for the connection to drain instead of queueing the whole body."""
import socket
import time
from pathlib import Path

from tests.script_server import script_server

REPO = Path(__file__).resolve().parent.parent
BODY_MB = 48
BLOCK = 512 * 1024

# A daphne server whose one app streams BODY_MB of fresh bytes in 512 KiB blocks, as an
# export's StreamedFileResponse does; argv: port, "flow" or "plain".
SERVER = f"""
import os, sys
sys.path.insert(0, {str(REPO)!r})
from daphne.endpoints import build_endpoint_description_strings
from daphne.server import Server
from labeler.daphne_flow import FlowControlledServer

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({{"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/octet-stream")]}})
    for n in range({BODY_MB * 1024 * 1024 // BLOCK}):
        await send({{"type": "http.response.body", "body": os.urandom({BLOCK}), "more_body": True}})
    await send({{"type": "http.response.body", "body": b"", "more_body": False}})

kind = FlowControlledServer if sys.argv[2] == "flow" else Server
kind(application=app, endpoints=build_endpoint_description_strings(host="127.0.0.1", port=int(sys.argv[1])),
     signal_handlers=True, verbosity=0).run()
"""


def _growth_while_read_slowly(kind: str) -> tuple[float, int]:
    """Peak RSS growth (MB) of the server while a client reads the body at about
    8 MB/s, and the bytes it read."""
    with script_server(SERVER, kind, client_timeout=5) as (process, client):
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
    growth, received = _growth_while_read_slowly("flow")
    assert received > BODY_MB * 2**20, "the whole body arrived"
    assert growth < 16, f"the server grew by {growth:.0f} MB while streaming {BODY_MB} MB"

    plain_growth, _ = _growth_while_read_slowly("plain")
    assert plain_growth > BODY_MB / 2, "without the wait, daphne queues the body (what the bound above catches)"
