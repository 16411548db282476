"""The labeling loop through the API: claim, submit, skip, undo, leases, overlap."""
import csv
import io
import random
import threading
import uuid
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from activelearning.models import QueueEntry, Round
from activelearning.services import request_round
from annotations import services
from annotations.models import Annotation, Assignment, Item, Membership
from tests.conftest import add_items, client_for, make_project, make_user

TEXTS = [f"review number {n}" for n in range(1, 21)]


def claim(client, project, want=2, **extra):
    response = client.post(f"/api/projects/{project.pk}/tasks/claim/", {"want": want, **extra}, format="json")
    assert response.status_code == 200, response.content
    return response.json()["tasks"]


def submit(client, project, item_id, label="positive", **extra):
    return client.post(
        f"/api/projects/{project.pk}/annotations/", {"item": item_id, "label": label, **extra}, format="json"
    )


@pytest.fixture
def project(cast):
    add_items(cast["project"], TEXTS)
    return cast["project"]


def test_claim_returns_the_current_task_and_the_next(cast, project):
    tasks = claim(client_for(cast["annotator"]), project)
    assert len(tasks) == 2
    assert tasks[0]["item"] != tasks[1]["item"]
    assert all(t["status"] == "active" and t["text"].startswith("review number") for t in tasks)


def test_claiming_again_returns_the_same_open_tasks(cast, project):
    client = client_for(cast["annotator"])
    first = claim(client, project)
    again = claim(client, project)
    assert [t["id"] for t in again] == [t["id"] for t in first]
    assert Assignment.objects.filter(annotator=cast["annotator"]).count() == 2


def test_claim_tops_up_to_want_after_a_submit(cast, project):
    client = client_for(cast["annotator"])
    first = claim(client, project)
    assert submit(client, project, first[0]["item"]).status_code == 201
    after = claim(client, project)
    assert after[0]["id"] == first[1]["id"]
    assert len(after) == 2
    assert first[0]["item"] not in {t["item"] for t in after}


def test_evaluation_items_are_offered_before_pool_items(cast, project):
    add_items(project, ["held out one", "held out two", "held out three"], split="eval")
    eval_ids = list(Item.objects.filter(project=project, split="eval").order_by("pk").values_list("pk", flat=True))
    tasks = claim(client_for(cast["annotator"]), project)
    assert [t["item"] for t in tasks] == eval_ids[:2]
    assert all(t["split"] == "eval" for t in tasks)


def test_after_a_round_tasks_follow_the_queue_order(cast, django_capture_on_commit_callbacks):
    project = cast["project"]
    add_items(project, ["awful film", "terrible plot", "great acting", "lovely score"], labels=["negative", "negative", "positive", "positive"])
    add_items(project, [f"{word} movie" for word in ("bad", "good", "fine", "dull", "bright", "sad", "happy", "meh")])
    project.batch_size = 5
    project.save()
    with django_capture_on_commit_callbacks(execute=True):
        request_round(project.pk, reason="manual")
    round_ = Round.objects.get(project=project)
    assert round_.model_version is not None
    queue = list(QueueEntry.objects.filter(project=project).order_by("rank").values_list("item_id", flat=True))
    assert len(queue) == 5

    tasks = claim(client_for(cast["annotator"]), project)
    assert [t["item"] for t in tasks] == queue[:2]
    assert [t["rank"] for t in tasks] == [1, 2]
    assert all(t["model_version"] == round_.number for t in tasks)
    assert all(t["hint"]["label"] in {"negative", "positive"} and 0 < t["hint"]["confidence"] <= 1 for t in tasks)
    # An item in hand at overlap 1 leaves the queue.
    assert not QueueEntry.objects.filter(item_id__in=queue[:2]).exists()


def test_without_a_queue_claims_fall_back_to_random_pool_items(cast, db):
    random.seed(3)
    project = make_project(members=[(u, Membership.Role.ANNOTATOR) for u in [make_user() for _ in range(8)]])
    add_items(project, [f"text {n}" for n in range(200)])
    claimed = []
    for membership in project.memberships.all():
        tasks = claim(client_for(membership.user), project)
        assert len(tasks) == 2
        assert all(t["rank"] is None and t["model_version"] is None and t["hint"] is None for t in tasks)
        claimed += [t["item"] for t in tasks]
    assert len(set(claimed)) == 16
    lowest = sorted(Item.objects.filter(project=project).values_list("pk", flat=True))[:16]
    assert sorted(claimed) != lowest, "claims should be spread over the pool, not taken from its start"


