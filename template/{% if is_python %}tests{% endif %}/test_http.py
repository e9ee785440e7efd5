"""What every response shares: request ids, headers, the log line, problem+json, CORS, docs."""

import json
import logging

import pytest
from httpx import AsyncClient

from tests.conftest import ASYNC_DATABASE_TEST

pytestmark = ASYNC_DATABASE_TEST


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


@pytest.mark.parametrize("path", ["/nowhere", "/api/v1/nowhere"])
async def test_unknown_route_is_a_problem(client: AsyncClient, path: str) -> None:
    response = await client.get(path)

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert set(response.json()) == {"type", "title", "status", "detail"}


async def test_wrong_method_is_a_problem(client: AsyncClient) -> None:
    response = await client.put("/api/v1/users/me")

    assert response.status_code == 405
    assert response.headers["content-type"] == "application/problem+json"


async def test_no_cors_by_default(client: AsyncClient) -> None:
    response = await client.get("/healthz", headers={"Origin": "https://app.example"})

    assert "access-control-allow-origin" not in response.headers


async def test_openapi_and_docs(client: AsyncClient) -> None:
    spec = await client.get("/openapi.json")
    docs = await client.get("/docs")

    assert spec.status_code == 200
    assert json.loads(spec.content)["openapi"].startswith("3.")
    assert "/api/v1/tasks/{task_id}" in spec.json()["paths"]
    assert docs.status_code == 200
