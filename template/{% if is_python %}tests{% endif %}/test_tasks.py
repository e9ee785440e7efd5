import asyncio
import logging
import time

import jwt
import pytest
from httpx import AsyncClient, Response

from tests.conftest import ASYNC_DATABASE_TEST, JWT_SECRET, Login

pytestmark = ASYNC_DATABASE_TEST

TASKS = "/api/v1/tasks"


async def test_create_task(client: AsyncClient, login: Login) -> None:
    headers = await login("alice")

    response = await client.post(
        TASKS, json={"title": "Write docs", "description": None}, headers=headers
    )

    assert response.status_code == 201
    task = response.json()
    assert response.headers["location"] == f"{TASKS}/{task['id']}"
    assert task["title"] == "Write docs"
    assert task["description"] is None
    assert task["status"] == "pending"
    assert task["created_at"].endswith("Z")
    assert task["updated_at"].endswith("Z")
    me = await client.get("/api/v1/users/me", headers=headers)
    assert task["owner_id"] == me.json()["id"]


async def test_creation_schedules_background_work(
    client: AsyncClient, login: Login, caplog: pytest.LogCaptureFixture
) -> None:
    headers = await login("alice")

    with caplog.at_level(logging.INFO):
        response = await client.post(TASKS, json={"title": "Ship"}, headers=headers)

    announced = [record for record in caplog.records if record.getMessage() == "task.created"]
    assert [getattr(record, "task_id", None) for record in announced] == [response.json()["id"]]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "title"),
        ({"title": ""}, "title"),
        ({"title": "t" * 201}, "title"),
        ({"title": "ok", "description": "d" * 10_001}, "description"),
        ({"title": "ok", "owner_id": 2}, "owner_id"),
        ({"title": "ok", "status": "done"}, "status"),
    ],
)
async def test_invalid_task_fields(
    client: AsyncClient, login: Login, payload: dict[str, object], field: str
) -> None:
    headers = await login("alice")

    response = await client.post(TASKS, json=payload, headers=headers)

    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == [field]


async def test_tasks_need_a_token(client: AsyncClient) -> None:
    response = await client.get(TASKS)

    assert response.status_code == 401


async def test_list_is_newest_first_and_paginated(client: AsyncClient, login: Login) -> None:
    headers = await login("alice")
    for title in ("one", "two", "three"):
        await client.post(TASKS, json={"title": title}, headers=headers)

    first = await client.get(TASKS, params={"limit": 2}, headers=headers)
    second = await client.get(TASKS, params={"limit": 2, "offset": 2}, headers=headers)

    assert first.status_code == 200
    assert [task["title"] for task in first.json()["items"]] == ["three", "two"]
    assert first.json() | {"items": []} == {"items": [], "total": 3, "limit": 2, "offset": 0}
    assert [task["title"] for task in second.json()["items"]] == ["one"]


async def test_list_filters_by_status(client: AsyncClient, login: Login) -> None:
    headers = await login("alice")
    done = (await client.post(TASKS, json={"title": "done"}, headers=headers)).json()
    await client.post(TASKS, json={"title": "open"}, headers=headers)
    await client.patch(f"{TASKS}/{done['id']}", json={"status": "done"}, headers=headers)

    filtered = await client.get(TASKS, params={"status": "done"}, headers=headers)
    unfiltered = await client.get(TASKS, params={"status": ""}, headers=headers)

    assert [task["title"] for task in filtered.json()["items"]] == ["done"]
    assert filtered.json()["total"] == 1
    assert unfiltered.json()["total"] == 2


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"offset": -1}, "offset"),
        ({"offset": 10**20}, "offset"),
        ({"status": "lost"}, "status"),
    ],
)
async def test_invalid_query(
    client: AsyncClient, login: Login, params: dict[str, str | int], field: str
) -> None:
    headers = await login("alice")

    response = await client.get(TASKS, params=params, headers=headers)

    assert response.status_code == 422
    assert {error["field"] for error in response.json()["errors"]} == {field}


async def test_read_update_delete(client: AsyncClient, login: Login) -> None:
    headers = await login("alice")
    task = (await client.post(TASKS, json={"title": "draft"}, headers=headers)).json()
    url = f"{TASKS}/{task['id']}"

    read = await client.get(url, headers=headers)
    updated = await client.patch(
        url, json={"title": "final", "description": "now", "status": "processing"}, headers=headers
    )
    deleted = await client.delete(url, headers=headers)
    gone = await client.get(url, headers=headers)

    assert read.json() == task
    assert updated.status_code == 200
    assert updated.json() | {"updated_at": None} == task | {
        "title": "final",
        "description": "now",
        "status": "processing",
        "updated_at": None,
    }
    assert updated.json()["updated_at"] >= task["updated_at"]
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert gone.status_code == 404


