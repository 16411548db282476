"""Faults on the labeling side, each provoked for real where it can be: a database
write lock held by another connection, a submit sent twice (one after a lost answer,
two at once), a disk that fills while an export is written, and the channel layer's
Redis restarting under connected pages."""
import errno
import io
import json
import sqlite3
import tempfile
import threading
import time
import uuid
import zipfile
from contextlib import contextmanager

import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.layers import DEFAULT_CHANNEL_LAYER, channel_layers
from channels.testing import WebsocketCommunicator
from django.db import OperationalError, connection, connections
from PIL import Image
from rest_framework.authtoken.models import Token

from annotations import exporting, services
from annotations.events import publish_now
from annotations.formats.coco import read_coco
from annotations.media import import_image_files
from annotations.models import Annotation, Assignment, Item, ItemEvent, Membership, Project
from annotations.vision_io import import_labels
from labeler.asgi import application
from tests.conftest import add_items, client_for, make_project, make_user

SHORT_LOCK_WAIT_MS = 300


def submit(user, project, item_id, client_id, label="positive"):
    return client_for(user).post(
        f"/api/projects/{project.pk}/annotations/", {"item": item_id, "label": label, "client_id": str(client_id)},
        format="json",
    )


@pytest.fixture
def claimed(cast):
    """The annotator holds a claim on one item of the cast's project."""
    project = cast["project"]
    add_items(project, ["a fine film"])
    task = services.claim_tasks(cast["annotator"], project, want=1)[0]
    return {"project": project, "user": cast["annotator"], "item": task.item_id, "assignment": task.pk}


# ---- 1. the database's write lock is held by another connection -------------------------


