"""The project dashboard's series: progress and pace, the learning curve with the random
baseline and stopping markers, class distribution against the targets, the pool's
uncertainty per round and drift, annotator throughput. Everything is counted by the
database (grouped queries on indexed columns), so the page stays fast at 1,000,000
items; only per-day and per-round rows come back to Python."""
from datetime import timedelta

from django.db.models import Count
from django.utils import timezone

from annotations.aggregates import utc_day
from annotations.models import Annotation, Item, LabelClass, Project

from .models import Round, SimulationRun

PACE_DAYS = 7


def progress(project: Project) -> dict:
    """Labeled, in review and remaining items; answers per day and per annotator; the
    time to finish at the pace of the last week."""
    counts = {
        "total": Item.objects.filter(project=project).count()
        - Item.objects.filter(project=project, is_gold=True).count(),
        "labeled": Item.objects.filter(project=project, status=Item.Status.LABELED).count()
        - Item.objects.filter(project=project, status=Item.Status.LABELED, is_gold=True).count(),
    }
    in_review = (
        Annotation.objects.filter(project=project, review_status=Annotation.Review.PENDING)
        .values("item_id").distinct().count()
    )
    answers = Annotation.objects.filter(project=project, annotator__isnull=False, gold_score__isnull=True)
    per_day = list(answers.annotate(day=utc_day("created_at")).values("day").annotate(answers=Count("pk"))
                   .order_by("day"))
    per_annotator = list(
        answers.annotate(day=utc_day("created_at")).values("day", "annotator__username")
        .annotate(answers=Count("pk")).order_by("day", "annotator__username")
    )
    since = timezone.now() - timedelta(days=PACE_DAYS)
    recent = answers.filter(created_at__gte=since).count()
    remaining = counts["total"] - counts["labeled"]
    answers_left = remaining * project.overlap
    pace = recent / PACE_DAYS
    return {
        "total": counts["total"], "labeled": counts["labeled"], "in_review": in_review, "remaining": remaining,
        "per_day": [{"day": row["day"], "answers": row["answers"]} for row in per_day],
        "per_annotator": [
            {"day": row["day"], "annotator": row["annotator__username"], "answers": row["answers"]}
            for row in per_annotator
        ],
        "pace_per_day": round(pace, 2),
        "days_to_finish": round(answers_left / pace, 1) if pace > 0 else None,
    }


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
    from annotations.skill import annotator_quality

    return {
        "progress": progress(project),
        "learning_curve": learning_curve(project),
        "classes": class_distribution(project),
        "uncertainty": uncertainty(project),
        "annotators": annotator_quality(project),
    }
