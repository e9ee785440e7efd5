"""The contract's gRPC section, probed over the wire on every combination that has it.

The client knows only what the server's reflection tells (support/grpc_client.py): no stub is
generated from the template's proto. One channel per combination serves every test but those
that need an instance of their own (a rate limit to spend, a SIGTERM to send). Each test signs
its own users up when it counts or watches their tasks, so tests never see each other's. Work in
flight is made to wait, where a test needs it to, on a lock the test holds on the `tasks` table:
no timing guess decides an outcome.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import sqlite3
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import grpc
import httpx
import pytest
from combinations import Combination
from faults import TableLock, direct_url, task_titles
from grpc_health.v1 import health_pb2, health_pb2_grpc
from support.blackbox import Service, signed_in
from support.grpc_client import (
    HEALTH_SERVICE,
    REFLECTION_SERVICE,
    TASK_SERVICE,
    Reflected,
    Tasks,
    code_of,
    describe,
    grpc_task,
    hs256,
    http_task,
    open_channel,
    rpc_error,
    unsigned,
)
from support.projects import Projects
from websockets.sync.client import connect

pytestmark = [pytest.mark.slow, pytest.mark.grpc]

TASKS = "/api/v1/tasks"
MAX_ID = 2147483647
INVALID_ARGUMENT = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND
UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED
RESOURCE_EXHAUSTED = grpc.StatusCode.RESOURCE_EXHAUSTED
SERVING = health_pb2.HealthCheckResponse.SERVING


@dataclass
class Caller:
    """A signed-up user: their token (for gRPC) and an HTTP client with it."""

    token: str
    user_id: int
    http: httpx.Client


def caller(service: Service) -> Caller:
    http = signed_in(service)
    me = http.get("/api/v1/users/me")
    assert me.status_code == 200, me.text
    token = http.headers["authorization"].removeprefix("Bearer ")
    return Caller(token, int(me.json()["id"]), http)


@pytest.fixture(scope="session")
def grpc_channel(service: Service) -> Iterator[grpc.Channel]:
    channel = open_channel(service.grpc_target)
    yield channel
    channel.close()


@pytest.fixture(scope="session")
def reflected(grpc_channel: grpc.Channel) -> Reflected:
    return Reflected(grpc_channel)


@pytest.fixture(scope="session")
def tasks(grpc_channel: grpc.Channel, reflected: Reflected) -> Tasks:
    return Tasks(grpc_channel, reflected)


@pytest.fixture(scope="session")
def alice(service: Service) -> Caller:
    """One user for the tests that do not count their tasks (a sign-up costs an argon2 hash)."""
    return caller(service)


@pytest.fixture
def fresh(service: Service) -> Caller:
    """A user with no tasks yet."""
    return caller(service)


def create(tasks: Tasks, who: Caller, title: str = "a task", **fields: Any) -> Any:
    return tasks.call("CreateTask", who.token, title=title, **fields).task


def mask(*paths: str) -> dict[str, list[str]]:
    return {"paths": list(paths)}


def wait_for_log(service: Service, request_id: str, timeout: float = 5) -> list[dict[str, Any]]:
    """The `rpc` lines of one call, once there is one (a line may follow the response)."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [
            line
            for line in service.log_lines()
            if line.get("msg") == "rpc" and line.get("request_id") == request_id
        ]
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


# Discovery and health --------------------------------------------------------------------------


def test_reflection_describes_the_services(reflected: Reflected) -> None:
    assert {TASK_SERVICE, HEALTH_SERVICE, REFLECTION_SERVICE} <= set(reflected.services())
    methods = reflected.pool.FindServiceByName(TASK_SERVICE).methods_by_name
    assert set(methods) == {
        "GetTask",
        "ListTasks",
        "CreateTask",
        "UpdateTask",
        "DeleteTask",
        "WatchTasks",
    }
    streaming = {name for name, method in methods.items() if method.server_streaming}
    assert streaming == {"WatchTasks"}
    assert not any(method.client_streaming for method in methods.values())


