"""API tokens: accepted for active users, refused with DRF's messages otherwise (403: the
session comes first among the authentication classes, so no WWW-Authenticate), and
checked on every request (a deleted token stops working at once)."""
import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotations.models import Membership
from tests.conftest import make_project, make_user


def with_token(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.mark.django_db
def test_a_token_acts_as_its_user_until_it_is_deleted_or_the_user_deactivated():
    user = make_user("scripted")
    project = make_project(members=[(user, Membership.Role.ANNOTATOR)])
    token = Token.objects.create(user=user)
    progress = f"/api/projects/{project.pk}/progress/"
    assert with_token(token.key).get(progress).status_code == 200

    user.is_active = False
    user.save()
    refused = with_token(token.key).get(progress)
    assert refused.status_code == 403 and refused.json()["detail"] == "User inactive or deleted."

    user.is_active = True
    user.save()
    token.delete()
    refused = with_token(token.key).get(progress)
    assert refused.status_code == 403 and refused.json()["detail"] == "Invalid token."


@pytest.mark.django_db
def test_a_token_sees_only_its_own_users_projects():
    mine, theirs = make_user("mine"), make_user("theirs")
    project = make_project(members=[(theirs, Membership.Role.ANNOTATOR)])
    response = with_token(Token.objects.create(user=mine).key).get(f"/api/projects/{project.pk}/progress/")
    assert response.status_code == 404


@pytest.mark.django_db
def test_a_project_id_no_column_can_hold_is_not_found():
    user = make_user("huge", staff=True)
    response = with_token(Token.objects.create(user=user).key).get(f"/api/projects/{2**64}/progress/")
    assert response.status_code == 404
