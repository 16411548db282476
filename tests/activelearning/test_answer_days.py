"""The daily roll-up of answers (`AnswerDay`) against the answers themselves: after a mix
of submits on several days, gold checks, approvals, rejections and fixes, corrections,
undos, a reset qualification set and a deleted item, every figure the dashboard and the
quality table read from the roll-up equals a direct aggregation over the Annotation and
ItemEvent rows (the queries the pages ran before the roll-up), and a rebuild from
scratch gives the same rows."""
from datetime import UTC, datetime, timedelta

import pytest
from django.apps import apps
from django.db.models import Avg, Count, F, Q
from django.utils import timezone

from activelearning import answer_days
from activelearning.models import AnswerDay
from annotations import gold, review, services
from annotations.aggregates import utc_day
from annotations.models import Annotation, Item, ItemEvent, Membership
from annotations.skill import quality_over_time
from tests.conftest import add_items, client_for, make_user

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
DECISIONS = (ItemEvent.Action.APPROVED, ItemEvent.Action.REJECTED, ItemEvent.Action.CORRECTED)


@pytest.fixture
def clock(monkeypatch):
    """Set the time every answer is stored at (and the dashboard's 'now')."""
    def set_to(moment):
        monkeypatch.setattr(timezone, "now", lambda: moment)
    set_to(NOW)
    return set_to


@pytest.fixture
def worked(cast, clock):
    """Three annotators, overlap 2, everything reviewed, a quarter of each queue gold."""
    project = cast["project"]
    ann3 = make_user("ann3")
    Membership.objects.create(project=project, user=ann3, role=Membership.Role.ANNOTATOR)
    project.overlap, project.retrain_every = 2, 1000
    project.review = {**project.review, "policy": "all", "gold_fraction": 0.25}
    project.save()
    add_items(project, [f"gold sentence {n}" for n in range(4)] + [f"pool sentence {n}" for n in range(40)])
    for item, label in zip(Item.objects.filter(project=project).order_by("pk")[:4], ["negative", "positive"] * 2):
        gold.mark_gold(project, cast["admin"], item.pk, label)
    people = [cast["annotator"], cast["annotator2"], ann3]
    # Answers over ten days, some on the pace window's first day on both sides of its start.
    moments = [NOW - timedelta(days=9), NOW - timedelta(days=7, hours=3), NOW - timedelta(days=7, hours=-3),
               NOW - timedelta(days=2), NOW - timedelta(minutes=5)]
    for round_number, moment in enumerate(moments):
        clock(moment)
        for person_number, person in enumerate(people):
            for answer_number in range(2):
                held = services.claim_tasks(person, project, want=1)
                if not held:
                    continue
                label = ("positive", "negative")[(round_number + person_number + answer_number) % 3 == 0]
                duration = None if answer_number and person_number == 2 else 1000 + 37 * round_number + person_number
                services.submit_annotation(person, project, held[0].item_id, label, duration_ms=duration)
    clock(NOW)
    return project, people


def _human_answers(project):
    return Annotation.objects.filter(project=project, annotator__isnull=False).exclude(gold_score__isnull=False)


def _review_a_mix(project, cast, people):
    reviewer = cast["reviewer"]
    pending = list(_human_answers(project).filter(review_status="pending").order_by("pk"))
    for answer in pending[:6]:
        review.approve(project, reviewer, answer.pk)
    for answer in pending[6:9]:
        review.correct(project, reviewer, answer.pk, "negative", None)
    for answer in pending[9:13]:
        review.reject(project, reviewer, answer.pk, "look again")
    # Two annotators fix what was sent back (with a new time, or none); one fix is rejected again.
    for answer in pending[9:11]:
        services.submit_annotation(answer.annotator, project, answer.item_id, "positive",
                                   duration_ms=4321 if answer.pk % 2 else None)
    review.reject(project, reviewer, pending[9].pk, "still wrong")


