"""Pure ASGI layers around the whole application, the same for every Python framework here.

They see every request, including those the framework never gets to (oversized headers, a body
over the limit or not I-JSON, a client over its rate), and cost no thread hop and no task per
request.
"""

import asyncio
import logging
import math
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from . import strict_json
from .log import request_id_var
from .problems import (
    DATABASE_RETRY_AFTER_S,
    DATABASE_UNAVAILABLE,
    PROBLEM_JSON,
    DatabaseUnavailableError,
    problem_body,
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
# What these wrap: a framework's application (each types it its own way) or one another.
ASGIApp = Callable[..., Awaitable[None]]

# Request line and headers together, as counted on the wire: Node's default limit, so every
# framework of the template answers the same request the same way.
MAX_HEADER_BYTES = 16 * 1024
# Where JsonBody leaves the parsed body for the framework, so it is parsed once.
JSON_BODY_SCOPE_KEY = "app.json_body"
# The methods whose requests carry a body the API reads.
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# nginx's "client closed request": the client went away before its answer was complete.
CLIENT_CLOSED_REQUEST = 499
logger = logging.getLogger("app.request")

_VALID_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._-]{1,128}$")
_SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (
        b"content-security-policy",
        b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; "
        b"frame-ancestors 'none'",
    ),
)


async def send_problem(
    send: Send, status: int, detail: str, headers: Iterable[tuple[bytes, bytes]] = ()
) -> None:
    body = problem_body(status, detail)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


def _request_id(scope: Scope) -> str:
    """The client's X-Request-ID when it is valid, else a new one."""
    given = _header(scope, b"x-request-id")
    return given.decode() if given and _VALID_REQUEST_ID.match(given) else str(uuid.uuid4())


def _header_bytes(scope: Scope) -> int:
    """The size of the request line and headers on the wire (HTTP/1.1 framing)."""
    target = len(scope.get("raw_path") or scope["path"].encode())
    if scope["query_string"]:
        target += 1 + len(scope["query_string"])
    request_line = len(scope["method"]) + 1 + target + len(" HTTP/1.1\r\n")
    return request_line + sum(len(key) + len(value) + 4 for key, value in scope["headers"])


def is_json_content_type(value: bytes | str | None) -> bool:
    """`application/json`, with no parameter but `charset=utf-8`: what bodies must be sent as."""
    if value is None:
        return False
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    media_type, *parameters = (part.strip().lower() for part in text.split(";"))
    return media_type == "application/json" and all(
        parameter.replace(" ", "") in {"charset=utf-8", 'charset="utf-8"'}
        for parameter in parameters
    )


