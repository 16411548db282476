"""Keeps the daily roll-up of answers (`AnswerDay`) equal to the answers themselves.

Every path that stores, removes or changes an answer calls one function here inside its
transaction: the row of (project, annotator, day) gets the difference by one atomic
upsert (`INSERT ... ON CONFLICT DO UPDATE SET n = n + excluded.n`, on SQLite as on
PostgreSQL), so concurrent submits never lose a count and never need a lock beyond their
own row. `rebuild` recomputes the rows from the answers (the migration's back-fill, and
after bulk loads that bypass the answer paths).

Which answers count, as everywhere on the dashboard: those with an annotator (imported
answers have none). An answer's day is the UTC day it was first stored; a fix after a
review keeps it. Model imports are deferred so this module costs nothing to import.
"""
from collections import Counter, defaultdict
from datetime import UTC, date

from django.db import connection

COUNTS = ("answers", "gold_checks", "gold_score_total", "timed", "duration_ms_total", "reviewed", "overruled")
DECISIONS = ("approved", "rejected", "corrected")  # ItemEvent actions that decide on an answer
APPROVED = "approved"


def answer_added(annotation) -> None:
    """A new answer, gold score (if any) already set."""
    _add(annotation.project_id, annotation.annotator_id, _day(annotation.created_at), _answer_counts(
        annotation.gold_score, annotation.duration_ms))


def answer_retimed(annotation, duration_ms: int | None) -> None:
    """The answer's duration is about to become `duration_ms` (a fix after review); None keeps it."""
    if duration_ms is None or duration_ms == annotation.duration_ms:
        return
    before = _answer_counts(annotation.gold_score, annotation.duration_ms)
    after = _answer_counts(annotation.gold_score, duration_ms)
    _add(annotation.project_id, annotation.annotator_id, _day(annotation.created_at),
         {name: after[name] - before[name] for name in after})


def decision_recorded(annotation, action: str) -> None:
    """A reviewer approved, sent back or corrected the answer; other history steps count nothing."""
    if annotation is None or action not in DECISIONS:
        return
    _add(annotation.project_id, annotation.annotator_id, _day(annotation.created_at),
         {"reviewed": 1, "overruled": int(action != APPROVED)})


def answers_removed(answers) -> None:
    """The answers of this queryset are about to be deleted: take them out, with the review
    decisions on them (their history loses the link to the answer)."""
    from annotations.models import ItemEvent

    totals = _totals(answers.model, ItemEvent, answers)
    for (project_id, annotator_id, day), counts in totals.items():
        _add(project_id, annotator_id, day, {name: -value for name, value in counts.items()})


def rebuild(apps, project_id: int | None = None) -> int:
    """Recompute the roll-up from the answers, for one project or all; returns the rows written."""
    answer_model = apps.get_model("annotations", "Annotation")
    day_model = apps.get_model("activelearning", "AnswerDay")
    answers = answer_model.objects.all() if project_id is None else answer_model.objects.filter(project_id=project_id)
    totals = _totals(answer_model, apps.get_model("annotations", "ItemEvent"), answers)
    stale = day_model.objects.all() if project_id is None else day_model.objects.filter(project_id=project_id)
    stale.delete()
    rows = [day_model(project_id=project, annotator_id=annotator, day=day, **counts)
            for (project, annotator, day), counts in totals.items()]
    day_model.objects.bulk_create(rows, batch_size=2000)
    return len(rows)


def _totals(answer_model, event_model, answers) -> dict[tuple, Counter]:
    """The roll-up's counts of `answers`, per (project, annotator, day), grouped in the database."""
    from django.db.models import Count, F, Q, Sum

    from annotations.aggregates import utc_day

    answers = answers.filter(annotator__isnull=False)
    totals: dict[tuple, Counter] = defaultdict(Counter)
    grouped = answers.annotate(day=utc_day("created_at")).values("project_id", "annotator_id", "day").annotate(
        answers=Count("pk", filter=Q(gold_score__isnull=True)),
        gold_checks=Count("pk", filter=Q(gold_score__isnull=False)),
        gold_score_total=Sum("gold_score", default=0.0),
        timed=Count("pk", filter=Q(duration_ms__isnull=False)),
        duration_ms_total=Sum("duration_ms", default=0),
    )
    for row in grouped.order_by():
        key = row["project_id"], row["annotator_id"], date.fromisoformat(row["day"])
        totals[key].update({name: row[name] for name in COUNTS[:5]})
    decisions = (
        event_model.objects.filter(action__in=DECISIONS, annotation__in=answers.values("pk"))
        .annotate(day=utc_day("annotation__created_at"))
        .values("day", answer_project=F("annotation__project_id"), answer_annotator=F("annotation__annotator_id"))
        .annotate(reviewed=Count("pk"), overruled=Count("pk", filter=~Q(action=APPROVED)))
    )
    for row in decisions.order_by():
        key = row["answer_project"], row["answer_annotator"], date.fromisoformat(row["day"])
        totals[key].update({"reviewed": row["reviewed"], "overruled": row["overruled"]})
    return totals


def _answer_counts(gold_score: float | None, duration_ms: int | None) -> dict:
    gold = gold_score is not None
    return {"answers": int(not gold), "gold_checks": int(gold), "gold_score_total": gold_score or 0.0,
            "timed": int(duration_ms is not None), "duration_ms_total": duration_ms or 0}


def _day(moment) -> date:
    return moment.astimezone(UTC).date()


def _add(project_id: int, annotator_id: int | None, day: date, deltas: dict) -> None:
    """Add `deltas` to the row of (project, annotator, day), creating it at zero first: one statement."""
    if annotator_id is None or not any(deltas.values()):
        return
    from .models import AnswerDay

    quote = connection.ops.quote_name
    table = quote(AnswerDay._meta.db_table)
    columns = ["project_id", "annotator_id", "day", *COUNTS]
    values = [project_id, annotator_id, connection.ops.adapt_datefield_value(day), *(deltas.get(name, 0) for name in COUNTS)]
    increments = ", ".join(f"{quote(name)} = {table}.{quote(name)} + excluded.{quote(name)}" for name in COUNTS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(map(quote, columns))}) VALUES ({', '.join(['%s'] * len(values))}) "
            f"ON CONFLICT (project_id, annotator_id, day) DO UPDATE SET {increments}",
            values,
        )
