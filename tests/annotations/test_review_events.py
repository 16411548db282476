"""Review decisions reach the pages open on the project: the annotator whose answer was
sent back hears `task.returned`, reviewers hear `review.changed`."""
import pytest
import pytest_asyncio
from channels.db import database_sync_to_async
from rest_framework.authtoken.models import Token

from annotations import review, services
from annotations.models import Membership
from tests.activelearning.test_websocket import communicator, events_until
from tests.conftest import add_items, make_project, make_user, own_channel_layer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


def _world():
    annotator, reviewer = make_user(), make_user()
    project = make_project(members=[(annotator, Membership.Role.ANNOTATOR), (reviewer, Membership.Role.REVIEWER)])
    project.review = {**project.review, "policy": "all"}
    project.save(update_fields=["review"])
    add_items(project, ["the room was fine"])
    held = services.claim_tasks(annotator, project, want=1)
    answer, _ = services.submit_annotation(annotator, project, held[0].item_id, "positive")
    return {"project": project, "annotator": annotator, "reviewer": reviewer, "answer": answer,
            "token": Token.objects.create(user=annotator).key}


@pytest_asyncio.fixture
async def world():
    async with own_channel_layer():
        yield await database_sync_to_async(_world)()


async def test_a_rejection_is_pushed_to_the_annotator_page(world):
    comm = communicator(world["project"].pk, world["token"])
    connected, _ = await comm.connect()
    assert connected
    await comm.receive_json_from()
    await database_sync_to_async(review.reject)(world["project"], world["reviewer"], world["answer"].pk, "Too quick")
    seen = await events_until(comm, "task.returned")
    returned = seen[-1]
    assert returned["annotator"] == world["annotator"].pk and returned["item"] == world["answer"].item_id
    assert "review.changed" in [event["type"] for event in seen]
    await comm.disconnect()
