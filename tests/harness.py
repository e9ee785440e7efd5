"""The template tests' harness: combinations, generated projects, real databases and PgBouncer."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
import subprocess
import tarfile
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from combinations import Combination, valid_combinations
from copier import run_copy

ROOT = Path(__file__).resolve().parent.parent
COMBINATIONS = valid_combinations()

POSTGRES = "postgresql://postgres@127.0.0.1:5432"
MYSQL = "mysql://root@127.0.0.1:3306"
PGBOUNCER_BINARY = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
# better-sqlite3 has no reachable prebuilt binary here and compiles for about a minute per
# install. Built once (per machine, keyed by version and Node ABI) in prebuild-install's own
# format, every install takes it from here through this npm setting.
NODE_PREBUILDS = Path.home() / ".cache" / "backend-service-template" / "node-prebuilds"
NODE_PREBUILDS_SETTING = "npm_config_better_sqlite3_local_prebuilds"


def combination_params(combinations: list[Combination] = COMBINATIONS) -> list[object]:
    """One param per combination; its tests share a worker, so its project is built once."""
    return [
        pytest.param(combination, id=combination.id, marks=pytest.mark.xdist_group(combination.id))
        for combination in combinations
    ]


def answers(combination: Combination, **extra: str) -> dict[str, str]:
    data = {"framework": combination.framework, "database": combination.database, **extra}
    if combination.database != "sqlite":
        data["pooling"] = combination.pooling
    return data


def copy_project(template: Path, destination: Path, **data: str) -> Path:
    """`copier copy` as the tests use it: defaults for what `data` leaves out, trusted."""
    run_copy(
        str(template),
        destination,
        data=data,
        defaults=True,
        unsafe=True,
        quiet=True,
        vcs_ref="HEAD",
    )
    return destination


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


class PgBouncer:
    """A real PgBouncer in transaction mode in front of the loopback PostgreSQL."""

    def __init__(self) -> None:
        self.port = free_port()
        # PgBouncer refuses to run as root: it switches to `postgres`, which must read this.
        self.directory = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
        self.directory.chmod(0o755)
        (self.directory / "userlist.txt").write_text('"postgres" ""\n')
        (self.directory / "pgbouncer.ini").write_text(
            f"""\
[databases]
* = host=127.0.0.1 port=5432

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = trust
auth_file = {self.directory}/userlist.txt
pool_mode = transaction
max_client_conn = 1000
default_pool_size = 20
ignore_startup_parameters = extra_float_digits
logfile = {self.directory}/pgbouncer.log
pidfile = {self.directory}/pgbouncer.pid
"""
        )
        command = [PGBOUNCER_BINARY]
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres")
            command += ["-u", "postgres"]
        self.process = subprocess.Popen(
            [*command, str(self.directory / "pgbouncer.ini")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        wait_for_port(self.port)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        shutil.rmtree(self.directory, ignore_errors=True)


class Databases:
    """Server URLs per combination; databases made for a test are dropped at the end."""

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self._request = request
        self._created: list[tuple[str, str]] = []

    def server_url(self, combination: Combination) -> str | None:
        if combination.database == "sqlite":
            return None
        if combination.pooling == "pgbouncer":
            bouncer: PgBouncer = self._request.getfixturevalue("pgbouncer")
            return bouncer.url
        return POSTGRES if combination.database == "postgresql" else MYSQL

    def fresh_url(self, combination: Combination, project: Path) -> str:
        """A database that does not exist yet: the service's `make run` creates it."""
        server = self.server_url(combination)
        if server is None:
            return f"sqlite:///{project}/var/{uuid.uuid4().hex[:8]}.db"
        name = f"contract_{uuid.uuid4().hex[:10]}"
        self._created.append((combination.database, name))
        return f"{server}/{name}"

    def drop_all(self) -> None:
        for database, name in self._created:
            if database == "postgresql":
                command = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-c"]
                statement = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
            else:
                command = ["mariadb", "-h", "127.0.0.1", "-u", "root", "-e"]
                statement = f"DROP DATABASE IF EXISTS `{name}`"
            subprocess.run([*command, statement], check=False, capture_output=True)


def _stdout(command: list[str], env: dict[str, str] | None = None) -> str:
    return subprocess.run(command, capture_output=True, text=True, check=True, env=env).stdout


def _node(expression: str) -> str:
    return _stdout(["node", "-p", expression]).strip()


def _newest_version(spec: str, env: dict[str, str]) -> str:
    """The version npm installs for `better-sqlite3@spec`: the highest release in range."""
    found = json.loads(_stdout(["npm", "view", f"better-sqlite3@{spec}", "version", "--json"], env))
    versions = found if isinstance(found, list) else [found]
    return max(versions, key=lambda version: tuple(int(part) for part in version.split(".")))


def ensure_node_prebuilds(project: Path, env: dict[str, str]) -> None:
    """Builds the better-sqlite3 binary that `project` will install, unless it is built."""
    spec = json.loads((project / "package.json").read_text())["dependencies"]["better-sqlite3"]
    version = _newest_version(spec, env)
    target = NODE_PREBUILDS / (
        f"better-sqlite3-v{version}-node-v{_node('process.versions.modules')}-"
        f"{_node('process.platform')}-{_node('process.arch')}.tar.gz"
    )
    NODE_PREBUILDS.mkdir(parents=True, exist_ok=True)
    # One build for all xdist workers: the others wait for it.
    with (NODE_PREBUILDS / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.exists():
            return
        with tempfile.TemporaryDirectory(prefix="better-sqlite3-") as scratch:
            build = Path(scratch)
            (build / "package.json").write_text('{"private": true}')
            run(
                ["npm", "install", "--no-audit", "--no-fund", f"better-sqlite3@{version}"],
                cwd=build,
                env={k: v for k, v in env.items() if k != NODE_PREBUILDS_SETTING},
            )
            package = build / "node_modules" / "better-sqlite3"
            partial = target.with_suffix(".partial")
            with tarfile.open(partial, "w:gz") as archive:
                name = "build/Release/better_sqlite3.node"
                archive.add(package / name, arcname=name)
            partial.rename(target)


class Projects:
    """Generated projects, rendered and installed once per combination and worker."""

    def __init__(self, template: Path, workdir: Path, env: dict[str, str]) -> None:
        self.template = template
        self.workdir = workdir
        self.env = env
        self._installed: dict[Combination, Path] = {}

    def render(self, combination: Combination, destination: Path) -> Path:
        return copy_project(self.template, destination, **answers(combination))

    def installed(self, combination: Combination) -> Path:
        if combination not in self._installed:
            project = self.render(combination, self.workdir / combination.id)
            if combination.framework == "express":
                ensure_node_prebuilds(project, self.env)
            run(["make", "install"], cwd=project, env=self.env)
            self._installed[combination] = project
        return self._installed[combination]
