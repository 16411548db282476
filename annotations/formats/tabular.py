"""Streaming readers for CSV, TSV and JSONL: one dict per row, never the whole file."""
import codecs
import csv
import json
from collections.abc import Iterator
from typing import BinaryIO

from annotations.errors import ImportFailed

FORMATS = ("csv", "tsv", "jsonl")


class RowError(Exception):
    """A problem confined to one row; the import collects these and reports them."""


def guess_format(filename: str) -> str | None:
    lowered = filename.lower()
    for ending, fmt in ((".csv", "csv"), (".tsv", "tsv"), (".tab", "tsv"), (".txt", "tsv"), (".jsonl", "jsonl"), (".ndjson", "jsonl")):
        if lowered.endswith(ending):
            return fmt
    return None


def _text_lines(stream: BinaryIO) -> Iterator[str]:
    """Decode UTF-8 incrementally, naming the line where decoding fails. Splits on
    '\\n' only: U+0085 and friends are text, not line breaks."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    pending = ""
    line_number = 1
    while True:
        chunk = stream.read(1 << 16)
        final = not chunk
        buffered = decoder.getstate()[0]
        try:
            pending += decoder.decode(chunk, final=final)
        except UnicodeDecodeError as exc:
            # Nothing of this chunk was decoded: count its lines up to the bad byte.
            line_number += pending.count("\n") + (buffered + chunk)[: max(exc.start, 0)].count(b"\n")
            raise ImportFailed(
                f"The file is not UTF-8 text (undecodable byte near line {line_number}). "
                "Save it as UTF-8 and upload it again.",
                reason="encoding",
            ) from exc
        *complete, pending = pending.split("\n")
        for line in complete:
            line_number += 1
            yield line + "\n"
        if final:
            if pending:
                yield pending
            return


def read_rows(stream: BinaryIO, fmt: str) -> Iterator[tuple[int, dict]]:
    """Yield (row number, row). Row numbers count data rows from 1."""
    if fmt not in FORMATS:
        raise ImportFailed(f"Unknown format {fmt!r}; use one of {', '.join(FORMATS)}.", reason="format")
    lines = _text_lines(stream)
    if fmt == "jsonl":
        yield from _read_jsonl(lines)
    else:
        yield from _read_delimited(lines, "," if fmt == "csv" else "\t")


def _read_jsonl(lines: Iterator[str]) -> Iterator[tuple[int, dict]]:
    number = 0
    for line in lines:
        if not line.strip():
            continue
        number += 1
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, RowError(f"not valid JSON ({exc.msg})")
            continue
        if not isinstance(row, dict):
            yield number, RowError("each line must be a JSON object")
            continue
        yield number, row


def _read_delimited(lines: Iterator[str], delimiter: str) -> Iterator[tuple[int, dict]]:
    reader = csv.reader(lines, delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        raise ImportFailed(f"The header line could not be read: {exc}.", reason="format") from exc
    header = [h.strip() for h in header]
    number = 0
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            number += 1
            yield number, RowError(f"malformed line ({exc})")
            continue
        if not values or all(not v.strip() for v in values):
            continue
        number += 1
        if len(values) != len(header):
            yield number, RowError(f"has {len(values)} fields where the header has {len(header)}")
            continue
        yield number, dict(zip(header, values))