def test_health_serves_the_server_and_the_task_service(grpc_channel: grpc.Channel) -> None:
    health = health_pb2_grpc.HealthStub(grpc_channel)

    for name in ("", TASK_SERVICE):
        answer = health.Check(health_pb2.HealthCheckRequest(service=name), timeout=5)
        assert answer.status == SERVING, name
    unknown = rpc_error(
        health.Check, health_pb2.HealthCheckRequest(service="tasks.v1.Nothing"), timeout=5
    )
    assert unknown.code() == NOT_FOUND


# Authentication --------------------------------------------------------------------------------


def _credentials(case: str, who: Caller, secret: str) -> list[tuple[str, str]]:
    now = int(time.time())
    claims = {"sub": str(who.user_id), "iat": now, "exp": now + 600}
    if case == "none":
        return []
    if case == "not-a-jwt":
        return [("authorization", "Bearer not-a-jwt")]
    if case == "not-bearer":
        return [("authorization", f"Basic {who.token}")]
    if case == "forged":
        return [("authorization", f"Bearer {hs256(claims, 'not-the-secret-' * 4)}")]
    if case == "expired":
        expired = {**claims, "iat": now - 120, "exp": now - 60}
        return [("authorization", f"Bearer {hs256(expired, secret)}")]
    if case == "alg-none":
        return [("authorization", f"Bearer {unsigned(claims)}")]
    if case == "user-gone":
        gone = {**claims, "sub": "999999999"}
        return [("authorization", f"Bearer {hs256(gone, secret)}")]
    raise AssertionError(case)


@pytest.mark.parametrize(
    "case", ["none", "not-a-jwt", "not-bearer", "forged", "expired", "alg-none", "user-gone"]
)
def test_task_calls_need_a_valid_token(
    tasks: Tasks, alice: Caller, service_env: dict[str, str], case: str
) -> None:
    task = create(tasks, alice)
    credentials = _credentials(case, alice, service_env["JWT_SECRET"])

    error = rpc_error(tasks.call, "GetTask", None, metadata=credentials, id=task.id)

    assert error.code() == UNAUTHENTICATED, describe(error)


def test_a_watch_needs_a_token(tasks: Tasks) -> None:
    with tasks.watch(None) as watch:
        end = watch.ended(timeout=10)
    assert end is not None
    assert end.code() == UNAUTHENTICATED, describe(end)


# Tasks -----------------------------------------------------------------------------------------


def test_create_task_is_pending_with_or_without_description(tasks: Tasks, alice: Caller) -> None:
    bare = create(tasks, alice, "Write docs")
    described = create(tasks, alice, "Write more", description="all of them")
    wide = create(tasks, alice, "é" * 200)  # characters, not bytes

    assert bare.id > 0
    assert (bare.title, bare.status, bare.owner_id) == (
        "Write docs",
        tasks.status["TASK_STATUS_PENDING"],
        alice.user_id,
    )
    assert not bare.HasField("description")
    assert described.HasField("description")
    assert described.description == "all of them"
    assert bare.HasField("created_at")
    assert grpc_task(bare)["created_at"].year >= 2025
    assert grpc_task(bare)["updated_at"] >= grpc_task(bare)["created_at"]
    assert wide.title == "é" * 200
    assert len({bare.id, described.id, wide.id}) == 3


def test_get_task_returns_the_task(tasks: Tasks, alice: Caller) -> None:
    created = create(tasks, alice, "read me", description="twice")

    read = tasks.call("GetTask", alice.token, id=created.id).task

    assert grpc_task(read) == grpc_task(created)


def test_list_is_newest_first_and_paginated(tasks: Tasks, fresh: Caller) -> None:
    ids = [create(tasks, fresh, f"task {n}").id for n in range(3)]

    everything = tasks.call("ListTasks", fresh.token)
    page = tasks.call("ListTasks", fresh.token, limit=2, offset=1)
    beyond = tasks.call("ListTasks", fresh.token, limit=2, offset=3)

    assert [task.id for task in everything.tasks] == ids[::-1]
    assert (everything.total, everything.limit, everything.offset) == (3, 20, 0)
    assert [task.id for task in page.tasks] == ids[1::-1]
    assert (page.total, page.limit, page.offset) == (3, 2, 1)
    assert list(beyond.tasks) == []
    assert beyond.total == 3