@contextmanager
def write_lock_held(release_after: float | None = None):
    """Another connection holds the lock a submit's write needs: on SQLite the database's
    write lock (BEGIN IMMEDIATE), on PostgreSQL the assignments table (LOCK TABLE ...
    EXCLUSIVE, which lets reads through). Let go after `release_after` seconds, or at
    the end of the block."""
    database = connection.settings_dict
    if connection.vendor == "sqlite":
        other = sqlite3.connect(database["NAME"], timeout=0, isolation_level=None, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")

        def let_go():
            other.execute("ROLLBACK")
    else:
        import psycopg

        other = psycopg.connect(
            dbname=database["NAME"], user=database["USER"] or None, password=database["PASSWORD"] or None,
            host=database["HOST"] or None, port=database["PORT"] or None,
        )
        other.execute(f"LOCK TABLE {Assignment._meta.db_table} IN EXCLUSIVE MODE")
        let_go = other.rollback
    once = threading.Lock()

    def release():
        if once.acquire(blocking=False):
            let_go()

    timer = threading.Timer(release_after, release) if release_after is not None else None
    if timer:
        timer.start()
    try:
        yield
    finally:
        if timer:
            timer.join()
        release()
        other.close()


@pytest.fixture
def short_lock_wait():
    """This connection gives up waiting for a lock after SHORT_LOCK_WAIT_MS instead of
    LABELER_DB_LOCK_TIMEOUT_S; the next test connects afresh with the setting."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"PRAGMA busy_timeout = {SHORT_LOCK_WAIT_MS}")
        else:
            cursor.execute(f"SET lock_timeout = '{SHORT_LOCK_WAIT_MS}ms'")
    yield
    connection.close()


@pytest.mark.django_db(transaction=True)
def test_a_submit_waits_for_a_briefly_held_write_lock_and_is_stored(claimed):
    client_id = uuid.uuid4()
    with write_lock_held(release_after=0.5):
        started = time.monotonic()
        response = submit(claimed["user"], claimed["project"], claimed["item"], client_id)
        waited = time.monotonic() - started
    assert response.status_code == 201, response.content
    assert waited >= 0.4
    assert Annotation.objects.get().client_id == client_id


@pytest.mark.django_db(transaction=True)
def test_a_write_lock_held_past_the_limit_answers_503_with_retry_after_and_stores_nothing(claimed, short_lock_wait):
    client_id = uuid.uuid4()
    with write_lock_held():
        response = submit(claimed["user"], claimed["project"], claimed["item"], client_id)
    assert response.status_code == 503, response.content
    assert response["Retry-After"] == "2"
    assert response.json()["code"] == "database_busy"
    assert "try again" in response.json()["detail"]
    assert not Annotation.objects.exists()
    assert not ItemEvent.objects.filter(action=ItemEvent.Action.SUBMITTED).exists()
    assert Assignment.objects.get(pk=claimed["assignment"]).status == Assignment.Status.ACTIVE
    assert Item.objects.get(pk=claimed["item"]).status == Item.Status.UNLABELED

    # The page sends the same request again once the lock is gone.
    again = submit(claimed["user"], claimed["project"], claimed["item"], client_id)
    assert again.status_code == 201, again.content
    assert Annotation.objects.get().client_id == client_id


@pytest.mark.django_db(transaction=True)
def test_a_claim_that_cannot_get_the_lock_answers_503_and_takes_nothing(claimed, short_lock_wait):
    project = claimed["project"]
    add_items(project, ["another film"])
    other = Item.objects.get(text="another film")
    with write_lock_held():
        response = client_for(claimed["user"]).post(f"/api/projects/{project.pk}/tasks/claim/", {"want": 2},
                                                    format="json")
    assert response.status_code == 503, response.content
    assert response["Retry-After"]
    other.refresh_from_db()
    assert other.assigned_count == 0
    assert not Assignment.objects.filter(item=other).exists()


# ---- 2. the same submit twice: after a lost answer, and two at once ---------------------


@pytest.mark.django_db(transaction=True)
def test_a_submit_repeated_after_its_answer_was_lost_is_stored_once(claimed):
    client_id = uuid.uuid4()
    first = submit(claimed["user"], claimed["project"], claimed["item"], client_id)  # its answer never arrives
    again = submit(claimed["user"], claimed["project"], claimed["item"], client_id)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert Annotation.objects.count() == 1
    assert ItemEvent.objects.filter(action=ItemEvent.Action.SUBMITTED).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_submits_with_one_client_id_at_once_store_one_answer_and_both_get_it(claimed, monkeypatch):
    # Both requests look for the client id before either stores it: the race a retry
    # sent while the original is still being written runs into.
    both_looked = threading.Barrier(2, timeout=20)
    resolve_class = services.resolve_class

    def resolve_once_both_looked(project, key):
        both_looked.wait()
        return resolve_class(project, key)

    monkeypatch.setattr(services, "resolve_class", resolve_once_both_looked)
    client_id = uuid.uuid4()
    responses = [None, None]

    def send(slot):
        try:
            responses[slot] = submit(claimed["user"], claimed["project"], claimed["item"], client_id)
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(slot,)) for slot in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(r.status_code for r in responses) == [200, 201], [r.content for r in responses]
    assert responses[0].json()["id"] == responses[1].json()["id"]
    assert Annotation.objects.count() == 1
    assert ItemEvent.objects.filter(action=ItemEvent.Action.SUBMITTED).count() == 1


# ---- 3. the disk fills while an export is written ----------------------------------------


class FillingDisk:
    """A temporary file on a disk with `room` bytes left: the write that needs more
    writes what fits and fails with ENOSPC, as a full disk does."""

    opened: list["FillingDisk"] = []

    def __init__(self, room: int, real_temporary_file, **kwargs):
        self._file = real_temporary_file(**kwargs)
        self.room = room
        FillingDisk.opened.append(self)

    def write(self, data):
        if len(data) > self.room:
            self._file.write(data[: self.room])
            self.room = 0
            raise OSError(errno.ENOSPC, "No space left on device")
        self.room -= len(data)
        return self._file.write(data)

    def __getattr__(self, name):
        return getattr(self._file, name)


@pytest.fixture
def export_tmp(tmp_path, monkeypatch):
    """Temporary files of this test go to a folder of its own, which must end empty."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture
def labeled_text(cast):
    project = cast["project"]
    add_items(project, [f"film number {n} was {'good' if n % 2 else 'bad'}" for n in range(40)],
              labels=["positive" if n % 2 else "negative" for n in range(40)])
    return project


def export_text(user, project, fmt):
    return client_for(user).get(f"/api/projects/{project.pk}/export/?export_format={fmt}")


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_text_export_is_sent_whole_with_its_length(cast, labeled_text, export_tmp, fmt):
    response = export_text(cast["reviewer"], labeled_text, fmt)
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    assert int(response["Content-Length"]) == len(body)
    assert body.decode().count("\n") == 40 + (fmt == "csv")
    response.close()
    assert not list(export_tmp.iterdir())


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_disk_filling_during_a_text_export_answers_507_and_keeps_no_partial_file(
    cast, labeled_text, export_tmp, monkeypatch, fmt
):
    real_temporary_file = tempfile.TemporaryFile
    monkeypatch.setattr(exporting, "SPOOL_IN_MEMORY_BYTES", 512)  # past this the export goes to disk
    monkeypatch.setattr(tempfile, "TemporaryFile",
                        lambda **kwargs: FillingDisk(1000, real_temporary_file, **kwargs))
    FillingDisk.opened.clear()
    response = export_text(cast["reviewer"], labeled_text, fmt)
    assert response.status_code == 507, response.content
    assert response.json()["code"] == "disk_full"
    assert "disk is full" in response.json()["detail"]
    assert len(FillingDisk.opened) == 1 and FillingDisk.opened[0].closed  # closed: its space is given back
    assert not list(export_tmp.iterdir())


def test_the_database_failing_midway_through_a_text_export_is_an_error_not_a_cut_off_200(
    cast, labeled_text, monkeypatch
):
    real_records = exporting.export_records

    def records_then(failure):
        def records(project, include_unlabeled=False):
            for number, record in enumerate(real_records(project, include_unlabeled)):
                if number == 10:
                    raise failure
                yield record
        return records

    monkeypatch.setattr(exporting, "export_records", records_then(OperationalError("database or disk is full")))
    full = export_text(cast["reviewer"], labeled_text, "csv")
    assert full.status_code == 507 and full.json()["code"] == "disk_full"

    monkeypatch.setattr(exporting, "export_records", records_then(OperationalError("server closed the connection")))
    client = client_for(cast["reviewer"])
    client.raise_request_exception = False
    lost = client.get(f"/api/projects/{labeled_text.pk}/export/?export_format=jsonl")
    assert lost.status_code == 500
    assert not lost.streaming


def png(colour) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def labeled_images(db):
    reviewer = make_user("vrev")
    project = make_project(classes=("cat", "dog"), kind=Project.Kind.DETECTION, learner="yolo_detect",
                           members=[(reviewer, Membership.Role.REVIEWER)])
    import_image_files(project, [("a.png", io.BytesIO(png((200, 30, 30)))), ("b.png", io.BytesIO(png((30, 30, 200))))])
    coco = {
        "images": [{"id": 1, "file_name": "a.png", "width": 64, "height": 48},
                   {"id": 2, "file_name": "b.png", "width": 64, "height": 48}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [4, 4, 20, 20]},
                        {"id": 2, "image_id": 2, "category_id": 2, "bbox": [10, 8, 30, 20]}],
        "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}],
    }
    import_labels(project, read_coco(coco), None, "annotations")
    return {"project": project, "reviewer": reviewer}


