"""Exporting final labels as CSV or JSONL, generated row by row.

The rows are written to a spooled temporary file (in memory while small) and sent
once complete, with their length. A failure midway (a full disk, a lost database) is
then an error response, never a 200 whose body stops early and looks complete; under
ASGI Django reads a generator whole before sending its first byte anyway.
"""
import contextlib
import csv
import errno
import io
import json
import tempfile
from collections.abc import Iterator
from itertools import islice

from django.contrib.auth import get_user_model
from django.db import DatabaseError, connection
from django.db.models import Func, TextField

from .errors import StorageFull
from .models import Item, LabelClass, Project

SPOOL_IN_MEMORY_BYTES = 8 * 1024 * 1024
DISK_FULL = "The server's disk is full; the export was not written. Free space and try again."

EXPORT_FORMATS = {"csv": "text/csv", "jsonl": "application/x-ndjson"}
FIELDS = [
    "item_id", "external_id", "text", "label", "label_name", "split", "annotator", "labeled_at",
    "consensus", "agreement",
]


ROWS_PER_CHUNK = 5000

# A JSONL line as json.dumps(record, ensure_ascii=False) writes it, FIELDS in order.
JSONL_LINE = "{" + ", ".join(f'"{name}": %s' for name in FIELDS) + "}"


# final_at.isoformat() of the UTC time, written by the database: the drivers would
# make each value a datetime only for it to be formatted again (on PostgreSQL through
# Django's Python loader, close to half of the export's time at 1,000,000 rows).
ISO_TIME_SQL = {
    # Django stores "YYYY-MM-DD HH:MM:SS[.ffffff]" in UTC.
    "sqlite": "substr(%(expressions)s, 1, 10) || 'T' || substr(%(expressions)s, 12) || '+00:00'",
    # Microseconds only when there are any, as isoformat() does.
    "postgresql": (
        "to_char(%(expressions)s AT TIME ZONE 'UTC', CASE WHEN date_trunc('second', %(expressions)s) = "
        "%(expressions)s THEN 'YYYY-MM-DD\"T\"HH24:MI:SS' ELSE 'YYYY-MM-DD\"T\"HH24:MI:SS.US' END) || '+00:00'"
    ),
}


def export_records(project: Project, include_unlabeled: bool = False) -> Iterator[tuple]:
    """The export's rows in item order, one tuple of FIELDS' values each.

    Read with the database's own cursor, ROWS_PER_CHUNK rows at a time (a server-side
    cursor on PostgreSQL), without Django building a value per column. The item table
    is joined only to the consensus: class keys and names and annotators' usernames are
    few, so they are read once into dicts, not joined on every row."""
    items = Item.objects.filter(project=project)
    if not include_unlabeled:
        items = items.filter(status=Item.Status.LABELED)
    labeled_at_sql = ISO_TIME_SQL.get(connection.vendor)
    final_at = Func("final_at", template=labeled_at_sql, output_field=TextField()) if labeled_at_sql else "final_at"
    sql, params = items.order_by("pk").values_list(
        "pk", "external_id", "text", "final_class_id", "split", "final_annotator_id", final_at,
        "consensus__method", "consensus__agreement",
    ).query.sql_with_params()
    classes = _Names(LabelClass.objects, "key", "name")
    classes.update((pk, (key, name)) for pk, key, name in LabelClass.objects.filter(
        ontology_id=project.ontology_id).values_list("pk", "key", "name"))
    usernames = _Names(get_user_model().objects, "username")
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(ROWS_PER_CHUNK):
            classes.load({row[3] for row in rows})
            usernames.load({row[5] for row in rows})
            for pk, external_id, text, class_id, split, user_id, labeled_at, method, agreement in rows:
                key, name = classes[class_id]
                if labeled_at is not None and not labeled_at_sql:
                    labeled_at = labeled_at.isoformat()
                yield (pk, external_id, text, key, name, split, usernames[user_id][0], labeled_at,
                       method, agreement)


class _Names(dict):
    """Some columns of a small table by primary key (None: all None), read for the
    keys a chunk of rows needs that have not been read yet."""

    def __init__(self, manager, *columns: str):
        super().__init__({None: (None,) * len(columns)})
        self.manager = manager
        self.columns = columns

    def load(self, keys: set) -> None:
        missing = keys.difference(self)
        if missing:
            self.update((pk, tuple(values)) for pk, *values in self.manager.filter(pk__in=missing).values_list(
                "pk", *self.columns))


def export_lines(project: Project, fmt: str, include_unlabeled: bool = False) -> Iterator[str]:
    """The export's text, ROWS_PER_CHUNK rows at a time."""
    records = export_records(project, include_unlabeled)
    if fmt == "jsonl":
        yield from _jsonl_chunks(records)
        return
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(FIELDS)
    for record in records:
        writer.writerow(["" if v is None else v for v in record])
        if buffer.tell() > 1 << 16:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


class _Encoded(dict):
    """JSON text of the few values a column repeats (classes, usernames, splits, methods)."""

    def __missing__(self, value):
        encoded = self[value] = _JSON(value)
        return encoded


_JSON = json.JSONEncoder(ensure_ascii=False).encode


def _jsonl_chunks(records: Iterator[tuple]) -> Iterator[str]:
    """Lines with the bytes json.dumps(record, ensure_ascii=False) gives: the line is
    one format string, the free texts go through json's own string encoder, and the
    values that repeat are encoded once."""
    text = json.encoder.encode_basestring  # what JSONEncoder(ensure_ascii=False) uses for a str
    line = JSONL_LINE
    few = _Encoded()
    while chunk := list(islice(records, ROWS_PER_CHUNK)):
        yield "\n".join([
            line % (
                pk, text(external_id), text(body), few[key], few[name], few[split], few[annotator],
                "null" if labeled_at is None else f'"{labeled_at}"', few[method],
                "null" if agreement is None else _JSON(agreement),
            )
            for pk, external_id, body, key, name, split, annotator, labeled_at, method, agreement in chunk
        ]) + "\n"


def is_disk_full(exc: BaseException) -> bool:
    """ENOSPC or a quota on our own files, SQLite's "database or disk is full" or
    PostgreSQL's disk_full (53100) for the database's temporary files."""
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    if isinstance(exc, DatabaseError):
        return getattr(exc.__cause__, "sqlstate", None) == "53100" or "database or disk is full" in str(exc)
    return False


def export_file(project: Project, fmt: str, include_unlabeled: bool = False):
    """The whole export in a temporary file, at its start; the caller closes it (which
    deletes it). On any failure the partial file is deleted and nothing is returned."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY_BYTES, mode="w+b", prefix="labeler-export-")
    try:
        for chunk in export_lines(project, fmt, include_unlabeled):
            spool.write(chunk.encode("utf-8"))
        spool.flush()
        spool.seek(0)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            spool.close()
        if is_disk_full(exc):
            raise StorageFull(DISK_FULL) from exc
        raise
    return spool
