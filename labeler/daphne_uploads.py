"""Daphne request bodies kept out of the web process's memory.

Twisted's `Request` parses every multipart/form-data POST into `request.args` before
daphne sees it: it reads the whole upload into one bytes object and builds an email
message of it, about nine times the file's size in memory (a 101 MB import took the web
process from 278 MB to 1.2 GB). Daphne never reads `request.args`; Django parses the
body from the ASGI messages, streaming files to disk. Twisted has a flag to skip the
parsing, which daphne does not set: this sets it. Daphne then queued the body for the
application as chunks, all at once: `SpooledBodyQueue` below keeps it on disk instead.
"""
import asyncio
from tempfile import SpooledTemporaryFile

from daphne import http_protocol


class WebRequestWithoutFormParsing(http_protocol.WebRequest):
    """Daphne's request, leaving the body for the application to parse."""

    def __init__(self, *args, **kwargs):
        kwargs["parsePOSTFormSubmission"] = False
        super().__init__(*args, **kwargs)


def install() -> None:
    """Daphne's factory builds each connection's requests from the module's
    `WebRequest`, looked up per connection, so replacing it covers every server."""
    http_protocol.WebRequest = WebRequestWithoutFormParsing


# The key under which the last `http.request` message carries the whole body as a file.
BODY_FILE = "labeler.body_file"


class SpooledBodyQueue(asyncio.Queue):
    """An application's input queue that keeps a request body on disk, not in messages.

    Twisted writes a large body to a temporary file as it arrives; daphne then reads it
    back in 8 KiB chunks and queues every chunk for the application at once, so a 500 MB
    import sat in the queue, 500 MB of the web process, until the application read it.
    This queue writes each chunk to a spooled file as it is put (memory up to Django's
    FILE_UPLOAD_MAX_MEMORY_SIZE, then disk) and hands the application one last message
    holding the file (labeler/http_bridge.py reads it from there). Messages of other
    types, and a body that came in one message, pass through unchanged."""

    def __init__(self, spool_memory: int):
        super().__init__()
        self.spool_memory = spool_memory
        self._body: SpooledTemporaryFile | None = None

    def put_nowait(self, message: dict) -> None:
        if message.get("type") != "http.request" or (self._body is None and not message.get("more_body")):
            return super().put_nowait(message)
        if self._body is None:
            self._body = SpooledTemporaryFile(max_size=self.spool_memory)
        self._body.write(message.get("body", b""))
        if message.get("more_body"):
            return None
        body, self._body = self._body, None
        body.seek(0)
        return super().put_nowait({"type": "http.request", "body": b"", "more_body": False, BODY_FILE: body})
