"""Exports and media reach an ASGI server block by block, not read whole into memory."""
import asyncio
import io

from annotations.file_response import StreamedFileResponse


class CountingFile(io.BytesIO):
    """Remembers how far it has been read when each block is handed on."""


def test_the_asgi_iterator_reads_one_block_at_a_time():
    data = CountingFile(b"x" * 1000)
    response = StreamedFileResponse(data)
    response.block_size = 100
    positions = []

    async def consume():
        async for block in response.__aiter__():
            positions.append((len(block), data.tell()))

    asyncio.run(consume())
    assert [size for size, _ in positions] == [100] * 10
    assert [tell for _, tell in positions] == list(range(100, 1001, 100)), "never read ahead of what was sent"


def test_wsgi_and_tests_still_see_a_plain_file_response():
    response = StreamedFileResponse(io.BytesIO(b"abc"), filename="a.txt", as_attachment=True)
    assert b"".join(response.streaming_content) == b"abc"
    assert response["Content-Disposition"].startswith("attachment")


def test_the_asgi_iterator_hands_on_large_blocks():
    """FileResponse's 4 KiB blocks cost a thread hop each: 25,000 for a 100 MB export."""
    data = io.BytesIO(b"x" * (2 * 1024 * 1024 + 1))
    response = StreamedFileResponse(data)

    async def sizes():
        return [len(block) async for block in response.__aiter__()]

    assert asyncio.run(sizes()) == [512 * 1024] * 4 + [1]
