"""An OpenAPI document that lists every status an operation can answer, not only its success.

Ninja documents what a view declares. The errors every operation shares come from layers it
does not see (the ASGI layers, authentication, path validation, the database), so they are
added here, by rule, all with the one problem+json schema: see docs in the README.
"""

from http import HTTPStatus
from typing import Any

from ninja import NinjaAPI, Schema
from ninja.openapi.schema import OpenAPISchema
from pydantic import Field
from pydantic.json_schema import SkipJsonSchema

from ..problems import PROBLEM_JSON

PROBLEM_REF = "#/components/schemas/Problem"
_RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer", "minimum": 0}}}
_CHALLENGE = {"WWW-Authenticate": {"schema": {"type": "string"}}}
_BODY_METHODS = frozenset({"post", "put", "patch"})


def _without_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def omittable() -> Any:
    """A field that may be left out but is never null: the document says so (pair it with
    `SkipJsonSchema[None]` in its type, and refuse an explicit null in a validator)."""
    return Field(default=None, json_schema_extra=_without_default)


class FieldError(Schema):
    field: str
    message: str


class Problem(Schema):
    """RFC 9457 problem details; `errors` lists the invalid fields of a 422."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldError] | SkipJsonSchema[None] = omittable()


def _shared_statuses(path: str, method: str, operation: dict[str, Any]) -> set[int]:
    statuses = {431, 500}  # the header limit and a bug: anywhere
    if not path.startswith("/api/"):
        return statuses
    statuses |= {422, 429, 503}  # parameters, the rate limit, the database
    if method in _BODY_METHODS:
        statuses |= {400, 413, 415}
    if operation.get("security"):
        statuses.add(401)
    if "{" in path:
        statuses.add(404)
    return statuses


def _declares_own_body(response: dict[str, Any]) -> bool:
    """A view's error response with a schema other than Problem (/readyz's 503)."""
    schemas = [media.get("schema", {}) for media in response.get("content", {}).values()]
    return any(schema.get("$ref") != PROBLEM_REF for schema in schemas)


def _problem_response(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": HTTPStatus(status).phrase,
        "content": {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}},
    }
    if status in {429, 503}:
        response["headers"] = _RETRY_AFTER
    elif status == 401:
        response["headers"] = _CHALLENGE
    return response


def document_problems(schema: dict[str, Any]) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(problem.pop("$defs"), Problem=problem)
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = {int(status): body for status, body in operation["responses"].items()}
            errors = {status for status in responses if status >= 400}
            for status in errors | _shared_statuses(path, method, operation):
                if not _declares_own_body(responses.get(status, {})):
                    responses[status] = _problem_response(status)
            operation["responses"] = {
                str(status): responses[status] for status in sorted(responses)
            }


class DocumentedAPI(NinjaAPI):
    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> OpenAPISchema:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        document_problems(schema)
        return schema
