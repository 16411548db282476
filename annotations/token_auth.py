"""The API's token authentication, with the token's user read by one compiled query.

Every API request from a script or the benchmark client carries a token, and DRF's own
class builds the same join (token to user) in Django's ORM each time; compiled once
(annotations/prepared.py), it costs a fraction. What it accepts and refuses is DRF's."""
from django.contrib.auth.models import User
from django.utils.translation import gettext_lazy as _
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed

from .prepared import PreparedQuery

USER_BY_TOKEN = PreparedQuery(lambda key: User.objects.filter(auth_token__key=key)[:1], text=("key",))


class CompiledTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, key: str):
        user = USER_BY_TOKEN.first(key=key)
        if user is None:
            raise AuthenticationFailed(_("Invalid token."))
        if not user.is_active:
            raise AuthenticationFailed(_("User inactive or deleted."))
        token = Token(key=key, user=user)
        token._state.adding = False  # the stored token, not a new one
        return user, token
