"""Running commands and handing out loopback ports that nobody else will take."""

from __future__ import annotations

import fcntl
import random
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import IO


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


def own_tests(project: Path, env: dict[str, str]) -> str:
    """`make test` in a generated project, with pytest's temporary directory its own. In the
    shared /tmp/pytest-of-<user>, a session ending removes the old numbered directories of
    others, and two ending at once rm -rf the same one: a "Directory not empty" warning, which
    the project's warnings-as-errors turns into a failure (seen with three workers)."""
    basetemp = project.parent / f"{project.name}-pytest-tmp"
    return run(
        ["make", "test"], cwd=project, env={**env, "PYTEST_ADDOPTS": f"--basetemp={basetemp}"}
    )


def output(command: list[str], env: dict[str, str] | None = None) -> str:
    """The standard output of a command that must succeed."""
    return subprocess.run(command, capture_output=True, text=True, check=True, env=env).stdout


# Ports the tests hand out: below Linux's ephemeral range (32768-60999), so no outgoing
# connection of the busy machine takes one between its choice and its bind; a lock file per
# port keeps two pytest workers from choosing the same one. A port once chosen stays with its
# process until it exits.
_PORTS = range(20000, 32000)
_PORT_LOCKS = Path(tempfile.gettempdir()) / "backend-service-template-ports"
_held: list[IO[bytes]] = []


def free_port() -> int:
    """A loopback port nothing listens on, reserved for this process."""
    _PORT_LOCKS.mkdir(exist_ok=True)
    start = random.randrange(len(_PORTS))
    for offset in range(len(_PORTS)):
        port = _PORTS[(start + offset) % len(_PORTS)]
        lock = (_PORT_LOCKS / str(port)).open("wb")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:  # in use by something outside the tests
                lock.close()
                continue
        _held.append(lock)
        return port
    raise RuntimeError(f"no free port in {_PORTS}")


def wait_for_port(port: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")
