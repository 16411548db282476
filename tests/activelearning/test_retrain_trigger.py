"""When rounds start: every N labels, on a schedule (a periodic job), or only by hand."""
from datetime import timedelta

import pytest
from django.utils import timezone

from activelearning.models import TrainingJob
from activelearning.services import request_scheduled_rounds
from annotations import services
from annotations.models import Project
from tests.conftest import add_items, client_for


@pytest.fixture
def project(cast):
    add_items(cast["project"], [f"review {n}" for n in range(12)])
    Project.objects.filter(pk=cast["project"].pk).update(retrain_every=3)
    cast["project"].refresh_from_db()
    return cast["project"]


def label(user, project, n):
    for number in range(n):
        held = services.claim_tasks(user, project, want=1)
        services.submit_annotation(user, project, held[0].item_id, ("positive", "negative")[number % 2])


def set_trigger(project, trigger, minutes=60):
    Project.objects.filter(pk=project.pk).update(retrain_trigger=trigger, retrain_interval_minutes=minutes)
    project.refresh_from_db()


def test_the_labels_trigger_starts_a_round_after_retrain_every_labels(cast, project, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        label(cast["annotator"], project, 3)
    assert TrainingJob.objects.filter(reason="labels").count() == 1


def test_manual_never_starts_a_round_on_labels(cast, project, django_capture_on_commit_callbacks):
    set_trigger(project, "manual")
    with django_capture_on_commit_callbacks(execute=True):
        label(cast["annotator"], project, 6)
    assert not TrainingJob.objects.exists()
    assert request_scheduled_rounds() == []


def test_the_schedule_starts_a_round_once_its_interval_passed_and_labels_came_in(cast, project,
                                                                               django_capture_on_commit_callbacks):
    set_trigger(project, "schedule", minutes=30)
    assert request_scheduled_rounds() == [], "no new labels, no round"
    with django_capture_on_commit_callbacks(execute=True):
        label(cast["annotator"], project, 4)
    assert not TrainingJob.objects.exists(), "labels alone do not start a round on the schedule"
    with django_capture_on_commit_callbacks(execute=True):
        assert request_scheduled_rounds() == [project.pk]
    assert TrainingJob.objects.filter(reason="schedule").count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        label(cast["annotator"], project, 1)
    assert request_scheduled_rounds() == [], "the interval has not passed"
    later = timezone.now() + timedelta(minutes=31)
    with django_capture_on_commit_callbacks(execute=True):
        assert request_scheduled_rounds(now=later) == [project.pk]


def test_the_trigger_is_a_validated_project_setting(cast, project):
    admin = client_for(cast["admin"])
    bad = admin.patch(f"/api/projects/{project.pk}/", {"retrain_trigger": "hourly"}, format="json")
    assert bad.status_code == 400 and "retrain_trigger" in bad.json()
    zero = admin.patch(f"/api/projects/{project.pk}/", {"retrain_interval_minutes": 0}, format="json")
    assert zero.status_code == 400 and "retrain_interval_minutes" in zero.json()
    ok = admin.patch(f"/api/projects/{project.pk}/", {"retrain_trigger": "schedule", "retrain_interval_minutes": 15},
                     format="json")
    assert ok.status_code == 200 and ok.json()["retrain_trigger"] == "schedule"
