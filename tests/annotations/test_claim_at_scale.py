"""What keeps next-task cheap in a large project: the random start is read from the ends of
a partial index, and the progress bars come from a snapshot refreshed off the request."""
import pytest
from django.db import connection

from annotations import progress, services, snapshots
from annotations.models import Item, Membership
from tests.conftest import add_items, client_for, make_project, make_user


@pytest.fixture(autouse=True)
def _fresh_snapshots():
    snapshots.forget()
    yield
    snapshots.forget()


def _world(n_items=12):
    annotator = make_user()
    project = make_project(members=[(annotator, Membership.Role.ANNOTATOR)])
    add_items(project, [f"review {n}" for n in range(n_items)])
    return project, annotator


def _plan(sql: str, params) -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("EXPLAIN " + sql, params)
        else:
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        return "\n".join(" ".join(str(part) for part in row) for row in cursor.fetchall())


@pytest.mark.django_db
def test_the_random_start_is_read_from_the_open_pool_index_without_a_scan():
    project, _ = _world()
    Item.objects.bulk_create(Item(project=project, text=f"done {n}", status=Item.Status.LABELED) for n in range(3000))
    with connection.cursor() as cursor:  # statistics, as autovacuum keeps them in a live database
        cursor.execute("ANALYZE")
    open_pool = Item.objects.filter(project=project, status="unlabeled", split="pool", is_gold=False)
    for order in ("pk", "-pk"):
        query = open_pool.order_by(order).values_list("pk", flat=True)[:1]
        sql, params = query.query.sql_with_params()
        plan = _plan(sql, params)
        assert "item_open_pool" in plan, plan
        assert "TEMP B-TREE" not in plan.upper(), plan  # no sort of every open item


@pytest.mark.django_db
def test_the_bounds_follow_the_open_pool():
    project, annotator = _world(n_items=6)
    ids = sorted(Item.objects.filter(project=project).values_list("pk", flat=True))
    assert services._open_pool_bounds(project) == (ids[0], ids[-1])
    Item.objects.filter(pk=ids[0]).update(status=Item.Status.LABELED)
    Item.objects.filter(pk=ids[-1]).update(split=Item.Split.EVAL)
    assert services._open_pool_bounds(project) == (ids[1], ids[-2])
    Item.objects.filter(project=project).update(status=Item.Status.LABELED)
    assert services._open_pool_bounds(project) == (None, None)
    assert services.claim_tasks(annotator, project, want=2) == []


@pytest.mark.django_db
def test_claims_reach_every_item_of_a_small_pool():
    project, annotator = _world(n_items=5)
    claimed = set()
    for _ in range(5):
        task = services.claim_tasks(annotator, project, want=1)[0]
        claimed.add(task.item_id)
        services.submit_annotation(annotator, project, task.item_id, "positive")
    assert claimed == set(Item.objects.filter(project=project).values_list("pk", flat=True))


@pytest.mark.django_db
def test_a_small_project_is_counted_exactly_on_every_claim():
    project, annotator = _world(n_items=4)
    client = client_for(annotator)
    url = f"/api/projects/{project.pk}/tasks/claim/"
    first = client.post(url, {"want": 1}, format="json").json()
    assert first["progress"]["labeled"] == 0
    client.post(f"/api/projects/{project.pk}/annotations/", {"item": first["tasks"][0]["item"], "label": "positive"},
                format="json")
    after = client.post(url, {"want": 1}, format="json").json()["progress"]
    assert (after["labeled"], after["remaining"], after["mine"]) == (1, 3, 1)


@pytest.mark.django_db(transaction=True)
def test_a_large_project_serves_a_snapshot_and_refreshes_it_in_the_background(settings):
    settings.LABELER_PROGRESS_EXACT_BELOW = 3
    settings.LABELER_PROGRESS_MAX_AGE_S = 3600
    project, annotator = _world(n_items=4)
    assert progress.project_progress(project, annotator)["labeled"] == 0
    task = services.claim_tasks(annotator, project, want=1)[0]
    services.submit_annotation(annotator, project, task.item_id, "positive")

    served = progress.project_progress(project, annotator)
    assert served["labeled"] == 0, "a fresh snapshot is served as it is"
    assert served["mine"] == 1, "the caller's own count is always exact"

    settings.LABELER_PROGRESS_MAX_AGE_S = 0
    stale = progress.project_progress(project, annotator)
    assert stale["labeled"] == 0, "a stale snapshot is still served, not counted on the request"
    snapshots.refresh_in_background(("items", project.pk), progress.count_items).join(timeout=10)
    assert progress.project_progress(project, annotator)["labeled"] == 1


@pytest.mark.django_db
def test_items_imported_into_an_emptied_pool_are_claimed_at_once():
    project, annotator = _world(n_items=2)
    for _ in range(2):
        task = services.claim_tasks(annotator, project, want=1)[0]
        services.submit_annotation(annotator, project, task.item_id, "positive")
    assert services.claim_tasks(annotator, project, want=1) == []
    add_items(project, ["a late arrival"])
    late = Item.objects.get(project=project, text="a late arrival")
    assert [task.item_id for task in services.claim_tasks(annotator, project, want=1)] == [late.pk]


@pytest.mark.django_db
def test_a_stale_id_range_still_reaches_new_items_below_and_above_it():
    project, annotator = _world(n_items=3)
    services.claim_tasks(annotator, project, want=1)  # reads and keeps the id range
    Item.objects.filter(project=project).update(status=Item.Status.LABELED)
    add_items(project, ["beyond the kept range"])
    fresh = Item.objects.get(project=project, text="beyond the kept range")
    held = services.claim_tasks(annotator, project, want=2)
    assert fresh.pk in [task.item_id for task in held]
