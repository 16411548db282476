"""The push channel: members of a project hear about its rounds; nobody else does."""
import pytest
import pytest_asyncio
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from rest_framework.authtoken.models import Token

from annotations import services
from annotations.models import Membership
from labeler.asgi import application
from tests.conftest import add_items, break_learner, make_project, make_user, own_channel_layer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

RETRAIN_EVERY = 4


def _world():
    member, outsider, other_member = make_user(), make_user(), make_user()
    project = make_project(retrain_every=RETRAIN_EVERY, batch_size=5, members=[(member, Membership.Role.ANNOTATOR)])
    add_items(project, [f"{mood} review {n}" for n in range(12) for mood in ("nice", "awful")])
    other = make_project(name="Other", members=[(other_member, Membership.Role.ANNOTATOR)])
    tokens = {name: Token.objects.create(user=user).key for name, user in
              (("member", member), ("outsider", outsider), ("other_member", other_member))}
    return {"project": project, "other": other, "member": member, "tokens": tokens}


def _label(user, project, n):
    for number in range(n):
        held = services.claim_tasks(user, project, want=2)
        services.submit_annotation(user, project, held[0].item_id, ("positive", "negative")[number % 2])


def _session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


@pytest_asyncio.fixture
async def world():
    async with own_channel_layer():
        yield await database_sync_to_async(_world)()


def communicator(project_id, token=None, origin=b"http://testserver", cookie=None):
    headers = [(b"origin", origin)] if origin else []
    if token:
        headers.append((b"authorization", f"Token {token}".encode()))
    if cookie:
        headers.append((b"cookie", cookie))
    return WebsocketCommunicator(application, f"/ws/projects/{project_id}/", headers=headers)


async def refused(comm):
    """Connect, expecting a refusal; returns the close code. The client then hangs up, as
    a browser does, so the consumer stops rather than being cancelled at teardown."""
    connected, code = await comm.connect()
    await comm.disconnect(timeout=0.2)
    assert not connected
    return code


async def events_until(comm, wanted_type, timeout=10):
    seen = []
    while True:
        event = await comm.receive_json_from(timeout=timeout)
        seen.append(event)
        if event["type"] == wanted_type:
            return seen


async def test_a_member_connects_with_a_token_and_is_greeted(world):
    comm = communicator(world["project"].pk, world["tokens"]["member"])
    connected, _ = await comm.connect()
    assert connected
    assert await comm.receive_json_from() == {"type": "hello", "project": world["project"].pk}
    await comm.send_json_to({"type": "ping"})
    assert await comm.receive_json_from() == {"type": "pong"}
    await comm.disconnect()


@pytest.mark.parametrize("hostile", [
    {"text_data": "[" * 100_000 + "]" * 100_000},
    {"text_data": "not json {"},
    {"text_data": "[1, 2, 3]"},
    {"text_data": '{"type": "x", "pad": "' + "a" * 10_000 + '"}'},
    {"bytes_data": b"\x00\xff binary"},
])
async def test_hostile_messages_get_an_error_and_the_socket_stays_usable(world, hostile):
    comm = communicator(world["project"].pk, world["tokens"]["member"])
    connected, _ = await comm.connect()
    assert connected
    assert (await comm.receive_json_from())["type"] == "hello"
    await comm.send_to(**hostile)
    error = await comm.receive_json_from()
    assert error["type"] == "error"
    assert "ping" in error["message"] or "characters" in error["message"]
    await comm.send_json_to({"type": "ping"})
    assert await comm.receive_json_from() == {"type": "pong"}
    await comm.disconnect()


async def test_a_member_connects_with_the_browser_session(world):
    cookie = await database_sync_to_async(_session_cookie)(world["member"])
    comm = communicator(world["project"].pk, cookie=cookie)
    connected, _ = await comm.connect()
    assert connected
    assert (await comm.receive_json_from())["type"] == "hello"
    await comm.disconnect()


async def test_an_anonymous_visitor_is_refused(world):
    assert await refused(communicator(world["project"].pk)) == 4403


