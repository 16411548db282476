"""ASGI entry point: HTTP through Django (labeler/http_bridge.py), websockets through
Channels with session auth."""
import asyncio
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labeler.settings")
django.setup(set_prefix=False)

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from annotations.events import remember_server_loop  # noqa: E402
from annotations.ws_auth import TokenAuthMiddleware  # noqa: E402
from labeler.http_bridge import WSGIBridge  # noqa: E402
from labeler.routing import websocket_urlpatterns  # noqa: E402

protocols = ProtocolTypeRouter(
    {
        "http": WSGIBridge(),
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(TokenAuthMiddleware(URLRouter(websocket_urlpatterns)))),
    }
)


async def application(scope, receive, send):
    """The protocols, after noting the server's event loop: events published by request
    threads are handed to it without waiting (annotations/events.py)."""
    remember_server_loop(asyncio.get_running_loop())
    return await protocols(scope, receive, send)
