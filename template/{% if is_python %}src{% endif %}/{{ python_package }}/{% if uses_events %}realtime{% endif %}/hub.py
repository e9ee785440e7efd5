"""The hub: this process's connections, what they say, and what reaches them."""

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from .. import strict_json
from ..log import request_id_var

# RFC 6455 close codes the service sends.
CLOSE_GOING_AWAY = 1001  # shutdown
CLOSE_POLICY_VIOLATION = 1008  # the token expired
CLOSE_TOO_SLOW = 1013  # "try again later": the client fell behind its send queue
MAX_MESSAGE_BYTES = 64 * 1024  # the server closes with 1009 above it
# Messages waiting for one client. A client this far behind is not reading: close it rather
# than hold its backlog, so memory stays bounded whatever the clients do.
SEND_QUEUE_SIZE = 256
# A close handshake the client does not answer is not waited for longer.
CLOSE_TIMEOUT_S = 1.0
# Events waiting for the broker, at most: a broker this far behind (Redis hung) drops the
# newest rather than hold them without bound and deliver them minutes late.
EVENT_BACKLOG = 1024
# At shutdown, events still waiting get this long to reach the broker.
EVENT_FLUSH_S = 2.0

Message = dict[str, Any]
# Whom a message is for: None for every connection, else a user id.
Deliver = Callable[[int | None, Message], None]

logger = logging.getLogger(__name__)


class Socket(Protocol):
    """What the hub needs of a framework's accepted WebSocket."""

    async def send_text(self, text: str) -> None: ...

    async def close(self, code: int) -> None: ...


class BrokerUnavailableError(Exception):
    """The broker cannot take a message now; nothing was sent."""


class Broker(Protocol):
    """Carries messages to the hub of every instance, this one included."""

    async def start(self, deliver: Deliver) -> None: ...

    async def publish(self, to: int | None, message: Message) -> None: ...

    async def ready(self) -> bool: ...

    async def stop(self) -> None: ...


class MemoryBroker:
    """One process: a message goes straight to its own hub."""

    def __init__(self) -> None:
        self._deliver: Deliver | None = None

    async def start(self, deliver: Deliver) -> None:
        self._deliver = deliver

    async def publish(self, to: int | None, message: Message) -> None:
        if self._deliver is None:
            msg = "the broker has not started"
            raise BrokerUnavailableError(msg)
        self._deliver(to, message)

    async def ready(self) -> bool:
        return True

    async def stop(self) -> None:
        self._deliver = None


def origin_allowed(origin: str | None, allowed: tuple[str, ...]) -> bool:
    """Browsers send Origin and obey CORS_ORIGINS; clients that send none are not browsers."""
    return origin is None or not allowed or origin in allowed


class Connection:
    """One accepted WebSocket: its user, its send queue and the task that drains it."""

    def __init__(
        self, socket: Socket, user_id: int, on_closed: Callable[["Connection"], None]
    ) -> None:
        self.socket = socket
        self.user_id = user_id
        self._on_closed = on_closed
        self.close_code: int | None = None  # set once the service closes it
        self.opened = time.perf_counter()
        self._outbox: asyncio.Queue[str] = asyncio.Queue(SEND_QUEUE_SIZE)
        self._writer = asyncio.create_task(self._drain())
        self._closing: asyncio.Task[None] | None = None
        self._expiry: asyncio.TimerHandle | None = None

    def expire_at(self, timestamp: float) -> None:
        """Close with 1008 when the token the connection was opened with expires."""
        delay = max(0.0, timestamp - time.time())
        self._expiry = asyncio.get_running_loop().call_later(
            delay, self.close, CLOSE_POLICY_VIOLATION
        )

    def offer(self, text: str) -> bool:
        """Queue a message without waiting; False when the client is too far behind."""
        if self.close_code is not None:
            return True  # closing: nothing more to send, and nothing to hold against it
        try:
            self._outbox.put_nowait(text)
        except asyncio.QueueFull:
            return False
        return True

    def send(self, message: Message) -> bool:
        return self.offer(json.dumps(message, separators=(",", ":")))

    def close(self, code: int) -> None:
        """Close from the service's side, once: queued messages are dropped."""
        if self.close_code is not None:
            return
        self.close_code = code
        self._stop()
        self._closing = asyncio.create_task(self._close(code))

    async def closed(self) -> None:
        """Wait for a close the service started (bounded by CLOSE_TIMEOUT_S)."""
        if self._closing is not None:
            await self._closing

    def forget(self) -> None:
        """The connection ended: stop its writer and timer."""
        self._stop()

    def _stop(self) -> None:
        self._writer.cancel()
        if self._expiry is not None:
            self._expiry.cancel()

    async def _drain(self) -> None:
        # The only task that sends on this socket, so frames never interleave.
        with contextlib.suppress(Exception):  # a client gone mid-send ends the connection
            while True:
                await self.socket.send_text(await self._outbox.get())

    async def _close(self, code: int) -> None:
        # A client that stopped reading never answers the close: the server drops it later,
        # and it leaves the hub now, whether its server reports it gone or not.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.socket.close(code), CLOSE_TIMEOUT_S)
        self._on_closed(self)