def test_list_filters_by_status(tasks: Tasks, fresh: Caller) -> None:
    done = create(tasks, fresh, "done")
    pending = create(tasks, fresh, "pending")
    tasks.call(
        "UpdateTask",
        fresh.token,
        id=done.id,
        task={"status": tasks.status["TASK_STATUS_DONE"]},
        update_mask=mask("status"),
    )

    only_done = tasks.call("ListTasks", fresh.token, status=tasks.status["TASK_STATUS_DONE"])
    only_pending = tasks.call("ListTasks", fresh.token, status=tasks.status["TASK_STATUS_PENDING"])
    processing = tasks.call("ListTasks", fresh.token, status=tasks.status["TASK_STATUS_PROCESSING"])

    assert [task.id for task in only_done.tasks] == [done.id]
    assert only_done.total == 1
    assert [task.id for task in only_pending.tasks] == [pending.id]
    assert (processing.total, list(processing.tasks)) == (0, [])


def test_update_changes_the_masked_fields_only(tasks: Tasks, alice: Caller) -> None:
    task = create(tasks, alice, "draft", description="notes")
    done = tasks.status["TASK_STATUS_DONE"]

    def update(*paths: str, **fields: Any) -> Any:
        return tasks.call(
            "UpdateTask", alice.token, id=task.id, task=fields, update_mask=mask(*paths)
        ).task

    titled = update("title", title="final", description="not this", status=done)
    cleared = update("description")
    finished = update("status", title="not this either", status=done)
    read = tasks.call("GetTask", alice.token, id=task.id).task

    assert (titled.title, titled.description, titled.status) == (
        "final",
        "notes",
        tasks.status["TASK_STATUS_PENDING"],
    )
    assert not cleared.HasField("description")
    assert cleared.title == "final"
    assert (finished.title, finished.status) == ("final", done)
    assert not finished.HasField("description")
    assert grpc_task(read) == grpc_task(finished)
    assert grpc_task(finished)["created_at"] == grpc_task(task)["created_at"]
    assert grpc_task(finished)["updated_at"] >= grpc_task(task)["updated_at"]


def test_an_empty_mask_changes_only_updated_at(tasks: Tasks, alice: Caller) -> None:
    task = create(tasks, alice, "untouched", description="as it was")
    time.sleep(0.02)  # past the coarsest clock a service keeps (milliseconds)

    response = tasks.call(
        "UpdateTask", alice.token, id=task.id, task={"title": "ignored"}, update_mask=mask()
    )

    before, after = grpc_task(task), grpc_task(response.task)
    assert after["updated_at"] > before["updated_at"]
    assert {**after, "updated_at": None} == {**before, "updated_at": None}


@pytest.mark.parametrize("path", ["owner_id", "nope", "task.title"])
def test_an_unknown_mask_path_is_invalid(tasks: Tasks, alice: Caller, path: str) -> None:
    task = create(tasks, alice, "masked")

    error = rpc_error(
        tasks.call,
        "UpdateTask",
        alice.token,
        id=task.id,
        task={"title": "changed"},
        update_mask=mask(path),
    )

    assert error.code() == INVALID_ARGUMENT, describe(error)
    assert error.details()
    assert tasks.call("GetTask", alice.token, id=task.id).task.title == "masked"


def test_delete_then_the_task_is_gone(tasks: Tasks, alice: Caller) -> None:
    task = create(tasks, alice, "short-lived")

    deleted = tasks.call("DeleteTask", alice.token, id=task.id)

    assert deleted.ListFields() == []
    for method, fields in (
        ("GetTask", {}),
        ("DeleteTask", {}),
        ("UpdateTask", {"task": {"title": "x"}, "update_mask": mask("title")}),
    ):
        error = rpc_error(tasks.call, method, alice.token, id=task.id, **fields)
        assert error.code() == NOT_FOUND, (method, describe(error))


