"""Fixtures shared by every template test; the machinery lives in harness.py."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import (
    NODE_PREBUILDS,
    NODE_PREBUILDS_SETTING,
    PGBOUNCER_BINARY,
    Databases,
    PgBouncer,
    Projects,
)


@pytest.fixture(scope="session")
def copier_template_paths() -> list[str]:
    """What pytest-copier commits into the throw-away template repository."""
    return ["copier.yml", "template", "extensions"]


@pytest.fixture(scope="session")
def tool_env() -> dict[str, str]:
    """The environment for generated projects: the caller's, minus what would leak in."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("VIRTUAL_ENV", "PYTEST_", "COV_", "UV_PROJECT"))
    }
    env.pop("DATABASE_URL", None)
    env[NODE_PREBUILDS_SETTING] = str(NODE_PREBUILDS)
    # npm's network chatter about audits, funding and its own updates is noise here.
    for setting in ("audit", "fund", "update_notifier"):
        env[f"npm_config_{setting}"] = "false"
    return env


@pytest.fixture(scope="session")
def pgbouncer() -> Iterator[PgBouncer]:
    if not Path(PGBOUNCER_BINARY).exists():
        pytest.fail("pgbouncer is not installed: .ci/run installs Debian's pgbouncer package")
    bouncer = PgBouncer()
    yield bouncer
    bouncer.stop()


@pytest.fixture(scope="session")
def databases(request: pytest.FixtureRequest) -> Iterator[Databases]:
    registry = Databases(request)
    yield registry
    registry.drop_all()


@pytest.fixture(scope="session")
def projects(
    copier_template: Path, tmp_path_factory: pytest.TempPathFactory, tool_env: dict[str, str]
) -> Projects:
    return Projects(copier_template, tmp_path_factory.mktemp("projects"), tool_env)