async def test_a_bad_token_is_refused(world):
    assert await refused(communicator(world["project"].pk, "0" * 40)) == 4403


async def test_an_outsider_is_refused(world):
    assert await refused(communicator(world["project"].pk, world["tokens"]["outsider"])) == 4403


async def test_a_missing_project_is_refused(world):
    assert await refused(communicator(999_999, world["tokens"]["member"])) == 4403


async def test_a_foreign_origin_is_refused(world):
    await refused(communicator(world["project"].pk, world["tokens"]["member"], origin=b"http://evil.example"))


async def test_after_retrain_every_submits_members_hear_progress_and_the_new_batch(world):
    project = world["project"]
    watcher = communicator(project.pk, world["tokens"]["member"])
    bystander = communicator(world["other"].pk, world["tokens"]["other_member"])
    assert (await watcher.connect())[0] and (await bystander.connect())[0]
    assert (await watcher.receive_json_from())["type"] == "hello"
    assert (await bystander.receive_json_from())["type"] == "hello"

    await database_sync_to_async(_label)(world["member"], project, RETRAIN_EVERY)

    events = await events_until(watcher, "batch.ready")
    later = []
    while not await watcher.receive_nothing(timeout=0.2):
        later.append(await watcher.receive_json_from())
    types = [e["type"] for e in events]
    # One progress tick per answer (in immediate mode the last one may trail the round).
    assert (types + [e["type"] for e in later]).count("progress.changed") == RETRAIN_EVERY
    assert "job.queued" in types
    progress = [e for e in events if e["type"] == "job.progress"]
    assert {"fitting", "selecting"} <= {e["phase"] for e in progress}
    assert types.index("job.queued") < types.index("job.progress") < types.index("batch.ready")
    ready = events[-1]
    assert ready["project"] == project.pk
    assert ready["round"] == 1
    assert ready["model_version"] == 1
    assert ready["size"] == 5
    assert "accuracy" in ready["metrics"] or ready["metrics"] == {}
    assert all(e["project"] == project.pk for e in events)

    # Another project's page hears nothing of it.
    assert await bystander.receive_nothing(timeout=0.3)
    await watcher.disconnect()
    await bystander.disconnect()


async def test_a_second_round_is_announced_with_its_number(world):
    project = world["project"]
    watcher = communicator(project.pk, world["tokens"]["member"])
    assert (await watcher.connect())[0]
    await watcher.receive_json_from()
    await database_sync_to_async(_label)(world["member"], project, 2 * RETRAIN_EVERY)
    first = await events_until(watcher, "batch.ready")
    second = await events_until(watcher, "batch.ready")
    assert (first[-1]["round"], second[-1]["round"]) == (1, 2)
    await watcher.disconnect()


async def test_a_failed_round_is_announced_with_its_error(world, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("no model today")

    break_learner(monkeypatch, broken)
    project = world["project"]
    watcher = communicator(project.pk, world["tokens"]["member"])
    assert (await watcher.connect())[0]
    await watcher.receive_json_from()
    await database_sync_to_async(_label)(world["member"], project, RETRAIN_EVERY)
    events = await events_until(watcher, "job.failed")
    assert "no model today" in events[-1]["error"]
    assert "batch.ready" not in [e["type"] for e in events]
    await watcher.disconnect()


async def test_answers_close_together_reach_the_page_as_one_tick_now_and_one_at_the_interval_end(world, settings):
    settings.LABELER_PROGRESS_TICK_S = 2
    project = world["project"]
    page = communicator(project.pk, world["tokens"]["member"])
    assert (await page.connect())[0]
    assert (await page.receive_json_from())["type"] == "hello"

    await database_sync_to_async(_label)(world["member"], project, RETRAIN_EVERY - 1)  # three answers, no round

    assert (await page.receive_json_from(timeout=0.3))["type"] == "progress.changed"  # the first, at once
    assert await page.receive_nothing(timeout=0.2)  # the other two wait for the interval's end
    assert (await page.receive_json_from(timeout=4))["type"] == "progress.changed"
    assert await page.receive_nothing(timeout=1)  # and are told once
    await page.disconnect()
