"""Exporting final labels as CSV or JSONL, streamed row by row."""
import csv
import io
import json
from collections.abc import Iterator

from .models import Item, Project

EXPORT_FORMATS = {"csv": "text/csv", "jsonl": "application/x-ndjson"}
FIELDS = [
    "item_id", "external_id", "text", "label", "label_name", "split", "annotator", "labeled_at",
    "consensus", "agreement",
]


def export_records(project: Project, include_unlabeled: bool = False) -> Iterator[dict]:
    items = Item.objects.filter(project=project)
    if not include_unlabeled:
        items = items.filter(status=Item.Status.LABELED)
    rows = items.order_by("pk").values_list(
        "pk", "external_id", "text", "final_class__key", "final_class__name", "split",
        "final_annotator__username", "final_at", "consensus__method", "consensus__agreement",
    )
    for pk, external_id, text, key, name, split, annotator, labeled_at, method, agreement in rows.iterator(
        chunk_size=5000
    ):
        yield {
            "item_id": pk,
            "external_id": external_id,
            "text": text,
            "label": key,
            "label_name": name,
            "split": split,
            "annotator": annotator,
            "labeled_at": labeled_at.isoformat() if labeled_at else None,
            "consensus": method,
            "agreement": agreement,
        }


def export_lines(project: Project, fmt: str, include_unlabeled: bool = False) -> Iterator[str]:
    records = export_records(project, include_unlabeled)
    if fmt == "jsonl":
        for record in records:
            yield json.dumps(record, ensure_ascii=False) + "\n"
        return
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=FIELDS)
    writer.writeheader()
    for record in records:
        writer.writerow({k: "" if v is None else v for k, v in record.items()})
        if buffer.tell() > 1 << 16:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
