"""Contract: sign-up, tokens, the caller."""

import re

import pytest
from combinations import HTTP_QUESTIONS
from support.blackbox import PASSWORD, Service, bearer, sign_up

pytestmark = pytest.mark.depends_on(*HTTP_QUESTIONS)

RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|\+00:00)$")


def test_sign_up_returns_the_user(service: Service) -> None:
    user = sign_up(service.client(), "contract_alice")

    assert set(user) == {"id", "username", "created_at"}
    assert isinstance(user["id"], int)
    assert user["username"] == "contract_alice"
    assert RFC3339_UTC.match(user["created_at"])


def test_taken_username_is_a_conflict(service: Service) -> None:
    client = service.client()
    user = sign_up(client)

    response = client.post(
        "/api/v1/users", json={"username": user["username"], "password": PASSWORD}
    )

    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"username": "ab", "password": PASSWORD}, "username"),
        ({"username": "a" * 65, "password": PASSWORD}, "username"),
        ({"username": "has space", "password": PASSWORD}, "username"),
        ({"username": "valid_name", "password": "seven77"}, "password"),
        ({"username": "valid_name", "password": "x" * 129}, "password"),
    ],
)
def test_invalid_sign_up_names_the_field(
    service: Service, payload: dict[str, str], field: str
) -> None:
    response = service.client().post("/api/v1/users", json=payload)

    assert response.status_code == 422
    problem = response.json()
    assert problem["status"] == 422
    assert [error["field"] for error in problem["errors"]] == [field]
    assert all(error["message"] for error in problem["errors"])


def test_token_from_json_and_from_a_form(service: Service) -> None:
    client = service.client()
    user = sign_up(client)
    credentials = {"username": user["username"], "password": PASSWORD}

    from_json = client.post("/api/v1/auth/token", json=credentials)
    from_form = client.post("/api/v1/auth/token", data=credentials)

    for response in (from_json, from_form):
        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"access_token", "token_type", "expires_in"}
        assert body["token_type"] == "bearer"
        assert body["expires_in"] == 3600


@pytest.mark.parametrize("password", ["wrong password", PASSWORD])
def test_bad_credentials_are_unauthorized(service: Service, password: str) -> None:
    client = service.client()
    user = sign_up(client)
    username = user["username"] if password != PASSWORD else "nobody_by_that_name"

    response = client.post("/api/v1/auth/token", json={"username": username, "password": password})

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.headers["content-type"] == "application/problem+json"


def test_me_is_the_caller(service: Service) -> None:
    client = service.client()
    user = sign_up(client)
    token = client.post(
        "/api/v1/auth/token", json={"username": user["username"], "password": PASSWORD}
    ).json()["access_token"]

    response = client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 200
    assert response.json() == user


@pytest.mark.parametrize("authorization", [None, "Bearer not.a.token", "Basic dXNlcjpwYXNz"])
def test_me_needs_a_valid_token(service: Service, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}

    response = service.client().get("/api/v1/users/me", headers=headers)

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.depends_on("framework")
def test_sign_up_can_be_closed(strict_service: Service) -> None:
    response = strict_service.client().post(
        "/api/v1/users", json={"username": "latecomer", "password": PASSWORD}
    )

    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.depends_on("framework", "database")
def test_tokens_work_across_instances(service: Service, strict_service: Service) -> None:
    """Same secret, same database: a token from one instance is honoured by the other."""
    headers = bearer(service.client())

    response = strict_service.client().get("/api/v1/users/me", headers=headers)

    assert response.status_code == 200