def test_another_users_task_does_not_exist(tasks: Tasks, alice: Caller, fresh: Caller) -> None:
    theirs = create(tasks, fresh, "not alice's")

    for method, fields in (
        ("GetTask", {}),
        ("UpdateTask", {"task": {"title": "taken"}, "update_mask": mask("title")}),
        ("DeleteTask", {}),
    ):
        error = rpc_error(tasks.call, method, alice.token, id=theirs.id, **fields)
        assert error.code() == NOT_FOUND, (method, describe(error))
    listed = tasks.call("ListTasks", alice.token, limit=100)
    assert theirs.id not in {task.id for task in listed.tasks}
    assert grpc_task(tasks.call("GetTask", fresh.token, id=theirs.id).task) == grpc_task(theirs)


# Each case: the method, its fields (an UpdateTask gets an existing task's id unless it sets
# one), and the field its INVALID_ARGUMENT must name.
INVALID = {
    "empty-title": ("CreateTask", {"title": ""}, "title"),
    "long-title": ("CreateTask", {"title": "x" * 201}, "title"),
    "long-description": ("CreateTask", {"title": "t", "description": "x" * 10001}, "description"),
    "id-0": ("GetTask", {"id": 0}, "id"),
    "id-too-large": ("GetTask", {"id": MAX_ID + 1}, "id"),
    "id-negative": ("DeleteTask", {"id": -1}, "id"),
    "update-id-0": (
        "UpdateTask",
        {"id": 0, "task": {"title": "t"}, "update_mask": mask("title")},
        "id",
    ),
    "limit-101": ("ListTasks", {"limit": 101}, "limit"),
    "limit-negative": ("ListTasks", {"limit": -1}, "limit"),
    "offset-negative": ("ListTasks", {"offset": -1}, "offset"),
    "status-unspecified": ("UpdateTask", {"task": {}, "update_mask": mask("status")}, "status"),
    "title-unset": ("UpdateTask", {"task": {}, "update_mask": mask("title")}, "title"),
    "update-long-title": (
        "UpdateTask",
        {"task": {"title": "x" * 201}, "update_mask": mask("title")},
        "title",
    ),
}


@pytest.mark.parametrize("case", list(INVALID))
def test_invalid_arguments_name_the_field(tasks: Tasks, alice: Caller, case: str) -> None:
    method, fields, field = INVALID[case]
    if method == "UpdateTask" and "id" not in fields:
        fields = {"id": create(tasks, alice, "valid").id, **fields}

    error = rpc_error(tasks.call, method, alice.token, **fields)

    assert error.code() == INVALID_ARGUMENT, describe(error)
    # "title: …", or "task.title: …" for a field of UpdateTask's task.
    assert re.search(rf"(?<!\w){field}:", error.details() or ""), describe(error)


def test_the_largest_id_is_valid_and_not_found(tasks: Tasks, alice: Caller) -> None:
    assert code_of(tasks.call, "GetTask", alice.token, id=MAX_ID) == NOT_FOUND


# One service layer behind HTTP and gRPC ----------------------------------------------------


def test_a_task_is_the_same_over_grpc_and_http(tasks: Tasks, alice: Caller) -> None:
    over_grpc = create(tasks, alice, "from gRPC", description="over HTTP/2")
    read_over_http = alice.http.get(f"{TASKS}/{over_grpc.id}")
    posted = alice.http.post(TASKS, json={"title": "from HTTP", "description": None})
    assert posted.status_code == 201, posted.text
    read_over_grpc = tasks.call("GetTask", alice.token, id=posted.json()["id"]).task
    updated = tasks.call(
        "UpdateTask",
        alice.token,
        id=posted.json()["id"],
        task={"status": tasks.status["TASK_STATUS_PROCESSING"]},
        update_mask=mask("status"),
    ).task
    updated_over_http = alice.http.get(f"{TASKS}/{updated.id}")

    assert read_over_http.status_code == 200, read_over_http.text
    assert http_task(read_over_http.json()) == grpc_task(over_grpc)
    assert grpc_task(read_over_grpc) == http_task(posted.json())
    assert http_task(updated_over_http.json()) == grpc_task(updated)
    assert updated_over_http.json()["status"] == "processing"


