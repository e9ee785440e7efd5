import logging

import pytest
from httpx import AsyncClient

from tests.conftest import PASSWORD, Login, SettingsFactory, serve

pytestmark = pytest.mark.anyio


async def test_sign_up_returns_the_user_without_secrets(client: AsyncClient) -> None:
    response = await client.post("/api/v1/users", json={"username": "alice", "password": PASSWORD})

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "username", "created_at"}
    assert body["username"] == "alice"
    assert body["created_at"].endswith("Z")


async def test_taken_username_is_a_conflict(client: AsyncClient, login: Login) -> None:
    await login("alice")

    response = await client.post("/api/v1/users", json={"username": "alice", "password": PASSWORD})

    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 409


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"username": "al", "password": PASSWORD}, "username"),
        ({"username": "x" * 65, "password": PASSWORD}, "username"),
        ({"username": "al ice", "password": PASSWORD}, "username"),
        ({"username": "alice", "password": "short"}, "password"),
        ({"username": "alice", "password": "p" * 129}, "password"),
        ({"username": "alice"}, "password"),
    ],
)
async def test_invalid_sign_up_names_the_field(
    client: AsyncClient, payload: dict[str, str], field: str
) -> None:
    response = await client.post("/api/v1/users", json=payload)

    assert response.status_code == 422
    problem = response.json()
    assert problem["status"] == 422
    assert [error["field"] for error in problem["errors"]] == [field]


async def test_malformed_json_is_a_bad_request(client: AsyncClient) -> None:
    response = await client.post(
        "/api/v1/users", content=b'{"username": ', headers={"content-type": "application/json"}
    )

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_body_that_is_not_json_is_unsupported(client: AsyncClient) -> None:
    response = await client.post("/api/v1/users", data={"username": "alice", "password": PASSWORD})

    assert response.status_code == 415


async def test_sign_up_can_be_closed(make_settings: SettingsFactory) -> None:
    async with serve(make_settings(allow_signup=False)) as closed:
        response = await closed.post(
            "/api/v1/users", json={"username": "alice", "password": PASSWORD}
        )

    assert response.status_code == 403


async def test_usernames_are_case_sensitive(client: AsyncClient) -> None:
    for username in ("Alice", "alice"):
        response = await client.post(
            "/api/v1/users", json={"username": username, "password": PASSWORD}
        )
        assert response.status_code == 201


async def test_passwords_never_reach_the_logs(
    client: AsyncClient, login: Login, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        await login("alice")
        await client.post("/api/v1/auth/token", json={"username": "alice", "password": "wrong!!!"})
        await client.post("/api/v1/users", json={"username": "alice", "password": PASSWORD})

    assert PASSWORD not in caplog.text
    assert "wrong!!!" not in caplog.text
    assert "$argon2" not in caplog.text


async def test_me_is_the_caller(client: AsyncClient, login: Login) -> None:
    headers = await login("alice")

    response = await client.get("/api/v1/users/me", headers=headers)

    assert response.status_code == 200
    assert response.json()["username"] == "alice"


async def test_me_needs_a_token(client: AsyncClient) -> None:
    response = await client.get("/api/v1/users/me")

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"] == "application/problem+json"


async def test_me_refuses_a_forged_token(client: AsyncClient) -> None:
    response = await client.get("/api/v1/users/me", headers={"Authorization": "Bearer abc.def.ghi"})

    assert response.status_code == 401
