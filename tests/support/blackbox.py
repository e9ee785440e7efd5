"""A generated service as a black box: started with `make run`, probed over HTTP.

Nothing here knows the framework: a service is a directory with a Makefile, configured through
the contract's environment variables, observed through its port and its stdout.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import ssl
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.commands import free_port

STARTUP_TIMEOUT_S = 120
# The loopback Redis every machine of the suite has (the WebSocket broker of `redis` answers).
REDIS_URL = "redis://127.0.0.1:6379/0"
PASSWORD = "correct horse battery"
PROBLEM_KEYS = {"type", "title", "status", "detail"}
# httpx builds an SSL context for every client it makes, plain-HTTP ones included: certifi's
# bundle parsed again, 15 ms of CPU here, for each of thousands of clients a run. One for all.
_TLS = ssl.create_default_context()


def http_client(base_url: str, **options: Any) -> httpx.Client:
    """An HTTP client of a service (httpx.Client's options), cheap to make."""
    return httpx.Client(base_url=base_url, verify=_TLS, **options)


def children_by_pid() -> dict[int, list[int]]:
    """Every process's children, from one pass over /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The parent pid is the 2nd field after the parenthesised command name.
        children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry.name))
    return children


def _children(pid: int) -> list[int]:
    return children_by_pid().get(pid, [])


class Service:
    """One running service: `make run` in its own process group, logs captured to a file."""

    def __init__(self, project: Path, env: dict[str, str], name: str, command: str = "run") -> None:
        self.project = project
        self.command = ["make", command]
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        # Read by services with gRPC only; the others ignore it.
        self.grpc_port = free_port()
        self.grpc_target = f"127.0.0.1:{self.grpc_port}"
        self.env = {
            **env,
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "GRPC_PORT": str(self.grpc_port),
        }
        self.log_path = project / "var" / f"{name}.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.process: subprocess.Popen[bytes] | None = None
        self._clients: list[httpx.Client] = []

    def start(self) -> Service:
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                self.command,
                cwd=self.project,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        with http_client(self.base_url, timeout=1) as probe:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    pytest.fail(
                        f"{self.command} exited with {self.process.returncode}:\n{self.output()}"
                    )
                try:
                    if probe.get("/healthz").status_code == 200:
                        return self
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
        self.kill()
        pytest.fail(
            f"the service did not answer /healthz in {STARTUP_TIMEOUT_S}s:\n{self.output()}"
        )

    def client(self, **options: Any) -> httpx.Client:
        """A new HTTP client (own cookies and headers), closed with the service."""
        client = http_client(self.base_url, timeout=10, **options)
        self._clients.append(client)
        return client

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_lines(self) -> list[dict[str, Any]]:
        """The JSON lines the service wrote (production logs are JSON)."""
        lines = []
        for line in self.output().splitlines():
            if line.startswith("{"):
                try:
                    lines.append(json.loads(line))
                except ValueError:
                    continue
        return lines

    def server_pid(self) -> int:
        """The process that serves: the deepest descendant of `make run`."""
        assert self.process is not None
        pid = self.process.pid
        while children := _children(pid):
            pid = children[0]
        return pid

    def terminate(self, timeout: float = 30) -> int:
        """SIGTERM to the server itself, as a container runtime sends it; make's exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            os.kill(self.server_pid(), signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def __enter__(self) -> Service:
        return self

    def __exit__(self, *_exception: object) -> None:
        self.kill()

    def kill(self) -> None:
        for client in self._clients:
            client.close()
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def sign_up(client: httpx.Client, username: str | None = None) -> dict[str, Any]:
    username = username or f"user_{secrets.token_hex(6)}"
    response = client.post("/api/v1/users", json={"username": username, "password": PASSWORD})
    assert response.status_code == 201, response.text
    return response.json()


def bearer(client: httpx.Client, username: str | None = None) -> dict[str, str]:
    """Signs a fresh user up and returns the Authorization header of their token."""
    user = sign_up(client, username)
    response = client.post(
        "/api/v1/auth/token", json={"username": user["username"], "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def signed_in(service: Service) -> httpx.Client:
    """A client of `service` signed in as a fresh user."""
    client = service.client()
    client.headers.update(bearer(client))
    return client


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """An RFC 9457 problem+json error with `status`, and nothing internal in it."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert set(problem) >= PROBLEM_KEYS
    assert problem["status"] == status
    assert isinstance(problem["title"], str)
    assert problem["title"]
    assert isinstance(problem["detail"], str)
    assert "Traceback" not in response.text
    # Errors are responses like any other: request id and security headers included.
    assert response.headers["x-request-id"]
    assert response.headers["x-content-type-options"] == "nosniff"
    return problem