async def _update_a_new_task(
    client: AsyncClient, login: Login, changes: dict[str, object]
) -> Response:
    headers = await login("alice")
    task = (await client.post(TASKS, json={"title": "draft"}, headers=headers)).json()
    return await client.patch(f"{TASKS}/{task['id']}", json=changes, headers=headers)


@pytest.mark.parametrize(
    "changes", [{"title": None}, {"status": None}, {"status": "archived"}, {"title": ""}]
)
async def test_invalid_update(
    client: AsyncClient, login: Login, changes: dict[str, object]
) -> None:
    response = await _update_a_new_task(client, login, changes)

    assert response.status_code == 422


async def test_other_users_tasks_do_not_exist(client: AsyncClient, login: Login) -> None:
    alice = await login("alice")
    bob = await login("bob")
    task = (await client.post(TASKS, json={"title": "private"}, headers=alice)).json()
    url = f"{TASKS}/{task['id']}"

    assert (await client.get(url, headers=bob)).status_code == 404
    assert (await client.patch(url, json={"title": "mine"}, headers=bob)).status_code == 404
    assert (await client.delete(url, headers=bob)).status_code == 404
    assert (await client.get(TASKS, headers=bob)).json()["total"] == 0
    assert (await client.get(url, headers=alice)).json()["title"] == "private"


@pytest.mark.parametrize("task_id", ["2147483648", "0", "abc"])
async def test_impossible_ids_are_rejected(client: AsyncClient, login: Login, task_id: str) -> None:
    headers = await login("alice")

    response = await client.get(f"{TASKS}/{task_id}", headers=headers)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_token_whose_user_is_gone_cannot_create(client: AsyncClient) -> None:
    token = jwt.encode(
        {"sub": "2147483647", "exp": int(time.time()) + 60}, JWT_SECRET, algorithm="HS256"
    )

    response = await client.post(
        TASKS, json={"title": "orphan"}, headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status_code == 401


async def test_an_idempotency_key_replays_the_first_create(
    client: AsyncClient, login: Login
) -> None:
    headers = await login("alice") | {"Idempotency-Key": "create-1"}

    first = await client.post(TASKS, json={"title": "once", "description": None}, headers=headers)
    again = await client.post(TASKS, json={"description": None, "title": "once"}, headers=headers)

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert (await client.get(TASKS, headers=headers)).json()["total"] == 1


async def test_an_idempotency_key_with_another_body_is_422(
    client: AsyncClient, login: Login
) -> None:
    headers = await login("alice") | {"Idempotency-Key": "create-1"}
    await client.post(TASKS, json={"title": "once"}, headers=headers)

    response = await client.post(TASKS, json={"title": "twice"}, headers=headers)

    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["Idempotency-Key"]
    assert (await client.get(TASKS, headers=headers)).json()["total"] == 1


@pytest.mark.parametrize("key", ["", "k" * 256, "tab\there", " padded"])
async def test_invalid_idempotency_keys_are_422(
    client: AsyncClient, login: Login, key: str
) -> None:
    headers = await login("alice") | {"Idempotency-Key": key}

    response = await client.post(TASKS, json={"title": "t"}, headers=headers)

    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["Idempotency-Key"]


async def test_idempotency_keys_belong_to_their_user(client: AsyncClient, login: Login) -> None:
    alice = await login("alice") | {"Idempotency-Key": "same"}
    bob = await login("bob") | {"Idempotency-Key": "same"}

    hers = await client.post(TASKS, json={"title": "t"}, headers=alice)
    his = await client.post(TASKS, json={"title": "t"}, headers=bob)

    assert (hers.status_code, his.status_code) == (201, 201)
    assert hers.json()["id"] != his.json()["id"]
    assert "idempotent-replayed" not in his.headers


async def test_concurrent_creates_with_one_key_create_one_task(
    client: AsyncClient, login: Login
) -> None:
    headers = await login("alice") | {"Idempotency-Key": "race"}

    responses = await asyncio.gather(
        *(client.post(TASKS, json={"title": "raced"}, headers=headers) for _ in range(5))
    )

    assert [response.status_code for response in responses] == [201] * 5
    assert len({response.json()["id"] for response in responses}) == 1
    assert (await client.get(TASKS, headers=headers)).json()["total"] == 1


@pytest.mark.parametrize(
    "changes", [{"owner_id": 2}, {"id": 7}, {"created_at": "2020-01-01T00:00:00Z"}]
)
async def test_fields_not_in_the_schema_are_422_in_updates(
    client: AsyncClient, login: Login, changes: dict[str, object]
) -> None:
    response = await _update_a_new_task(client, login, changes)

    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == list(changes)
