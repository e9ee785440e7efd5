"""Contract: SIGTERM stops accepting, lets in-flight requests finish, exits 0."""

import json
import os
import signal
import socket
import time

from combinations import Combination
from support.blackbox import Service
from support.projects import Projects


def test_sigterm_drains_in_flight_requests_and_exits_zero(
    combination: Combination, projects: Projects, service_env: dict[str, str], service: Service
) -> None:
    running = Service(projects.installed(combination), service_env, "shutdown").start()
    try:
        body = json.dumps({"username": "nobody_at_all", "password": "not the password"}).encode()
        with socket.create_connection(("127.0.0.1", running.port), timeout=15) as connection:
            # The request is in flight: headers sent, body not yet.
            connection.sendall(
                b"POST /api/v1/auth/token HTTP/1.1\r\nHost: localhost\r\n"
                b"Content-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
            )
            time.sleep(0.3)
            started = time.monotonic()
            os.kill(running.server_pid(), signal.SIGTERM)
            time.sleep(0.3)
            connection.sendall(body)
            response = connection.recv(65536)

        assert response.startswith(b"HTTP/1.1 401"), response[:200]
        exit_code = running.process.wait(timeout=30)  # type: ignore[union-attr]
        elapsed = time.monotonic() - started
    finally:
        running.kill()

    assert exit_code == 0, running.output()[-3000:]
    assert elapsed < 10 + 5
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", running.port)) != 0
