"""Daphne requests without Twisted's own parsing of multipart bodies.

Twisted's `Request` parses every multipart/form-data POST into `request.args` before
daphne sees it: it reads the whole upload into one bytes object and builds an email
message of it, about nine times the file's size in memory (a 101 MB import took the web
process from 278 MB to 1.2 GB). Daphne never reads `request.args`; Django parses the
body from the ASGI messages, streaming files to disk. Twisted has a flag to skip the
parsing, which daphne does not set: this sets it.
"""
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
