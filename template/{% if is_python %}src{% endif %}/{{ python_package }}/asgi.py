"""Pure ASGI layers around the whole application, the same for every Python framework here.

They see every request, including those the framework never gets to (a body over the limit,
a client over its rate), and cost no thread hop and no task per request.
"""

import json
import logging
import math
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from http import HTTPStatus
from typing import Any

from .log import request_id_var

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
# What these wrap: a framework's application (each types it its own way) or one another.
ASGIApp = Callable[..., Awaitable[None]]

PROBLEM_JSON = "application/problem+json"
logger = logging.getLogger("app.request")

_VALID_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._-]{1,128}$")
_SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)


def problem_body(status: int, detail: str, errors: list[dict[str, str]] | None = None) -> bytes:
    """An RFC 9457 problem document: every error body of the service."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    return json.dumps(body).encode()


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


class RequestContext:
    """Request id (kept or made), security headers and one log line per request.

    Outermost, so it also turns unhandled errors into the 500 problem: that response gets the
    request id and headers too, and the error's log line carries the request id.
    """

    def __init__(self, app: ASGIApp, *, expose_errors: bool = False) -> None:
        self.app = app
        self.expose_errors = expose_errors

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = _header(scope, b"x-request-id")
        request_id = (
            given.decode() if given and _VALID_REQUEST_ID.match(given) else str(uuid.uuid4())
        )
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        response_started = False
        duration_ms: float | None = None

        async def send_with_headers(message: Message) -> None:
            nonlocal status, response_started, duration_ms
            if message["type"] == "http.response.start":
                status, response_started = message["status"], True
                present = {key.lower() for key, _ in message.get("headers", ())}
                message["headers"] = [
                    *message.get("headers", ()),
                    (b"x-request-id", request_id.encode()),
                    *(header for header in _SECURITY_HEADERS if header[0] not in present),
                ]
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                # The client has its answer: background work after this is not its wait.
                duration_ms = (time.perf_counter() - started) * 1000
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as error:
            logger.exception("unhandled error")
            if response_started:
                raise  # too late for a problem response: let the server drop the connection
            detail = f"{type(error).__name__}: {error}" if self.expose_errors else None
            await send_problem(send_with_headers, 500, detail or "An unexpected error occurred")
        finally:
            if duration_ms is None:
                duration_ms = (time.perf_counter() - started) * 1000
            logger.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round(duration_ms, 2),
                },
            )
            request_id_var.reset(token)


class RateLimit:
    """Fixed one-minute windows per client address on `/api/`; 429 with Retry-After past the
    limit. In-process counts: behind several instances, divide the limit or use the proxy's."""

    def __init__(self, app: ASGIApp, *, per_minute: int) -> None:
        self.app = app
        self.per_minute = per_minute
        self._window = 0
        self._counts: dict[str, int] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        now = time.monotonic()
        window = int(now // 60)
        if window != self._window:  # every count belongs to the old window: start afresh
            self._window, self._counts = window, {}
        client = scope["client"][0] if scope.get("client") else "unknown"
        self._counts[client] = count = self._counts.get(client, 0) + 1
        if count > self.per_minute:
            retry_after = max(1, math.ceil((window + 1) * 60 - now))
            detail = f"Rate limit of {self.per_minute} requests per minute exceeded"
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
