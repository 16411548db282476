"""A file response that streams under ASGI too.

Django's ASGI handler serves a response with a synchronous iterator by reading it
whole into a list first, so a FileResponse of a 100 MB export held 100 MB (and more)
in the web process. This one hands the server one block at a time, read in a worker
thread; under WSGI and in tests it behaves as a plain FileResponse.

The blocks are 512 KiB, not FileResponse's 4 KiB: each block is a hop to a worker
thread and back, and at 4 KiB a 100 MB export took 25,000 of them."""
from asgiref.sync import sync_to_async
from django.http import FileResponse


class StreamedFileResponse(FileResponse):
    block_size = 512 * 1024

    async def __aiter__(self):
        read = sync_to_async(self.file_to_stream.read, thread_sensitive=False)
        while True:
            block = await read(self.block_size)
            if not block:
                break
            yield block
