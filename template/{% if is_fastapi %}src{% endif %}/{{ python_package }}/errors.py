"""Every error leaves as RFC 9457 problem+json, and is documented as such in OpenAPI."""

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import Match

from .db import is_unavailable
from .problems import (
    DATABASE_RETRY_AFTER_S,
    DATABASE_UNAVAILABLE,
    PROBLEM_JSON,
    DatabaseUnavailableError,
    problem_body,
)
from .schemas import Problem

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def problem(
    status: int,
    detail: str,
    *,
    errors: list[dict[str, str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    return Response(
        problem_body(status, detail, errors), status, headers=headers, media_type=PROBLEM_JSON
    )


def problem_response(status: int) -> dict[str, Any]:
    """The OpenAPI entry of one error status."""
    return {
        "description": HTTPStatus(status).phrase,
        "content": {PROBLEM_JSON: {"schema": PROBLEM_REF}},
    }


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for an operation's errors beyond the baseline that document_errors adds."""
    return {status: problem_response(status) for status in statuses}


def problem_schemas() -> dict[str, Any]:
    """Problem and FieldError as OpenAPI components, their references resolving there."""
    schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    return {"Problem": schema, **schema.pop("$defs", {})}


def _field_name(location: tuple[int | str, ...]) -> str:
    # ("body", "title") -> "title"; ("query", "limit") -> "limit"; ("body",) -> "body"
    path = [str(part) for part in location[1:]] or [str(location[0])]
    return ".".join(path)


def document_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """Completes the generated OpenAPI document with the errors every operation can answer
    (the contract's baseline), all as problem+json, in place of FastAPI's own 422 schema."""
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schemas.update(problem_schemas())
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            statuses = {431, 500}  # oversized headers; a bug
            if path.startswith("/api/"):
                statuses |= {422, 429, 503}
                if "requestBody" in operation:
                    statuses |= {400, 413, 415}
                if "security" in operation:
                    statuses.add(401)
                if "{" in path:
                    statuses |= {400, 404}  # 400: a bad URL escape
            responses = operation["responses"]
            responses.update({str(status): problem_response(status) for status in statuses})
            for status in ("429", "503"):
                if status in responses:
                    responses[status]["headers"] = {
                        "Retry-After": {
                            "description": "Seconds to wait before retrying",
                            "schema": {"type": "integer"},
                        }
                    }
    return schema


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)  # noqa: S101 - registered for HTTPException only
    headers = exc.headers
    if exc.status_code == 405:
        # One route per method: Starlette's Allow names only the first that matched the path.
        allowed = [
            method
            for method in _METHODS
            if any(
                route.matches({**request.scope, "method": method})[0] is Match.FULL
                for route in request.app.routes
            )
        ]
        headers = {**(headers or {}), "Allow": ", ".join(allowed)}
    return problem(exc.status_code, str(exc.detail), headers=headers)


async def _validation_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for it only
    if any(error["type"] == "json_invalid" for error in exc.errors()):
        return problem(400, "The request body is not valid JSON")
    errors = [
        {"field": _field_name(tuple(error["loc"])), "message": error["msg"]}
        for error in exc.errors()
    ]
    return problem(422, "The request has invalid fields", errors=errors)


async def _database_error(_: Request, exc: Exception) -> Response:
    if not isinstance(exc, DatabaseUnavailableError) and not is_unavailable(exc):
        raise exc  # a bug: RequestContext answers 500
    return problem(503, DATABASE_UNAVAILABLE, headers={"Retry-After": str(DATABASE_RETRY_AFTER_S)})


def register_error_handlers(app: FastAPI) -> None:
    """Expected errors; unexpected ones become a 500 in RequestContext."""
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    for error in (DatabaseUnavailableError, DBAPIError, PoolTimeoutError, OSError):
        app.add_exception_handler(error, _database_error)
