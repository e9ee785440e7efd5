"""WatchTasks: a stream as one of the hub's connections, fed by the owner's task events.

The hub treats a watch as it treats a WebSocket: its bounded queue and writer task, its end when
the token expires or the client falls behind, its close at shutdown. Here those ends become
statuses.
"""

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from grpc import aio

from ..log import request_id_var
from ..proto.tasks.v1 import tasks_pb2
from ..realtime import CLOSE_GOING_AWAY, CLOSE_POLICY_VIOLATION, CLOSE_TOO_SLOW, Hub
from .calls import HEADERS_KEY, current_caller
from .errors import RpcError, unauthenticated
from .messages import EVENT_TYPES, task_message

ENDINGS = {
    CLOSE_GOING_AWAY: RpcError(grpc.StatusCode.UNAVAILABLE, "The server is shutting down"),
    CLOSE_POLICY_VIOLATION: unauthenticated("The token expired"),
    CLOSE_TOO_SLOW: RpcError(
        grpc.StatusCode.RESOURCE_EXHAUSTED, "The stream fell too far behind its events"
    ),
}


class Watcher:
    """The hub's socket for one stream. Its writer waits for the stream to take each event,
    so the hub's bounded queue, not this one, decides when a client is too slow."""

    def __init__(self) -> None:
        self._events: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(1)
        self.close_code: int | None = None

    async def send_text(self, text: str) -> None:
        await self._events.put(json.loads(text))

    async def close(self, code: int) -> None:
        self.close_code = code
        while self._events.full():  # whatever waits is dropped: the stream ends
            self._events.get_nowait()
        self._events.put_nowait(None)

    async def next(self) -> dict[str, Any] | None:
        """The next event; None once the hub closed the stream."""
        return await self._events.get()


async def watch_tasks(
    hub: Hub,
    context: aio.ServicerContext[Any, Any],
    user_exists: Callable[[int], Awaitable[bool]],
) -> AsyncIterator[tasks_pb2.WatchTasksResponse]:
    """The caller's task events until the client cancels or the hub ends the stream."""
    caller = current_caller()
    if not await user_exists(caller.user_id):
        raise unauthenticated("The token's user no longer exists")
    watcher = Watcher()
    connection = hub.connect(watcher, caller.user_id, caller.expires_at, events_only=True)
    try:
        # Registered: every event from now on reaches this stream.
        await context.send_initial_metadata(((HEADERS_KEY, request_id_var.get() or ""),))
        while (event := await watcher.next()) is not None:
            yield tasks_pb2.WatchTasksResponse(
                type=EVENT_TYPES[event["type"]], task=task_message(event["data"])
            )
    finally:
        hub.disconnect(connection, watcher.close_code or CLOSE_GOING_AWAY)
    raise ENDINGS.get(watcher.close_code or CLOSE_GOING_AWAY, ENDINGS[CLOSE_GOING_AWAY])
