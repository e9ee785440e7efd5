"""Answers, rendered projects, and projects installed once per combination and worker."""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import reporting
from combinations import Combination, given_answers, valid_combinations
from copier import run_copy

from support.commands import run
from support.node import ensure_node_prebuilds, shared_node_modules

ROOT = Path(__file__).resolve().parents[2]
# A Jinja tag or expression in a template's name or text.
JINJA_TAG = re.compile(r"\{%.*?%\}|\{\{.*?\}\}", re.DOTALL)
COMBINATIONS = valid_combinations()


def combination_params(combinations: list[Combination] = COMBINATIONS) -> list[object]:
    """One param per combination; its tests share a worker, so its project is built once."""
    return [
        pytest.param(combination, id=combination.id, marks=pytest.mark.xdist_group(combination.id))
        for combination in combinations
    ]


def answers(combination: Combination, **extra: str) -> dict[str, str]:
    return {**given_answers(combination), **extra}


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


class Projects:
    """Generated projects, rendered and installed once per combination and worker."""

    def __init__(self, template: Path, workdir: Path, env: dict[str, str], shared: Path) -> None:
        self.template = template
        self.workdir = workdir
        self.env = env
        self.shared = shared  # this run's, for every worker: installs they share
        self._installed: dict[Combination, Path] = {}

    @contextlib.contextmanager
    def lint_env(self, combination: Combination) -> Iterator[dict[str, str]]:
        """The environment for `make lint`: one mypy cache for this worker's projects of a
        framework. Their third-party modules are the same files, checked once (a FastAPI
        project's mypy: 14 s cold, 2 s after another's here); their own modules differ by hash
        and are checked each time. Per worker, as mypy's cache is not for concurrent runs; the
        first worker to lint a framework leaves a copy that the others start from, so a run
        checks each framework's dependencies once, not once per worker (~6 CPU-s each)."""
        cache = self.workdir / f"mypy-cache-{combination.framework}"
        seed = self.shared / f"mypy-cache-{combination.framework}"
        if not cache.exists() and seed.exists():
            shutil.copytree(seed, cache)
        yield {**self.env, "MYPY_CACHE_DIR": str(cache)}
        if cache.exists() and not seed.exists():
            partial = Path(tempfile.mkdtemp(prefix=f"{seed.name}-", dir=self.shared))
            shutil.copytree(cache, partial, dirs_exist_ok=True)
            with contextlib.suppress(OSError):  # another worker's copy got there first
                partial.rename(seed)
            shutil.rmtree(partial, ignore_errors=True)

    def render(self, combination: Combination, destination: Path) -> Path:
        return copy_project(self.template, destination, **answers(combination))

    def install(self, project: Path, framework: str) -> None:
        """`make install` in a generated project, an Express one from the run's shared trees."""
        if framework == "express":
            ensure_node_prebuilds(project, self.env)
            with shared_node_modules(project, self.shared / "node-modules"):
                run(["make", "install"], cwd=project, env=self.env)
        else:
            run(["make", "install"], cwd=project, env=self.env)

    def installed(self, combination: Combination) -> Path:
        if combination not in self._installed:
            started = time.monotonic()
            project = self.render(combination, self.workdir / combination.id)
            self.install(project, combination.framework)
            reporting.record(combination.id, "install", time.monotonic() - started)
            self._installed[combination] = project
        return self._installed[combination]
