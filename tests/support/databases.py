"""The loopback database servers, and the throw-away databases tests make on them."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest
from combinations import Combination

from support.pgbouncer import PgBouncer

POSTGRES = "postgresql://postgres@127.0.0.1:5432"
MYSQL = "mysql://root@127.0.0.1:3306"


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
