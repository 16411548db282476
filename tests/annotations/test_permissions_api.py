"""Who may do what: every API endpoint against every role, plus pages, tokens and docs."""
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotations import services
from annotations.models import Annotation, Item, LabelClass, Membership, Project
from tests.conftest import add_items, client_for, make_project, make_user

ROLES = ["anonymous", "outsider", "annotator", "reviewer", "admin", "staff"]
RANK = {"annotator": 1, "reviewer": 2, "admin": 3, "staff": 3}


@dataclass
class Endpoint:
    name: str
    method: str
    path: str
    needs: str  # "authenticated", "staff", or the least project role
    ok: int = 200
    data: Callable[[dict], dict] | None = None
    prepare: Callable[[dict, object], dict] = field(default=lambda world, user: {})
    multipart: bool = False


def _acting_member(world, user):
    """The acting user if they may label here, else the annotator (for refused roles)."""
    return user if user is not None and user.username != "out" else world["annotator"]


def _own_assignment(world, user):
    held = services.claim_tasks(_acting_member(world, user), world["project"], want=1)
    return {"assignment": held[0].pk, "item": held[0].item_id}


def _own_answer(world, user):
    context = _own_assignment(world, user)
    services.submit_annotation(_acting_member(world, user), world["project"], context["item"], "positive")
    return context


def _upload(_context):
    return {"file": SimpleUploadedFile("more.csv", b"text\nanother review\nand one more\n"), "split": "pool"}


P = "/api/projects/{project}/"
ENDPOINTS = [
    Endpoint("list projects", "get", "/api/projects/", "authenticated"),
    Endpoint("create project", "post", "/api/projects/", "staff", 201, data=lambda c: {"name": "New", "class_names": ["a", "b"]}),
    Endpoint("strategies", "get", "/api/strategies/", "authenticated"),
    Endpoint("read project", "get", P, "annotator"),
    Endpoint("patch project", "patch", P, "admin", data=lambda c: {"retrain_every": 5}),
    Endpoint("delete project", "delete", P, "admin", 204),
    Endpoint("list classes", "get", P + "classes/", "annotator"),
    Endpoint("add class", "post", P + "classes/", "admin", 201, data=lambda c: {"key": "neutral", "name": "Neutral", "hotkey": "7"}),
    Endpoint("read class", "get", P + "classes/{spare_class}/", "annotator"),
    Endpoint("rename class", "patch", P + "classes/{spare_class}/", "admin", data=lambda c: {"name": "Mixed feelings"}),
    Endpoint("delete class", "delete", P + "classes/{spare_class}/", "admin", 204),
    Endpoint("list members", "get", P + "members/", "admin"),
    Endpoint("add member", "post", P + "members/", "admin", 201, data=lambda c: {"username": "newbie", "role": "annotator"}),
    Endpoint("change member role", "patch", P + "members/{membership}/", "admin", data=lambda c: {"role": "reviewer"}),
    Endpoint("remove member", "delete", P + "members/{membership}/", "admin", 204),
    Endpoint("list items", "get", P + "items/", "reviewer"),
    Endpoint("read item", "get", P + "items/{item}/", "reviewer"),
    Endpoint("delete item", "delete", P + "items/{item}/", "admin", 204),
    Endpoint("import", "post", P + "import/", "admin", 201, data=_upload, multipart=True),
    Endpoint("export", "get", P + "export/", "reviewer"),
    Endpoint("claim", "post", P + "tasks/claim/", "annotator", data=lambda c: {"want": 2}),
    Endpoint("skip", "post", P + "tasks/{assignment}/skip/", "annotator", prepare=_own_assignment),
    Endpoint("list annotations", "get", P + "annotations/", "annotator"),
    Endpoint(
        "submit", "post", P + "annotations/", "annotator", 201, prepare=_own_assignment,
        data=lambda c: {"item": c["item"], "label": "negative"},
    ),
    Endpoint("undo", "post", P + "annotations/undo/", "annotator", prepare=_own_answer),
    Endpoint("progress", "get", P + "progress/", "annotator"),
    Endpoint("rounds", "get", P + "rounds/", "annotator"),
    Endpoint("list jobs", "get", P + "jobs/", "annotator"),
    Endpoint("request round", "post", P + "jobs/", "admin", 202),
]