def direct_figures(project):
    """What the dashboard computed from the answers before the roll-up."""
    answers = _human_answers(project)
    since = timezone.now() - timedelta(days=7)
    per_day = answers.annotate(day=utc_day("created_at")).values("day").annotate(n=Count("pk")).order_by("day")
    per_annotator = (answers.annotate(day=utc_day("created_at")).values("day", "annotator__username")
                     .annotate(n=Count("pk")).order_by("day", "annotator__username"))
    people = Annotation.objects.filter(project=project, annotator__isnull=False).values(
        "annotator_id", username=F("annotator__username")).annotate(
        answers=Count("pk", filter=Q(gold_score__isnull=True)),
        gold_checks=Count("pk", filter=Q(gold_score__isnull=False)),
        gold_accuracy=Avg("gold_score"),
        mean_ms=Avg("duration_ms", filter=Q(duration_ms__isnull=False)),
        with_consensus=Count("pk", filter=Q(item__consensus__label_class__isnull=False, gold_score__isnull=True)),
        agree=Count("pk", filter=Q(label_class=F("item__consensus__label_class"), gold_score__isnull=True)),
    )
    decided = {row["annotation__annotator_id"]: row for row in ItemEvent.objects.filter(
        project=project, action__in=DECISIONS, annotation__isnull=False).values("annotation__annotator_id").annotate(
        total=Count("pk"), against=Count("pk", filter=~Q(action=ItemEvent.Action.APPROVED)))}
    over_time = (Annotation.objects.filter(project=project, annotator__isnull=False)
                 .annotate(day=utc_day("created_at")).values("day", "annotator_id", username=F("annotator__username"))
                 .annotate(answers=Count("pk", filter=Q(gold_score__isnull=True)),
                           gold_checks=Count("pk", filter=Q(gold_score__isnull=False)), gold_accuracy=Avg("gold_score"))
                 .order_by("day", "username"))
    return {
        "per_day": [{"day": row["day"], "answers": row["n"]} for row in per_day],
        "per_annotator": [{"day": row["day"], "annotator": row["annotator__username"], "answers": row["n"]}
                          for row in per_annotator],
        "recent": answers.filter(created_at__gte=since).count(),
        "annotators": {row["username"]: {
            "answers": row["answers"], "gold_checks": row["gold_checks"], "gold_accuracy": row["gold_accuracy"],
            "seconds_per_item": row["mean_ms"] / 1000 if row["mean_ms"] else None,
            "peer_agreement": row["agree"] / row["with_consensus"] if row["with_consensus"] else None,
            "reviewed": decided.get(row["annotator_id"], {}).get("total", 0),
            "rejection_rate": (decided[row["annotator_id"]]["against"] / decided[row["annotator_id"]]["total"]
                               if row["annotator_id"] in decided else None),
        } for row in people},
        "over_time": list(over_time),
    }


def assert_rolled_up_equals_direct(project, admin):
    direct = direct_figures(project)
    dashboard = client_for(admin).get(f"/api/projects/{project.pk}/dashboard/").json()
    progress = dashboard["progress"]
    assert progress["per_day"] == direct["per_day"]
    assert progress["per_annotator"] == direct["per_annotator"]
    assert progress["pace_per_day"] == round(direct["recent"] / 7, 2)
    shown = {row["username"]: {name: row[name] for name in direct["annotators"]["ann"]}
             for row in dashboard["annotators"]}
    assert shown == direct["annotators"]
    assert quality_over_time(project) == direct["over_time"]
    kept = rows_with_answers(AnswerDay.objects.filter(project=project))
    answer_days.rebuild(apps, project.pk)
    assert rows_with_answers(AnswerDay.objects.filter(project=project)) == kept


def rows_with_answers(days) -> list[tuple]:
    """The roll-up's rows, less those that every answer left (undone, deleted)."""
    return sorted(days.exclude(answers=0, gold_checks=0).values_list("project_id", "annotator_id", "day",
                                                                      *answer_days.COUNTS))


def test_the_roll_up_equals_the_answers_after_submits_on_several_days(cast, worked):
    project, _ = worked
    assert len(direct_figures(project)["per_day"]) == 4, "two rounds on the pace window's first day"
    assert Annotation.objects.filter(project=project, gold_score__isnull=False).exists()
    assert Annotation.objects.filter(project=project, duration_ms__isnull=True).exists()
    assert_rolled_up_equals_direct(project, cast["admin"])


def test_the_roll_up_follows_reviews_fixes_undos_resets_and_deletions(cast, worked, clock):
    project, people = worked
    _review_a_mix(project, cast, people)
    assert ItemEvent.objects.filter(project=project, action=ItemEvent.Action.RESUBMITTED).count() == 2
    assert_rolled_up_equals_direct(project, cast["admin"])

    # Undo takes the latest answer back, with a decision on it when it had one.
    sent_back = Annotation.objects.filter(project=project, review_status="rejected").first()
    Annotation.objects.filter(pk=sent_back.pk).update(updated_at=timezone.now() + timedelta(hours=1))
    services.undo_last_submit(sent_back.annotator, project)
    services.undo_last_submit(people[2], project)
    # A gold check retaken from scratch, an item deleted by an admin.
    member = Membership.objects.get(project=project, user=people[0])
    project.review = {**project.review, "qualification": {"required": True, "count": 4}}
    project.save(update_fields=["review"])
    gold.reset_qualification(project, member.pk)
    project.review = {**project.review, "qualification": {"required": False}}
    project.save(update_fields=["review"])
    answered = Annotation.objects.filter(project=project, annotator=people[1], gold_score__isnull=True).first()
    response = client_for(cast["admin"]).delete(f"/api/projects/{project.pk}/items/{answered.item_id}/")
    assert response.status_code == 204
    assert_rolled_up_equals_direct(project, cast["admin"])

    # New work after all that lands on today's rows.
    clock(NOW + timedelta(hours=1))
    held = services.claim_tasks(people[1], project, want=1)
    services.submit_annotation(people[1], project, held[0].item_id, "positive", duration_ms=999)
    assert_rolled_up_equals_direct(project, cast["admin"])


def test_the_migration_back_fills_the_roll_up_from_stored_answers(cast, worked):
    project, _ = worked
    _review_a_mix(project, cast, worked[1])
    rolled = rows_with_answers(AnswerDay.objects.all())
    AnswerDay.objects.all().delete()
    assert answer_days.rebuild(apps) == len(rolled)
    assert rows_with_answers(AnswerDay.objects.all()) == rolled
