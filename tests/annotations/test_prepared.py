"""A query compiled once gives what its queryset gives, for any values."""
import pytest

from annotations.models import Item, Project
from annotations.prepared import PreparedQuery
from tests.conftest import add_items, make_project


def _open_from(project_id: int, start: int):
    return Item.objects.filter(project_id=project_id, pk__gte=start, status="unlabeled").order_by("pk").values_list("pk")


@pytest.mark.django_db
def test_the_prepared_query_answers_as_its_queryset_for_new_values():
    first, second = make_project(name="One"), make_project(name="Two")
    add_items(first, [f"one {n}" for n in range(5)])
    add_items(second, [f"two {n}" for n in range(4)])
    prepared = PreparedQuery(_open_from, "project_id", "start")
    for project in (first, second):
        ids = list(Item.objects.filter(project=project).order_by("pk").values_list("pk", flat=True))
        for start in (ids[0], ids[2], ids[-1] + 1):
            assert prepared.rows(project_id=project.pk, start=start) == list(_open_from(project.pk, start))
    assert prepared.rows(project_id=second.pk, start=0) == [(pk,) for pk in Item.objects.filter(project=second).order_by("pk").values_list("pk", flat=True)]


@pytest.mark.django_db
def test_a_name_the_query_does_not_use_is_refused():
    prepared = PreparedQuery(lambda project_id, start: Item.objects.filter(project_id=project_id).values_list("pk"),
                             "project_id", "start")
    with pytest.raises(ValueError, match="start"):
        prepared.rows(project_id=1, start=2)


@pytest.mark.django_db
def test_a_small_integer_column_keeps_its_comparison():
    """Django drops a comparison with a value outside the column's range (as on
    PostgreSQL's smallint); the stand-ins stay inside it, so the comparison is kept."""
    project = make_project()
    add_items(project, ["a", "b", "c"])
    items = list(Item.objects.filter(project=project).order_by("pk"))
    Item.objects.filter(pk=items[0].pk).update(assigned_count=2)
    under = PreparedQuery(
        lambda project_id, overlap: Item.objects.filter(project_id=project_id, assigned_count__lt=overlap)
        .order_by("pk").values_list("pk"),
        "project_id", "overlap",
    )
    assert under.rows(project_id=project.pk, overlap=1) == [(items[1].pk,), (items[2].pk,)]
    assert under.rows(project_id=project.pk, overlap=3) == [(item.pk,) for item in items]


@pytest.mark.django_db
def test_prepared_instances_are_the_querysets_instances_with_converted_values():
    """Datetimes come back aware and booleans as booleans, as Django converts them."""
    from annotations.models import Project

    project = make_project(name="Converted", overlap=2)
    by_id = PreparedQuery(lambda project_id: Project.objects.filter(pk=project_id)[:1], "project_id")
    found = by_id.first(project_id=project.pk)
    expected = Project.objects.get(pk=project.pk)
    assert found == expected and found._state.adding is False
    for field in Project._meta.concrete_fields:
        assert getattr(found, field.attname) == getattr(expected, field.attname), field.name
        assert type(getattr(found, field.attname)) is type(getattr(expected, field.attname)), field.name
    assert found.created_at.tzinfo is not None
    assert by_id.first(project_id=project.pk + 1000) is None


@pytest.mark.django_db
def test_text_values_are_placed_like_numbers():
    from django.contrib.auth.models import User

    from tests.conftest import make_user

    alice, bob = make_user("alice"), make_user("bob")
    by_name = PreparedQuery(lambda username: User.objects.filter(username=username, is_active=True)[:1], text=("username",))
    assert by_name.first(username="alice") == alice
    assert by_name.first(username="bob") == bob
    assert by_name.first(username="nobody") is None
    assert by_name.first(username="~30011~") is None  # a stand-in is not a value


@pytest.mark.django_db
def test_a_queryset_with_joined_models_cannot_give_prepared_instances():
    with pytest.raises(ValueError, match="plain queryset"):
        PreparedQuery(lambda pk: Item.objects.select_related("project").filter(pk=pk), "pk").first(pk=1)


