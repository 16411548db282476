"""Under daphne a multipart upload reaches Django as body messages without Twisted first
parsing it whole in memory (labeler/daphne_uploads.py)."""
from daphne import http_protocol
from twisted.internet.testing import StringTransport
from twisted.web import http

import labeler.asgi  # noqa: F401  (installs the request class, as every server does)
from labeler import daphne_uploads


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
