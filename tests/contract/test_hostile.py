"""Contract: hostile input gets its documented status as problem+json, and the service stays up.

Every framework gets the same requests; none of them may answer 500 or stop answering.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from support.blackbox import Service, assert_problem, bearer, signed_in

# What the service makes of a request depends on its framework, and on its database where a
# value reaches it (ids, strings, a deleted user): the pooling moves connections, not values.
pytestmark = pytest.mark.depends_on("framework", "database")

TASKS = "/api/v1/tasks"
JSON = {"content-type": "application/json"}
MAX_DEPTH = 32
HEADER_LIMIT = 16 * 1024


@pytest.fixture(autouse=True)
def _still_up(service: Service) -> Iterator[None]:
    """Whatever a test sent, the service answers afterwards."""
    yield
    assert service.process is not None
    assert service.process.poll() is None, f"the service died:\n{service.output()[-4000:]}"
    assert service.client().get("/healthz").status_code == 200


@pytest.fixture(scope="module")
def client(service: Service) -> httpx.Client:
    """A client signed in as one user for the module: a sign-up hashes a password, which
    costs more than most tests here, and no test needs an empty account (what one refuses,
    it checks was not stored by counting before and after)."""
    return signed_in(service)


def stored(client: httpx.Client) -> int:
    """How many tasks the client's user has."""
    return int(client.get(TASKS, params={"limit": 1}).json()["total"])


def nested(depth: int) -> bytes:
    """A task whose description holds arrays `depth` levels deep in all (the body is level 1)."""
    inner = depth - 1
    return b'{"title": "deep", "description": ' + b"[" * inner + b"]" * inner + b"}"


# --- bodies that are not I-JSON: 400 --------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"title": "\xff\xfe broken"}', id="invalid-utf8"),
        pytest.param(b'{"title": "\xed\xa0\x80 cesu"}', id="raw-surrogate"),
        pytest.param(b'{"title": "lone \\ud800 surrogate"}', id="escaped-lone-surrogate"),
        pytest.param(b'{"title": "\\udc00 trailing"}', id="escaped-lone-low-surrogate"),
        pytest.param(b'{"title": "one", "title": "two"}', id="duplicate-keys"),
        pytest.param(nested(MAX_DEPTH + 1), id="one-level-too-deep"),
        pytest.param(nested(100_000), id="very-deep"),
        pytest.param(b"", id="empty"),
        pytest.param(b'{"title": "x"} trailing', id="trailing-garbage"),
        pytest.param(b'{"title": NaN}', id="nan"),
    ],
)
def test_a_body_that_is_not_i_json_is_a_bad_request(client: httpx.Client, body: bytes) -> None:
    before = stored(client)

    assert_problem(client.post(TASKS, content=body, headers=JSON), 400)
    assert stored(client) == before


@pytest.mark.parametrize("path", ["/api/v1/users", "/api/v1/auth/token"])
def test_unauthenticated_endpoints_refuse_deep_and_broken_bodies(
    service: Service, path: str
) -> None:
    http = service.client()
    deep = b'{"username": ' + b"[" * 5000 + b"]" * 5000 + b', "password": "x"}'

    assert_problem(http.post(path, content=deep, headers=JSON), 400)
    assert_problem(http.post(path, content=b'{"username": "\xc3"}', headers=JSON), 400)


def test_nesting_up_to_the_limit_is_parsed(client: httpx.Client) -> None:
    """32 levels are JSON like any other: the field is invalid, not the document."""
    problem = assert_problem(client.post(TASKS, content=nested(MAX_DEPTH), headers=JSON), 422)

    assert "description" in [error["field"] for error in problem["errors"]]


def test_a_surrogate_pair_is_one_character(client: httpx.Client) -> None:
    response = client.post(TASKS, content=b'{"title": "smile \\ud83d\\ude00"}', headers=JSON)

    assert response.status_code == 201, response.text
    task = response.json()
    assert task["title"] == "smile \U0001f600"
    assert client.get(f"{TASKS}/{task['id']}").json()["title"] == task["title"]


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(b'{"title": "x", "description": 1e999}', id="huge-float"),
        pytest.param(b'{"title": 123456789012345678901234567890}', id="huge-int"),
        pytest.param(b'["title", "x"]', id="array"),
        pytest.param(b'"just a string"', id="string"),
        pytest.param(b"null", id="null"),
        pytest.param(b'{"title": "x", "status": "done"}', id="status-not-in-schema"),
        pytest.param(b'{"title": "x", "owner_id": 1}', id="owner-not-in-schema"),
    ],
)
def test_json_of_the_wrong_shape_is_unprocessable(client: httpx.Client, payload: bytes) -> None:
    before = stored(client)

    assert_problem(client.post(TASKS, content=payload, headers=JSON), 422)
    assert stored(client) == before


def test_fields_not_in_the_schema_are_refused_on_update(client: httpx.Client) -> None:
    task = client.post(TASKS, json={"title": "t"}).json()

    for changes in ({"owner_id": 999}, {"id": 5}, {"title": "t", "extra": True}):
        assert_problem(client.patch(f"{TASKS}/{task['id']}", json=changes), 422)
    assert client.get(f"{TASKS}/{task['id']}").json() == task


# --- content types: 415 ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-content-type"),
        pytest.param({"content-type": "text/plain"}, id="text"),
        pytest.param({"content-type": "application/json; charset=latin-1"}, id="latin-1"),
        pytest.param({"content-type": "application/xml"}, id="xml"),
    ],
)
def test_a_body_of_another_type_is_unsupported(
    client: httpx.Client, headers: dict[str, str]
) -> None:
    assert_problem(client.post(TASKS, content=b'{"title": "x"}', headers=headers), 415)


