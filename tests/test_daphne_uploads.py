"""Under daphne an upload reaches Django without being held whole in memory: Twisted does
not parse it, and daphne's body chunks wait on disk (labeler/daphne_uploads.py)."""
from pathlib import Path

from daphne import http_protocol
from twisted.internet.testing import StringTransport
from twisted.web import http

import labeler.asgi  # noqa: F401  (installs the request class, as every server does)
from labeler import daphne_uploads
from tests.script_server import script_server

REPO = Path(__file__).resolve().parent.parent


class RecordingServer:
    """The little of daphne's Server a request uses; keeps the application's messages."""

    root_path = ""
    proxy_forwarded_address_header = None
    request_buffer_size = 8192

    def __init__(self):
        self.messages = []

    def create_application(self, protocol, scope):
        messages = self.messages

        class Queue:
            put_nowait = messages.append

        return Queue()

    def protocol_connected(self, protocol):
        pass

    def protocol_disconnected(self, protocol):
        pass


def multipart_post(payload: bytes) -> bytes:
    body = (b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"rows.jsonl\"\r\n"
            b"Content-Type: application/x-ndjson\r\n\r\n" + payload + b"\r\n--XyZ--\r\n")
    head = (b"POST /api/projects/1/import/ HTTP/1.1\r\nHost: testserver\r\n"
            b"Content-Type: multipart/form-data; boundary=XyZ\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n")
    return head + body


def send_upload(monkeypatch) -> tuple[RecordingServer, list]:
    parsed = []
    real_parse = http._getMultiPartArgs

    def recording_parse(content, ctype):
        parsed.append(len(content))
        return real_parse(content, ctype)

    monkeypatch.setattr(http, "_getMultiPartArgs", recording_parse)
    server = RecordingServer()
    protocol = http_protocol.HTTPFactory(server).buildProtocol(("127.0.0.1", 0))
    protocol.makeConnection(StringTransport())
    payload = b'{"text": "a row"}\n' * 20_000  # past Twisted's 100 kB in-memory body limit
    protocol.dataReceived(multipart_post(payload))
    body = b"".join(message["body"] for message in server.messages)
    assert payload in body and not server.messages[-1]["more_body"]
    return server, parsed


def test_daphne_hands_on_a_multipart_body_without_parsing_it(monkeypatch):
    assert http_protocol.WebRequest is daphne_uploads.WebRequestWithoutFormParsing
    _, parsed = send_upload(monkeypatch)
    assert parsed == [], "Twisted read the whole upload into memory to parse it"


def test_without_the_fix_twisted_parses_the_whole_upload(monkeypatch):
    """The check above can fail: daphne's own request parses every multipart POST."""
    monkeypatch.setattr(http_protocol, "WebRequest", daphne_uploads.WebRequestWithoutFormParsing.__bases__[0])
    _, parsed = send_upload(monkeypatch)
    assert parsed and parsed[0] > 360_000


def test_body_chunks_are_spooled_and_handed_on_as_one_file():
    queue = daphne_uploads.SpooledBodyQueue(spool_memory=1024)
    for n in range(10):
        queue.put_nowait({"type": "http.request", "body": bytes([n]) * 1000, "more_body": n < 9})
    assert queue.qsize() == 1, "the chunks did not wait in the queue"
    message = queue.get_nowait()
    body = message[daphne_uploads.BODY_FILE]
    assert message["body"] == b"" and not message["more_body"]
    assert body.read() == b"".join(bytes([n]) * 1000 for n in range(10))
    assert body._rolled, "past the memory limit the body went to disk"


def test_other_messages_and_one_piece_bodies_pass_through():
    queue = daphne_uploads.SpooledBodyQueue(spool_memory=1024)
    messages = [
        {"type": "http.request", "body": b"small", "more_body": False},
        {"type": "http.disconnect"},
        {"type": "websocket.receive", "text": "hi"},
    ]
    for message in messages:
        queue.put_nowait(message)
    assert [queue.get_nowait() for _ in messages] == messages


# A daphne server (the project's, or daphne's own) whose one application, through the
# WSGI bridge, reads the request body and answers its length; argv: port, "spooled"/"plain".
UPLOAD_SERVER = f"""
import sys
sys.path.insert(0, {str(REPO)!r})
from django.conf import settings
settings.configure()
from daphne.endpoints import build_endpoint_description_strings
from daphne.server import Server
from labeler.daphne_flow import FlowControlledServer
from labeler.http_bridge import WSGIBridge

def count(environ, start_response):
    size, stream = 0, environ["wsgi.input"]
    while block := stream.read(1 << 20):
        size += len(block)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(size).encode()]

kind = FlowControlledServer if sys.argv[2] == "spooled" else Server
kind(application=WSGIBridge(count, threads=2), signal_handlers=True, verbosity=0,
     endpoints=build_endpoint_description_strings(host="127.0.0.1", port=int(sys.argv[1]))).run()
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
    assert b"\r\n" + str(UPLOAD_MB << 20).encode() + b"\r\n" in answer, answer[-200:]
    assert growth < 16, f"the server grew by {growth:.0f} MB while taking a {UPLOAD_MB} MB body"

    plain_growth, _ = _growth_while_uploading("plain")
    assert plain_growth > UPLOAD_MB / 2, "daphne's own server queues the body in memory (what the bound catches)"
