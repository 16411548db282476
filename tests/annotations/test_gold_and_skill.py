"""Gold items in the queue, gold scores, the qualification set, and annotator quality
through the API, on hand-computed numbers."""
import pytest

from annotations.gold import mark_gold
from annotations.models import Annotation, Assignment, Item, Membership
from tests.conftest import add_items, client_for

KNOWN = ["negative", "negative", "positive", "positive", "negative"]
ANSWERS = ["positive", "negative", "positive", "positive", "positive"]


def claim(client, project, want=1):
    response = client.post(f"/api/projects/{project.pk}/tasks/claim/", {"want": want}, format="json")
    return response


def submit(client, project, item_id, label):
    return client.post(f"/api/projects/{project.pk}/annotations/", {"item": item_id, "label": label}, format="json")


def set_review(project, **review):
    project.review = {**project.review, **review}
    project.save(update_fields=["review"])


@pytest.fixture
def gold_project(cast):
    project = cast["project"]
    add_items(project, [f"gold sentence {n}" for n in range(5)] + [f"pool sentence {n}" for n in range(20)])
    gold_items = list(Item.objects.filter(project=project).order_by("pk")[:5])
    for item, label in zip(gold_items, KNOWN):
        mark_gold(project, cast["admin"], item.pk, label)
    return project, gold_items


def test_marking_gold_labels_the_item_and_keeps_it_out_of_the_normal_queue(cast, gold_project):
    project, gold_items = gold_project
    item = Item.objects.get(pk=gold_items[0].pk)
    assert item.is_gold and item.gold_class.key == "negative"
    assert item.status == "labeled" and item.final_class.key == "negative"
    client = client_for(cast["annotator"])
    for _ in range(10):
        tasks = claim(client, project, want=2).json()["tasks"]
        for task in tasks:
            submit(client, project, task["item"], "positive")
    assert not Assignment.objects.filter(item__in=gold_items).exists(), "gold_fraction 0 means no gold in the queue"


def test_the_gold_fraction_of_each_queue_is_exact_and_unannounced(cast, gold_project):
    project, gold_items = gold_project
    set_review(project, gold_fraction=0.25)
    client = client_for(cast["annotator"])
    served, shapes = [], set()
    for _ in range(8):
        task = claim(client, project).json()["tasks"][0]
        shapes.add(tuple(sorted(task)))
        assert task["hint"] is None and task["rank"] is None
        served.append(task["item"])
        assert submit(client, project, task["item"], "positive").status_code == 201
    gold_served = [i for i in served if i in {g.pk for g in gold_items}]
    assert len(gold_served) == 2
    assert len(shapes) == 1, "a gold task looks like any other"
    for item in gold_items:
        assert Item.objects.get(pk=item.pk).assigned_count == 0, "gold checks do not count toward overlap"


def test_gold_answers_give_accuracy_and_kappa_as_computed_by_hand(cast, gold_project):
    """[pos, neg, pos, pos, pos] against [neg, neg, pos, pos, neg]: accuracy 0.60,
    Cohen's kappa 0.286 (scikit-learn with those label orders)."""
    project, gold_items = gold_project
    set_review(project, gold_fraction=0.5, min_accuracy=0.9, min_kappa=0.8)
    client = client_for(cast["annotator"])
    answers = dict(zip([g.pk for g in gold_items], ANSWERS))
    while Annotation.objects.filter(annotator=cast["annotator"], gold_score__isnull=False).count() < 5:
        task = claim(client, project).json()["tasks"][0]
        submit(client, project, task["item"], answers.get(task["item"], "positive"))
    quality = client_for(cast["reviewer"]).get(f"/api/projects/{project.pk}/quality/").json()
    row = next(r for r in quality["annotators"] if r["username"] == "ann")
    assert row["gold_checks"] == 5
    assert row["gold_accuracy"] == pytest.approx(0.60)
    assert row["gold_kappa"] == pytest.approx(0.2857, abs=1e-4)
    assert row["flagged"] and len(row["flags"]) == 2
    assert row["answers"] == 5, "gold checks are not counted as work on the pool"


def test_qualification_set_comes_first_and_a_failed_annotator_is_stopped(cast, gold_project):
    project, gold_items = gold_project
    set_review(project, qualification={"required": True, "count": 5, "min_accuracy": 0.8})
    client = client_for(cast["annotator"])
    answers = dict(zip([g.pk for g in gold_items], ANSWERS))
    for _ in range(5):
        tasks = claim(client, project, want=2).json()["tasks"]
        assert all(t["item"] in answers for t in tasks), "only the qualification set before passing"
        submit(client, project, tasks[0]["item"], answers[tasks[0]["item"]])
    membership = Membership.objects.get(project=project, user=cast["annotator"])
    assert membership.qualification == "failed"
    refused = claim(client, project)
    assert refused.status_code == 403
    assert "60%" in refused.json()["detail"] and "80%" in refused.json()["detail"]

    reset = client_for(cast["admin"]).post(f"/api/projects/{project.pk}/members/{membership.pk}/qualification/reset/")
    assert reset.status_code == 200 and reset.json()["qualification"] == "pending"
    for _ in range(5):
        task = claim(client, project).json()["tasks"][0]
        item = Item.objects.get(pk=task["item"])
        submit(client, project, item.pk, item.gold_class.key)
    assert Membership.objects.get(pk=membership.pk).qualification == "passed"
    task = claim(client, project).json()["tasks"][0]
    assert task["item"] not in answers, "after passing, normal work"


def test_reviewers_skip_the_qualification_set(cast, gold_project):
    project, gold_items = gold_project
    set_review(project, qualification={"required": True, "count": 5, "min_accuracy": 0.8})
    task = claim(client_for(cast["reviewer"]), project).json()["tasks"][0]
    assert task["item"] not in {g.pk for g in gold_items}


def test_gold_without_an_answer_says_what_to_send(cast):
    project = cast["project"]
    add_items(project, ["unlabeled one"])
    item = Item.objects.get(project=project)
    response = client_for(cast["admin"]).post(f"/api/projects/{project.pk}/items/{item.pk}/gold/", {}, format="json")
    assert response.status_code == 400 and "label" in response.json()["detail"]
    assert not Item.objects.get(pk=item.pk).is_gold


def test_review_settings_are_validated_with_a_message_per_field(cast):
    project = cast["project"]
    admin = client_for(cast["admin"])
    url = f"/api/projects/{project.pk}/"
    cases = {
        "policy": ({"policy": "sometimes"}, "review.policy"),
        "gold": ({"gold_fraction": 0.9}, "gold_fraction"),
        "quorum": ({"quorum": 0}, "review.quorum"),
        "kappa": ({"min_kappa": 2}, "review.min_kappa"),
        "unknown": ({"colour": "red"}, "unknown settings colour"),
        "qualification": ({"qualification": {"count": "five"}}, "review.qualification.count"),
    }
    for body, message in cases.values():
        response = admin.patch(url, {"review": body}, format="json")
        assert response.status_code == 400, body
        assert message in response.json()["review"][0]
    ok = admin.patch(url, {"review": {"policy": "random", "fraction": 0.3}}, format="json")
    assert ok.status_code == 200
    ok = admin.patch(url, {"review": {"gold_fraction": 0.1}}, format="json")
    assert ok.json()["review"]["policy"] == "random", "a partial update keeps the other settings"
    assert ok.json()["review"]["fraction"] == 0.3 and ok.json()["review"]["gold_fraction"] == 0.1
