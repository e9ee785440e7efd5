"""What the machine must provide for the selected tests, checked once before the first one runs.

`make test` installs and starts what it can. Whatever is still missing stops the run with one
line that names it, instead of failing every test that needs it, one by one.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable

from support.pgbouncer import PGBOUNCER_BINARY

# Only these build or run generated projects; the other tests render templates and need git.
RUNS_PROJECTS = ("tests/test_generated.py", "tests/test_update.py", "tests/contract/")
RENDERS_DOCS = "tests/contract/test_docs.py"
NODE_MINIMUM = (20, 19)


def _program(name: str, why: str) -> str | None:
    return None if shutil.which(name) else f"{name} ({why})"


def _fails(command: list[str]) -> str | None:
    """Why `command` did not succeed (its first line of output), or None when it did."""
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=15, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return str(error)
    if result.returncode == 0:
        return None
    return (result.stderr or result.stdout).strip().partition("\n")[
        0
    ] or f"exit {result.returncode}"


def _node() -> str | None:
    wanted = f"Node.js {'.'.join(map(str, NODE_MINIMUM))}+ with npm, for Express"
    if not (shutil.which("node") and shutil.which("npm")):
        return wanted
    found = subprocess.run(
        ["node", "-p", "process.versions.node"], capture_output=True, text=True, check=False
    ).stdout.strip()
    major, minor, *_ = (int(part) for part in found.split(".")) if found else (0, 0)
    return None if (major, minor) >= NODE_MINIMUM else f"{wanted} (found {found})"


def _pgbouncer() -> str | None:
    if _fails([PGBOUNCER_BINARY, "--version"]):
        return f"pgbouncer ({PGBOUNCER_BINARY}; Debian: pgbouncer, or set PGBOUNCER_BINARY)"
    return None


def _mysql_headers() -> str | None:
    # What mysqlclient's build asks pkg-config for, unless MYSQLCLIENT_CFLAGS says it directly.
    if os.environ.get("MYSQLCLIENT_CFLAGS") or not (
        _fails(["pkg-config", "--exists", "mysqlclient"])
        and _fails(["pkg-config", "--exists", "mariadb"])
    ):
        return None
    return "MySQL client headers, for Django's mysqlclient (Debian: default-libmysqlclient-dev)"


def _server(label: str, client: str, package: str, command: list[str]) -> str | None:
    if not shutil.which(client):
        return f"{client} (Debian: {package})"
    if problem := _fails([client, *command]):
        return f"{label} ({problem})"
    return None


def _chromium() -> str | None:
    if shutil.which("chromium") or os.access("/usr/bin/chromium", os.X_OK):
        return None
    return "chromium (Debian: chromium), to render /docs"


CHECKS: dict[str, Callable[[], str | None]] = {
    "git": lambda: _program("git", "copier renders from the repository"),
    "make": lambda: _program("make", "every generated project's verbs"),
    "uv": lambda: _program("uv", "generated Python projects install with it"),
    "node": _node,
    "pgbouncer": _pgbouncer,
    "mysql headers": _mysql_headers,
    "postgresql": lambda: _server(
        "PostgreSQL at 127.0.0.1:5432, user postgres, trust auth",
        "psql",
        "postgresql-client",
        ["-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-Xqtc", "select 1"],
    ),
    "mariadb": lambda: _server(
        "MariaDB at 127.0.0.1:3306, user root, no password",
        "mariadb",
        "mariadb-client",
        ["-h", "127.0.0.1", "-u", "root", "-e", "select 1"],
    ),
    "chromium": _chromium,
}


def needs(nodeids: Iterable[str]) -> set[str]:
    """What the tests need, from their ids: their module, and the answers their params name."""
    needed = {"git"}
    for nodeid in nodeids:
        module, _, name = nodeid.partition("::")
        if not module.startswith(RUNS_PROJECTS):
            continue
        answers = set(re.split(r"[^a-z0-9]+", name.partition("[")[2]))
        needed |= {"make", "uv"}
        if "express" in answers:
            needed.add("node")
        if "postgresql" in answers:
            needed.add("postgresql")
        if "pgbouncer" in answers:
            needed |= {"postgresql", "pgbouncer"}
        if "mysql" in answers:
            needed.add("mariadb")
            if "django" in answers:
                needed.add("mysql headers")
        if module == RENDERS_DOCS:
            needed.add("chromium")
    return needed


def missing(nodeids: Iterable[str]) -> list[str]:
    """What the machine lacks for these tests, each named with where it comes from."""
    return [problem for need in sorted(needs(nodeids)) if (problem := CHECKS[need]())]
