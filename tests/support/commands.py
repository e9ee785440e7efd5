"""Running commands and finding free ports on the loopback interface."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path


def run(
    command: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: int = 900
) -> str:
    """Runs a command; on failure, the assertion shows its whole output."""
    result = subprocess.run(
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, f"{' '.join(command)} failed in {cwd}:\n{result.stdout}"
    return result.stdout


def output(command: list[str], env: dict[str, str] | None = None) -> str:
    """The standard output of a command that must succeed."""
    return subprocess.run(command, capture_output=True, text=True, check=True, env=env).stdout


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")
