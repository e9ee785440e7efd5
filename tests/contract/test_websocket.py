"""The contract's WebSocket section, probed over the wire on every combination that has it.

Each test signs fresh users up, so tests never see each other's task events; broadcasts reach
every client of the service, so each test tags its own and ignores the others'.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import signal
import socket
import time
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import pytest
from combinations import HTTP_QUESTIONS, Combination
from faults import FaultProxy
from support.blackbox import REDIS_URL, Service, bearer, signed_in
from support.projects import Projects
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

# gRPC changes nothing the WebSocket does (test_grpc checks the two together).
pytestmark = [
    pytest.mark.slow,
    pytest.mark.broker("memory", "redis"),
    pytest.mark.depends_on(*HTTP_QUESTIONS, "websocket", "websocket_broker"),
]

RECEIVE_TIMEOUT_S = 5.0
MAX_MESSAGE_BYTES = 64 * 1024


def ws_url(service: Service, token: str | None = None) -> str:
    url = f"ws://127.0.0.1:{service.port}/ws"
    return f"{url}?token={token}" if token else url


def token_of(headers: Mapping[str, str]) -> str:
    return httpx.Headers(headers)["authorization"].removeprefix("Bearer ")


def open_ws(service: Service, token: str, **options: Any) -> ClientConnection:
    return connect(ws_url(service, token), open_timeout=10, close_timeout=2, **options)


def receive(ws: ClientConnection, timeout: float = RECEIVE_TIMEOUT_S) -> dict[str, Any]:
    message = ws.recv(timeout=timeout)
    assert isinstance(message, str), message
    value = json.loads(message)
    assert isinstance(value, dict), value
    return value


def receive_until(
    ws: ClientConnection, wanted: dict[str, Any], timeout: float = RECEIVE_TIMEOUT_S
) -> dict[str, Any]:
    """The first message whose items include `wanted`, skipping others' broadcasts."""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        message = receive(ws, left)
        if wanted.items() <= message.items():
            return message
    pytest.fail(f"no message with {wanted} within {timeout} s")


def next_own(ws: ClientConnection) -> dict[str, Any]:
    """The next message that is not another test's broadcast."""
    while (message := receive(ws))["type"] == "broadcast" and not _is_mine(message):
        pass
    return message


def _is_mine(message: dict[str, Any]) -> bool:
    data = message.get("data")
    return isinstance(data, dict) and data.get("owner") == "test_websocket"


def closed_with(ws: ClientConnection, timeout: float = RECEIVE_TIMEOUT_S) -> int | None:
    """The close code the service sent, reading (and dropping) whatever came before it."""
    deadline = time.monotonic() + timeout
    try:
        while (left := deadline - time.monotonic()) > 0:
            ws.recv(timeout=left)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
    pytest.fail(f"still open after {timeout} s")


def refused(url: str, **options: Any) -> int:
    """The HTTP status of a refused handshake, or 1008 for one accepted then closed at once."""
    try:
        ws = connect(url, open_timeout=10, close_timeout=2, **options)
    except InvalidStatus as error:
        return error.response.status_code
    with ws:
        code = closed_with(ws)
    assert code == 1008, code
    return code


