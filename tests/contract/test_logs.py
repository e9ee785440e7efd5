"""Contract: one JSON line per request in production, carrying the request id; no secrets."""

import secrets
import socket
import time

import pytest
from combinations import HTTP_QUESTIONS
from support.blackbox import PASSWORD, Service, bearer

pytestmark = pytest.mark.depends_on(*HTTP_QUESTIONS)


def wait_for_line(service: Service, **fields: object) -> dict[str, object]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        for line in service.log_lines():
            if all(line.get(key) == value for key, value in fields.items()):
                return line
        time.sleep(0.05)
    raise AssertionError(f"no log line with {fields}:\n{service.output()[-3000:]}")


def test_one_json_line_per_request(service: Service) -> None:
    request_id = f"contract-{secrets.token_hex(8)}"

    service.client().get("/readyz", headers={"X-Request-ID": request_id})

    line = wait_for_line(service, request_id=request_id, msg="request")
    assert {"ts", "level", "method", "path", "status", "duration_ms"} <= set(line)
    assert (line["method"], line["path"], line["status"]) == ("GET", "/readyz", 200)
    assert line["level"] == "info"
    assert isinstance(line["duration_ms"], int | float)
    requests = [
        entry
        for entry in service.log_lines()
        if entry.get("request_id") == request_id and entry.get("msg") == "request"
    ]
    assert len(requests) == 1


def test_background_work_carries_the_request_id(service: Service) -> None:
    client = service.client()
    client.headers.update(bearer(client))
    request_id = f"contract-{secrets.token_hex(8)}"

    response = client.post(
        "/api/v1/tasks", json={"title": "logged"}, headers={"X-Request-ID": request_id}
    )

    assert response.status_code == 201
    wait_for_line(service, request_id=request_id, msg="request")
    other = [
        line
        for line in service.log_lines()
        if line.get("request_id") == request_id and line.get("msg") != "request"
    ]
    assert other, "task creation logged nothing of its own under the request id"


def test_passwords_never_reach_the_logs(service: Service) -> None:
    bearer(service.client())

    assert PASSWORD not in service.output()


def test_an_abandoned_request_is_logged_as_499(service: Service) -> None:
    """The client promises a body and hangs up halfway: nothing failed on the server's side."""
    request_id = f"contract-{secrets.token_hex(8)}"
    head = (
        "POST /api/v1/users HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{service.port}\r\n"
        "Content-Type: application/json\r\n"
        "Content-Length: 100\r\n"
        f"X-Request-ID: {request_id}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", service.port), timeout=5) as connection:
        connection.sendall(head.encode() + b'{"username": ')
        time.sleep(0.3)

    line = wait_for_line(service, request_id=request_id, msg="request")
    assert line["status"] == 499, line
    assert line["level"] == "info", line


def test_query_strings_never_reach_the_logs(service: Service) -> None:
    secret = secrets.token_hex(16)

    service.client().get(f"/healthz?token={secret}")

    assert secret not in service.output()
