"""Pooling `app`: under concurrent load the service never holds more database connections than
DB_POOL_SIZE + DB_POOL_MAX_OVERFLOW, and answers every request."""

from __future__ import annotations

import subprocess
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
from combinations import HTTP_QUESTIONS, Combination
from support.blackbox import Service, bearer, http_client
from support.databases import Databases
from support.projects import Projects

pytestmark = pytest.mark.depends_on(*HTTP_QUESTIONS)

POOL_SIZE, MAX_OVERFLOW = 3, 2
CLIENTS = 32
# 32 clients flat out on a pool of 5 queue at once: a peak over the bound shows in the first
# second. Two seconds of it, not four, which cost 8 CPU-seconds a combination here.
LOAD_S = 2


def connections_to(database_url: str, name: str) -> int:
    """Connections the database server has open to database `name`, asked of the server."""
    if database_url.startswith("postgresql"):
        command = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-Atc"]
        query = f"SELECT count(*) FROM pg_stat_activity WHERE datname = '{name}'"
    else:
        command = ["mariadb", "-h", "127.0.0.1", "-u", "root", "-N", "-e"]
        query = f"SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = '{name}'"
    result = subprocess.run([*command, query], capture_output=True, text=True, check=True)
    return int(result.stdout.strip())


def test_connections_stay_within_the_pool_under_load(
    combination: Combination,
    projects: Projects,
    databases: Databases,
    service_env: dict[str, str],
    service: Service,
) -> None:
    if combination.pooling != "app":
        pytest.skip("only the in-process pool has a bound to keep")
    project = projects.installed(combination)
    env = {
        **service_env,
        # A database of its own: the other instances' idle connections do not count.
        "DATABASE_URL": databases.fresh_url(combination, project),
        "DB_POOL_SIZE": str(POOL_SIZE),
        "DB_POOL_MAX_OVERFLOW": str(MAX_OVERFLOW),
        "RATE_LIMIT_PER_MINUTE": "0",
    }
    pooled = Service(project, env, "pool").start()
    database_url = env["DATABASE_URL"]
    name = urlsplit(database_url).path.lstrip("/")
    try:
        headers = bearer(pooled.client())
        statuses: Counter[int] = Counter()
        peak = 0
        stop = threading.Event()

        def watch() -> None:
            nonlocal peak
            while not stop.is_set():
                peak = max(peak, connections_to(database_url, name))
                time.sleep(0.05)

        def hammer() -> None:
            deadline = time.monotonic() + LOAD_S
            with http_client(pooled.base_url, headers=headers, timeout=30) as client:
                for _ in range(10_000):  # bounded in count as well as in time
                    if time.monotonic() > deadline:
                        break
                    statuses[client.get("/api/v1/tasks").status_code] += 1

        watcher = threading.Thread(target=watch)
        watcher.start()
        with ThreadPoolExecutor(CLIENTS) as pool:
            for future in [pool.submit(hammer) for _ in range(CLIENTS)]:
                future.result()
        stop.set()
        watcher.join()
    finally:
        pooled.kill()

    assert set(statuses) == {200}, statuses
    assert sum(statuses.values()) > CLIENTS
    assert 0 < peak <= POOL_SIZE + MAX_OVERFLOW, f"peak {peak} connections"