# Request context and logs --------------------------------------------------------------------


def test_the_request_id_is_kept_or_replaced(tasks: Tasks, alice: Caller) -> None:
    task = create(tasks, alice, "traced")
    kept = f"grpc-{secrets.token_hex(6)}"

    _, call = tasks.with_call("GetTask", alice.token, metadata=[("x-request-id", kept)], id=task.id)
    _, replaced = tasks.with_call(
        "GetTask", alice.token, metadata=[("x-request-id", "not valid!")], id=task.id
    )
    _, made = tasks.with_call("GetTask", alice.token, id=task.id)

    assert dict(call.initial_metadata())["x-request-id"] == kept
    for other in (replaced, made):
        request_id = dict(other.initial_metadata())["x-request-id"]
        assert uuid.UUID(request_id).version == 4, request_id


def test_one_log_line_per_call_without_the_token(
    service: Service, tasks: Tasks, alice: Caller, service_env: dict[str, str]
) -> None:
    task = create(tasks, alice, "logged")
    forged = _credentials("forged", alice, service_env["JWT_SECRET"])
    request_ids = {
        code: f"grpc-{code.lower()}-{secrets.token_hex(6)}"
        for code in ("OK", "NOT_FOUND", "UNAUTHENTICATED")
    }

    tasks.call("GetTask", alice.token, metadata=[("x-request-id", request_ids["OK"])], id=task.id)
    for code, token, metadata, id_ in (
        ("NOT_FOUND", alice.token, [], MAX_ID),
        ("UNAUTHENTICATED", None, forged, task.id),
    ):
        error = rpc_error(
            tasks.call,
            "GetTask",
            token,
            metadata=[*metadata, ("x-request-id", request_ids[code])],
            id=id_,
        )
        assert error.code().name == code, describe(error)

    for code, request_id in request_ids.items():
        lines = wait_for_log(service, request_id)
        assert len(lines) == 1, (code, lines)
        line = lines[0]
        assert line["method"] == "/tasks.v1.TaskService/GetTask"
        assert line["code"] == code
        assert isinstance(line["duration_ms"], int | float)
        assert line["duration_ms"] >= 0
    output = service.output()
    assert alice.token.split(".")[2] not in output
    assert forged[0][1].split(".")[2] not in output


# Limits ----------------------------------------------------------------------------------------


def test_a_request_over_max_body_bytes_is_resource_exhausted(
    tasks: Tasks, alice: Caller, strict_service: Service
) -> None:
    """`strict_service` has MAX_BODY_BYTES=1024 (and the same database and secret)."""
    with contextlib.closing(open_channel(strict_service.grpc_target)) as channel:
        strict = tasks.on(channel)

        error = rpc_error(strict.call, "CreateTask", alice.token, title="x" * 2048)
        small = strict.call("CreateTask", alice.token, title="x" * 200).task

    assert error.code() == RESOURCE_EXHAUSTED, describe(error)
    assert small.title == "x" * 200


@pytest.fixture(scope="session")
def rate_limited(
    combination: Combination,
    projects: Projects,
    service_env: dict[str, str],
    service: Service,
) -> Iterator[Service]:
    """An instance with a budget of 5 calls a minute that nothing else spends: `limited_service`
    is test_http's, which expects to find its budget whole. Started after `service`, so the two
    never migrate at once."""
    env = {**service_env, "RATE_LIMIT_PER_MINUTE": "5"}
    with Service(projects.installed(combination), env, "grpc-limited").start() as running:
        yield running


