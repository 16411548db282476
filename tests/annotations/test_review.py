"""The reviewer workflow through the API: policies that feed the queue, approve, reject
with a reason, the annotator's fix, correct, decisions on ties, history and guards."""
import uuid

import pytest

from annotations.models import Annotation, Assignment, Consensus, Item, ItemEvent, Membership
from tests.conftest import add_items, client_for, make_user

TEXTS = [f"hotel stay number {n}" for n in range(1, 13)]


def claim(client, project, want=1):
    response = client.post(f"/api/projects/{project.pk}/tasks/claim/", {"want": want}, format="json")
    assert response.status_code == 200, response.content
    return response.json()["tasks"]


def label_one(client, project, label="positive"):
    task = claim(client, project)[0]
    response = client.post(f"/api/projects/{project.pk}/annotations/",
                           {"item": task["item"], "label": label, "client_id": str(uuid.uuid4())}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def keep_items(project, count):
    """Leave `count` items, so that every annotator is offered the same ones."""
    keep = list(Item.objects.filter(project=project).order_by("pk").values_list("pk", flat=True)[:count])
    Item.objects.filter(project=project).exclude(pk__in=keep).delete()


def set_review(project, **review):
    project.review = {**project.review, **review}
    project.save(update_fields=["review"])


def decide(client, project, annotation_id, action, **body):
    return client.post(f"/api/projects/{project.pk}/annotations/{annotation_id}/{action}/", body, format="json")


@pytest.fixture
def project(cast):
    add_items(cast["project"], TEXTS)
    set_review(cast["project"], policy="all")
    return cast["project"]


def test_under_policy_all_every_submission_waits_in_the_review_queue(cast, project):
    answer = label_one(client_for(cast["annotator"]), project)
    queue = client_for(cast["reviewer"]).get(f"/api/projects/{project.pk}/review/queue/").json()
    assert queue["counts"]["pending"] == 1
    assert [item["id"] for item in queue["items"]] == [answer["item"]]
    assert queue["items"][0]["answers"][0]["annotator"] == "ann"
    assert queue["items"][0]["answers"][0]["review_status"] == "pending"


def test_policy_none_sends_nothing_to_review(cast, project):
    set_review(project, policy="none")
    label_one(client_for(cast["annotator"]), project)
    assert Annotation.objects.filter(review_status="pending").count() == 0


def test_policy_random_reviews_about_the_fraction(cast, project):
    set_review(project, policy="random", fraction=0.5)
    add_items(project, [f"extra {n}" for n in range(60)])
    client = client_for(cast["annotator"])
    for _ in range(60):
        label_one(client, project)
    pending = Annotation.objects.filter(review_status="pending").count()
    assert 15 <= pending <= 45


def test_a_reviewer_never_sees_or_reviews_their_own_answer(cast, project):
    reviewer = cast["reviewer"]
    answer = label_one(client_for(reviewer), project)
    queue = client_for(reviewer).get(f"/api/projects/{project.pk}/review/queue/").json()
    assert queue["items"] == []
    response = decide(client_for(reviewer), project, answer["id"], "approve")
    assert response.status_code == 403
    assert "own answer" in response.json()["detail"]


def test_approve_is_idempotent_and_recorded_once(cast, project):
    answer = label_one(client_for(cast["annotator"]), project)
    reviewer = client_for(cast["reviewer"])
    for _ in range(2):
        response = decide(reviewer, project, answer["id"], "approve")
        assert response.status_code == 200
        assert response.json()["answer"]["review_status"] == "approved"
    assert ItemEvent.objects.filter(action="approved").count() == 1


def test_reject_needs_a_reason(cast, project):
    answer = label_one(client_for(cast["annotator"]), project)
    response = decide(client_for(cast["reviewer"]), project, answer["id"], "reject", reason="  ")
    assert response.status_code == 400
    assert "reason" in response.json()["detail"]
    assert Annotation.objects.get(pk=answer["id"]).review_status == "pending"


def test_rejected_answer_returns_to_its_annotator_who_fixes_it_and_it_is_approved(cast, project):
    annotator = client_for(cast["annotator"])
    answer = label_one(annotator, project, label="positive")
    item = Item.objects.get(pk=answer["item"])
    assert item.status == "labeled"

    response = decide(client_for(cast["reviewer"]), project, answer["id"], "reject", reason="The guest complains")
    assert response.status_code == 200
    item.refresh_from_db()
    assert item.status == "unlabeled" and item.final_class is None, "a sent-back answer stops counting"
    assert Assignment.objects.get(item=item, annotator=cast["annotator"]).status == "returned"

    tasks = claim(annotator, project, want=2)
    assert tasks[0]["item"] == item.pk
    assert tasks[0]["returned"] == {"reason": "The guest complains", "reviewer": "rev",
                                    "answer": {"label": "positive"}}
    fixed = annotator.post(f"/api/projects/{project.pk}/annotations/",
                           {"item": item.pk, "label": "negative", "client_id": str(uuid.uuid4())}, format="json")
    assert fixed.status_code == 201, fixed.content
    stored = Annotation.objects.get(pk=answer["id"])
    assert stored.label_class.key == "negative" and stored.review_status == "pending"
    item.refresh_from_db()
    assert item.status == "labeled" and item.final_class.key == "negative"
    assert Annotation.objects.filter(item=item).count() == 1, "the fix replaces the answer"

    assert decide(client_for(cast["reviewer"]), project, answer["id"], "approve").status_code == 200
    history = client_for(cast["reviewer"]).get(f"/api/projects/{project.pk}/items/{item.pk}/history/").json()
    assert [event["action"] for event in history] == ["submitted", "rejected", "resubmitted", "approved"]
    assert history[2]["detail"]["before"] == {"label": "positive"}
    assert history[2]["detail"]["after"] == {"label": "negative"}


def test_a_returned_item_is_not_claimed_again_as_new_work_when_it_has_room_for_more_answers(cast, project):
    """With overlap 2 the item stays claimable; its annotator must get it back once, as a fix."""
    keep_items(project, 1)
    project.overlap = 2
    project.save(update_fields=["overlap"])
    annotator = client_for(cast["annotator"])
    answer = label_one(annotator, project, label="positive")
    assert decide(client_for(cast["reviewer"]), project, answer["id"], "reject", reason="Sarcasm").status_code == 200

    tasks = claim(annotator, project, want=2)
    assert [(task["item"], task["status"]) for task in tasks] == [(answer["item"], "returned")]
    fixed = annotator.post(f"/api/projects/{project.pk}/annotations/",
                           {"item": answer["item"], "label": "negative", "client_id": str(uuid.uuid4())}, format="json")
    assert fixed.status_code == 201, fixed.content
    assert Annotation.objects.get(pk=answer["id"]).review_status == "pending"


def test_an_approved_answer_cannot_be_undone_by_its_annotator(cast, project):
    annotator = client_for(cast["annotator"])
    answer = label_one(annotator, project)
    decide(client_for(cast["reviewer"]), project, answer["id"], "approve")
    response = annotator.post(f"/api/projects/{project.pk}/annotations/undo/")
    assert response.status_code == 409
    assert "approved" in response.json()["detail"]
    assert Annotation.objects.filter(pk=answer["id"]).exists()


def test_an_approved_answer_can_be_sent_back(cast, project):
    answer = label_one(client_for(cast["annotator"]), project)
    reviewer = client_for(cast["reviewer"])
    decide(reviewer, project, answer["id"], "approve")
    response = decide(reviewer, project, answer["id"], "reject", reason="Looked again: sarcasm")
    assert response.status_code == 200
    assert response.json()["answer"]["review_status"] == "rejected"


def test_correct_replaces_the_label_approves_and_keeps_before_and_after(cast, project):
    answer = label_one(client_for(cast["annotator"]), project, label="positive")
    response = decide(client_for(cast["reviewer"]), project, answer["id"], "correct", label="negative")
    assert response.status_code == 200
    stored = Annotation.objects.get(pk=answer["id"])
    assert stored.label_class.key == "negative" and stored.review_status == "approved"
    assert Item.objects.get(pk=answer["item"]).final_class.key == "negative"
    event = ItemEvent.objects.get(action="corrected")
    assert event.detail == {"before": {"label": "positive"}, "after": {"label": "negative"}}


def test_correct_with_an_unknown_class_changes_nothing(cast, project):
    answer = label_one(client_for(cast["annotator"]), project, label="positive")
    response = decide(client_for(cast["reviewer"]), project, answer["id"], "correct", label="neutral")
    assert response.status_code == 400
    assert Annotation.objects.get(pk=answer["id"]).review_status == "pending"


@pytest.mark.parametrize("label", [["negative"], {"key": "negative"}, 7])
def test_correct_with_a_label_that_is_not_text_is_refused_and_changes_nothing(cast, project, label):
    answer = label_one(client_for(cast["annotator"]), project, label="positive")
    response = decide(client_for(cast["reviewer"]), project, answer["id"], "correct", label=label)
    assert response.status_code == 400 and "class key, as text" in response.json()["detail"]
    assert Annotation.objects.get(pk=answer["id"]).review_status == "pending"


def test_a_tie_waits_for_a_reviewer_who_decides_it(cast, project):
    project.overlap = 2
    project.save(update_fields=["overlap"])
    keep_items(project, 1)
    first, second = client_for(cast["annotator"]), client_for(cast["annotator2"])
    item_id = claim(first, project)[0]["item"]
    claim_second = claim(second, project)
    assert claim_second[0]["item"] == item_id, "the item is still open to a second annotator"
    for client, label in ((first, "positive"), (second, "negative")):
        client.post(f"/api/projects/{project.pk}/annotations/", {"item": item_id, "label": label}, format="json")
    consensus = Consensus.objects.get(item_id=item_id)
    assert consensus.status == "tie" and consensus.votes == {"positive": 1, "negative": 1}
    assert Item.objects.get(pk=item_id).status == "unlabeled"

    reviewer = client_for(cast["reviewer"])
    queue = reviewer.get(f"/api/projects/{project.pk}/review/queue/?reason=consensus").json()
    assert [item["id"] for item in queue["items"]] == [item_id]
    response = reviewer.post(f"/api/projects/{project.pk}/items/{item_id}/decide/", {"label": "negative"}, format="json")
    assert response.status_code == 200
    assert response.json()["consensus"]["method"] == "reviewer"
    item = Item.objects.get(pk=item_id)
    assert item.status == "labeled" and item.final_class.key == "negative"


def test_quorum_leaves_a_thin_majority_for_a_reviewer(cast, project):
    third = make_user("ann3")
    Membership.objects.create(project=project, user=third, role="annotator")
    project.overlap = 3
    project.save(update_fields=["overlap"])
    keep_items(project, 1)
    set_review(project, policy="none", quorum=3)
    item_id = claim(client_for(cast["annotator"]), project)[0]["item"]
    for user, label in ((cast["annotator"], "positive"), (cast["annotator2"], "positive"), (third, "negative")):
        client = client_for(user)
        claim(client, project)
        client.post(f"/api/projects/{project.pk}/annotations/", {"item": item_id, "label": label}, format="json")
    consensus = Consensus.objects.get(item_id=item_id)
    assert consensus.status == "below_quorum"
    assert consensus.agreement == pytest.approx(2 / 3)


def test_low_agreement_policy_reviews_only_items_below_the_threshold(cast, project):
    project.overlap = 2
    project.save(update_fields=["overlap"])
    set_review(project, policy="low_agreement", agreement_threshold=0.8)
    keep_items(project, 2)
    first, second = client_for(cast["annotator"]), client_for(cast["annotator2"])
    agreed, split = claim(first, project, want=2)
    claim(second, project, want=2)
    for client, labels in ((first, ("positive", "positive")), (second, ("positive", "negative"))):
        for task, label in zip(sorted((agreed, split), key=lambda t: t["item"]), labels):
            client.post(f"/api/projects/{project.pk}/annotations/", {"item": task["item"], "label": label}, format="json")
    pending = set(Annotation.objects.filter(review_status="pending").values_list("item_id", flat=True))
    assert pending == {max(agreed["item"], split["item"])}


def test_low_quality_policy_reviews_annotators_below_their_gold_threshold(cast, project):
    from annotations.gold import mark_gold

    set_review(project, policy="low_quality", gold_fraction=0.5)
    gold_item = Item.objects.filter(project=project).first()
    mark_gold(project, cast["admin"], gold_item.pk, "positive")
    client = client_for(cast["annotator"])
    tasks = claim(client, project, want=2)
    assert gold_item.pk in [t["item"] for t in tasks]
    client.post(f"/api/projects/{project.pk}/annotations/", {"item": gold_item.pk, "label": "negative"}, format="json")
    other = next(t for t in tasks if t["item"] != gold_item.pk)
    client.post(f"/api/projects/{project.pk}/annotations/", {"item": other["item"], "label": "positive"}, format="json")
    assert Annotation.objects.get(item_id=other["item"]).review_status == "pending"
    assert Annotation.objects.get(item=gold_item).review_status == "none", "gold checks are scored, not reviewed"


ACTIONS = [
    ("get", "review/queue/", None),
    ("get", "review/items/{item}/", None),
    ("post", "annotations/{answer}/approve/", {}),
    ("post", "annotations/{answer}/reject/", {"reason": "why"}),
    ("post", "annotations/{answer}/correct/", {"label": "negative"}),
    ("post", "items/{item}/decide/", {"label": "negative"}),
    ("get", "items/{item}/history/", None),
    ("get", "questions/", None),
    ("get", "agreement/", None),
    ("get", "quality/", None),
    ("get", "disagreements/", None),
]


@pytest.mark.parametrize("method,path,body", ACTIONS)
@pytest.mark.parametrize("who,allowed", [
    ("anonymous", False), ("outsider", False), ("annotator2", False), ("reviewer", True), ("admin", True),
    ("staff", True),
])
def test_every_review_action_needs_the_reviewer_role(cast, project, method, path, body, who, allowed):
    answer = label_one(client_for(cast["annotator"]), project)
    client = client_for(None if who == "anonymous" else cast[who])
    url = f"/api/projects/{project.pk}/" + path.format(item=answer["item"], answer=answer["id"])
    response = getattr(client, method)(url, body, format="json") if body is not None else getattr(client, method)(url)
    if allowed:
        assert response.status_code in (200, 201), (who, url, response.content)
    else:
        expected = {"anonymous": (401, 403), "outsider": (404,), "annotator2": (403,)}[who]
        assert response.status_code in expected, (who, url, response.status_code)
        assert Annotation.objects.get(pk=answer["id"]).review_status == "pending"


@pytest.mark.parametrize("method,path,body", [
    ("get", "gold/", None),
    ("post", "items/{item}/gold/", {"label": "positive"}),
    ("delete", "items/{item}/gold/", None),
])
@pytest.mark.parametrize("who,status", [("annotator", 403), ("reviewer", 403), ("outsider", 404), ("admin", 200)])
def test_gold_management_needs_the_admin_role(cast, project, method, path, body, who, status):
    item = Item.objects.filter(project=project).first()
    url = f"/api/projects/{project.pk}/" + path.format(item=item.pk)
    client = client_for(cast[who])
    response = getattr(client, method)(url, body, format="json") if body is not None else getattr(client, method)(url)
    assert response.status_code == status, response.content