def _open_then_fill(real):
    """Files opened for writing take half of their first write, then the disk is full."""
    def open_(self, mode="r", *args, **kwargs):
        handle = real(self, mode, *args, **kwargs)
        if "w" in mode:
            real_write = handle.write

            def write(data):
                real_write(data[: len(data) // 2])
                raise OSError(errno.ENOSPC, "No space left on device")
            handle.write = write
        return handle
    return open_


def _zip_write_then_fill(real):
    def write(self, *args, **kwargs):
        real(self, *args, **kwargs)
        raise OSError(errno.ENOSPC, "No space left on device")
    return write


@pytest.mark.parametrize(("fmt", "owner", "name", "filling"), [
    ("coco", "pathlib.Path", "open", _open_then_fill),
    ("yolo", "zipfile.ZipFile", "write", _zip_write_then_fill),
    ("voc", "zipfile.ZipFile", "write", _zip_write_then_fill),
])
def test_a_disk_filling_during_an_image_export_answers_507_and_leaves_no_file(
    labeled_images, export_tmp, monkeypatch, fmt, owner, name, filling
):
    import importlib

    module, cls = owner.rsplit(".", 1)
    target = getattr(importlib.import_module(module), cls)
    url = f"/api/projects/{labeled_images['project'].pk}/export/?export_format={fmt}"
    with monkeypatch.context() as patch:
        patch.setattr(target, name, filling(getattr(target, name)))
        response = client_for(labeled_images["reviewer"]).get(url)
    assert response.status_code == 507, response.content
    assert response.json()["code"] == "disk_full"
    assert "disk is full" in response.json()["detail"]
    assert not list(export_tmp.iterdir())

    # With room again the same export is whole, and its temporary file is gone once sent.
    response = client_for(labeled_images["reviewer"]).get(url)
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    response.close()
    if fmt == "coco":
        assert len(json.loads(body)["annotations"]) == 2
    else:
        assert zipfile.ZipFile(io.BytesIO(body)).testzip() is None
    assert not list(export_tmp.iterdir())


# ---- 5. the channel layer's Redis restarts ------------------------------------------------


@pytest_asyncio.fixture
async def redis_layer(redis_server, settings):
    """The default channel layer on the throwaway Redis, for this test's event loop."""
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [redis_server.url]}}
    }
    channel_layers.backends.pop(DEFAULT_CHANNEL_LAYER, None)
    yield redis_server
    await database_sync_to_async(connections.close_all)()
    layer = channel_layers.backends.pop(DEFAULT_CHANNEL_LAYER, None)
    if hasattr(layer, "close_pools"):
        await layer.close_pools()


