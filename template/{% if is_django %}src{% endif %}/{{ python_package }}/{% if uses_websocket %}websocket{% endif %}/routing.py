"""What Channels serves: `/ws`, authenticated; any other WebSocket path is refused with 404."""

from channels.routing import URLRouter
from django.urls import path, re_path

from ..core.lifespan import Receive, Scope, Send
from .auth import TokenAuthMiddleware, refuse
from .consumers import HubConsumer


async def _not_found(scope: Scope, receive: Receive, send: Send) -> None:
    await refuse(receive, send, scope, 404, "Not Found")


websocket_application = URLRouter(
    [
        path("ws", TokenAuthMiddleware(HubConsumer.as_asgi())),
        re_path(r"", _not_found),  # type: ignore[arg-type] # an ASGI app, as Channels routes
    ]
)
