"""Every error leaves as RFC 9457 problem+json."""

from django.http import HttpRequest, HttpResponse

from ..problems import PROBLEM_JSON, problem_body


def problem(
    status: int,
    detail: str,
    *,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> HttpResponse:
    return HttpResponse(
        problem_body(status, detail, errors),
        status=status,
        content_type=PROBLEM_JSON,
        headers=headers,
    )


def not_found(request: HttpRequest) -> HttpResponse:
    return problem(404, f"Nothing at {request.path}")
