"""Fixtures shared by every template test, and the check of what the machine must provide.
The machinery lives in the support package."""

from __future__ import annotations

import fcntl
import functools
import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from combinations import (
    POOLINGS,
    QUESTIONS,
    Combination,
    covering,
    pairwise_per_framework,
    valid_combinations,
)
from support.databases import Databases
from support.node import NODE_PREBUILDS, NODE_PREBUILDS_SETTING
from support.pgbouncer import PgBouncer
from support.prerequisites import missing
from support.projects import Projects, answers, copy_project

_CHECKED = pytest.StashKey[bool]()
# What make exports to the commands it runs, pytest under `make test` included.
MAKE_VARIABLES = {
    "MAKEFLAGS",
    "MFLAGS",
    "MAKELEVEL",
    "MAKEOVERRIDES",
    "MAKE_TERMOUT",
    "MAKE_TERMERR",
}


def _stop_if_missing(config: pytest.Config, nodeids: Iterable[str]) -> None:
    """Before the first test runs: one line that names what the machine lacks."""
    if config.stash.get(_CHECKED, False) or config.option.collectonly:
        return
    config.stash[_CHECKED] = True
    if problems := missing(nodeids):
        pytest.exit(
            f"missing: {'; '.join(problems)}",
            returncode=pytest.ExitCode.USAGE_ERROR,
        )


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--tier",
        choices=("quick", "full", "exhaustive"),
        default="full",
        help="quick: every combination rendered and checked without installing anything (two"
        " minutes, for everyday work); full: every combination installed, built, served and"
        " probed, its lint and own tests on a pairwise cover of the answers (what CI runs; the"
        " default); exhaustive: lint and own tests on every combination too (before a release)",
    )


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`: half again as many workers as cores. Two workers on two cores left the CPU
    idle 23 % of the run (drills waiting out a cut or a paced soak, servers starting, databases
    being created); a third fills it: 6 % idle, 655 s instead of 718 here."""
    cores = len(os.sched_getaffinity(0))
    return cores + max(1, cores // 2)


# Longest first: xdist hands out combinations in the order it collected them, and the last one
# a worker takes decides how long the other idles at the end. Express takes longest (npm, tsc,
# and the whole npm install for the first), then Django; server databases add the fault
# drills that SQLite skips. Then the update round trips (an install and a test run each, 5 to
# 35 s); the template's quick tests, many and short, fill the end. Within a framework, each
# database's first pooling comes before any database's second: Express projects of one database
# share one npm install, which the first worker to take one makes while the others wait for it,
# so the run's first three start two installs, not one (two workers idled ~15 s here).
FRAMEWORK_RANK = {"express": 0, "django": 1, "fastapi": 2}
POOLING_RANK = {pooling: rank for rank, pooling in enumerate(POOLINGS)}
COMBINATIONS_BY_ID = {combination.id: combination for combination in valid_combinations()}
_covering = functools.cache(covering)
_pairwise = functools.cache(lambda: frozenset(pairwise_per_framework()))


def _combination(item: pytest.Item) -> Combination | None:
    group = item.get_closest_marker("xdist_group")
    return COMBINATIONS_BY_ID.get(group.args[0]) if group else None


def _longest_first(item: pytest.Item) -> tuple[int, int, int, int]:
    combination = _combination(item)
    if combination is None:
        return (1, "test_update.py" not in item.nodeid, 0, 0)
    return (
        0,
        combination.database == "sqlite",
        FRAMEWORK_RANK.get(combination.framework, 0),
        POOLING_RANK[combination.pooling],
    )


def _covers(item: pytest.Item) -> bool:
    """False for a check that depends on fewer answers than a combination gives and whose
    answers another combination already covers (see `depends_on` in pyproject.toml)."""
    marker = item.get_closest_marker("depends_on")
    combination = _combination(item)
    if combination is None:
        return True
    if (brokers := item.get_closest_marker("broker")) and combination.broker not in brokers.args:
        return False
    if item.get_closest_marker("grpc") and not combination.grpc_enabled:
        return False
    if marker is None:
        return True
    if unknown := set(marker.args) - set(QUESTIONS):
        raise pytest.UsageError(f"{item.nodeid}: depends_on names no question: {unknown}")
    return combination in _covering(tuple(marker.args))


@pytest.hookimpl(trylast=True)  # after pytest has grouped the items by their fixtures' params
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test that needs an installed project is slow, whatever its module says; the quick
    tier leaves out every slow test (installs, live services, update round trips). A check
    that depends on some answers only runs once per distinct set of them; below the exhaustive
    tier, a `pairwise` one runs on `pairwise_per_framework()` only. The rest run
    longest combination first; a stable sort keeps each combination's tests in order."""
    for item in items:
        if "projects" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
    tier = config.getoption("tier")
    kept: list[pytest.Item] = []
    left_out: list[pytest.Item] = []
    for item in items:
        leave = (
            (tier == "quick" and item.get_closest_marker("slow"))
            or not _covers(item)
            or (
                tier == "full"
                and item.get_closest_marker("pairwise")
                and _combination(item) not in _pairwise()
            )
        )
        (left_out if leave else kept).append(item)
    if left_out:
        config.hook.pytest_deselected(items=left_out)
    items[:] = sorted(kept, key=_longest_first)


def pytest_collection_finish(session: pytest.Session) -> None:
    # xdist workers leave the check to their controller: an exit in a worker is a crash.
    if not hasattr(session.config, "workerinput"):
        _stop_if_missing(session.config, (item.nodeid for item in session.items))


# The tests whose `combination` parameter carries its xdist group (`combination_params`).
GROUPED_TESTS = ("tests/test_generated.py::", "tests/contract/")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node: Any, ids: list[str]) -> None:
    """Under xdist the controller collects nothing: it checks the first worker's collection,
    grouping included. xdist suffixes a grouped test's id with its group (`...]@<group>`),
    which keeps a combination on one worker, installed and served once."""
    if node.config.getoption("dist") == "loadgroup" and (
        ungrouped := [i for i in ids if i.startswith(GROUPED_TESTS) and "]@" not in i]
    ):
        pytest.exit(
            f"--dist loadgroup left {ungrouped[0]} out of its combination's group: every worker"
            " would install and serve every combination (pytest 9.2 with pytest-xdist 3.8,"
            " pytest-xdist#1386)",
            returncode=pytest.ExitCode.USAGE_ERROR,
        )
    _stop_if_missing(node.config, ids)


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This run's directory, the same for every worker (xdist gives each a directory in it)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if "PYTEST_XDIST_WORKER" in os.environ else base


@pytest.fixture(scope="session", params=valid_combinations(), ids=lambda c: c.id)
def rendered(
    request: pytest.FixtureRequest, copier_template: Path, run_dir: Path
) -> tuple[Combination, Path]:
    """Each combination rendered once per run, for every test that only reads the output: the
    first worker to need it renders it, the others wait for it and read the same files."""
    combination: Combination = request.param
    renders = run_dir / "rendered"
    renders.mkdir(exist_ok=True)
    destination = renders / combination.id
    with (renders / f"{combination.id}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not destination.exists():
            partial = renders / f"{combination.id}.partial"
            shutil.rmtree(partial, ignore_errors=True)
            copy_project(copier_template, partial, **answers(combination))
            partial.rename(destination)
    return combination, destination


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
        # `make test` runs pytest under make: its flags would make a project's own make print
        # "Entering directory" lines and share make's job server.
        and key not in MAKE_VARIABLES
    }
    env.pop("DATABASE_URL", None)
    # Machines that set this make every Python start compile its imports from source: 1.9 s
    # instead of 0.9 s for a FastAPI service here, paid by each of the dozen services the suite
    # starts per combination, and by each test and lint run.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env[NODE_PREBUILDS_SETTING] = str(NODE_PREBUILDS)
    # npm's network chatter about audits, funding and its own updates is noise here.
    for setting in ("audit", "fund", "update_notifier"):
        env[f"npm_config_{setting}"] = "false"
    return env


@pytest.fixture(scope="session")
def pgbouncer() -> Iterator[PgBouncer]:
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
    copier_template: Path,
    tmp_path_factory: pytest.TempPathFactory,
    tool_env: dict[str, str],
    run_dir: Path,
) -> Projects:
    return Projects(copier_template, tmp_path_factory.mktemp("projects"), tool_env, run_dir)