@pytest.mark.parametrize("path", ["/api/v1/users", "/api/v1/auth/token", TASKS])
def test_a_post_without_a_body_is_unsupported(client: httpx.Client, path: str) -> None:
    assert_problem(client.post(path), 415)


def test_json_with_a_utf8_charset_is_json(client: httpx.Client) -> None:
    response = client.post(
        TASKS,
        content=b'{"title": "charset"}',
        headers={"content-type": "application/json; charset=utf-8"},
    )

    assert response.status_code == 201, response.text


# --- paths and queries: 404 and 422 ---------------------------------------------------------


@pytest.mark.parametrize("task_id", ["0", "-1", "abc", "1.5", "2147483648", "9" * 40, "%00"])
def test_task_ids_out_of_range_are_unprocessable(client: httpx.Client, task_id: str) -> None:
    for method in ("GET", "PATCH", "DELETE"):
        response = client.request(method, f"{TASKS}/{task_id}", json={"title": "t"})
        assert_problem(response, 422)


def test_the_largest_task_id_is_just_not_found(client: httpx.Client) -> None:
    assert_problem(client.get(f"{TASKS}/2147483647"), 404)


@pytest.mark.parametrize(
    "query",
    ["limit=99999999999999999999999", "offset=2147483648", "limit=1e3", "offset=%00"],
)
def test_paging_out_of_range_is_unprocessable(client: httpx.Client, query: str) -> None:
    assert_problem(client.get(f"{TASKS}?{query}"), 422)


@pytest.mark.parametrize("path", ["/api/v1/%00", "/%00", "/api/v1/tasks%00", "/..%2f..%2fetc"])
def test_strange_paths_are_not_found(service: Service, path: str) -> None:
    response = service.client().get(path)

    assert response.status_code in (400, 404), response.text
    assert_problem(response, response.status_code)


# --- headers: 431 ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"x-big": "a" * (HEADER_LIMIT + 1024)}, id="one-big-header"),
        pytest.param({f"x-h{i}": "b" * 100 for i in range(200)}, id="many-headers"),
        pytest.param({"x-huge": "c" * 1_000_000}, id="a-megabyte"),
    ],
)
def test_headers_over_the_limit_are_too_large(service: Service, headers: dict[str, str]) -> None:
    response = service.client().get("/api/v1/users/me", headers=headers)

    assert_problem(response, 431)


def test_headers_under_the_limit_are_served(service: Service) -> None:
    response = service.client().get("/healthz", headers={"x-big": "a" * (HEADER_LIMIT // 2)})

    assert response.status_code == 200


# --- tokens: 401 ----------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(header: dict[str, Any], claims: dict[str, Any], secret: str) -> str:
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


@pytest.fixture(scope="module")
def real_token(service: Service) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims of a token the service issued, to forge variations of."""
    authorization = bearer(service.client())["Authorization"]
    header, claims, _ = authorization.removeprefix("Bearer ").split(".")
    return json.loads(_unb64(header)), json.loads(_unb64(claims))


def _forged(kind: str, header: dict[str, Any], claims: dict[str, Any], secret: str) -> str:
    now = int(time.time())
    if kind == "expired":
        return sign(header, {**claims, "iat": now - 7200, "exp": now - 3600}, secret)
    if kind == "wrong-secret":
        return sign(header, claims, secret + "x")
    if kind == "alg-none":
        unsigned = f"{_b64(json.dumps({'alg': 'none', 'typ': 'JWT'}).encode())}."
        return unsigned + _b64(json.dumps(claims).encode()) + "."
    if kind == "alg-hs512":
        return sign({**header, "alg": "HS512"}, claims, secret)
    if kind == "deleted-user":
        # Signed with the real secret, for a user id that does not (or no longer does) exist.
        subject = claims["sub"]
        missing = str(2_000_000_000) if isinstance(subject, str) else 2_000_000_000
        return sign(header, {**claims, "sub": missing}, secret)
    if kind == "tampered":
        # Another user's id under this user's signature (not the same id: the token's user may
        # be the first, and a "tampered" token naming them again would be the real one).
        token = sign(header, claims, secret)
        head, _, signature = token.split(".")
        other = "2" if str(claims["sub"]) == "1" else "1"
        forged = {**claims, "sub": other if isinstance(claims["sub"], str) else int(other)}
        return f"{head}.{_b64(json.dumps(forged).encode())}.{signature}"
    if kind == "garbage":
        return "not.a.token"
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind",
    ["expired", "wrong-secret", "alg-none", "alg-hs512", "deleted-user", "tampered", "garbage"],
)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/users/me"),
        ("GET", TASKS),
        ("POST", TASKS),
        ("GET", f"{TASKS}/1"),
        ("PATCH", f"{TASKS}/1"),
        ("DELETE", f"{TASKS}/1"),
    ],
)
def test_tokens_that_do_not_name_a_live_user_are_unauthorized(
    service: Service,
    real_token: tuple[dict[str, Any], dict[str, Any]],
    kind: str,
    method: str,
    path: str,
) -> None:
    token = _forged(kind, *real_token, service.env["JWT_SECRET"])
    body = {"title": "intruder"} if method in ("POST", "PATCH") else None

    response = service.client().request(
        method, path, json=body, headers={"Authorization": f"Bearer {token}"}
    )

    assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")
