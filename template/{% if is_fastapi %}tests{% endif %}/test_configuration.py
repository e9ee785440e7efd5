"""What the settings change in the answers: body and rate limits, CORS, sign-up, and how much
an unexpected error shows."""

from collections.abc import AsyncIterator

import pytest
from fastapi import APIRouter

from tests.conftest import PASSWORD, SettingsFactory, serve

pytestmark = pytest.mark.anyio


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


async def test_sign_up_can_be_closed(make_settings: SettingsFactory) -> None:
    async with serve(make_settings(allow_signup=False)) as closed:
        response = await closed.post(
            "/api/v1/users", json={"username": "alice", "password": PASSWORD}
        )

    assert response.status_code == 403
