"""A file response in blocks large enough for the web server.

The server sends a response body one block at a time, each a crossing from the request's
thread to the server's event loop (labeler/http_bridge.py); FileResponse's 4 KiB blocks
made a 100 MB export 25,000 of them. These are 512 KiB."""
from django.http import FileResponse


class StreamedFileResponse(FileResponse):
    block_size = 512 * 1024
