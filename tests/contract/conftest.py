"""Fixtures of the black-box contract suite.

Session-scoped and parametrized by combination: pytest runs every contract test against one
running service before it moves on to the next combination.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from combinations import Combination
from support.blackbox import REDIS_URL, Service
from support.databases import Databases
from support.projects import Projects, combination_params


def _instance(project: Path, env: dict[str, str], name: str) -> Iterator[Service]:
    running = Service(project, env, name).start()
    yield running
    running.kill()


@pytest.fixture(scope="session", params=combination_params())
def combination(request: pytest.FixtureRequest) -> Combination:
    return request.param


@pytest.fixture(scope="session")
def service_env(
    combination: Combination, projects: Projects, databases: Databases
) -> dict[str, str]:
    """Production settings on a database that does not exist yet: `make run` must create it.
    The rate limiter is on but out of reach: the fuzzer sends thousands of requests to this
    instance (`limited_service` is the one that meets the limit)."""
    project = projects.installed(combination)
    env = {
        **projects.env,
        "APP_ENV": "production",
        "JWT_SECRET": secrets.token_urlsafe(48),
        "DATABASE_URL": databases.fresh_url(combination, project),
        "SHUTDOWN_GRACE_S": "10",
        "RATE_LIMIT_PER_MINUTE": "1000000",
    }
    # Small pools leave the shared servers' connections (PostgreSQL's 100) to the combinations
    # running beside this one: Django's pool opens DB_POOL_SIZE of them at start. The fuzzer
    # sends one request at a time; test_pool sets its own sizes.
    env |= {"DB_POOL_SIZE": "2", "DB_POOL_MAX_OVERFLOW": "3"}
    if combination.broker == "redis":
        # Pub/sub channels are server-wide: runs and combinations sharing this Redis must not
        # hear each other's broadcasts.
        env["REDIS_URL"] = REDIS_URL
        env["REDIS_PREFIX"] = f"contract-{combination.id}-{secrets.token_hex(4)}"
    return env


@pytest.fixture(scope="session")
def service(
    combination: Combination, projects: Projects, service_env: dict[str, str]
) -> Iterator[Service]:
    yield from _instance(projects.installed(combination), service_env, "contract")


@pytest.fixture(scope="session")
def strict_service(
    combination: Combination,
    projects: Projects,
    service_env: dict[str, str],
    service: Service,
) -> Iterator[Service]:
    """A second instance on the same database: signup closed, small bodies, CORS on.
    Started after `service`, so the two never migrate at once."""
    strict = {
        "ALLOW_SIGNUP": "false",
        "MAX_BODY_BYTES": "1024",
        "CORS_ORIGINS": "https://app.example, https://admin.example",
    }
    yield from _instance(projects.installed(combination), {**service_env, **strict}, "strict")


@pytest.fixture(scope="session")
def limited_service(
    combination: Combination,
    projects: Projects,
    service_env: dict[str, str],
    strict_service: Service,
) -> Iterator[Service]:
    """A third instance whose rate limit nothing else spends."""
    limited = {**service_env, "RATE_LIMIT_PER_MINUTE": "5"}
    yield from _instance(projects.installed(combination), limited, "limited")
