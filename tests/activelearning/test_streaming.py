"""Stream-based selective sampling: an item POSTed on its own is scored by the latest
model and, when informative, goes to the front of the queue at once."""
import pytest

from activelearning.models import QueueEntry, Round, StreamDecision
from activelearning.services import request_round
from annotations.models import Item, Project
from tests.conftest import add_items, client_for

POSITIVE = [f"good great lovely film {n}" for n in range(12)]
NEGATIVE = [f"bad awful boring film {n}" for n in range(12)]
POOL = [f"good film number {n}" for n in range(10)] + [f"bad film number {n}" for n in range(10)]


@pytest.fixture
def trained(cast, django_capture_on_commit_callbacks):
    """A project with labeled items of both classes, a pool, and one round done."""
    project = cast["project"]
    add_items(project, POSITIVE + NEGATIVE, labels=["positive"] * 12 + ["negative"] * 12)
    add_items(project, POOL)
    with django_capture_on_commit_callbacks(execute=True):
        request_round(project.pk, reason="manual")
    assert Round.objects.filter(project=project, model_version__isnull=False).exists()
    cast["post"] = lambda text: client_for(cast["admin"]).post(
        f"/api/projects/{project.pk}/items/", {"text": text}, format="json"
    )
    return cast


def set_stream(project: Project, **stream) -> None:
    project.refresh_from_db()
    Project.objects.filter(pk=project.pk).update(sampling={**project.sampling, "stream": stream})


def test_with_stream_sampling_off_a_new_item_just_joins_the_pool(trained, django_capture_on_commit_callbacks):
    queue_before = list(QueueEntry.objects.order_by("rank").values_list("item_id", flat=True))
    response = trained["post"]("a film about nothing in particular")
    assert response.status_code == 201
    assert response.json()["stream"] is None
    assert Item.objects.filter(pk=response.json()["item"]["id"], status="unlabeled").exists()
    assert list(QueueEntry.objects.order_by("rank").values_list("item_id", flat=True)) == queue_before
    assert not StreamDecision.objects.exists()


def test_an_uncertain_arrival_goes_to_the_front_of_the_queue_and_a_confident_one_does_not(
    trained, django_capture_on_commit_callbacks
):
    set_stream(trained["project"], mode="threshold", threshold=0.3, rate=0.1)
    queue_before = list(QueueEntry.objects.order_by("rank").values_list("item_id", flat=True))

    with django_capture_on_commit_callbacks(execute=True):
        confident = trained["post"]("good great lovely film good great lovely").json()
    assert confident["stream"]["queried"] is False and confident["stream"]["score"] < 0.3
    assert list(QueueEntry.objects.order_by("rank").values_list("item_id", flat=True)) == queue_before

    with django_capture_on_commit_callbacks(execute=True):
        unsure = trained["post"]("film").json()
    assert unsure["stream"]["queried"] is True and unsure["stream"]["score"] >= 0.3
    queue = list(QueueEntry.objects.order_by("rank").values_list("item_id", "rank"))
    assert queue[0] == (unsure["item"]["id"], 0)
    assert [item for item, _ in queue[1:]] == queue_before
    assert StreamDecision.objects.count() == 2


def test_the_budget_rule_queries_only_the_top_of_the_recent_arrivals(trained, django_capture_on_commit_callbacks):
    set_stream(trained["project"], mode="budget", threshold=0.3, rate=0.25)
    texts = [f"good great lovely film {n} good great" for n in range(12)] + ["film"]
    with django_capture_on_commit_callbacks(execute=True):
        decisions = [trained["post"](text).json()["stream"] for text in texts]
    queried = [decision["queried"] for decision in decisions]
    # The lone ambiguous word, far less certain than the rest, is queried; at most a
    # quarter of the arrivals (plus the first, with an empty window) are.
    assert queried[-1] is True
    assert sum(queried) <= 1 + 0.25 * len(texts)


def test_a_new_item_needs_text_and_the_admin_role(trained):
    project = trained["project"]
    refused = client_for(trained["admin"]).post(f"/api/projects/{project.pk}/items/", {}, format="json")
    assert refused.status_code == 400 and "text" in refused.json()
    annotator = client_for(trained["annotator"]).post(
        f"/api/projects/{project.pk}/items/", {"text": "x"}, format="json"
    )
    assert annotator.status_code == 403
    outsider = client_for(trained["outsider"]).post(f"/api/projects/{project.pk}/items/", {"text": "x"}, format="json")
    assert outsider.status_code == 404