def hs256(claims: dict[str, Any], secret: str) -> str:
    """A JWT signed as the service signs its own, for tokens the API would never issue."""

    def part(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    header = part(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = part(json.dumps(claims).encode())
    signature = hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256)
    return f"{header}.{payload}.{part(signature.digest())}"


def user_id(service: Service, headers: dict[str, str]) -> int:
    response = service.client().get("/api/v1/users/me", headers=headers)
    assert response.status_code == 200, response.text
    return int(response.json()["id"])


def tag() -> dict[str, str]:
    return {"owner": "test_websocket", "nonce": secrets.token_hex(8)}


# The handshake -------------------------------------------------------------------------------


def test_a_valid_token_opens_a_connection_in_the_query_or_the_header(service: Service) -> None:
    headers = bearer(service.client())

    with open_ws(service, token_of(headers)) as ws:
        ws.send(json.dumps({"type": "ping"}))
        assert next_own(ws) == {"type": "pong"}
    with connect(ws_url(service), additional_headers=headers, open_timeout=10) as ws:
        ws.send(json.dumps({"type": "ping"}))
        assert next_own(ws) == {"type": "pong"}


def test_a_missing_bad_or_expired_token_is_refused(
    service: Service, service_env: dict[str, str]
) -> None:
    secret = service_env["JWT_SECRET"]
    now = int(time.time())
    expired = hs256({"sub": "1", "iat": now - 120, "exp": now - 60}, secret)
    forged = hs256({"sub": "1", "iat": now, "exp": now + 600}, "not-the-secret-" * 4)
    gone_user = hs256({"sub": "999999999", "iat": now, "exp": now + 600}, secret)

    for url in (
        ws_url(service),
        ws_url(service, "not-a-jwt"),
        ws_url(service, expired),
        ws_url(service, forged),
        ws_url(service, gone_user),
    ):
        assert refused(url) in {401, 403, 1008}, url


def test_the_origin_is_checked_against_cors_origins(
    service: Service, strict_service: Service
) -> None:
    """`strict_service` has CORS_ORIGINS set (and signup closed: the user signs up on its
    sibling, which shares its database and secret)."""
    token = token_of(bearer(service.client()))

    assert refused(ws_url(strict_service, token), origin="https://evil.example") in {403, 1008}
    for origin in ("https://app.example", None):
        with open_ws(strict_service, token, origin=origin) as ws:
            ws.send(json.dumps({"type": "ping"}))
            assert next_own(ws) == {"type": "pong"}


# Messages ------------------------------------------------------------------------------------


def test_a_broadcast_reaches_every_client_the_sender_included(service: Service) -> None:
    alice, bob = bearer(service.client()), bearer(service.client())
    data = {**tag(), "text": "héllo", "n": [1, 2.5, None, True]}

    with open_ws(service, token_of(alice)) as sender, open_ws(service, token_of(bob)) as other:
        sender.send(json.dumps({"type": "broadcast", "data": data}))

        expected = {"type": "broadcast", "from": user_id(service, alice), "data": data}
        assert receive_until(sender, {"data": data}) == expected
        assert receive_until(other, {"data": data}) == expected


def test_task_events_reach_the_owners_connections_only(service: Service) -> None:
    owner, stranger = signed_in(service), signed_in(service)
    token = token_of(owner.headers)
    with (
        open_ws(service, token) as first,
        open_ws(service, token) as second,
        open_ws(service, token_of(stranger.headers)) as other,
    ):
        created = owner.post("/api/v1/tasks", json={"title": "watched"}).json()
        updated = owner.patch(f"/api/v1/tasks/{created['id']}", json={"status": "done"}).json()
        assert owner.delete(f"/api/v1/tasks/{created['id']}").status_code == 204

        for ws in (first, second):
            assert next_own(ws) == {"type": "task.created", "data": created}
            assert next_own(ws) == {"type": "task.updated", "data": updated}
            deleted = next_own(ws)
            assert deleted["type"] == "task.deleted"
            assert deleted["data"]["id"] == created["id"]
        # Anything meant for the stranger would have come before the answer to this ping.
        other.send(json.dumps({"type": "ping"}))
        assert next_own(other) == {"type": "pong"}


@pytest.mark.parametrize(
    "message",
    ["{not json", "[1, 2]", '"ping"', '{"type": "shout"}', "{}", '{"type": "broadcast"}', b"\x00"],
    ids=["invalid-json", "array", "string", "unknown-type", "no-type", "no-data", "binary"],
)
def test_bad_input_gets_an_error_and_the_connection_stays(
    service: Service, message: str | bytes
) -> None:
    with open_ws(service, token_of(bearer(service.client()))) as ws:
        ws.send(message)

        reply = next_own(ws)
        assert reply["type"] == "error"
        assert isinstance(reply["detail"], str)
        assert reply["detail"]
        ws.send(json.dumps({"type": "ping"}))
        assert next_own(ws) == {"type": "pong"}


def test_a_message_over_64_kib_closes_with_1009(service: Service) -> None:
    with open_ws(service, token_of(bearer(service.client())), max_size=None) as ws:
        padding = "x" * MAX_MESSAGE_BYTES
        ws.send(json.dumps({"type": "broadcast", "data": padding}))

        assert closed_with(ws) == 1009


def test_a_connection_closes_with_1008_when_its_token_expires(
    service: Service, service_env: dict[str, str]
) -> None:
    headers = bearer(service.client())
    now = time.time()
    short = hs256(
        {"sub": str(user_id(service, headers)), "iat": int(now), "exp": int(now) + 2},
        service_env["JWT_SECRET"],
    )

    with open_ws(service, short) as ws:
        assert closed_with(ws, timeout=6) == 1008
    assert time.time() >= int(now) + 2 - 0.5


def test_the_token_never_reaches_a_log_line(service: Service) -> None:
    token = token_of(bearer(service.client()))
    with open_ws(service, token) as ws:
        ws.send(json.dumps({"type": "ping"}))
        next_own(ws)
    with pytest.raises(InvalidStatus):
        connect(ws_url(service, "refused." + token), open_timeout=10)

    deadline = time.monotonic() + 5
    while not [line for line in service.log_lines() if line.get("msg") == "websocket"]:
        assert time.monotonic() < deadline, "no log line for a closed WebSocket"
        time.sleep(0.05)
    assert token.split(".")[2] not in service.output()


def test_a_client_that_stops_reading_is_closed_and_slows_nobody(service: Service) -> None:
    """A client that never reads fills its send queue: it is dropped, while a client that reads
    gets every broadcast promptly."""
    sender_headers = bearer(service.client())
    stalled = _stalled_client(service, token_of(bearer(service.client())))
    data = {**tag(), "padding": "y" * 16_000}
    started = time.monotonic()
    with open_ws(service, token_of(sender_headers), max_size=None) as reader:
        for _ in range(400):  # 6.4 MB: more than the stalled client's queue and buffers hold
            reader.send(json.dumps({"type": "broadcast", "data": data}))
        for _ in range(400):
            receive_until(reader, {"data": data})
    assert time.monotonic() - started < 20
    stalled.close()
    deadline = time.monotonic() + 10
    while not [
        line
        for line in service.log_lines()
        if line.get("msg") == "websocket" and line.get("close_code") in {1008, 1013}
    ]:
        assert time.monotonic() < deadline, "the stalled client was never closed"
        time.sleep(0.1)


def _stalled_client(service: Service, token: str) -> socket.socket:
    """A raw WebSocket handshake, then a socket that never reads, with a tiny receive buffer."""
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    client.connect(("127.0.0.1", service.port))
    key = base64.b64encode(secrets.token_bytes(16)).decode()
    request = (
        f"GET /ws?token={token} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    client.sendall(request.encode())
    client.settimeout(10)
    head = client.recv(1024)
    assert head.startswith(b"HTTP/1.1 101"), head
    return client


# Several instances, one Redis ----------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_proxy() -> Iterator[FaultProxy]:
    with FaultProxy.in_front_of(REDIS_URL) as proxy:
        yield proxy


@pytest.fixture(scope="session")
def peer(
    combination: Combination,
    projects: Projects,
    service_env: dict[str, str],
    redis_proxy: FaultProxy,
    service: Service,
) -> Iterator[Service]:
    """A second instance of the service behind the same load balancer: same database, same
    Redis channel, reached through a proxy the outage test cuts."""
    env = {**service_env, "REDIS_URL": redis_proxy.url(REDIS_URL)}
    with Service(projects.installed(combination), env, "peer").start() as running:
        yield running


@pytest.mark.broker("redis")
def test_two_instances_share_broadcasts_and_task_events(service: Service, peer: Service) -> None:
    headers = bearer(service.client())
    token = token_of(headers)
    data = tag()
    with open_ws(service, token) as here, open_ws(peer, token) as there:
        here.send(json.dumps({"type": "broadcast", "data": data}))
        assert receive_until(there, {"data": data})["from"] == user_id(service, headers)

        created = service.client().post("/api/v1/tasks", json={"title": "seen"}, headers=headers)
        assert next_own(there) == {"type": "task.created", "data": created.json()}
        assert receive_until(here, {"type": "task.created"})["data"] == created.json()


@pytest.mark.broker("redis")
def test_a_redis_outage_is_reported_and_survived(
    service: Service, peer: Service, redis_proxy: FaultProxy
) -> None:
    token = token_of(bearer(service.client()))
    with open_ws(peer, token) as ws:
        for fault in (redis_proxy.cut, redis_proxy.freeze):
            fault()
            try:
                _readiness_becomes(peer, 503, {"redis": "error"}, within=12)
                ws.send(json.dumps({"type": "broadcast", "data": tag()}))
                reply = next_own(ws)
                assert reply["type"] == "error"
            finally:
                redis_proxy.restore()
            _readiness_becomes(peer, 200, {"redis": "ok"}, within=15)

        data = tag()
        with open_ws(service, token) as far:
            ws.send(json.dumps({"type": "broadcast", "data": data}))
            assert receive_until(far, {"data": data})["data"] == data
    assert peer.process is not None
    assert peer.process.poll() is None, peer.output()


def _readiness_becomes(
    service: Service, status: int, checks: dict[str, str], within: float
) -> None:
    deadline = time.monotonic() + within
    client = service.client()
    while True:
        try:
            response = client.get("/readyz")
            if (
                response.status_code == status
                and checks.items() <= response.json()["checks"].items()
            ):
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"/readyz never became {status} {checks}"
        time.sleep(0.2)


# Shutdown ------------------------------------------------------------------------------------


def test_sigterm_closes_every_websocket_with_1001(
    combination: Combination, projects: Projects, service_env: dict[str, str]
) -> None:
    project = projects.installed(combination)
    with Service(project, service_env, "ws-sigterm").start() as instance:
        token = token_of(bearer(instance.client()))
        with open_ws(instance, token) as first, open_ws(instance, token) as second:
            started = time.monotonic()
            os.kill(instance.server_pid(), signal.SIGTERM)

            assert closed_with(first) == 1001
            assert closed_with(second) == 1001
            assert time.monotonic() - started < 3
        assert instance.process is not None
        assert instance.process.wait(timeout=30) == 0, instance.output()