def test_two_annotators_never_get_the_same_item_at_overlap_one(cast, db):
    project = cast["project"]
    add_items(project, ["one", "two", "three"])
    first = claim(client_for(cast["annotator"]), project)
    second = claim(client_for(cast["annotator2"]), project)
    assert len(first) == 2 and len(second) == 1
    assert not {t["item"] for t in first} & {t["item"] for t in second}
    assert claim(client_for(cast["reviewer"]), project) == []


def test_overlap_two_gives_an_item_to_exactly_two_annotators(cast, db):
    project = cast["project"]
    project.overlap = 2
    project.save()
    add_items(project, ["the only item"])
    item = Item.objects.get(project=project)
    holders = [cast["annotator"], cast["annotator2"]]
    for user in holders:
        assert [t["item"] for t in claim(client_for(user), project)] == [item.pk]
    assert claim(client_for(cast["reviewer"]), project) == []
    assert claim(client_for(cast["admin"]), project) == []
    item.refresh_from_db()
    assert item.assigned_count == 2
    assert set(Assignment.objects.filter(item=item).values_list("annotator", flat=True)) == {u.pk for u in holders}


def test_overlap_two_settles_the_item_after_the_second_answer(cast, db):
    project = cast["project"]
    project.overlap = 2
    project.save()
    add_items(project, ["the only item"])
    item = Item.objects.get(project=project)
    for user in (cast["annotator"], cast["annotator2"]):
        claim(client_for(user), project)
    assert submit(client_for(cast["annotator"]), project, item.pk, "positive").status_code == 201
    item.refresh_from_db()
    assert item.status == Item.Status.UNLABELED
    assert submit(client_for(cast["annotator2"]), project, item.pk, "positive").status_code == 201
    item.refresh_from_db()
    assert item.status == Item.Status.LABELED
    assert item.final_class.key == "positive"
    # A third member is never handed the settled item.
    assert claim(client_for(cast["reviewer"]), project) == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("overlap", [1, 2])
def test_concurrent_claims_never_assign_an_item_beyond_the_overlap(overlap):
    annotators = [make_user() for _ in range(8)]
    project = make_project(overlap=overlap, members=[(u, Membership.Role.ANNOTATOR) for u in annotators])
    add_items(project, [f"contended {n}" for n in range(10)])
    start = threading.Barrier(len(annotators))
    errors: list[BaseException] = []

    def work(user):
        try:
            start.wait(timeout=30)
            for _ in range(3):
                held = services.claim_tasks(user, project, want=2)
                if held:
                    services.submit_annotation(user, project, held[0].item_id, "positive", client_id=uuid.uuid4())
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(u,)) for u in annotators]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    connections.close_all()

    per_item = Counter(
        Assignment.objects.filter(project=project, status__in=["active", "submitted"]).values_list("item_id", flat=True)
    )
    assert per_item, "the threads claimed nothing"
    assert max(per_item.values()) <= overlap
    for item in Item.objects.filter(project=project):
        assert item.assigned_count == per_item.get(item.pk, 0) <= overlap
        assert Annotation.objects.filter(item=item).count() <= overlap
    # Ten items, overlap copies each, eight annotators holding up to two and answering up to three.
    assert sum(per_item.values()) == min(10 * overlap, 8 * 5)


def test_submit_stores_the_answer_and_settles_the_item(cast, project):
    client = client_for(cast["annotator"])
    task = claim(client, project)[0]
    response = submit(client, project, task["item"], "negative", duration_ms=1200)
    assert response.status_code == 201
    body = response.json()
    assert body["label"] == "negative" and body["annotator"] == "ann" and body["item"] == task["item"]
    item = Item.objects.get(pk=task["item"])
    assert item.status == Item.Status.LABELED
    assert item.final_class.key == "negative"
    assert Assignment.objects.get(pk=task["id"]).status == Assignment.Status.SUBMITTED


def test_submit_with_the_same_client_id_is_stored_once(cast, project, django_capture_on_commit_callbacks):
    client = client_for(cast["annotator"])
    task = claim(client, project)[0]
    client_id = str(uuid.uuid4())
    with django_capture_on_commit_callbacks(execute=True):
        first = submit(client, project, task["item"], client_id=client_id)
        second = submit(client, project, task["item"], client_id=client_id)
    assert first.status_code == 201
    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"]
    assert Annotation.objects.filter(item_id=task["item"]).count() == 1
    project.refresh_from_db()
    assert project.labels_since_round == 1


def test_a_second_answer_without_client_id_is_refused(cast, project):
    client = client_for(cast["annotator"])
    task = claim(client, project)[0]
    assert submit(client, project, task["item"]).status_code == 201
    again = submit(client, project, task["item"], "negative")
    assert again.status_code == 403
    assert "already answered" in again.json()["detail"]
    assert Annotation.objects.get(item_id=task["item"]).label_class.key == "positive"


