"""Exports and media go out in large blocks, read one at a time, not whole."""
import io

from annotations.file_response import StreamedFileResponse


class Tracked(io.BytesIO):
    """Remembers how far it had been read when each block was handed on."""


def test_a_file_is_handed_on_in_half_megabyte_blocks_as_it_is_read():
    data = Tracked(b"x" * (2 * 1024 * 1024 + 1))
    response = StreamedFileResponse(data)
    seen = [(len(block), data.tell()) for block in response.streaming_content]
    assert [size for size, _ in seen] == [512 * 1024] * 4 + [1]
    assert [tell for _, tell in seen] == [512 * 1024 * n for n in range(1, 5)] + [2 * 1024 * 1024 + 1]


def test_it_is_still_a_file_response_with_its_headers():
    response = StreamedFileResponse(io.BytesIO(b"abc"), filename="a.txt", as_attachment=True)
    assert b"".join(response.streaming_content) == b"abc"
    assert response["Content-Disposition"].startswith("attachment")
