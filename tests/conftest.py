"""Personas and builders shared by the suite. Jobs run through the real Huey queue in
immediate mode (the task is enqueued and executed on the spot)."""
import contextlib
import itertools
import os
import tempfile
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from huey.contrib.djhuey import HUEY
from rest_framework.test import APIClient

from annotations.importing import import_rows
from annotations.models import LabelClass, Membership, Ontology, Project

HUEY.immediate = True

# SQLite's in-memory test database is shared-cache, where concurrent writers fail at once
# with "table is locked" instead of waiting: tests with threads need a file, as in use.
_default_db = settings.DATABASES["default"]
if "sqlite" in _default_db["ENGINE"] and not _default_db.setdefault("TEST", {}).get("NAME"):
    _default_db["TEST"]["NAME"] = str(Path(tempfile.gettempdir()) / f"labeler-tests-{os.getpid()}.sqlite3")
# The tests' pages listen for other processes' events in a directory of this run's own:
# a server running from the same checkout must not hear the tests' events, nor they its.
if settings.CHANNEL_LAYERS["default"]["BACKEND"] == "labeler.fanout_layer.FanOutChannelLayer":
    settings.CHANNEL_LAYERS["default"]["CONFIG"] = {"directory": tempfile.mkdtemp(prefix="labeler-test-layer-")}
# Real password hashing costs ~0.3 s per user; the suite makes hundreds.
settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

_counter = itertools.count(1)


@pytest.fixture(autouse=True)
def _models_in_tmp(tmp_path, settings, monkeypatch):
    """Model files and cached features of one test never reach var/ or another test
    (ids restart with each test database, so a cache keyed by project id would leak)."""
    from activelearning import features
    from activelearning.learners import FeatureCache

    settings.MODEL_DIR = tmp_path / "models"
    settings.MEDIA_ROOT = tmp_path / "media"
    # Every progress tick sent as it happens: ids restart with each test database, so
    # one test's tick must not hold back the next test's (tests/annotations/test_progress_ticks.py
    # covers the coalescing).
    settings.LABELER_PROGRESS_TICK_S = 0
    monkeypatch.setattr(features, "FEATURES", FeatureCache(tmp_path / "models"))


def make_user(name: str | None = None, staff: bool = False) -> User:
    name = name or f"user{next(_counter)}"
    return User.objects.create_user(username=name, password=f"{name}-pw", is_staff=staff)


def make_project(*, classes=("negative", "positive"), members=(), **settings) -> Project:
    ontology = Ontology.objects.create(name="Sentiment")
    for index, name in enumerate(classes):
        LabelClass.objects.create(ontology=ontology, key=name, name=name, hotkey=str(index + 1), order=index)
    project = Project.objects.create(name=settings.pop("name", "Reviews"), ontology=ontology, **settings)
    for user, role in members:
        Membership.objects.create(project=project, user=user, role=role)
    return project


def add_items(project: Project, texts, labels=None, split: str = "pool") -> None:
    rows = [
        (n, {"text": t, **({"label": labels[n - 1]} if labels else {})}) for n, t in enumerate(texts, 1)
    ]
    import_rows(project, rows, label_field="label" if labels else None, split=split)


def client_for(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def cast(db):
    """An annotator, a second annotator, a reviewer, an admin, an outsider and a staff user,
    all but the outsider members of one project with two classes."""
    people = {
        "annotator": make_user("ann"),
        "annotator2": make_user("ann2"),
        "reviewer": make_user("rev"),
        "admin": make_user("adm"),
        "outsider": make_user("out"),
        "staff": make_user("staff", staff=True),
    }
    project = make_project(
        members=[
            (people["annotator"], Membership.Role.ANNOTATOR),
            (people["annotator2"], Membership.Role.ANNOTATOR),
            (people["reviewer"], Membership.Role.REVIEWER),
            (people["admin"], Membership.Role.ADMIN),
        ]
    )
    people["project"] = project
    return people


def break_learner(monkeypatch, factory, key: str = "tfidf_logreg") -> None:
    """Make the learner's factory fail (or misbehave) for the rest of one test."""
    from dataclasses import replace

    from activelearning.learners import LEARNERS

    monkeypatch.setitem(LEARNERS, key, replace(LEARNERS[key], factory=factory))


@pytest.fixture
def redis_server():
    """A redis-server of the test's own on a free port, so restarts touch nothing shared."""
    from tests.throwaway_redis import ThrowawayRedis

    server = ThrowawayRedis()
    server.start()
    yield server
    server.stop()


@contextlib.asynccontextmanager
async def own_channel_layer():
    """Each test has its own event loop: give it its own channel layer too (a Redis
    layer's locks and connection pools belong to the loop that made them)."""
    from channels.db import database_sync_to_async
    from channels.layers import DEFAULT_CHANNEL_LAYER, channel_layers
    from django.db import connections

    channel_layers.backends.pop(DEFAULT_CHANNEL_LAYER, None)
    try:
        yield
    finally:
        await database_sync_to_async(connections.close_all)()
        layer = channel_layers.backends.pop(DEFAULT_CHANNEL_LAYER, None)
        if hasattr(layer, "close_pools"):
            await layer.close_pools()