class _Exchange:
    """One request as RequestContext sees it: what was answered, when, and whether the client
    is still there."""

    def __init__(self, receive: Receive, send: Send, request_id: str) -> None:
        self._receive = receive
        self._send = send
        self._request_id = request_id.encode()
        self.started = time.perf_counter()
        self.status: int | None = None
        self.duration_ms: float | None = None  # set once the answer is complete
        self.client_gone = False

    async def receive(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.disconnect":
            self.client_gone = True
        return message

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            present = {key.lower() for key, _ in message.get("headers", ())}
            message["headers"] = [
                *message.get("headers", ()),
                (b"x-request-id", self._request_id),
                *(header for header in _SECURITY_HEADERS if header[0] not in present),
            ]
        elif message["type"] == "http.response.body" and not message.get("more_body"):
            # The client has its answer: background work after this is not its wait.
            self.duration_ms = (time.perf_counter() - self.started) * 1000
        await self._send(message)


class RequestContext:
    """Request id (kept or made), the header size limit, security headers and one log line
    per request.

    Outermost, so it also turns unhandled errors into the 500 problem (and a database that
    is unavailable into the 503): that response gets the request id and headers too, and the
    error's log line carries the request id. A request whose client left before its answer
    was complete is logged as 499, not as an error.
    """

    def __init__(self, app: ASGIApp, *, expose_errors: bool = False) -> None:
        self.app = app
        self.expose_errors = expose_errors

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        token = request_id_var.set(request_id)
        exchange = _Exchange(receive, send, request_id)
        try:
            await self._answer(scope, exchange)
        except asyncio.CancelledError:
            exchange.client_gone = True  # the server gave up on this request
            raise
        finally:
            self._log(scope, exchange)
            request_id_var.reset(token)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A WebSocket handshake carries the request id too; one refused before it was
        accepted gets the request line an HTTP request would (an accepted one is logged when
        it closes, by the hub)."""
        token = request_id_var.set(_request_id(scope))
        started = time.perf_counter()
        refused: int | None = None

        async def watch(message: Message) -> None:
            nonlocal refused
            if message["type"] == "websocket.http.response.start":
                refused = message["status"]
            elif message["type"] == "websocket.close" and refused is None:
                refused = 403  # closed before accepting: the server answers 403
            elif message["type"] == "websocket.accept":
                refused = 0
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            if refused:
                logger.info(
                    "request",
                    extra={
                        "method": "GET",
                        "path": scope["path"],
                        "status": refused,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    },
                )
            request_id_var.reset(token)

    async def _answer(self, scope: Scope, exchange: _Exchange) -> None:
        if _header_bytes(scope) > MAX_HEADER_BYTES:
            detail = f"The request line and headers exceed {MAX_HEADER_BYTES} bytes"
            await send_problem(exchange.send, 431, detail)
            return
        try:
            await self.app(scope, exchange.receive, exchange.send)
        except DatabaseUnavailableError:
            logger.warning("database unavailable", exc_info=True)
            if exchange.status is not None:
                raise
            retry_after = (b"retry-after", str(DATABASE_RETRY_AFTER_S).encode())
            await send_problem(exchange.send, 503, DATABASE_UNAVAILABLE, [retry_after])
        except Exception as error:
            if exchange.client_gone:  # whatever the app did about its client leaving is no bug
                logger.debug("request aborted by the client", exc_info=True)
                return
            logger.exception("unhandled error")
            if exchange.status is not None:
                raise  # too late for a problem response: let the server drop the connection
            shown = f"{type(error).__name__}: {error}" if self.expose_errors else None
            await send_problem(exchange.send, 500, shown or "An unexpected error occurred")

    @staticmethod
    def _log(scope: Scope, exchange: _Exchange) -> None:
        status, duration_ms = exchange.status, exchange.duration_ms
        if duration_ms is None:  # no complete answer
            duration_ms = (time.perf_counter() - exchange.started) * 1000
            if exchange.client_gone:
                status = CLIENT_CLOSED_REQUEST
        logger.info(
            "request",
            extra={
                "method": scope["method"],
                "path": scope["path"],
                "status": status or 500,
                "duration_ms": round(duration_ms, 2),
            },
        )


class RateLimiter:
    """One-minute windows per client address, each opened by that client's first request (as
    express-rate-limit counts), so a burst never straddles a shared boundary and slips through.
    In-process counts: behind several instances, divide the limit or use the proxy's. Shared by
    every entry point that counts against the same budget."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._windows: dict[str, tuple[float, int]] = {}  # client: (window end, requests in it)
        self._next_sweep = 0.0

    def retry_after(self, client: str) -> int | None:
        """Counts a request; None while within the limit, else the seconds to wait."""
        now = time.monotonic()
        if now >= self._next_sweep:  # forget ended windows once a minute: memory stays bounded
            self._windows = {key: w for key, w in self._windows.items() if w[0] > now}
            self._next_sweep = now + 60
        ends, count = self._windows.get(client, (0.0, 0))
        if ends <= now:
            ends, count = now + 60, 0
        self._windows[client] = (ends, count + 1)
        if count + 1 > self.per_minute:
            return max(1, math.ceil(ends - now))
        return None


class RateLimit:
    """The limiter on `/api/`: 429 with Retry-After past the limit."""

    def __init__(self, app: ASGIApp, *, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        client = scope["client"][0] if scope.get("client") else "unknown"
        retry_after = self.limiter.retry_after(client)
        if retry_after is not None:
            detail = f"Rate limit of {self.limiter.per_minute} requests per minute exceeded"
            await send_problem(send, 429, detail, [(b"retry-after", str(retry_after).encode())])
            return
        await self.app(scope, receive, send)


class BodySizeLimit:
    """413 for bodies over the limit, announced by Content-Length or streamed: a streamed body
    is counted as it arrives and handed on only once it is known to fit."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = _header(scope, b"content-length")
        if length is not None:
            # The server never hands over more than an announced length: decide now.
            if length.isdigit() and int(length) > self.max_bytes:
                await self._too_large(send)
            else:
                await self.app(scope, receive, send)
            return
        if _header(scope, b"transfer-encoding") is None:
            await self.app(scope, receive, send)  # no body at all
            return
        messages: list[Message] = []
        received = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                await self._too_large(send)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, send: Send) -> None:
        await send_problem(send, 413, f"The request body exceeds {self.max_bytes} bytes")


class JsonBody:
    """400 for a JSON body that is not I-JSON (strict_json), before any framework parses it
    its own laxer way. The parsed value is left in the scope under JSON_BODY_SCOPE_KEY so the
    framework need not parse it again. Sits inside BodySizeLimit: what it buffers is bounded."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_json_content_type(_header(scope, b"content-type")):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client left: nobody to answer
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body or scope["method"] in BODY_METHODS:
            try:
                scope[JSON_BODY_SCOPE_KEY] = strict_json.loads(body)
            except strict_json.InvalidJsonError as error:
                await send_problem(send, 400, f"The request body is not I-JSON: {error}")
                return
        replayed = [{"type": "http.request", "body": body, "more_body": False}]

        async def replay() -> Message:
            return replayed.pop() if replayed else await receive()

        await self.app(scope, replay, send)
