"""A write compiled once stores what the ORM would store, for any values, on either database."""
import uuid
from datetime import timedelta

import pytest
from django.db.models import F
from django.utils import timezone

from annotations.models import Annotation, Assignment, Item, ItemEvent
from annotations.prepared_writes import Param, PreparedInsert, PreparedUpdate
from tests.conftest import add_items, make_project, make_user

TAKE = PreparedUpdate(lambda: (
    Item.objects.filter(pk=Param("item_id"), assigned_count__lt=Param("overlap")),
    {"assigned_count": F("assigned_count") + 1},
))
SETTLE = PreparedUpdate(lambda: (
    Item.objects.filter(pk=Param("item_id")),
    {"status": Item.Status.LABELED, "final_class_id": Param("class_id"), "final_at": Param("at")},
))
CLAIM = PreparedInsert(
    Assignment, "project_id", "item_id", "annotator_id", "status", "created_at", "expires_at",
    update_fields=["status", "expires_at"], unique_fields=["item", "annotator"],
)


def _items(project, n=3):
    add_items(project, [f"text {k}" for k in range(n)])
    return list(Item.objects.filter(project=project).order_by("pk"))


@pytest.mark.django_db
def test_a_prepared_update_changes_only_the_rows_its_values_name():
    project = make_project(overlap=2)
    first, second, third = _items(project)
    assert TAKE.run(item_id=first.pk, overlap=2) == 1
    assert TAKE.run(item_id=first.pk, overlap=2) == 1
    assert TAKE.run(item_id=first.pk, overlap=2) == 0  # full: the condition holds with the new value
    assert TAKE.run(item_id=third.pk, overlap=1) == 1
    counts = dict(Item.objects.filter(project=project).values_list("pk", "assigned_count"))
    assert counts == {first.pk: 2, second.pk: 0, third.pk: 1}


@pytest.mark.django_db
def test_a_prepared_update_converts_new_values_as_the_field_does():
    project = make_project()
    item = _items(project, 1)[0]
    label = project.ontology.classes.get(key="positive")
    at = timezone.now() - timedelta(days=3, microseconds=17)
    assert SETTLE.run(item_id=item.pk, class_id=label.pk, at=at) == 1
    item.refresh_from_db()
    assert (item.status, item.final_class_id, item.final_at) == (Item.Status.LABELED, label.pk, at)
    SETTLE.run(item_id=item.pk, class_id=None, at=None)  # None stores NULL
    item.refresh_from_db()
    assert (item.final_class_id, item.final_at) == (None, None)


@pytest.mark.django_db
def test_a_prepared_insert_returns_the_new_rows_key_and_stores_defaults():
    project = make_project()
    user = make_user()
    item = _items(project, 1)[0]
    client_id = uuid.uuid4()
    answer = PreparedInsert(Annotation, "project_id", "item_id", "annotator_id", "client_id", "created_at", "updated_at")
    pk = answer.run(project_id=project.pk, item_id=item.pk, annotator_id=user.pk, client_id=client_id)
    stored = Annotation.objects.get(pk=pk)
    assert (stored.client_id, stored.source, stored.review_status, stored.label_class_id) == (
        client_id, Annotation.Source.HUMAN, Annotation.Review.NONE, None)
    assert timezone.now() - stored.created_at < timedelta(minutes=1)  # stamped at the run, not at compile
    assert stored.created_at == stored.updated_at
    event = PreparedInsert(ItemEvent, "project_id", "item_id", "actor_id", "action", "annotation_id", "created_at")
    event_pk = event.run(project_id=project.pk, item_id=item.pk, actor_id=user.pk, action="submitted", annotation_id=pk)
    assert ItemEvent.objects.get(pk=event_pk).detail == {}


@pytest.mark.django_db
def test_a_prepared_upsert_updates_the_row_under_the_unique_fields():
    project = make_project()
    user = make_user()
    item = _items(project, 1)[0]
    soon, later = timezone.now() + timedelta(minutes=5), timezone.now() + timedelta(hours=1)
    first = CLAIM.run(project_id=project.pk, item_id=item.pk, annotator_id=user.pk, status="active", expires_at=soon)
    Assignment.objects.filter(pk=first).update(status=Assignment.Status.EXPIRED)
    again = CLAIM.run(project_id=project.pk, item_id=item.pk, annotator_id=user.pk, status="active", expires_at=later)
    assert again == first
    claim = Assignment.objects.get()
    assert (claim.status, claim.expires_at) == (Assignment.Status.ACTIVE, later)


def test_time_stamps_must_be_named_and_columns_must_exist():
    with pytest.raises(ValueError, match="updated_at"):
        PreparedInsert(Annotation, "project_id", "item_id", "created_at")
    with pytest.raises(ValueError, match="no columns"):
        PreparedInsert(ItemEvent, "project_id", "colour", "created_at")


@pytest.mark.django_db
def test_a_run_without_a_value_names_the_missing_one():
    with pytest.raises(TypeError, match="overlap"):
        TAKE.run(item_id=1)


def test_a_statement_kind_must_say_how_it_compiles():
    from annotations.prepared_writes import _Statement

    class Incomplete(_Statement):
        pass

    with pytest.raises(TypeError, match="_compile"):
        Incomplete()
