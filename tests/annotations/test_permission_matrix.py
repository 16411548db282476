"""Every route the URL resolver knows (API, pages) and the websocket, against every role.

The routes are read from the resolver, so a new endpoint or method without a line in
ACCESS fails `test_every_route_and_method_has_an_expectation`, naming it. Allow checks
use GET (a write would need a body that means something); for writes, every role below
the minimum must be refused with the status the app gives and leave the database and the
media folder as they were. test_permissions_api.py checks the allowed writes one by one.
"""
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from channels.db import database_sync_to_async
from channels.layers import DEFAULT_CHANNEL_LAYER, channel_layers
from channels.testing import WebsocketCommunicator
from django.apps import apps
from django.conf import settings
from django.db import connections
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

from annotations.models import Membership
from tests.annotations.security_world import build_world
from tests.conftest import make_project, make_user

# The least a caller must be, lowest first. A member's role counts in their own project
# only; staff act as admins everywhere and alone may create projects.
PUBLIC, AUTHENTICATED, ANNOTATOR, REVIEWER, ADMIN, STAFF = "public", "authenticated", "annotator", "reviewer", "admin", "staff"
LEVEL = {PUBLIC: 0, AUTHENTICATED: 1, ANNOTATOR: 2, REVIEWER: 3, ADMIN: 4, STAFF: 5}

# "other" is an annotator of another project: logged in, a member of nothing here.
ROLES = ["anonymous", "other", "annotator", "reviewer", "admin", "staff"]
ROLE_LEVEL = {role: level for level, role in enumerate(ROLES)}

# Path name -> method -> the least role that may call it.
ACCESS = {
    # Projects, classes, members, items
    "api-projects": {"GET": AUTHENTICATED, "POST": STAFF},
    "api-project": {"GET": ANNOTATOR, "PUT": ADMIN, "PATCH": ADMIN, "DELETE": ADMIN},
    "api-classes": {"GET": ANNOTATOR, "POST": ADMIN},
    "api-class": {"GET": ANNOTATOR, "PUT": ADMIN, "PATCH": ADMIN, "DELETE": ADMIN},
    "api-members": {"GET": ADMIN, "POST": ADMIN},
    "api-member": {"GET": ADMIN, "PUT": ADMIN, "PATCH": ADMIN, "DELETE": ADMIN},
    "api-members-bulk": {"POST": ADMIN},
    "api-qualification-reset": {"POST": ADMIN},
    "api-items": {"GET": REVIEWER, "POST": ADMIN},
    "api-item": {"GET": REVIEWER, "DELETE": ADMIN},
    # Imports, media, export
    "api-import": {"POST": ADMIN},
    "api-images": {"POST": ADMIN},
    "api-import-labels": {"POST": ADMIN},
    "api-weights": {"POST": ADMIN},
    "api-videos": {"POST": ADMIN},
    "api-video-frames": {"GET": ANNOTATOR},
    "api-item-media": {"GET": ANNOTATOR},
    "api-export": {"GET": REVIEWER},
    # Labeling
    "api-claim": {"POST": ANNOTATOR},
    "api-skip": {"POST": ANNOTATOR},
    "api-annotations": {"GET": ANNOTATOR, "POST": ANNOTATOR},
    "api-undo": {"POST": ANNOTATOR},
    "api-progress": {"GET": ANNOTATOR},
    "api-item-comments": {"GET": ANNOTATOR, "POST": ANNOTATOR},
    "api-resolve": {"POST": ANNOTATOR},
    # The loop
    "api-rounds": {"GET": ANNOTATOR},
    "api-jobs": {"GET": ANNOTATOR, "POST": ADMIN},
    "api-simulations": {"GET": REVIEWER, "POST": ADMIN},
    "api-simulation": {"GET": REVIEWER},
    "api-disagreements": {"GET": REVIEWER},
    "api-settle-disagreement": {"POST": REVIEWER},
    "api-dashboard": {"GET": REVIEWER},
    # Review and quality
    "api-review-queue": {"GET": REVIEWER},
    "api-review-item": {"GET": REVIEWER},
    "api-approve": {"POST": REVIEWER},
    "api-reject": {"POST": REVIEWER},
    "api-correct": {"POST": REVIEWER},
    "api-decide": {"POST": REVIEWER},
    "api-item-history": {"GET": REVIEWER},
    "api-questions": {"GET": REVIEWER},
    "api-agreement": {"GET": REVIEWER},
    "api-quality": {"GET": REVIEWER},
    "api-gold": {"GET": ADMIN},
    "api-item-gold": {"POST": ADMIN, "DELETE": ADMIN},
    # Ontology
    "api-ontology": {"GET": ANNOTATOR, "PATCH": ADMIN},
    "api-ontology-changes": {"GET": ADMIN},
    "api-ontology-merge": {"POST": ADMIN},
    "api-ontology-reorder": {"POST": ADMIN},
    "api-ontology-export": {"GET": ANNOTATOR},
    "api-ontology-import": {"POST": ADMIN},
    "api-ontology-fork": {"POST": ADMIN},
    "api-ontologies": {"GET": AUTHENTICATED},
    # Configuration
    "api-project-config": {"GET": ADMIN, "POST": ADMIN},
    "api-project-from-config": {"POST": STAFF},
    # Guide
    "api-guide": {"GET": ANNOTATOR, "PUT": ADMIN},
    "api-guide-revisions": {"GET": ANNOTATOR},
    "api-guide-revision": {"GET": ANNOTATOR},
    "api-guide-restore": {"POST": ADMIN},
    "api-guide-proposals": {"GET": ANNOTATOR, "POST": ANNOTATOR},
    "api-guide-proposal": {"GET": ANNOTATOR},
    "api-guide-accept": {"POST": ADMIN},
    "api-guide-decline": {"POST": ADMIN},
    "api-guide-images": {"POST": REVIEWER},
    "api-guide-image": {"GET": ANNOTATOR},
    # Registries and the API's own description (the schema is public, as the code is)
    "api-strategies": {"GET": AUTHENTICATED},
    "api-learners": {"GET": AUTHENTICATED},
    "api-schema": {"GET": PUBLIC},
    "api-docs": {"GET": PUBLIC},
    # Pages
    "login": {"GET": PUBLIC, "POST": PUBLIC, "PUT": PUBLIC},
    "logout": {"POST": PUBLIC},
    "project-list": {"GET": AUTHENTICATED},
    "project-detail": {"GET": ANNOTATOR},
    "workspace": {"GET": ANNOTATOR},
    "review": {"GET": REVIEWER},
    "agreement": {"GET": REVIEWER},
    "quality": {"GET": REVIEWER},
    "ontology-editor": {"GET": ADMIN},
    "guide": {"GET": ANNOTATOR},
}