def expected_status(endpoint: Endpoint, role: str) -> tuple[int, ...]:
    if role == "anonymous":
        return (401, 403)
    if endpoint.needs == "authenticated":
        return (endpoint.ok,)
    if endpoint.needs == "staff":
        return (endpoint.ok,) if role == "staff" else (403,)
    if role == "outsider":
        return (404,)
    return (endpoint.ok,) if RANK[role] >= RANK[endpoint.needs] else (403,)


@pytest.fixture
def world(cast):
    project = cast["project"]
    add_items(project, [f"review {n}" for n in range(6)])
    cast["spare_class"] = LabelClass.objects.create(ontology=project.ontology, key="mixed", name="Mixed", hotkey="9", order=9)
    make_user("newbie")
    return cast


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e.name for e in ENDPOINTS])
def test_endpoint_allows_exactly_the_roles_it_should(world, endpoint, role):
    user = None if role == "anonymous" else world[role]
    context = {
        "project": world["project"].pk,
        "spare_class": world["spare_class"].pk,
        "membership": Membership.objects.get(user=world["annotator2"]).pk,
        "item": Item.objects.filter(project=world["project"]).order_by("-pk").first().pk,
    }
    context.update(endpoint.prepare(world, user))
    url = endpoint.path.format(**context)
    data = endpoint.data(context) if endpoint.data else None
    client = client_for(user)
    response = getattr(client, endpoint.method)(url, data, format="multipart" if endpoint.multipart else "json")
    assert response.status_code in expected_status(endpoint, role), (url, role, response.content[:300])


def test_project_list_shows_members_their_projects_and_role_only(world):
    other = make_project(name="Someone else's")
    mine = client_for(world["annotator"]).get("/api/projects/").json()["results"]
    assert [(p["id"], p["role"]) for p in mine] == [(world["project"].pk, "annotator")]
    assert client_for(world["outsider"]).get("/api/projects/").json()["results"] == []
    everything = client_for(world["staff"]).get("/api/projects/").json()["results"]
    assert {p["id"] for p in everything} == {world["project"].pk, other.pk}


def test_a_project_admin_who_is_not_staff_cannot_create_projects(world):
    response = client_for(world["admin"]).post("/api/projects/", {"name": "Mine"}, format="json")
    assert response.status_code == 403
    assert Project.objects.count() == 1


def test_staff_creating_a_project_becomes_its_admin_with_the_named_classes(world):
    response = client_for(world["staff"]).post(
        "/api/projects/", {"name": "Birds", "class_names": ["Sparrow", "Blue tit"]}, format="json"
    )
    assert response.status_code == 201
    project = Project.objects.get(pk=response.json()["id"])
    assert Membership.objects.get(project=project, user=world["staff"]).role == Membership.Role.ADMIN
    assert list(project.ontology.classes.values_list("key", flat=True)) == ["sparrow", "blue_tit"]


def test_an_annotator_sees_only_their_own_annotations(world):
    project = world["project"]
    for user in (world["annotator"], world["annotator2"]):
        held = services.claim_tasks(user, project, want=1)
        services.submit_annotation(user, project, held[0].item_id, "positive")
    url = f"/api/projects/{project.pk}/annotations/"
    own = client_for(world["annotator"]).get(url).json()
    assert [a["annotator"] for a in own] == ["ann"]
    for role in ("reviewer", "admin", "staff"):
        everyone = client_for(world[role]).get(url).json()
        assert sorted(a["annotator"] for a in everyone) == ["ann", "ann2"]