def _watched_project():
    member = make_user()
    project = make_project(members=[(member, Membership.Role.ANNOTATOR)])
    return project, Token.objects.create(user=member).key


def page(project_id: int, token: str) -> WebsocketCommunicator:
    headers = [(b"origin", b"http://testserver"), (b"authorization", f"Token {token}".encode())]
    return WebsocketCommunicator(application, f"/ws/projects/{project_id}/", headers=headers)


async def open_page(project_id: int, token: str) -> WebsocketCommunicator:
    socket = page(project_id, token)
    connected, _ = await socket.connect()
    assert connected
    assert (await socket.receive_json_from())["type"] == "hello"
    return socket


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_pages_are_asked_to_reconnect_when_redis_restarts_and_hear_events_after(redis_layer, caplog):
    project, token = await database_sync_to_async(_watched_project)()
    pages = [await open_page(project.pk, token) for _ in range(3)]
    await sync_to_async(publish_now)(project.pk, "progress.changed")
    for socket in pages:
        assert (await socket.receive_json_from())["type"] == "progress.changed"

    await sync_to_async(redis_layer.restart)()
    # The groups were in Redis and are gone: every page is closed with 1012 (service
    # restart), so that it reconnects, joins again and reloads what it shows.
    for socket in pages:
        assert await socket.receive_output(timeout=10) == {"type": "websocket.close", "code": 1012}
        await socket.disconnect()

    caplog.clear()
    await sync_to_async(publish_now)(project.pk, "progress.changed")  # nobody listening, but it reaches Redis
    assert "could not publish" not in caplog.text

    pages = [await open_page(project.pk, token) for _ in range(2)]
    await sync_to_async(publish_now)(project.pk, "batch.ready", round=2)
    for socket in pages:
        assert await socket.receive_json_from() == {"type": "batch.ready", "project": project.pk, "round": 2}
        await socket.disconnect()


@pytest.mark.django_db(transaction=True)
def test_with_redis_down_a_submit_is_stored_and_the_missed_event_is_logged(claimed, redis_server, settings, caplog):
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [redis_server.url]}}
    }
    channel_layers.backends.pop(DEFAULT_CHANNEL_LAYER, None)
    redis_server.stop()
    try:
        response = submit(claimed["user"], claimed["project"], claimed["item"], uuid.uuid4())
    finally:
        channel_layers.backends.pop(DEFAULT_CHANNEL_LAYER, None)
    assert response.status_code == 201, response.content
    assert Annotation.objects.count() == 1
    assert "could not publish progress.changed" in caplog.text


def test_no_free_pooled_connection_counts_as_busy_not_as_a_crash():
    """PostgreSQL's pool gives up after the lock timeout when every connection is lent:
    the request is answered 503 with Retry-After (the middleware's rule), like a lock wait."""
    from psycopg_pool import PoolTimeout

    from labeler.db_busy import is_database_busy

    try:
        try:
            raise PoolTimeout("couldn't get a connection after 20.00 sec")
        except PoolTimeout as exc:
            raise OperationalError(str(exc)) from exc
    except OperationalError as wrapped:
        assert is_database_busy(wrapped)
    assert not is_database_busy(OperationalError("connection refused"))
