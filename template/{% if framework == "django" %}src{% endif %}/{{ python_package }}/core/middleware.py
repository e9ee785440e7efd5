"""Async-only Django middleware: the service runs under ASGI, so none of it costs a thread hop."""

import math
import time
from collections.abc import Awaitable, Callable

from asgiref.sync import markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponse

from .problems import PROBLEM_JSON, problem

GetResponse = Callable[[HttpRequest], Awaitable[HttpResponse]]
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class AsyncMiddleware:
    async_capable = True
    sync_capable = False

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response
        markcoroutinefunction(self)  # type: ignore[type-var] # Django's async middleware idiom


class ProblemDetailsMiddleware(AsyncMiddleware):
    """Turns the HTML or text error pages of Django and Ninja (404, 405, 500...) into
    problem+json. JSON error bodies are the API's own (problems, /readyz) and stay."""

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        response = await self.get_response(request)
        content_type = response.get("Content-Type", "")
        if response.status_code < 400 or content_type.startswith(("application/", PROBLEM_JSON)):
            return response
        detail = response.reason_phrase
        converted = problem(response.status_code, detail)
        for header in ("Allow", "WWW-Authenticate", "Retry-After"):
            if header in response:
                converted[header] = response[header]
        return converted


class RateLimitMiddleware(AsyncMiddleware):
    """Fixed one-minute windows per client address on `/api/`; 429 with Retry-After past the
    limit. In-process counts: behind several instances, divide the limit or use the proxy."""

    def __init__(self, get_response: GetResponse) -> None:
        super().__init__(get_response)
        self.per_minute: int = settings.RATE_LIMIT_PER_MINUTE
        self._window = 0
        self._counts: dict[str, int] = {}

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        if not self.per_minute or not request.path.startswith("/api/"):
            return await self.get_response(request)
        now = time.monotonic()
        window = int(now // 60)
        if window != self._window:  # every count belongs to the old window: start afresh
            self._window, self._counts = window, {}
        client = request.META.get("REMOTE_ADDR") or "unknown"
        self._counts[client] = count = self._counts.get(client, 0) + 1
        if count > self.per_minute:
            retry_after = max(1, math.ceil((window + 1) * 60 - now))
            return problem(
                429,
                f"Rate limit of {self.per_minute} requests per minute exceeded",
                headers={"Retry-After": str(retry_after)},
            )
        return await self.get_response(request)


class JsonBodyMiddleware(AsyncMiddleware):
    """415 for an API body that is not JSON (the token endpoint also takes a form)."""

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            request.method in _BODY_METHODS
            and request.path.startswith("/api/")
            and request.path not in settings.FORM_ACCEPTING_PATHS
            and request.headers.get("Content-Length", "0") != "0"
        ):
            content_type = (request.content_type or "").lower()
            if content_type != "application/json" and not content_type.endswith("+json"):
                return problem(415, "Send the body as application/json")
        return await self.get_response(request)
