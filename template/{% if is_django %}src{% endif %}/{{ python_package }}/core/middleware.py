"""Async-only Django middleware: the service runs under ASGI, so none of it costs a thread hop."""

from collections.abc import Awaitable, Callable

from asgiref.sync import markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponse

from ..problems import PROBLEM_JSON
from .problems import problem

GetResponse = Callable[[HttpRequest], Awaitable[HttpResponse]]
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


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


class JsonBodyMiddleware(AsyncMiddleware):
    """415 for an API body in another type than JSON (the token endpoint also takes a form),
    400 for a JSON content type with nothing in it. A missing body is the view's to refuse
    (415 too, see core.api): here the route may not even exist."""

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method in _BODY_METHODS and request.path.startswith("/api/"):
            refusal = _refuse_body(request)
            if refusal is not None:
                return refusal
        return await self.get_response(request)


def _refuse_body(request: HttpRequest) -> HttpResponse | None:
    content_type = (request.content_type or "").lower()
    if not content_type and not request.body:
        return None
    charset = (request.content_params or {}).get("charset", "utf-8").lower()
    if content_type == JSON and charset == "utf-8":
        if not request.body:
            return problem(400, "The body is empty: send a JSON document")
        return None
    if content_type == FORM and request.path in settings.FORM_ACCEPTING_PATHS:
        return None
    return problem(415, "Send the body as application/json")
