"""One consumer per connection: it hands the connection to the hub, and what the client says."""

from typing import Any

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer

from ..core.hub import current_hub
from ..realtime import CLOSE_GOING_AWAY, Connection, Hub
from .auth import EXPIRES_AT_SCOPE_KEY, USER_ID_SCOPE_KEY


class _Socket:
    """The consumer's socket as the hub sees it: only the hub's writer sends on it."""

    def __init__(self, consumer: AsyncWebsocketConsumer) -> None:
        self._consumer = consumer

    async def send_text(self, text: str) -> None:
        await self._consumer.send(text_data=text)

    async def close(self, code: int) -> None:
        await self._consumer.close(code)


class HubConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]
    """`/ws`, behind TokenAuthMiddleware: the scope carries the caller."""

    hub: Hub | None = None
    connection: Connection | None = None

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels closes stale database connections before every message, a hop to the
        # shared sync thread each time; this consumer uses the database in the handshake only.
        await getattr(self, get_handler_name(message))(message)

    async def connect(self) -> None:
        hub = current_hub()
        if hub is None:  # the server is shutting down
            await self.close(CLOSE_GOING_AWAY)
            return
        await self.accept()
        self.hub = hub
        self.connection = hub.connect(
            _Socket(self), self.scope[USER_ID_SCOPE_KEY], self.scope[EXPIRES_AT_SCOPE_KEY]
        )

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.hub is None or self.connection is None:
            return
        if text_data is None:
            detail = "send JSON messages as text frames, not binary ones"
            self.connection.send({"type": "error", "detail": detail})
            return
        await self.hub.receive(self.connection, text_data)

    async def disconnect(self, code: int) -> None:
        if self.hub is not None and self.connection is not None:
            self.hub.disconnect(self.connection, code)