@pytest.mark.django_db
def test_prepared_instances_carry_the_querysets_annotations():
    from django.db.models import Count, OuterRef, Subquery

    from annotations.models import Membership
    from annotations.permissions import PROJECT_WITH_ROLE
    from tests.conftest import make_user

    project, other = make_project(name="Annotated"), make_project(name="Other")
    add_items(project, ["a", "b", "c"])
    member, outsider = make_user(), make_user()
    Membership.objects.create(project=project, user=member, role=Membership.Role.REVIEWER)
    counted = PreparedQuery(
        lambda project_id: Project.objects.filter(pk=project_id).annotate(item_count=Count("items"))[:1], "project_id"
    )
    assert counted.first(project_id=project.pk).item_count == 3 and counted.first(project_id=other.pk).item_count == 0
    found = PROJECT_WITH_ROLE.first(project_id=project.pk, user_id=member.pk)
    assert found == project and found.name == "Annotated" and found.member_role == "reviewer"
    assert PROJECT_WITH_ROLE.first(project_id=project.pk, user_id=outsider.pk).member_role is None
    assert PROJECT_WITH_ROLE.first(project_id=other.pk, user_id=member.pk).member_role is None
    roles = Membership.objects.filter(project=OuterRef("pk"), user_id=member.pk).values("role")[:1]
    expected = Project.objects.annotate(member_role=Subquery(roles)).get(pk=project.pk)
    assert {f.attname: getattr(found, f.attname) for f in Project._meta.concrete_fields} == {
        f.attname: getattr(expected, f.attname) for f in Project._meta.concrete_fields
    }


@pytest.mark.django_db
def test_a_union_gives_each_parts_rows_as_the_part_alone_would():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from annotations.prepared import PreparedUnion

    project = make_project(name="Union")
    add_items(project, [f"item {n}" for n in range(12)])
    ids = list(Item.objects.filter(project=project).order_by("pk").values_list("pk", flat=True))
    Item.objects.filter(pk__in=ids[::3]).update(status="labeled")
    newest_first = PreparedQuery(
        lambda project_id: Item.objects.filter(project_id=project_id).order_by("-pk").values_list("pk", "text", "status")[:4],
        "project_id",
    )
    open_from = PreparedQuery(lambda project_id, start: _open_from(project_id, start)[:5], "project_id", "start")
    union = PreparedUnion((newest_first, 0), (open_from, 0))
    for start in (ids[0], ids[5], ids[-1] + 1):
        with CaptureQueriesContext(connection) as queries:
            newest, opened = union.rows(project_id=project.pk, start=start)
        assert len(queries.captured_queries) == 1
        assert sorted(newest_first.rows(project_id=project.pk)) == newest
        assert open_from.rows(project_id=project.pk, start=start) == opened
    newest_by_text = PreparedUnion((newest_first, (2, 1)), (open_from, 0))
    newest, _ = newest_by_text.rows(project_id=project.pk, start=ids[0])
    assert newest == sorted(newest_first.rows(project_id=project.pk), key=lambda row: (row[2], row[1]))


@pytest.mark.django_db
def test_a_prepared_row_gives_each_parts_instance_in_one_statement_and_none_for_a_part_that_finds_nothing():
    from django.db import connection
    from django.db.models import F
    from django.test.utils import CaptureQueriesContext

    from annotations.models import LabelClass
    from annotations.prepared import PreparedRow

    project = make_project(name="Row")
    add_items(project, ["first", "second"])
    item = Item.objects.filter(project=project).order_by("pk").first()
    item_by_id = PreparedQuery(lambda item_id: Item.objects.filter(pk=item_id)[:1], "item_id")
    class_by_key = PreparedQuery(
        lambda ontology_id, key: LabelClass.objects.filter(ontology_id=ontology_id, key=key)[:1], "ontology_id", text=("key",)
    )
    project_annotated = PreparedQuery(
        lambda project_id: Project.objects.filter(pk=project_id).annotate(doubled=F("overlap") * 2)[:1], "project_id"
    )
    row = PreparedRow(item_by_id, class_by_key, project_annotated)
    for key in ("positive", "no such class"):
        with CaptureQueriesContext(connection) as queries:
            found_item, found_class, found_project = row.first_of_each(
                item_id=item.pk, ontology_id=project.ontology_id, key=key, project_id=project.pk
            )
        assert len(queries.captured_queries) == 1
        assert found_item == item and found_item.created_at == item.created_at and found_item.text == "first"
        assert found_class == LabelClass.objects.filter(ontology=project.ontology, key=key).first()
        assert found_project == project and found_project.doubled == project.overlap * 2
    assert row.first_of_each(item_id=0, ontology_id=project.ontology_id, key="positive", project_id=0)[::2] == (None, None)
    with pytest.raises(TypeError):
        PreparedRow(item_by_id, PreparedQuery(lambda item_id: Item.objects.filter(pk=item_id).values_list("pk"), "item_id")
                    ).first_of_each(item_id=item.pk)