def test_grpc_calls_share_the_api_rate_limit(
    tasks: Tasks, alice: Caller, rate_limited: Service
) -> None:
    """The API's budget spent over HTTP, the next gRPC call is refused. The budget is whole at
    the start (nothing else calls this instance: the user signed up on `service`); a window
    that is about to end (Retry-After) is waited out first, so the gRPC call cannot fall into a
    fresh window."""
    client = rate_limited.client()
    with contextlib.closing(open_channel(rate_limited.grpc_target)) as channel:
        limited = tasks.on(channel)
        for _ in range(2):
            statuses = []
            for _ in range(12):
                response = client.get("/api/v1/users/me")
                statuses.append(response.status_code)
                if response.status_code == 429:
                    break
            assert statuses[-1] == 429, statuses
            retry_after = int(response.headers["retry-after"])
            if retry_after >= 3:
                break
            time.sleep(retry_after + 0.5)
        error = rpc_error(limited.call, "ListTasks", alice.token)

    assert error.code() == RESOURCE_EXHAUSTED, describe(error)


# Deadlines and cancellation --------------------------------------------------------------------


@contextlib.contextmanager
def tasks_locked(database_url: str) -> Iterator[None]:
    """Writes to `tasks` wait: a table lock from a connection of the test's own (a write
    transaction on SQLite's file), held until the block ends."""
    if not database_url.startswith("sqlite"):
        with TableLock(direct_url(database_url)):
            yield
        return
    path = Path(urlsplit(database_url).path)
    with contextlib.closing(sqlite3.connect(path, timeout=10, isolation_level=None)) as lock:
        lock.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            lock.execute("ROLLBACK")


def committed_titles(database_url: str) -> list[str]:
    if database_url.startswith("sqlite"):
        return task_titles(database_url)
    return task_titles(direct_url(database_url))


def test_a_call_past_its_deadline_or_cancelled_commits_nothing(
    tasks: Tasks, alice: Caller, service_env: dict[str, str]
) -> None:
    """Both creates wait on a lock the test holds past their end, so neither can commit before
    the client gives up: whatever is committed later is work the server failed to stop."""
    database_url = service_env["DATABASE_URL"]
    late_title, cancelled_title = (f"never {secrets.token_hex(6)}" for _ in range(2))
    with tasks_locked(database_url):
        late = tasks.future("CreateTask", alice.token, timeout=0.5, title=late_title)
        cancelled = tasks.future("CreateTask", alice.token, title=cancelled_title)
        time.sleep(0.3)  # both are at the server, waiting on the lock
        cancelled.cancel()
        error = late.exception(timeout=10)
        time.sleep(0.5)  # the server's turn to stop its work, still under the lock
    time.sleep(1)  # a statement the server did not stop would commit about now
    titles = committed_titles(database_url)
    after = create(tasks, alice, "after the lock")

    assert error is not None
    assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED, describe(error)
    assert cancelled.cancelled()
    committed = [
        call
        for call, title in (("past its deadline", late_title), ("cancelled", cancelled_title))
        if title in titles
    ]
    assert not committed, f"committed although the client gave up: the create {committed}"
    assert after.title == "after the lock"


# WatchTasks ------------------------------------------------------------------------------------


def test_a_watch_streams_the_callers_task_events(
    tasks: Tasks, fresh: Caller, service: Service
) -> None:
    stranger = caller(service)
    with tasks.watch(fresh.token).registered() as watch:
        assert watch.initial_metadata.get("x-request-id")
        stranger.http.post(TASKS, json={"title": "not for this watcher"})
        created = fresh.http.post(TASKS, json={"title": "watched", "description": "closely"})
        assert created.status_code == 201, created.text
        task_id = created.json()["id"]
        first = watch.next()
        updated = tasks.call(
            "UpdateTask",
            fresh.token,
            id=task_id,
            task={"status": tasks.status["TASK_STATUS_DONE"]},
            update_mask=mask("status"),
        ).task
        second = watch.next()
        tasks.call("DeleteTask", fresh.token, id=task_id)
        third = watch.next()
        watch.cancel()
        end = watch.ended()

    assert first.type == tasks.event_type["TASK_EVENT_TYPE_CREATED"]
    assert grpc_task(first.task) == http_task(created.json())
    assert second.type == tasks.event_type["TASK_EVENT_TYPE_UPDATED"]
    assert grpc_task(second.task) == grpc_task(updated)
    assert third.type == tasks.event_type["TASK_EVENT_TYPE_DELETED"]
    assert third.task.id == task_id
    assert end is not None
    assert end.code() == grpc.StatusCode.CANCELLED
    # The server is none the worse for the cancelled stream.
    assert tasks.call("ListTasks", fresh.token).total == 0


