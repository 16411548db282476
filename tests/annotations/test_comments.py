"""Threaded comments on items: annotators ask on their items, reviewers answer and resolve."""
import pytest

from annotations.models import Comment, ItemEvent
from tests.conftest import add_items, client_for


@pytest.fixture
def asked(cast):
    project = cast["project"]
    add_items(project, ["is this sarcasm or praise?", "another one"])
    annotator = client_for(cast["annotator"])
    task = annotator.post(f"/api/projects/{project.pk}/tasks/claim/", {"want": 1}, format="json").json()["tasks"][0]
    url = f"/api/projects/{project.pk}/items/{task['item']}/comments/"
    question = annotator.post(url, {"body": "Sarcasm counts as negative?"}, format="json")
    assert question.status_code == 201, question.content
    return project, task["item"], url, question.json()


def test_a_question_is_listed_open_answered_and_resolved(cast, asked):
    project, item_id, url, question = asked
    reviewer = client_for(cast["reviewer"])
    open_list = reviewer.get(f"/api/projects/{project.pk}/questions/").json()
    assert [q["body"] for q in open_list] == ["Sarcasm counts as negative?"]

    reply = reviewer.post(url, {"body": "Yes: label what is meant.", "parent": question["id"]}, format="json")
    assert reply.status_code == 201
    threads = client_for(cast["annotator"]).get(url).json()
    assert len(threads) == 1 and [r["body"] for r in threads[0]["replies"]] == ["Yes: label what is meant."]

    resolved = reviewer.post(f"/api/projects/{project.pk}/comments/{question['id']}/resolve/", {"resolved": True},
                             format="json")
    assert resolved.status_code == 200 and resolved.json()["resolved"] and resolved.json()["resolved_by"] == "rev"
    assert reviewer.get(f"/api/projects/{project.pk}/questions/").json() == []
    assert list(ItemEvent.objects.filter(item_id=item_id).values_list("action", flat=True)) == [
        "commented", "commented", "resolved",
    ]


def test_a_reply_to_a_reply_joins_the_same_thread(cast, asked):
    project, _, url, question = asked
    reviewer = client_for(cast["reviewer"])
    first = reviewer.post(url, {"body": "First answer", "parent": question["id"]}, format="json").json()
    second = client_for(cast["annotator"]).post(url, {"body": "Thanks", "parent": first["id"]}, format="json")
    assert second.status_code == 201
    assert Comment.objects.get(pk=second.json()["id"]).parent_id == question["id"]


def test_an_annotator_cannot_read_or_comment_on_items_never_given_to_them(cast, asked):
    project, _, url, _ = asked
    other = client_for(cast["annotator2"])
    assert other.get(url).status_code == 403
    assert other.post(url, {"body": "let me in"}, format="json").status_code == 403
    assert client_for(cast["outsider"]).get(url).status_code == 404


def test_only_reviewers_or_the_asker_resolve(cast, asked):
    project, _, _, question = asked
    url = f"/api/projects/{project.pk}/comments/{question['id']}/resolve/"
    assert client_for(cast["annotator2"]).post(url, {"resolved": True}, format="json").status_code == 403
    assert client_for(cast["annotator"]).post(url, {"resolved": True}, format="json").status_code == 200


@pytest.mark.parametrize("body,message", [
    ({"body": "   "}, "Write something"),
    ({"body": "x" * 5001}, "5,000"),
    ({"body": "reply", "parent": 999999}, "No comment 999999"),
    ({"body": "reply", "parent": "one"}, "parent"),
])
def test_bad_comments_are_refused_with_what_to_fix(cast, asked, body, message):
    _, _, url, _ = asked
    before = Comment.objects.count()
    response = client_for(cast["reviewer"]).post(url, body, format="json")
    assert response.status_code == 400 and message in response.json()["detail"]
    assert Comment.objects.count() == before


def test_items_with_open_questions_are_listed_in_the_review_queue(cast, asked):
    project, item_id, _, question = asked
    reviewer = client_for(cast["reviewer"])
    queue = reviewer.get(f"/api/projects/{project.pk}/review/queue/?reason=questions").json()
    assert [item["id"] for item in queue["items"]] == [item_id] and queue["counts"]["questions"] == 1
    reviewer.post(f"/api/projects/{project.pk}/comments/{question['id']}/resolve/", {"resolved": True}, format="json")
    assert reviewer.get(f"/api/projects/{project.pk}/review/queue/?reason=questions").json()["items"] == []
