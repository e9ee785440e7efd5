"""RFC 9457 problem documents: every error body of the service, whichever layer answers it
(the ASGI layers, the framework's error handlers)."""

import json
from http import HTTPStatus
from typing import Any

PROBLEM_JSON = "application/problem+json"
DATABASE_UNAVAILABLE = "The database is unavailable, retry later"
DATABASE_RETRY_AFTER_S = 5


class DatabaseUnavailableError(Exception):
    """The database did not answer in time (unreachable, hung, pool exhausted, statement timed
    out): a 503 the client may retry, not a bug's 500. Each framework maps its driver's errors
    to this; RequestContext answers it if nothing else did."""


def problem_body(status: int, detail: str, errors: list[dict[str, str]] | None = None) -> bytes:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    return json.dumps(body).encode()
