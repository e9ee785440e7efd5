"""Pure ASGI middleware: `BaseHTTPMiddleware` would cost a task and a queue per request."""

import logging
import math
import re
import time
import uuid
from collections.abc import Iterable

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import problem
from .log import request_id_var

logger = logging.getLogger("app.request")

_VALID_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._-]{1,128}$")
_SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)


def _header(scope: Scope, name: bytes) -> bytes | None:
    headers: Iterable[tuple[bytes, bytes]] = scope["headers"]
    for key, value in headers:
        if key == name:
            return value
    return None


class RequestContextMiddleware:
    """Request id (kept or made), security headers and one log line per request.

    Outermost, so it also turns unhandled errors into the 500 problem: that response gets
    the request id and headers too, and the error's log line carries the request id.
    """

    def __init__(self, app: ASGIApp, *, expose_errors: bool) -> None:
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
        encoded_id = request_id.encode()

        async def send_with_headers(message: Message) -> None:
            nonlocal status, response_started, duration_ms
            if message["type"] == "http.response.start":
                status, response_started = message["status"], True
                message["headers"] = [
                    *message.get("headers", ()),
                    (b"x-request-id", encoded_id),
                    *_SECURITY_HEADERS,
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
            await problem(500, detail or "An unexpected error occurred")(
                scope, receive, send_with_headers
            )
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


class RateLimitMiddleware:
    """Fixed one-minute windows per client address on `/api/`; 429 with Retry-After past the limit.

    In-process counts: behind several instances, divide the limit or move it to the proxy.
    """

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
        count = self._counts.get(client, 0) + 1
        self._counts[client] = count
        if count > self.per_minute:
            retry_after = max(1, math.ceil((window + 1) * 60 - now))
            response = problem(
                429,
                f"Rate limit of {self.per_minute} requests per minute exceeded",
                headers={"Retry-After": str(retry_after)},
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


class BodySizeLimitMiddleware:
    """413 for bodies over the limit, whether announced by Content-Length or streamed."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = _header(scope, b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await self._too_large()(scope, receive, send)
            return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Raised inside the app: its exception handler renders the problem.
                    raise HTTPException(413, self._detail())
            return message

        await self.app(scope, limited_receive, send)

    def _detail(self) -> str:
        return f"The request body exceeds {self.max_bytes} bytes"

    def _too_large(self) -> ASGIApp:
        return problem(413, self._detail())