# The websocket routes (labeler/routing.py) -> the least role that may connect.
WEBSOCKET_ACCESS = {"ws/projects/<int:project_id>/": ANNOTATOR}

# Where a route's id must point at something other than the usual object of that name.
ROUTE_IDS = {"api-item-media": {"item_id": "picture_id"}}

# The Django admin has its own staff-only login and is checked on its own below.
SKIPPED_NAMESPACES = {"admin"}
IGNORED_METHODS = {"head", "options", "trace"}


@dataclass(frozen=True)
class Route:
    name: str
    route: str
    methods: tuple[str, ...]

    @property
    def params(self) -> list[str]:
        return re.findall(r"<(?:\w+:)?(\w+)>", self.route)

    @property
    def is_api(self) -> bool:
        return self.route.startswith("api/")


def _methods(callback) -> tuple[str, ...]:
    view_class = getattr(callback, "view_class", None)
    if view_class is None:
        return ("GET",)  # a page function: it only renders
    return tuple(
        method.upper() for method in view_class.http_method_names
        if method not in IGNORED_METHODS and hasattr(view_class, method)
    )


def _walk(patterns, prefix: str = ""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            if entry.app_name in SKIPPED_NAMESPACES:
                continue
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield Route(entry.name or prefix + str(entry.pattern), prefix + str(entry.pattern), _methods(entry.callback))


ROUTES = list(_walk(get_resolver().url_patterns))
CASES = [(route, method) for route in ROUTES for method in route.methods]


def test_every_route_and_method_has_an_expectation():
    found = {(route.name, method) for route, method in CASES}
    expected = {(name, method) for name, methods in ACCESS.items() for method in methods}
    missing = sorted(found - expected)
    stale = sorted(expected - found)
    assert not missing, f"routes without an entry in ACCESS (add the least role for each): {missing}"
    assert not stale, f"entries in ACCESS for routes or methods that no longer exist: {stale}"


def test_every_websocket_route_has_an_expectation():
    from labeler.routing import websocket_urlpatterns

    routes = {str(pattern.pattern) for pattern in websocket_urlpatterns}
    assert routes == set(WEBSOCKET_ACCESS), f"websocket routes and WEBSOCKET_ACCESS differ: {sorted(routes ^ set(WEBSOCKET_ACCESS))}"


def people(cast) -> dict:
    """Role -> user, in the order of ROLES."""
    return {"anonymous": None, "other": cast["outsider"], **{role: cast[role] for role in ROLES[2:]}}


def client_as(user, route: Route):
    """The API through DRF's client, the pages through Django's with a real session."""
    client = APIClient() if route.is_api else Client()
    if user is not None:
        if route.is_api:
            client.force_authenticate(user)
        else:
            client.force_login(user)
    return client


def refusal(route: Route, minimum: str, role: str) -> int | None:
    """The status the app refuses `role` with, or None when the role may call it."""
    if ROLE_LEVEL[role] >= LEVEL[minimum]:
        return None
    if role == "anonymous":
        return 403 if route.is_api else 302  # DRF: not authenticated; pages: to the login
    if minimum == STAFF:
        return 403
    if "project_id" in route.params and role == "other":
        return 404  # outsiders learn nothing about the project, not even that it exists
    return 403


def database_state() -> dict:
    """Every row of every table, to prove a refused write changed nothing."""
    return {
        model._meta.label: list(model.objects.order_by("pk").values_list())
        for model in apps.get_models()
        if model._meta.managed and not model._meta.proxy and model._meta.app_label != "sessions"
    }


def media_files() -> list[str]:
    root = Path(settings.MEDIA_ROOT)
    return sorted(str(path.relative_to(root)) for path in root.rglob("*")) if root.exists() else []


def _case_id(case) -> str:
    route, method = case
    return f"{route.name}-{method}"


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_each_role_is_allowed_or_refused_as_the_table_says(cast, case):
    route, method = case
    minimum = ACCESS.get(route.name, {}).get(method)
    if minimum is None:
        pytest.fail(f"{route.name} ({route.route}) {method} has no entry in ACCESS: add the least role that may call it")
    ids = build_world(cast)
    chosen = ROUTE_IDS.get(route.name, {})
    url = reverse(route.name, kwargs={name: ids[chosen.get(name, name)] for name in route.params})
    for role, user in people(cast).items():
        expected = refusal(route, minimum, role)
        client = client_as(user, route)
        if method == "GET":
            response = client.get(url)
            if expected is None:
                assert response.status_code == 200, (url, role, response.status_code, response.content[:300])
                continue
        elif expected is None:
            continue  # an allowed write needs a real body: see test_permissions_api.py
        else:
            before, files = database_state(), media_files()
            response = getattr(client, method.lower())(url, {}, content_type="application/json")
            assert database_state() == before, f"{method} {url} as {role} was refused but changed the database"
            assert media_files() == files, f"{method} {url} as {role} was refused but changed the media folder"
        assert response.status_code == expected, (method, url, role, response.status_code, response.content[:300])
        if expected == 302:
            assert response["Location"].startswith(reverse("login") + "?next="), response["Location"]
        elif route.is_api:
            assert response.json().get("detail"), (method, url, role, response.content[:300])


@pytest.mark.parametrize("role", ROLES)
def test_the_django_admin_is_for_staff_only(cast, role):
    user = people(cast)[role]
    client = Client()
    if user is not None:
        client.force_login(user)
    response = client.get("/django-admin/")
    if role == "staff":
        assert response.status_code == 200
    else:
        assert response.status_code == 302 and response["Location"].startswith("/django-admin/login/")


# The websocket ---------------------------------------------------------------------


def _session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


def _websocket_world():
    cast = {
        "outsider": make_user("ws-other"),
        "annotator": make_user("ws-ann"),
        "reviewer": make_user("ws-rev"),
        "admin": make_user("ws-adm"),
        "staff": make_user("ws-staff", staff=True),
    }
    project = make_project(members=[(cast[r], r) for r in ("annotator", "reviewer", "admin")])
    make_project(name="Elsewhere", members=[(cast["outsider"], Membership.Role.ANNOTATOR)])
    cookies = {role: _session_cookie(user) if user else None for role, user in people(cast).items()}
    return project.pk, cookies


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
@pytest.mark.parametrize("route", sorted(WEBSOCKET_ACCESS))
async def test_each_role_may_or_may_not_open_the_websocket(route):
    from labeler.asgi import application

    channel_layers.backends.pop(DEFAULT_CHANNEL_LAYER, None)
    project_id, cookies = await database_sync_to_async(_websocket_world)()
    path = "/" + route.replace("<int:project_id>", str(project_id))
    try:
        for role, cookie in cookies.items():
            headers = [(b"origin", b"http://testserver")] + ([(b"cookie", cookie)] if cookie else [])
            communicator = WebsocketCommunicator(application, path, headers=headers)
            connected, code = await communicator.connect()
            if ROLE_LEVEL[role] >= LEVEL[WEBSOCKET_ACCESS[route]]:
                assert connected, (role, code)
                assert await communicator.receive_json_from(timeout=5) == {"type": "hello", "project": project_id}
            else:
                assert not connected and code == 4403, (role, connected, code)
            await communicator.disconnect(timeout=0.5)
    finally:
        await database_sync_to_async(connections.close_all)()
        channel_layers.backends.pop(DEFAULT_CHANNEL_LAYER, None)
