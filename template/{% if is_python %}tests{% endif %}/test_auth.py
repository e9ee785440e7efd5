import time

import jwt
import pytest
from httpx import AsyncClient

from tests.conftest import ASYNC_DATABASE_TEST, JWT_SECRET, PASSWORD, Login

pytestmark = ASYNC_DATABASE_TEST


async def test_token_from_json(client: AsyncClient, login: Login) -> None:
    await login("alice")

    response = await client.post(
        "/api/v1/auth/token", json={"username": "alice", "password": PASSWORD}
    )

    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    me = await client.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.status_code == 200


async def test_token_from_a_form(client: AsyncClient, login: Login) -> None:
    await login("alice")

    response = await client.post(
        "/api/v1/auth/token", data={"username": "alice", "password": PASSWORD}
    )

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("username", "password"), [("alice", "wrong password"), ("nobody", PASSWORD)]
)
async def test_bad_credentials_are_unauthorized(
    client: AsyncClient, login: Login, username: str, password: str
) -> None:
    await login("alice")

    response = await client.post(
        "/api/v1/auth/token", json={"username": username, "password": password}
    )

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_missing_fields_are_named(client: AsyncClient) -> None:
    response = await client.post("/api/v1/auth/token", json={"username": "alice"})

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "password"


async def test_malformed_json(client: AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/token", content=b"{", headers={"content-type": "application/json"}
    )

    assert response.status_code == 400


async def test_unsupported_media_type(client: AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/token", content=b"alice", headers={"content-type": "text/plain"}
    )

    assert response.status_code == 415


async def test_expired_token_is_refused(client: AsyncClient, login: Login) -> None:
    await login("alice")
    past = int(time.time()) - 10
    expired = jwt.encode({"sub": "1", "iat": past - 60, "exp": past}, JWT_SECRET, algorithm="HS256")

    response = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {expired}"})

    assert response.status_code == 401


def _token_of_a_vanished_user() -> dict[str, str]:
    token = jwt.encode(
        {"sub": "2147483647", "exp": int(time.time()) + 60}, JWT_SECRET, algorithm="HS256"
    )
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/users/me"),
        ("GET", "/api/v1/tasks"),
        ("GET", "/api/v1/tasks/1"),
        ("PATCH", "/api/v1/tasks/1"),
        ("DELETE", "/api/v1/tasks/1"),
        ("POST", "/api/v1/tasks"),
    ],
)
async def test_token_of_a_vanished_user(
    client: AsyncClient, login: Login, method: str, path: str
) -> None:
    alice = await login("alice")  # a task 1 exists, of someone else
    await client.post("/api/v1/tasks", json={"title": "alice's"}, headers=alice)
    body = {"title": "mine"} if method in {"POST", "PATCH"} else None

    response = await client.request(method, path, json=body, headers=_token_of_a_vanished_user())

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"] == "application/problem+json"