def test_it_refuses_submit_for_an_item_not_assigned_to_you(cast, project):
    others = claim(client_for(cast["annotator2"]), project)
    response = submit(client_for(cast["annotator"]), project, others[0]["item"])
    assert response.status_code == 403
    assert "not assigned to you" in response.json()["detail"]
    assert not Annotation.objects.exists()


def test_it_refuses_submit_for_an_item_never_claimed_by_anyone(cast, project):
    item = Item.objects.filter(project=project).first()
    response = submit(client_for(cast["annotator"]), project, item.pk)
    assert response.status_code == 403
    assert response.json()["code"] == "not_assigned"


def test_it_refuses_an_unknown_class_naming_the_known_keys(cast, project):
    client = client_for(cast["annotator"])
    task = claim(client, project)[0]
    response = submit(client, project, task["item"], "neutral")
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert "'neutral'" in detail and "negative" in detail and "positive" in detail
    assert Assignment.objects.get(pk=task["id"]).status == Assignment.Status.ACTIVE


def test_submit_for_an_item_deleted_meanwhile_answers_gone(cast, project):
    client = client_for(cast["annotator"])
    task = claim(client, project)[0]
    assert client_for(cast["admin"]).delete(f"/api/projects/{project.pk}/items/{task['item']}/").status_code == 204
    response = submit(client, project, task["item"])
    assert response.status_code == 410
    assert "deleted" in response.json()["detail"]


def test_submit_for_an_item_of_another_project_answers_gone(cast, project):
    other = make_project(members=[(cast["annotator"], Membership.Role.ANNOTATOR)])
    add_items(other, ["elsewhere"])
    foreign = Item.objects.get(project=other)
    services.claim_tasks(cast["annotator"], other)
    response = submit(client_for(cast["annotator"]), project, foreign.pk)
    assert response.status_code == 410
    assert not Annotation.objects.exists()


def test_submit_rejects_malformed_input(cast, project):
    client = client_for(cast["annotator"])
    task = claim(client, project)[0]
    assert submit(client, project, task["item"], client_id="not-a-uuid").status_code == 400
    assert client.post(f"/api/projects/{project.pk}/annotations/", {"label": "positive"}, format="json").status_code == 400


def test_skip_hands_the_item_to_others_and_never_back_to_the_skipper(cast, db):
    project = cast["project"]
    add_items(project, ["hard one"])
    item = Item.objects.get(project=project)
    skipper = client_for(cast["annotator"])
    task = claim(skipper, project)[0]
    response = skipper.post(f"/api/projects/{project.pk}/tasks/{task['id']}/skip/")
    assert response.status_code == 200
    assert response.json()["status"] == "skipped"
    item.refresh_from_db()
    assert item.assigned_count == 0
    assert claim(skipper, project) == []
    assert [t["item"] for t in claim(client_for(cast["annotator2"]), project)] == [item.pk]


def test_skip_of_someone_elses_task_is_refused(cast, project):
    task = claim(client_for(cast["annotator"]), project)[0]
    response = client_for(cast["annotator2"]).post(f"/api/projects/{project.pk}/tasks/{task['id']}/skip/")
    assert response.status_code == 403
    assert Assignment.objects.get(pk=task["id"]).status == Assignment.Status.ACTIVE


def test_skipping_twice_is_refused(cast, project):
    client = client_for(cast["annotator"])
    task = claim(client, project)[0]
    url = f"/api/projects/{project.pk}/tasks/{task['id']}/skip/"
    assert client.post(url).status_code == 200
    assert client.post(url).status_code == 403
    assert Item.objects.get(pk=task["item"]).assigned_count == 0


def test_undo_restores_the_item_as_the_current_task_and_clears_the_label(cast, project):
    client = client_for(cast["annotator"])
    first, second = claim(client, project)
    assert submit(client, project, first["item"], "negative").status_code == 201
    claim(client, project)

    response = client.post(f"/api/projects/{project.pk}/annotations/undo/")
    assert response.status_code == 200
    assert response.json()["item"] == first["item"]
    assert response.json()["status"] == "active"
    item = Item.objects.get(pk=first["item"])
    assert item.status == Item.Status.UNLABELED
    assert item.final_class is None and item.final_annotator is None and item.final_at is None
    assert not Annotation.objects.filter(item=item).exists()
    assert item.assigned_count == 1

    tasks = claim(client, project)
    assert tasks[0]["item"] == first["item"]
    assert tasks[1]["item"] == second["item"]
    # And it can be answered again, differently.
    assert submit(client, project, first["item"], "positive").status_code == 201
    assert Item.objects.get(pk=first["item"]).final_class.key == "positive"


