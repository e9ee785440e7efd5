"""What every response shares: request ids, headers, problem+json, limits, CORS, docs."""

import json
import logging
import re
from collections.abc import AsyncIterator, Iterator

import pytest
from fastapi import APIRouter
from httpx import AsyncClient

from tests.conftest import Login, SettingsFactory, serve

pytestmark = pytest.mark.anyio


async def test_request_id_is_kept_when_valid(client: AsyncClient) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": "abc-123.X_y"})

    assert response.headers["x-request-id"] == "abc-123.X_y"


@pytest.mark.parametrize("given", [None, "not valid!", "x" * 129])
async def test_request_id_is_made_otherwise(client: AsyncClient, given: str | None) -> None:
    headers = {"X-Request-ID": given} if given else {}

    response = await client.get("/healthz", headers=headers)

    made = response.headers["x-request-id"]
    assert made != given
    assert len(made) == 36


async def test_security_headers(client: AsyncClient) -> None:
    response = await client.get("/api/v1/nowhere")

    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"


async def test_one_log_line_per_request_carries_its_id(
    client: AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        await client.get("/healthz", headers={"X-Request-ID": "req-1"})

    lines = [record for record in caplog.records if record.getMessage() == "request"]
    assert len(lines) == 1
    line = lines[0]
    assert (line.method, line.path, line.status) == ("GET", "/healthz", 200)  # type: ignore[attr-defined]
    assert line.request_id == "req-1"  # type: ignore[attr-defined]
    assert line.duration_ms >= 0  # type: ignore[attr-defined]


async def test_unknown_route_is_a_problem(client: AsyncClient) -> None:
    response = await client.get("/nowhere")

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert set(response.json()) == {"type", "title", "status", "detail"}


async def test_wrong_method_is_a_problem(client: AsyncClient) -> None:
    response = await client.put("/api/v1/users/me")

    assert response.status_code == 405
    assert response.headers["content-type"] == "application/problem+json"


async def test_announced_oversized_body(make_settings: SettingsFactory) -> None:
    async with serve(make_settings(max_body_bytes=64)) as small:
        response = await small.post("/api/v1/users", json={"username": "u" * 100})

    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"


async def test_streamed_oversized_body(make_settings: SettingsFactory) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"username": "'
        yield b"u" * 100
        yield b'"}'

    async with serve(make_settings(max_body_bytes=64)) as small:
        response = await small.post(
            "/api/v1/users", content=chunks(), headers={"content-type": "application/json"}
        )

    assert response.status_code == 413


async def test_rate_limit(make_settings: SettingsFactory) -> None:
    async with serve(make_settings(rate_limit_per_minute=2)) as limited:
        statuses = [(await limited.get("/api/v1/users/me")).status_code for _ in range(3)]
        limited_response = await limited.get("/api/v1/users/me")
        health = await limited.get("/healthz")

    assert statuses == [401, 401, 429]
    assert 1 <= int(limited_response.headers["retry-after"]) <= 60
    assert limited_response.headers["content-type"] == "application/problem+json"
    assert health.status_code == 200


async def test_cors_only_for_configured_origins(make_settings: SettingsFactory) -> None:
    async with serve(make_settings(cors_origins="https://app.example")) as cors:
        allowed = await cors.get("/healthz", headers={"Origin": "https://app.example"})
        other = await cors.get("/healthz", headers={"Origin": "https://evil.example"})

    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    assert "access-control-allow-origin" not in other.headers


async def test_no_cors_by_default(client: AsyncClient) -> None:
    response = await client.get("/healthz", headers={"Origin": "https://app.example"})

    assert "access-control-allow-origin" not in response.headers


@pytest.mark.parametrize(("app_env", "exposed"), [("production", False), ("development", True)])
async def test_unexpected_errors_hide_internals_outside_development(
    make_settings: SettingsFactory,
    caplog: pytest.LogCaptureFixture,
    app_env: str,
    exposed: bool,
) -> None:
    settings = make_settings(app_env=app_env)
    boom = APIRouter()

    @boom.get("/boom")
    async def explode() -> None:
        msg = "SELECT secret FROM internals"
        raise RuntimeError(msg)

    async with serve(settings, extra_router=boom) as http:
        response = await http.get("/boom", headers={"X-Request-ID": "req-500"})

    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["x-request-id"] == "req-500"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert ("SELECT secret" in response.json()["detail"]) is exposed
    errors = [record for record in caplog.records if record.getMessage() == "unhandled error"]
    assert [record.request_id for record in errors] == ["req-500"]  # type: ignore[attr-defined]


async def test_openapi_and_docs(client: AsyncClient) -> None:
    spec = await client.get("/openapi.json")
    docs = await client.get("/docs")

    assert spec.status_code == 200
    assert json.loads(spec.content)["openapi"].startswith("3.")
    assert "/api/v1/tasks/{task_id}" in spec.json()["paths"]
    assert docs.status_code == 200


def _refs(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


async def test_every_openapi_reference_resolves(client: AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()

    refs = set(_refs(spec))

    assert refs
    for ref in refs:
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.removeprefix("#/components/schemas/") in spec["components"]["schemas"], ref


async def test_openapi_documents_every_error_as_a_problem(client: AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()

    for path, operations in spec["paths"].items():
        if not path.startswith("/api/"):
            continue
        for method, operation in operations.items():
            expected = {"422", "429", "431", "500", "503"}
            if "requestBody" in operation:
                expected |= {"400", "413", "415"}
            if "security" in operation:
                expected.add("401")
            if "{" in path:
                expected.add("404")
            responses = operation["responses"]
            assert expected <= set(responses), (method, path)
            for status in expected:
                content = responses[status]["content"]
                assert set(content) == {"application/problem+json"}, (method, path, status)
    assert "HTTPValidationError" not in spec["components"]["schemas"]


async def test_openapi_bounds_and_nullability_match_what_is_accepted(client: AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    schemas = spec["components"]["schemas"]
    task = spec["paths"]["/api/v1/tasks/{task_id}"]["get"]["parameters"][0]["schema"]
    listing = {
        parameter["name"]: parameter["schema"]
        for parameter in spec["paths"]["/api/v1/tasks"]["get"]["parameters"]
    }

    assert (task["minimum"], task["maximum"]) == (1, 2**31 - 1)
    assert (listing["limit"]["minimum"], listing["limit"]["maximum"]) == (1, 100)
    assert (listing["offset"]["minimum"], listing["offset"]["maximum"]) == (0, 2**31 - 1)
    update = schemas["TaskUpdate"]["properties"]
    assert "anyOf" not in update["title"]
    assert "anyOf" not in update["status"]
    assert {"type": "null"} in update["description"]["anyOf"]


async def test_docs_work_offline_under_the_content_security_policy(client: AsyncClient) -> None:
    page = await client.get("/docs")
    sources = re.findall(r'<(?:script|link)[^>]* (?:src|href)="([^"]+)"', page.text)

    assert page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    # Every script and style is a file of this service: nothing inline, nothing from a CDN.
    assert re.findall(r"<script[^>]*>\s*[^<\s]", page.text) == []
    assert "<style" not in page.text
    assert "style=" not in page.text
    assert sources
    for source in sources:
        assert source.startswith("/"), source
        asset = await client.get(source)
        assert asset.status_code == 200, source
        assert asset.content, source


async def test_a_repeated_query_parameter_is_422(client: AsyncClient, login: Login) -> None:
    headers = await login("alice")

    response = await client.get("/api/v1/tasks?offset=1&offset=2", headers=headers)

    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["offset"]