def test_an_annotator_gets_only_their_own_tasks(world):
    project = world["project"]
    url = f"/api/projects/{project.pk}/tasks/claim/"
    first = client_for(world["annotator"]).post(url, {"want": 3}, format="json").json()["tasks"]
    second = client_for(world["annotator2"]).post(url, {"want": 3}, format="json").json()["tasks"]
    assert len(first) == len(second) == 3
    assert not {t["id"] for t in first} & {t["id"] for t in second}
    # Asking again returns the same tasks, never the other annotator's.
    again = client_for(world["annotator"]).post(url, {"want": 3}, format="json").json()["tasks"]
    assert {t["id"] for t in again} == {t["id"] for t in first}


def test_an_annotator_cannot_skip_another_annotators_task(world):
    project = world["project"]
    theirs = services.claim_tasks(world["annotator2"], project, want=1)[0]
    response = client_for(world["annotator"]).post(f"/api/projects/{project.pk}/tasks/{theirs.pk}/skip/")
    assert response.status_code == 403


def test_an_item_of_another_project_is_not_found_through_this_one(world):
    other = make_project(members=[(world["reviewer"], Membership.Role.REVIEWER)])
    add_items(other, ["elsewhere"])
    foreign = Item.objects.get(project=other)
    response = client_for(world["reviewer"]).get(f"/api/projects/{world['project'].pk}/items/{foreign.pk}/")
    assert response.status_code == 404


def test_a_denied_role_is_told_which_role_is_needed(world):
    response = client_for(world["annotator"]).get(f"/api/projects/{world['project'].pk}/items/")
    assert response.status_code == 403
    assert "reviewer" in response.json()["detail"]


def test_an_admin_cannot_delete_a_class_in_use(world):
    project = world["project"]
    held = services.claim_tasks(world["annotator"], project, want=1)[0]
    services.submit_annotation(world["annotator"], project, held.item_id, "positive")
    positive = LabelClass.objects.get(ontology=project.ontology, key="positive")
    response = client_for(world["admin"]).delete(f"/api/projects/{project.pk}/classes/{positive.pk}/")
    assert response.status_code == 409
    assert "in use" in response.json()["detail"]
    assert Annotation.objects.filter(label_class=positive).exists()


PAGES = ["/", "/projects/{project}/", "/projects/{project}/label/", "/projects/{project}/ontology/"]


@pytest.mark.parametrize("page", PAGES)
def test_pages_send_anonymous_visitors_to_the_login(world, page):
    url = page.format(project=world["project"].pk)
    response = Client().get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
    assert "next=" in response["Location"]


@pytest.mark.parametrize("page", PAGES[1:])
def test_pages_of_a_project_are_not_found_for_outsiders(world, page):
    client = Client()
    client.force_login(world["outsider"])
    assert client.get(page.format(project=world["project"].pk)).status_code == 404


def test_pages_of_a_missing_project_are_not_found(world):
    client = Client()
    client.force_login(world["staff"])
    assert client.get("/projects/999999/").status_code == 404


def test_the_ontology_editor_is_for_admins_only(world):
    client = Client()
    client.force_login(world["annotator"])
    assert client.get(f"/projects/{world['project'].pk}/ontology/").status_code == 403


def test_password_login_then_the_api_accepts_the_session(world):
    client = APIClient()
    assert client.login(username="ann", password="ann-pw")
    assert client.get(f"/api/projects/{world['project'].pk}/").status_code == 200


def test_token_authentication_works_for_scripts(world):
    token = Token.objects.create(user=world["reviewer"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get(f"/api/projects/{world['project'].pk}/items/").status_code == 200
    assert client.get(f"/api/projects/{world['project'].pk}/export/").status_code == 200


def test_a_wrong_token_is_refused(world):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert client.get(f"/api/projects/{world['project'].pk}/").status_code in (401, 403)


def test_api_schema_and_docs_are_served(world):
    client = client_for(world["annotator"])
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/projects/{project_id}/tasks/claim/" in schema.content
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()