@pytest.mark.broker("memory", "redis")
def test_grpc_changes_reach_websocket_clients(
    tasks: Tasks, fresh: Caller, service: Service
) -> None:
    url = f"ws://127.0.0.1:{service.port}/ws?token={fresh.token}"
    with connect(url, open_timeout=10, close_timeout=2) as ws:
        ws.send(json.dumps({"type": "ping"}))
        assert json.loads(ws.recv(timeout=5)) == {"type": "pong"}
        created = create(tasks, fresh, "from gRPC to WebSocket")
        while (message := json.loads(ws.recv(timeout=5)))["type"] == "broadcast":
            pass  # another test's

    assert message["type"] == "task.created"
    assert message["data"] == fresh.http.get(f"{TASKS}/{created.id}").json()


# Shutdown --------------------------------------------------------------------------------------


def test_sigterm_ends_watches_at_once_lets_calls_finish_and_exits_0(
    combination: Combination,
    projects: Projects,
    service_env: dict[str, str],
    tasks: Tasks,
    alice: Caller,
) -> None:
    """A watch and a create in flight (waiting on a lock the test holds) at SIGTERM: the watch
    ends with UNAVAILABLE at once, the create completes once the lock goes, new calls are
    refused or told NOT_SERVING, and the process exits 0 within SHUTDOWN_GRACE_S. (A server
    whose driver blocks its event loop on the lock, as better-sqlite3 does, ends the watch at
    the release: 1 s, within the bound.)"""
    grace_s = float(service_env["SHUTDOWN_GRACE_S"])
    title = f"in flight {secrets.token_hex(6)}"
    project = projects.installed(combination)
    with Service(project, service_env, "grpc-sigterm").start() as instance:
        assert instance.process is not None
        with contextlib.closing(open_channel(instance.grpc_target)) as channel:
            own = tasks.on(channel)
            watch = own.watch(alice.token).registered()
            with tasks_locked(service_env["DATABASE_URL"]):
                in_flight = own.future("CreateTask", alice.token, timeout=grace_s, title=title)
                time.sleep(0.3)  # the create is at the server, waiting on the lock
                started = time.monotonic()
                os.kill(instance.server_pid(), signal.SIGTERM)
                time.sleep(1)
            end = watch.ended(timeout=5)
            assert watch.ended_at is not None
            ended_s = watch.ended_at - started
            created = in_flight.exception(timeout=grace_s) or in_flight.result()
            after = _health_of_a_new_call(instance.grpc_target)
        exit_code = instance.process.wait(timeout=grace_s + 10)
        exited_s = time.monotonic() - started

    assert end is not None
    assert end.code() == grpc.StatusCode.UNAVAILABLE, describe(end)
    assert ended_s < 3, "the watch outlived SIGTERM"
    # Draining (NOT_SERVING), or no longer taking calls.
    assert after in {"NOT_SERVING", "UNAVAILABLE"}, after
    assert not isinstance(created, grpc.RpcError), describe(created)
    assert created.task.title == title
    assert exit_code == 0, instance.output()
    assert exited_s < grace_s + 5, exited_s


def _health_of_a_new_call(target: str) -> str:
    """TaskService's health as a new connection sees it, or the code it is refused with."""
    with contextlib.closing(grpc.insecure_channel(target)) as channel:
        try:
            health = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=TASK_SERVICE), timeout=5
            )
        except grpc.RpcError as error:
            return str(error.code().name)
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(health.status))
