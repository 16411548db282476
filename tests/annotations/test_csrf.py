"""CSRF on writes: a browser's session cookie alone must not be enough to change anything
(another site could make the browser send it), so session-authenticated API writes need
the CSRF token; scripts sending `Authorization: Token` carry no cookie and need none."""
import pytest
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotations.models import LabelClass, Project


@pytest.fixture
def session(cast):
    """The admin, logged in through the login page, with CSRF checks on as in a browser."""
    client = Client(enforce_csrf_checks=True)
    client.get("/login/")
    response = client.post(
        "/login/", {"username": "adm", "password": "adm-pw", "csrfmiddlewaretoken": client.cookies["csrftoken"].value}
    )
    assert response.status_code == 302, response.content[:300]
    return client


def csrf_header(client: Client) -> dict:
    client.get("/")  # any page sets the csrftoken cookie
    return {"HTTP_X_CSRFTOKEN": client.cookies["csrftoken"].value}


def writes(project: Project):
    spare = LabelClass.objects.create(ontology=project.ontology, key="mixed", name="Mixed", hotkey="9", order=9)
    base = f"/api/projects/{project.pk}/"
    return [
        ("post", base + "classes/", {"key": "neutral", "name": "Neutral", "hotkey": "7"}, 201),
        ("patch", base, {"retrain_every": 7}, 200),
        ("delete", base + f"classes/{spare.pk}/", None, 204),
    ]


def snapshot(project: Project) -> tuple:
    project.refresh_from_db()
    return project.retrain_every, sorted(LabelClass.objects.filter(ontology=project.ontology).values_list("key", flat=True))


def test_session_writes_without_the_token_are_refused_and_change_nothing(cast, session):
    project = cast["project"]
    for method, url, data, _ in writes(project):
        before = snapshot(project)
        response = getattr(session, method)(url, data, content_type="application/json")
        assert response.status_code == 403, (method, url, response.content[:300])
        assert "CSRF" in response.json()["detail"]
        assert snapshot(project) == before


def test_session_writes_with_the_token_go_through(cast, session):
    project = cast["project"]
    headers = csrf_header(session)
    for method, url, data, ok in writes(project):
        response = getattr(session, method)(url, data, content_type="application/json", **headers)
        assert response.status_code == ok, (method, url, response.content[:300])
    project.refresh_from_db()
    assert project.retrain_every == 7
    assert LabelClass.objects.filter(ontology=project.ontology, key="neutral").exists()
    assert not LabelClass.objects.filter(ontology=project.ontology, key="mixed").exists()


def test_a_token_from_another_session_is_refused(cast, session):
    stranger = Client(enforce_csrf_checks=True)
    stranger.get("/login/")
    foreign = {"HTTP_X_CSRFTOKEN": stranger.cookies["csrftoken"].value}
    project = cast["project"]
    response = session.patch(f"/api/projects/{project.pk}/", {"retrain_every": 9}, content_type="application/json",
                             **foreign)
    assert response.status_code == 403
    project.refresh_from_db()
    assert project.retrain_every != 9


def test_token_authenticated_writes_need_no_csrf_token(cast):
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=cast['admin']).key}")
    project = cast["project"]
    for method, url, data, ok in writes(project):
        response = getattr(client, method)(url, data, format="json")
        assert response.status_code == ok, (method, url, response.content[:300])


def test_the_login_form_itself_needs_the_token(cast):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/login/", {"username": "adm", "password": "adm-pw"})
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session
