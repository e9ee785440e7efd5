"""This process's hub: started with the server (the ASGI lifespan), stopped when it shuts down,
and reachable from any thread for the events of the code that serves requests."""

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from ..realtime import Hub, create_hub
from ..realtime.hub import Message
from ..settings import get_settings

logger = logging.getLogger(__name__)

_hub: Hub | None = None
_loop: asyncio.AbstractEventLoop | None = None


def current_hub() -> Hub | None:
    """The running hub, or None outside a server (a management command, a test without one)."""
    return _hub


async def start_hub(hub: Hub | None = None) -> Hub:
    """Starts `hub` (by default the one the settings describe) as this process's hub."""
    global _hub, _loop  # one hub per process
    hub = hub or create_hub(get_settings())
    await hub.start()
    _hub, _loop = hub, asyncio.get_running_loop()
    return hub


async def close_connections() -> None:
    """Shutdown begins: every connection closes with 1001 at once. The broker stays up while
    HTTP drains, so the events of requests still in flight reach the other instances."""
    if _hub is not None:
        await _hub.close_connections()


async def stop_hub() -> None:
    """Closes every connection with 1001, then the broker; once, however often it is called
    (on SIGTERM, then at the lifespan's shutdown)."""
    global _hub
    hub, _hub = _hub, None
    if hub is not None:
        await hub.stop()


def publish_to_user(user_id: int, message: Message) -> None:
    """Hands `message` for `user_id`'s connections to the hub, from any thread, and returns at
    once: the hub publishes events in order, and the caller never waits for the broker, nor
    fails with it."""
    hub, loop = _hub, _loop
    if hub is None or loop is None:
        return  # no server in this process, so no connection either
    try:
        # In the caller's context: the hub publishes under its request id.
        loop.call_soon_threadsafe(
            hub.announce, user_id, message, context=contextvars.copy_context()
        )
    except RuntimeError:  # the loop has closed: the server is gone
        logger.debug("websocket event after shutdown dropped")


Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


async def lifespan(scope: Scope, receive: Receive, send: Send) -> None:
    """The ASGI lifespan (Django has none): the hub lives as long as the server."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await start_hub()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await stop_hub()
            await send({"type": "lifespan.shutdown.complete"})
            return
