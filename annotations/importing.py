"""Importing items: all rows or none, with every bad row named."""
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.contrib.auth.models import User
from django.db import connection, transaction
from django.utils import timezone

from .errors import ImportFailed
from .events import publish_now
from .formats.tabular import RowError
from .models import Annotation, Item, LabelClass, Project

CHUNK = 2000
MAX_REPORTED_ERRORS = 50
SPLITS = ("auto", "pool", "eval")


@dataclass
class ImportResult:
    """Counts of what was (or would have been) created. Of the bad rows only the first
    MAX_REPORTED_ERRORS are kept, so a file of bad rows costs no memory per row."""

    created: int = 0
    labeled: int = 0
    evaluation: int = 0
    error_count: int = 0
    errors: list[dict] = field(default_factory=list)

    def add_error(self, number: int, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append({"row": number, "error": message})

    def as_dict(self) -> dict:
        return {"created": self.created, "labeled": self.labeled, "evaluation": self.evaluation}


class _LabelLookup:
    """Matches a label value to a class by key, then by name (case-insensitive)."""

    def __init__(self, project: Project):
        classes = list(LabelClass.objects.filter(ontology_id=project.ontology_id))
        self.by_key = {c.key: c for c in classes}
        self.by_name = {c.name.strip().lower(): c for c in classes}
        self.known = ", ".join(c.key for c in classes)

    def __call__(self, value: str) -> LabelClass:
        found = self.by_key.get(value) or self.by_name.get(value.lower())
        if found is None:
            raise RowError(f"unknown label {value!r}; the project's classes are {self.known}")
        return found


def import_rows(
    project: Project,
    rows: Iterable[tuple[int, dict]],
    *,
    text_field: str = "text",
    label_field: str | None = None,
    id_field: str | None = None,
    split: str = "auto",
    user: User | None = None,
    progress: Callable[[int], None] | None = None,
    seed: int | None = None,
) -> ImportResult:
    """Create items (and imported labels) from parsed rows inside one transaction.

    `split`: "eval" puts every row in the evaluation split, "pool" none, and "auto"
    sets aside `project.eval_fraction` of the unlabeled rows at random.
    """
    if split not in SPLITS:
        raise ImportFailed(f"Unknown split {split!r}; use one of {', '.join(SPLITS)}.")
    lookup = _LabelLookup(project)
    rng = random.Random(seed)
    result = ImportResult()
    pending: list[tuple[Item, LabelClass | None]] = []
    checked_columns = False
    seen_rows = 0

    def flush() -> None:
        if result.error_count or not pending:
            pending.clear()
            return
        items = Item.objects.bulk_create([item for item, _ in pending], batch_size=CHUNK)
        Annotation.objects.bulk_create(
            [
                Annotation(project=project, item=item, label_class=label, source=Annotation.Source.IMPORT, annotator=None)
                for item, (_, label) in zip(items, pending)
                if label is not None
            ],
            batch_size=CHUNK,
        )
        pending.clear()

    with transaction.atomic():
        for number, row in rows:
            seen_rows += 1
            if isinstance(row, RowError):
                result.add_error(number, str(row))
                continue
            if not checked_columns:
                _check_columns(row, text_field, label_field, id_field)
                checked_columns = True
            try:
                item, label = _item_from_row(project, row, text_field, label_field, id_field, split, lookup, rng, user)
            except RowError as exc:
                result.add_error(number, str(exc))
                continue
            result.created += 1
            result.labeled += label is not None
            result.evaluation += item.split == Item.Split.EVAL
            pending.append((item, label))
            if len(pending) >= CHUNK:
                flush()
                if progress:
                    progress(seen_rows)
        flush()
        if seen_rows == 0:
            raise ImportFailed("The file has no data rows. Check that it is not empty and has a header line.", reason="empty")
        if result.error_count:
            raise ImportFailed(
                f"Nothing was imported: {result.error_count} row(s) have problems. Fix them and upload again.",
                row_errors=result.errors,
            )
        transaction.on_commit(_refresh_planner_statistics)
    if progress:
        progress(seen_rows)
    return result


def _refresh_planner_statistics() -> None:
    """PostgreSQL plans from table statistics, which autovacuum refreshes only a while
    after a bulk load (never, where it is off). Until then a freshly filled item table
    looks empty, and the claim queries' anti-join on the annotator's assignments is
    planned as a nested loop over every item: 0.3-0.6 s per claim at 10,000 items,
    growing with each label, against under 1 ms once analysed. ANALYZE reads a
    bounded sample, so this costs tens of milliseconds at any table size."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {Item._meta.db_table}, {Annotation._meta.db_table}")


def _check_columns(row: dict, text_field: str, label_field: str | None, id_field: str | None) -> None:
    for wanted, role in ((text_field, "text"), (label_field, "label"), (id_field, "id")):
        if wanted and wanted not in row:
            columns = ", ".join(map(str, row)) or "(none)"
            raise ImportFailed(
                f"The {role} column {wanted!r} is not in the file; its columns are: {columns}.",
                reason="missing_column", columns=list(map(str, row)),
            )


def _item_from_row(project, row, text_field, label_field, id_field, split, lookup, rng, user):
    text = row.get(text_field)
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    if not text.strip():
        raise RowError(f"the {text_field!r} field is empty")
    label = None
    if label_field:
        raw = row.get(label_field)
        raw = "" if raw is None else str(raw).strip()
        if raw:
            label = lookup(raw)
    if split == "eval":
        chosen = Item.Split.EVAL
    elif split == "pool" or label is not None:
        chosen = Item.Split.POOL
    else:
        chosen = Item.Split.EVAL if rng.random() < project.eval_fraction else Item.Split.POOL
    item = Item(
        project=project,
        text=text,
        external_id=str(row.get(id_field, ""))[:200] if id_field else "",
        split=chosen,
        status=Item.Status.LABELED if label is not None else Item.Status.UNLABELED,
        final_class=label,
        final_at=timezone.now() if label is not None else None,
    )
    return item, label


def import_progress_publisher(project: Project, import_id: str) -> Callable[[int], None]:
    def report(rows: int) -> None:
        publish_now(project.pk, "import.progress", import_id=import_id, rows=rows)

    return report
