"""Contract: tasks, each user's own."""

import re
from typing import Any

import httpx
import pytest
from combinations import HTTP_QUESTIONS
from support.blackbox import Service, bearer, signed_in

pytestmark = pytest.mark.depends_on(*HTTP_QUESTIONS)

TASKS = "/api/v1/tasks"
RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|\+00:00)$")


@pytest.fixture(scope="module")
def client(service: Service) -> httpx.Client:
    """A client signed in as one user for the module (a sign-up hashes a password: it costs
    more than most tests here); the tests that count a whole list take `fresh_client`."""
    return signed_in(service)


@pytest.fixture
def fresh_client(service: Service) -> httpx.Client:
    """A client signed in as a user with no tasks yet."""
    return signed_in(service)


def create(client: httpx.Client, **fields: Any) -> dict[str, Any]:
    response = client.post(TASKS, json={"title": "a task", **fields})
    assert response.status_code == 201, response.text
    return response.json()


def test_create_task(client: httpx.Client) -> None:
    response = client.post(TASKS, json={"title": "Write docs", "description": "all of them"})

    assert response.status_code == 201
    task = response.json()
    assert response.headers["location"] == f"{TASKS}/{task['id']}"
    assert set(task) == {
        "id",
        "title",
        "description",
        "status",
        "owner_id",
        "created_at",
        "updated_at",
    }
    assert isinstance(task["id"], int)
    assert isinstance(task["owner_id"], int)
    assert (task["title"], task["description"], task["status"]) == (
        "Write docs",
        "all of them",
        "pending",
    )
    assert RFC3339_UTC.match(task["created_at"])
    assert RFC3339_UTC.match(task["updated_at"])
    assert task["owner_id"] == client.get("/api/v1/users/me").json()["id"]


def test_description_is_optional(client: httpx.Client) -> None:
    assert create(client)["description"] is None
    assert create(client, description=None)["description"] is None


def test_read_update_delete(client: httpx.Client) -> None:
    task = create(client, title="draft")
    url = f"{TASKS}/{task['id']}"

    read = client.get(url)
    updated = client.patch(url, json={"title": "final", "status": "done"})
    deleted = client.delete(url)
    gone = client.get(url)

    assert read.status_code == 200
    assert read.json() == task
    assert updated.status_code == 200
    assert updated.json()["title"] == "final"
    assert updated.json()["status"] == "done"
    assert updated.json()["description"] == task["description"]
    assert updated.json()["created_at"] == task["created_at"]
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert gone.status_code == 404
    assert gone.headers["content-type"] == "application/problem+json"


def test_list_is_newest_first_and_paginated(fresh_client: httpx.Client) -> None:
    ids = [create(fresh_client, title=f"task {n}")["id"] for n in range(3)]

    first = fresh_client.get(TASKS, params={"limit": 2, "offset": 0})
    rest = fresh_client.get(TASKS, params={"limit": 2, "offset": 2})

    assert first.status_code == 200
    page = first.json()
    assert set(page) == {"items", "total", "limit", "offset"}
    assert (page["total"], page["limit"], page["offset"]) == (3, 2, 0)
    assert [task["id"] for task in page["items"] + rest.json()["items"]] == ids[::-1]


def test_list_defaults_and_status_filter(fresh_client: httpx.Client) -> None:
    done = create(fresh_client, title="done")
    create(fresh_client, title="pending")
    fresh_client.patch(f"{TASKS}/{done['id']}", json={"status": "done"})

    everything = fresh_client.get(TASKS).json()
    only_done = fresh_client.get(TASKS, params={"status": "done"}).json()

    assert (everything["total"], everything["limit"], everything["offset"]) == (2, 20, 0)
    assert [task["id"] for task in only_done["items"]] == [done["id"]]
    assert only_done["total"] == 1


@pytest.mark.parametrize(
    "params", [{"limit": 0}, {"limit": 101}, {"offset": -1}, {"status": "lost"}]
)
def test_invalid_query_is_unprocessable(client: httpx.Client, params: dict[str, Any]) -> None:
    response = client.get(TASKS, params=params)

    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == list(params)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "title"),
        ({"title": ""}, "title"),
        ({"title": "t" * 201}, "title"),
        ({"title": "ok", "description": "d" * 10_001}, "description"),
        ({"title": "nul \u0000 inside"}, "title"),
        ({"title": "ok", "status": "archived"}, None),
    ],
)
def test_invalid_task_is_unprocessable(
    client: httpx.Client, payload: dict[str, Any], field: str | None
) -> None:
    response = client.post(TASKS, json=payload)

    assert response.status_code == 422
    if field:
        assert field in [error["field"] for error in response.json()["errors"]]


@pytest.mark.parametrize("changes", [{"title": ""}, {"status": "archived"}, {"title": None}])
def test_invalid_update_is_unprocessable(client: httpx.Client, changes: dict[str, Any]) -> None:
    task = create(client)

    response = client.patch(f"{TASKS}/{task['id']}", json=changes)

    assert response.status_code == 422
    assert client.get(f"{TASKS}/{task['id']}").json() == task


def test_other_users_tasks_do_not_exist(service: Service, client: httpx.Client) -> None:
    task = create(client, title="private")
    url = f"{TASKS}/{task['id']}"
    stranger = service.client()
    stranger.headers.update(bearer(stranger))

    assert stranger.get(url).status_code == 404
    assert stranger.patch(url, json={"title": "mine"}).status_code == 404
    assert stranger.delete(url).status_code == 404
    assert stranger.get(TASKS).json()["total"] == 0
    assert client.get(url).json() == task


def test_tasks_need_a_token(service: Service) -> None:
    response = service.client().post(TASKS, json={"title": "anonymous"})

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
