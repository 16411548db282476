"""Token authentication for websockets, beside the session: scripts and other
non-browser clients send `Authorization: Token <key>` as they do to the REST API."""
from channels.db import database_sync_to_async


@database_sync_to_async
def _user_for_token(key: str):
    from rest_framework.authtoken.models import Token

    token = Token.objects.select_related("user").filter(key=key).first()
    return token.user if token and token.user.is_active else None


class TokenAuthMiddleware:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        user = scope.get("user")
        if user is None or not user.is_authenticated:
            headers = dict(scope.get("headers", []))
            raw = headers.get(b"authorization", b"").decode("latin-1")
            if raw.startswith("Token "):
                found = await _user_for_token(raw[6:].strip())
                if found is not None:
                    scope = dict(scope, user=found)
        return await self.app(scope, receive, send)
