"""Every valid combination: its project installs, lints clean and passes its own tests against
the real database of that combination."""

from __future__ import annotations

import pytest
from combinations import Combination
from support.commands import own_tests, run
from support.databases import Databases
from support.projects import Projects, combination_params

pytestmark = pytest.mark.slow

# How a test database's name spells an answer.
ABBREVIATIONS = {"postgresql": "pg", "pgbouncer": "pgb", "websocket": "ws", "memory": "mem"}


@pytest.fixture(params=combination_params())
def combination(request: pytest.FixtureRequest) -> Combination:
    return request.param


@pytest.mark.pairwise
def test_lint_is_clean(combination: Combination, projects: Projects) -> None:
    """Linter, formatter check and type checker (ruff + mypy --strict, or eslint + prettier +
    tsc): a Jinja slip shows up here."""
    project = projects.installed(combination)

    with projects.lint_env(combination) as env:
        run(["make", "lint"], cwd=project, env=env)


@pytest.mark.pairwise
def test_own_tests_pass_on_the_real_database(
    combination: Combination, projects: Projects, databases: Databases
) -> None:
    project = projects.installed(combination)
    env = dict(projects.env)
    if server := databases.server_url(combination):
        # The project's tests create a throw-away database beside this one and drop it; one
        # name per combination, as combinations run in parallel on the same servers.
        # Short enough for the `_test_<random>_<suffix>` the project adds: PostgreSQL and
        # PgBouncer keep 63 bytes of a name (the longest id, 50 characters, would not fit).
        short = "_".join(ABBREVIATIONS.get(part, part) for part in combination.id.split("-"))
        env["DATABASE_URL"] = f"{server}/gen_{short}"

    output = own_tests(project, env)

    assert " passed" in output
    if combination.framework == "express":
        # vitest fails the run below its thresholds; the report shows it was measured.
        assert "% Stmts" in output
    else:
        assert "Required test coverage of 90% reached" in output