def test_undo_with_nothing_to_undo_says_so(cast, project):
    response = client_for(cast["annotator"]).post(f"/api/projects/{project.pk}/annotations/undo/")
    assert response.status_code == 400
    assert "nothing" in response.json()["detail"].lower() or "no answer" in response.json()["detail"].lower()


def test_undo_takes_back_only_your_own_answer(cast, project):
    mine = claim(client_for(cast["annotator"]), project)[0]
    theirs = claim(client_for(cast["annotator2"]), project)[0]
    assert submit(client_for(cast["annotator"]), project, mine["item"]).status_code == 201
    assert submit(client_for(cast["annotator2"]), project, theirs["item"]).status_code == 201
    response = client_for(cast["annotator2"]).post(f"/api/projects/{project.pk}/annotations/undo/")
    assert response.json()["item"] == theirs["item"]
    assert Item.objects.get(pk=mine["item"]).status == Item.Status.LABELED


def _expire(assignment_id):
    Assignment.objects.filter(pk=assignment_id).update(expires_at=timezone.now() - timedelta(seconds=1))


def test_an_expired_lease_goes_back_to_the_pool(cast, db):
    project = cast["project"]
    add_items(project, ["only one"])
    item = Item.objects.get(project=project)
    task = claim(client_for(cast["annotator"]), project)[0]
    assert claim(client_for(cast["annotator2"]), project) == []
    _expire(task["id"])
    taken = claim(client_for(cast["annotator2"]), project)
    assert [t["item"] for t in taken] == [item.pk]
    assert Assignment.objects.get(pk=task["id"]).status == Assignment.Status.EXPIRED
    item.refresh_from_db()
    assert item.assigned_count == 1


def test_a_late_submit_still_counts_when_the_item_is_still_free(cast, db):
    project = cast["project"]
    add_items(project, ["only one"])
    item = Item.objects.get(project=project)
    client = client_for(cast["annotator"])
    task = claim(client, project)[0]
    _expire(task["id"])
    assert services.release_expired_claims(project) == 1
    item.refresh_from_db()
    assert item.assigned_count == 0

    response = submit(client, project, item.pk)
    assert response.status_code == 201
    item.refresh_from_db()
    assert item.status == Item.Status.LABELED
    assert item.assigned_count == 1
    assert Assignment.objects.get(pk=task["id"]).status == Assignment.Status.SUBMITTED


def test_a_late_submit_is_refused_when_someone_else_took_the_item(cast, db):
    project = cast["project"]
    add_items(project, ["only one"])
    item = Item.objects.get(project=project)
    task = claim(client_for(cast["annotator"]), project)[0]
    _expire(task["id"])
    claim(client_for(cast["annotator2"]), project)
    response = submit(client_for(cast["annotator"]), project, item.pk)
    assert response.status_code == 403
    assert "someone else" in response.json()["detail"]
    assert submit(client_for(cast["annotator2"]), project, item.pk).status_code == 201


def test_release_except_gives_back_the_other_open_tasks(cast, project):
    client = client_for(cast["annotator"])
    first, second = claim(client, project)
    tasks = claim(client, project, want=1, release_except=[first["id"]])
    assert [t["id"] for t in tasks] == [first["id"]]
    assert Assignment.objects.get(pk=second["id"]).status == Assignment.Status.RELEASED
    assert Item.objects.get(pk=second["item"]).assigned_count == 0


def test_final_label_and_export_name_the_annotator_and_time(cast, project):
    client = client_for(cast["annotator"])
    task = claim(client, project)[0]
    before = timezone.now()
    assert submit(client, project, task["item"], "negative").status_code == 201
    item = Item.objects.get(pk=task["item"])
    assert item.final_annotator == cast["annotator"]
    assert before <= item.final_at <= timezone.now()

    response = client_for(cast["reviewer"]).get(f"/api/projects/{project.pk}/export/?export_format=csv")
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 1
    assert rows[0]["item_id"] == str(item.pk)
    assert rows[0]["label"] == "negative"
    assert rows[0]["annotator"] == "ann"
    assert rows[0]["labeled_at"] == item.final_at.isoformat()


def test_progress_counts_labels_and_mine(cast, project):
    client = client_for(cast["annotator"])
    task = claim(client, project)[0]
    submit(client, project, task["item"])
    body = client.get(f"/api/projects/{project.pk}/progress/").json()
    assert body["total"] == len(TEXTS)
    assert body["labeled"] == 1
    assert body["remaining"] == len(TEXTS) - 1
    assert body["mine"] == 1
    assert client_for(cast["annotator2"]).get(f"/api/projects/{project.pk}/progress/").json()["mine"] == 0
