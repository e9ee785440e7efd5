"""Every valid combination renders cleanly, and a disabled feature leaves no trace."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from combinations import Combination
from support.projects import JINJA_TAG, copy_project

pytestmark = pytest.mark.filterwarnings("ignore::copier.errors.DirtyLocalWarning")

TEMPLATE = Path(__file__).parent.parent / "template"
# Characters Windows refuses in a file name, and the names it reserves.
NOT_PORTABLE = re.compile(r'[<>:"|?*\\\x00-\x1f]|[. ]$')
WINDOWS_RESERVED = re.compile(r"^(CON|PRN|AUX|NUL|COM\d|LPT\d)(\..*)?$", re.IGNORECASE)
# A template tests the derived names of extensions/combinations.py, never a raw answer.
RAW_ANSWER_TEST = re.compile(
    r"\b(framework|database|pooling|websocket_broker)\s*(==|!=|\bin\b)|\bif\s+(not\s+)?websocket\b"
)

# Jinja's delimiters as templates use them (Python's `}}` closing nested dicts is fine).
JINJA_LEFTOVER = re.compile(r"\{\{-?\s*[\w(]|\{%-?\s|\s-?%\}|\{#")
# What each answer brings; a project without that answer must not mention it.
TRACES = {
    "postgresql": ("asyncpg", "postgresql://", "PostgreSQL"),
    "mysql": ("asyncmy", "mysql://", "MariaDB"),
    "pgbouncer": ("PgBouncer", "statement_cache_size"),
    "app-pool": ("DB_POOL_SIZE", "pool_pre_ping", "pool_size"),
    # Not the word WebSocket: every Python service drops uvicorn's lines about upgrade requests.
    "websocket": ("/ws", "broadcast"),
    # Not the word redis: a memory-broker README says how to switch to it.
    "redis": ("REDIS_", "ioredis", "redis.asyncio", '"redis>='),
    "grpc": ("grpc", "gRPC", "GRPC_", "tasks.v1"),
}


def traces_expected(combination: Combination) -> set[str]:
    expected = {combination.database}
    if combination.pooling == "pgbouncer":
        expected.add("pgbouncer")
    if combination.pooling == "app":
        expected.add("app-pool")
    if combination.broker:
        expected.add("websocket")
    if combination.grpc_enabled:
        expected.add("grpc")
    if combination.broker == "redis":
        expected.add("redis")
    return expected


def files(project: Path) -> list[Path]:
    return sorted(
        path for path in project.rglob("*") if path.is_file() and ".git" not in path.parts
    )


def portability_problems(relative: str) -> list[str]:
    return [
        part
        for part in relative.split("/")
        if NOT_PORTABLE.search(part) or WINDOWS_RESERVED.match(part)
    ]


def test_template_paths_are_portable() -> None:
    """Copier renders names from the template's own paths, so both must be valid everywhere."""
    relative = [str(path.relative_to(TEMPLATE)) for path in TEMPLATE.rglob("*")]
    assert [path for path in relative if portability_problems(path)] == []


def test_templates_test_derived_names_only() -> None:
    found = []
    for path in TEMPLATE.rglob("*"):
        sources = [str(path.relative_to(TEMPLATE))]
        if path.is_file() and path.suffix == ".jinja":
            sources.append(path.read_text())
        for source in sources:
            found += [
                f"{path.relative_to(TEMPLATE)}: {tag}"
                for tag in JINJA_TAG.findall(source)
                if RAW_ANSWER_TEST.search(tag)
            ]
    assert found == []


def test_rendered_paths_are_portable(rendered: tuple[Combination, Path]) -> None:
    _, project = rendered
    relative = [str(path.relative_to(project)) for path in files(project)]
    assert [path for path in relative if portability_problems(path)] == []


def test_no_jinja_is_left_in_paths_or_text(rendered: tuple[Combination, Path]) -> None:
    _, project = rendered
    for path in files(project):
        relative = str(path.relative_to(project))
        assert not JINJA_LEFTOVER.search(relative), relative
        assert not relative.endswith(".jinja"), relative
        if path.name == "script.py.mako" or "templates" in path.parts:
            continue  # Alembic's and Django's own template languages, on purpose
        assert not JINJA_LEFTOVER.search(path.read_text()), relative


def test_python_is_formatted(rendered: tuple[Combination, Path]) -> None:
    """ruff's formatter over the rendered Python, with the project's own settings: a Jinja
    slip that leaves a stray blank line or indent fails here, without installing anything."""
    _, project = rendered
    if not any(project.rglob("*.py")):
        return
    checked = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--no-cache", "--check", "--diff", "."],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_no_empty_files(rendered: tuple[Combination, Path]) -> None:
    _, project = rendered
    assert [str(p.relative_to(project)) for p in files(project) if not p.read_text().strip()] == []


def test_template_internals_stay_behind(rendered: tuple[Combination, Path]) -> None:
    _, project = rendered
    names = {path.name for path in files(project)} | {
        path.name for path in project.rglob("*") if path.is_dir()
    }
    assert not names & {"_partials", "copier.yml", "extensions", "__pycache__"}


def test_disabled_features_leave_no_trace(rendered: tuple[Combination, Path]) -> None:
    combination, project = rendered
    text = "\n".join(
        path.read_text() for path in files(project) if path.name != ".copier-answers.yml"
    )
    for feature, words in TRACES.items():
        present = {word for word in words if word in text}
        if feature in traces_expected(combination):
            assert present, f"{feature} expected in {combination.id}"
        else:
            assert not present, f"{combination.id} mentions {present} of {feature}"


def test_framework_specific_files(rendered: tuple[Combination, Path]) -> None:
    combination, project = rendered
    expected = {
        "fastapi": ["alembic.ini", "src/my_service/main.py", "migrations/env.py"],
        "django": ["manage.py", "src/config/settings.py", "src/my_service/tasks/models.py"],
        "express": ["package.json", "src/app.ts", "src/db/migrations", "vitest.config.ts"],
    }
    for framework, paths in expected.items():
        for path in paths:
            assert (project / path).exists() == (framework == combination.framework), path
    databases_helper = project / "tests" / "databases.py"
    assert databases_helper.exists() == (
        combination.framework == "fastapi" and combination.database != "sqlite"
    )


def test_answers_file_records_answers_not_secrets(rendered: tuple[Combination, Path]) -> None:
    combination, project = rendered
    recorded = yaml.safe_load((project / ".copier-answers.yml").read_text())

    assert {key: recorded.get(key) for key in ("framework", "database")} == {
        "framework": combination.framework,
        "database": combination.database,
    }
    assert recorded.get("pooling") == (
        None if combination.database == "sqlite" else combination.pooling
    )
    assert {"_commit", "_src_path"} <= set(recorded)
    assert not {"jwt_secret", "python_package", "uses_pool"} & set(recorded)


def test_the_secret_is_in_dot_env_only(rendered: tuple[Combination, Path]) -> None:
    _, project = rendered
    secret = re.search(r"^JWT_SECRET=(.+)$", (project / ".env").read_text(), re.MULTILINE)

    assert secret
    assert len(secret.group(1)) >= 48
    assert ".env" in (project / ".gitignore").read_text().splitlines()
    for path in files(project):
        if path.name != ".env":
            assert secret.group(1) not in path.read_text(), path


def test_each_copy_gets_its_own_secret(copier_template: Path, tmp_path: Path) -> None:
    secrets = set()
    for name in ("one", "two"):
        copy_project(copier_template, tmp_path / name)
        secrets.add((tmp_path / name / ".env").read_text())

    assert len(secrets) == 2
