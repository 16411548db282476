"""The project dashboard's series: progress and pace, the learning curve with the random
baseline and stopping markers, class distribution against the targets, the pool's
uncertainty per round and drift, annotator throughput. Everything is counted by the
database (grouped queries on indexed columns), and answers per day come from their daily
roll-up (`AnswerDay`), so the page stays fast at 1,000,000 items; only per-day and
per-round rows come back to Python."""
from datetime import UTC, datetime, time, timedelta

from django.db.models import Count, Sum
from django.utils import timezone

from annotations import snapshots
from annotations.models import Annotation, Item, LabelClass, Project
from annotations.progress import is_large, item_counts

from .models import AnswerDay, Round, SimulationRun

PACE_DAYS = 7


def progress(project: Project) -> dict:
    """Labeled, in review and remaining items; answers per day and per annotator; the
    time to finish at the pace of the last week."""
    counts = item_counts(project.pk)
    in_review = (
        Annotation.objects.filter(project=project, review_status=Annotation.Review.PENDING)
        .values("item_id").distinct().count()
    )
    days = AnswerDay.objects.filter(project=project)
    per_day = days.values("day").annotate(answers_that_day=Sum("answers")).filter(answers_that_day__gt=0)
    per_annotator = days.filter(answers__gt=0).values("day", "annotator__username", "answers")
    recent = _answers_since(project, timezone.now() - timedelta(days=PACE_DAYS))
    remaining = counts["total"] - counts["labeled"]
    answers_left = remaining * project.overlap
    pace = recent / PACE_DAYS
    return {
        "total": counts["total"], "labeled": counts["labeled"], "in_review": in_review, "remaining": remaining,
        "per_day": [{"day": row["day"].isoformat(), "answers": row["answers_that_day"]}
                    for row in per_day.order_by("day")],
        "per_annotator": [
            {"day": row["day"].isoformat(), "annotator": row["annotator__username"], "answers": row["answers"]}
            for row in per_annotator.order_by("day", "annotator__username")
        ],
        "pace_per_day": round(pace, 2),
        "days_to_finish": round(answers_left / pace, 1) if pace > 0 else None,
    }


def _answers_since(project: Project, since: datetime) -> int:
    """Answers (not gold checks) stored at or after `since`: whole days from the roll-up,
    and the rest of `since`'s own day from the answers (an index range of one day at most)."""
    next_day = since.astimezone(UTC).date() + timedelta(days=1)
    whole_days = AnswerDay.objects.filter(project=project, day__gte=next_day).aggregate(n=Sum("answers"))["n"] or 0
    rest_of_first_day = Annotation.objects.filter(
        project=project, annotator__isnull=False, gold_score__isnull=True,
        created_at__gte=since, created_at__lt=datetime.combine(next_day, time.min, tzinfo=UTC),
    ).count()
    return whole_days + rest_of_first_day


def learning_curve(project: Project) -> dict:
    """One line per learner over the rounds, the simulator's random baseline when one
    ran, and the rounds where a stopping criterion fired."""
    lines: dict[str, list[dict]] = {}
    stops = []
    for row in Round.objects.filter(project=project).order_by("number").values(
        "number", "learner", "labels_used", "metrics", "stopping", "strategy_used", "created_at"
    ):
        point = {"round": row["number"], "labels": row["labels_used"], "strategy": row["strategy_used"],
                 **{k: v for k, v in (row["metrics"] or {}).items() if isinstance(v, (int, float))}}
        lines.setdefault(row["learner"] or "model", []).append(point)
        fired = (row["stopping"] or {}).get("fired") or []
        if fired:
            stops.append({"round": row["number"], "labels": row["labels_used"], "fired": fired})
    return {"lines": lines, "stops": stops, "random_baseline": _random_baseline(project)}


def _random_baseline(project: Project) -> dict | None:
    run = (
        SimulationRun.objects.filter(project=project, state=SimulationRun.State.SUCCEEDED)
        .order_by("-finished_at", "-pk").first()
    )
    curve = (run.result.get("strategies") or {}).get("random") if run else None
    if not curve:
        return None
    metric = "accuracy_mean" if "accuracy_mean" in curve else "map50_mean"
    return {"simulation": run.pk, "metric": metric.replace("_mean", ""), "labels": curve["labels"],
            "values": curve.get(metric, [])}


def class_distribution(project: Project) -> dict:
    """Labels per class against the admin's target ratios."""
    classes = list(LabelClass.objects.filter(ontology_id=project.ontology_id).order_by("order", "pk")
                   .values_list("pk", "key", "name"))
    counts = dict(
        Item.objects.filter(project=project, status=Item.Status.LABELED, final_class__isnull=False)
        .values_list("final_class").annotate(n=Count("pk"))
    )
    total = sum(counts.values())
    targets = (project.sampling or {}).get("target_ratios") or {}
    return {"total": total, "classes": [
        {"key": key, "name": name, "count": counts.get(pk, 0),
         "share": counts.get(pk, 0) / total if total else 0.0, "target": targets.get(key)}
        for pk, key, name in classes
    ]}


def uncertainty(project: Project, last: int = 20) -> dict:
    """The pool's uncertainty histogram of the recent rounds, and their drift reports."""
    rows = Round.objects.filter(project=project).order_by("-number").values("number", "details", "drift")[:last]
    rounds = []
    for row in reversed(list(rows)):
        histogram = (row["details"] or {}).get("uncertainty")
        rounds.append({"round": row["number"], "histogram": histogram, "drift": row["drift"] or {}})
    return {"rounds": rounds, "drift_alert": bool(rounds and rounds[-1]["drift"].get("alert"))}


def dashboard(project: Project) -> dict:
    """Every series of the page; for a large project a snapshot seconds old, refreshed in
    the background (annotations/snapshots.py), with its time in `as_of`."""
    return snapshots.recent(("dashboard", project.pk), _dashboard_of, is_large(project.pk))


def _dashboard_of(project_id: int) -> dict:
    from annotations.skill import annotator_quality

    project = Project.objects.get(pk=project_id)
    return {
        "progress": progress(project),
        "learning_curve": learning_curve(project),
        "classes": class_distribution(project),
        "uncertainty": uncertainty(project),
        "annotators": annotator_quality(project),
    }