class Hub:
    """Every connection of this process, by user, and the broker that joins instances."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self._connections: dict[int, set[Connection]] = {}
        self._going_away = False
        # (user id, message, request id): published in order by one task.
        self._events: asyncio.Queue[tuple[int, Message, str | None]] = asyncio.Queue(EVENT_BACKLOG)
        self._publisher: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.broker.start(self._deliver)
        self._publisher = asyncio.create_task(self._publish_events())

    async def close_connections(self) -> None:
        """Shutdown begins: every connection closes with 1001, and so does any accepted from
        now on. Messages still reach the broker (HTTP requests may still be draining)."""
        self._going_away = True
        connections = [c for group in self._connections.values() for c in group]
        for connection in connections:
            connection.close(CLOSE_GOING_AWAY)
        await asyncio.gather(*(connection.closed() for connection in connections))

    async def stop(self) -> None:
        """Shutdown: every connection closes with 1001, the events still waiting get
        EVENT_FLUSH_S to reach the broker, then the broker stops."""
        await self.close_connections()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._events.join(), EVENT_FLUSH_S)
        if self._publisher is not None:
            self._publisher.cancel()
        await self.broker.stop()

    async def ready(self) -> bool:
        return await self.broker.ready()

    @property
    def size(self) -> int:
        return sum(map(len, self._connections.values()))

    def connect(self, socket: Socket, user_id: int, expires_at: float) -> Connection:
        connection = Connection(socket, user_id, self._closed_by_service)
        connection.expire_at(expires_at)
        self._connections.setdefault(user_id, set()).add(connection)
        if self._going_away:  # accepted while shutting down
            connection.close(CLOSE_GOING_AWAY)
        return connection

    def disconnect(self, connection: Connection, code: int) -> None:
        """The connection ended with `code` (the service's, or the client's): it leaves the
        hub and is logged, once."""
        connection.forget()
        group = self._connections.get(connection.user_id, set())
        if connection not in group:
            return  # already gone: the service closed it
        group.discard(connection)
        if not group:
            self._connections.pop(connection.user_id, None)
        logger.info(
            "websocket",
            extra={
                "path": "/ws",
                "status": 101,
                "user_id": connection.user_id,
                "close_code": connection.close_code or code,
                "duration_ms": round((time.perf_counter() - connection.opened) * 1000, 2),
            },
        )

    async def receive(self, connection: Connection, text: str) -> None:
        """A message from a client: answered on its connection, or published."""
        try:
            message = strict_json.loads(text.encode())
        except (strict_json.InvalidJsonError, UnicodeEncodeError):
            connection.send(_error("the message is not valid JSON"))
            return
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "ping":
            connection.send({"type": "pong"})
        elif kind == "broadcast" and "data" in message:
            try:
                await self.broker.publish(
                    None, {"type": "broadcast", "from": connection.user_id, "data": message["data"]}
                )
            except BrokerUnavailableError:
                connection.send(_error("broadcasts are unavailable, retry later"))
        elif kind == "broadcast":
            connection.send(_error('a broadcast needs "data"'))
        else:
            connection.send(_error('the message needs a "type": "ping" or "broadcast"'))

    def announce(self, user_id: int, message: Message) -> None:
        """An event for every connection of one user, on every instance, from the code that
        made it: queued without waiting, published in order, under the caller's request id.
        The caller's work has succeeded whatever happens to it: dropped with a warning when
        the broker is unavailable or EVENT_BACKLOG behind."""
        try:
            self._events.put_nowait((user_id, message, request_id_var.get()))
        except asyncio.QueueFull:
            logger.warning(
                "websocket event dropped: backlog full", extra={"event": message["type"]}
            )

    async def _publish_events(self) -> None:
        while True:
            user_id, message, request_id = await self._events.get()
            token = request_id_var.set(request_id)
            try:
                await self.broker.publish(user_id, message)
            except BrokerUnavailableError:
                logger.warning("websocket event dropped", extra={"event": message["type"]})
            except Exception:  # a bug here must not end every later event's delivery
                logger.exception("websocket event failed")
            finally:
                request_id_var.reset(token)
                self._events.task_done()

    def _closed_by_service(self, connection: Connection) -> None:
        self.disconnect(connection, connection.close_code or CLOSE_GOING_AWAY)

    def _deliver(self, to: int | None, message: Message) -> None:
        """From the broker: serialise once, queue on every connection concerned, close those
        that cannot keep up."""
        if to is None:
            targets = [c for group in self._connections.values() for c in group]
        else:
            targets = list(self._connections.get(to, ()))
        if not targets:
            return
        text = json.dumps(message, separators=(",", ":"))
        for connection in targets:
            if not connection.offer(text):
                logger.warning("websocket client too slow", extra={"user_id": connection.user_id})
                connection.close(CLOSE_TOO_SLOW)


def _error(detail: str) -> Message:
    return {"type": "error", "detail": detail}
