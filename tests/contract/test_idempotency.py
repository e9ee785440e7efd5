"""Contract: `Idempotency-Key` makes `POST /api/v1/tasks` safe to retry."""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from combinations import HTTP_QUESTIONS
from support.blackbox import Service, assert_problem, bearer, signed_in

pytestmark = pytest.mark.depends_on(*HTTP_QUESTIONS)

TASKS = "/api/v1/tasks"


@pytest.fixture
def client(service: Service) -> httpx.Client:
    return signed_in(service)


def test_a_retry_with_the_same_key_replays_the_first_answer(client: httpx.Client) -> None:
    key = {"Idempotency-Key": secrets.token_hex(16)}

    first = client.post(TASKS, json={"title": "once", "description": None}, headers=key)
    again = client.post(TASKS, json={"description": None, "title": "once"}, headers=key)

    assert first.status_code == again.status_code == 201, (first.text, again.text)
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert client.get(TASKS).json()["total"] == 1


def test_the_same_key_with_another_body_is_unprocessable(client: httpx.Client) -> None:
    key = {"Idempotency-Key": secrets.token_hex(16)}
    assert client.post(TASKS, json={"title": "first"}, headers=key).status_code == 201

    problem = assert_problem(client.post(TASKS, json={"title": "second"}, headers=key), 422)

    assert "Idempotency-Key" in [error["field"] for error in problem.get("errors", [])]
    assert client.get(TASKS).json()["total"] == 1


def test_keys_belong_to_their_user(service: Service, client: httpx.Client) -> None:
    key = {"Idempotency-Key": secrets.token_hex(16)}
    other = service.client()
    other.headers.update(bearer(other))

    mine = client.post(TASKS, json={"title": "shared key"}, headers=key)
    theirs = other.post(TASKS, json={"title": "shared key"}, headers=key)

    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]
    assert "idempotent-replayed" not in theirs.headers


def test_concurrent_retries_create_one_task(client: httpx.Client) -> None:
    key = {"Idempotency-Key": secrets.token_hex(16)}

    def attempt(_: int) -> httpx.Response:
        return client.post(TASKS, json={"title": "raced"}, headers=key)

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(attempt, range(8)))

    assert {response.status_code for response in responses} == {201}, [
        (response.status_code, response.text) for response in responses
    ]
    assert len({response.json()["id"] for response in responses}) == 1
    assert client.get(TASKS).json()["total"] == 1


@pytest.mark.parametrize("key", ["", "k" * 256, "caf\u00e9", "tab\there"])
def test_a_malformed_key_is_unprocessable(client: httpx.Client, key: str) -> None:
    response = client.post(TASKS, json={"title": "x"}, headers={"Idempotency-Key": key.encode()})

    problem = assert_problem(response, 422)
    assert "Idempotency-Key" in [error["field"] for error in problem.get("errors", [])]
    assert client.get(TASKS).json()["total"] == 0
