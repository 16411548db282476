"""Failed-login limits on the login page (django-axes): after LABELER_LOGIN_ATTEMPTS wrong
passwords for one username from one address, the page refuses that pair with 429 and says
for how long; a successful login clears the count; the cool-off ends by itself."""
import runpy
from datetime import timedelta
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.utils import timezone

SETTINGS_FILE = Path(__file__).resolve().parents[2] / "labeler" / "settings.py"
OTHER_ADDRESS = "192.0.2.7"  # documentation range: only a value in request.META here


def attempt(client: Client, username: str, password: str):
    return client.post("/login/", {"username": username, "password": password})


def fail(client: Client, times: int, username: str = "ann"):
    for _ in range(times):
        response = attempt(client, username, "not-the-password")
    return response


def api_status(client: Client, project) -> int:
    return client.get(f"/api/projects/{project.pk}/").status_code


def test_the_fifth_wrong_password_locks_the_login_with_a_clear_message(cast):
    client = Client()
    response = fail(client, 4)
    assert response.status_code == 200
    assert b"Wrong username or password" in response.content
    locked = fail(client, 1)
    assert locked.status_code == 429
    text = locked.content.decode()
    assert 'id="login-locked"' in text
    assert "Too many failed logins" in text and "Try again in 15 minutes" in text
    # Even the right password is refused now, and no session is made for the API.
    right = attempt(client, "ann", "ann-pw")
    assert right.status_code == 429
    assert "_auth_user_id" not in client.session
    assert api_status(client, cast["project"]) == 403


def test_a_successful_login_clears_the_count(cast):
    client = Client()
    fail(client, 4)
    assert attempt(client, "ann", "ann-pw").status_code == 302
    client.post("/logout/")
    assert fail(client, 4).status_code == 200  # four more: still under the limit
    assert attempt(client, "ann", "ann-pw").status_code == 302
    assert api_status(client, cast["project"]) == 200


def test_after_the_cool_off_the_right_password_works_again(cast):
    client = Client()
    assert fail(client, 5).status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    response = attempt(client, "ann", "ann-pw")
    assert response.status_code == 302
    assert api_status(client, cast["project"]) == 200


def test_the_lock_holds_one_username_from_one_address_only(cast):
    assert fail(Client(), 5).status_code == 429
    same_address_other_user = Client()
    assert attempt(same_address_other_user, "rev", "rev-pw").status_code == 302
    same_user_other_address = Client(REMOTE_ADDR=OTHER_ADDRESS)
    assert attempt(same_user_other_address, "ann", "ann-pw").status_code == 302


def test_the_limit_and_the_cool_off_are_read_at_request_time(cast, settings):
    settings.AXES_FAILURE_LIMIT = 2
    settings.AXES_COOLOFF_TIME = timedelta(minutes=1)
    client = Client()
    assert fail(client, 1).status_code == 200
    locked = fail(client, 1)
    assert locked.status_code == 429
    assert "Try again in 1 minute," in locked.content.decode()


def test_the_django_admin_login_is_limited_too(cast):
    client = Client()
    for _ in range(5):
        response = client.post("/django-admin/login/", {"username": "staff", "password": "wrong"})
    assert response.status_code == 429
    assert attempt(client, "staff", "staff-pw").status_code == 429


@pytest.mark.parametrize(("env", "limit", "minutes"), [
    ({}, 5, 15),
    ({"LABELER_LOGIN_ATTEMPTS": "3", "LABELER_LOGIN_COOLOFF_MINUTES": "2"}, 3, 2),
])
def test_the_limits_come_from_the_environment(monkeypatch, env, limit, minutes):
    for name in ("LABELER_LOGIN_ATTEMPTS", "LABELER_LOGIN_COOLOFF_MINUTES"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    values = runpy.run_path(str(SETTINGS_FILE))
    assert values["AXES_FAILURE_LIMIT"] == limit
    assert values["AXES_COOLOFF_TIME"] == timedelta(minutes=minutes)
