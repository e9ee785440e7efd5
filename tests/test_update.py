"""`copier update` as users live it: copy an older release, commit, edit, update to the newest.

The older release is made here: the current template with a small, known difference, tagged
1.0.0 in a throw-away repository; the current template is tagged 1.1.0 on top of it.
"""

from __future__ import annotations

import filecmp
import shutil
import subprocess
from pathlib import Path

import pytest
from combinations import FRAMEWORKS
from copier import run_copy, run_update
from support.commands import own_tests, run
from support.projects import ROOT, Projects

# Round trips through releases take a minute or more per framework: the full tier's.
pytestmark = [
    pytest.mark.filterwarnings("ignore::copier.errors.DirtyLocalWarning"),
    pytest.mark.slow,
]

# The change 1.0.0 -> 1.1.0 that the updates bring: a line of the generated .env.example,
# whose text is in extensions/combinations.py.
OLD_HELP = "Larger request bodies get 413."
NEW_HELP = "Larger request bodies are refused with 413 before they are read."
OLD_LINE = f"# {OLD_HELP}"
NEW_LINE = f"# {NEW_HELP}"
README_EDIT = "Our team's notes: deploys go through the blue pipeline.\n"
USER_MODULE = {
    "fastapi": "src/my_service/routers/reports.py",
    "django": "src/my_service/reports.py",
    "express": "src/reports.ts",
}
PYTHON_MODULE = '"""Reports: the team\'s own code."""\n\nREPORT_KINDS = ("daily",)\n'
USER_CODE = {
    "fastapi": PYTHON_MODULE,
    "django": PYTHON_MODULE,
    "express": '// Reports: the team\'s own code.\nexport const REPORT_KINDS = ["daily"];\n',
}
# What each framework's dependencies live in: an answer change rewrites it.
MANIFEST = {"fastapi": "pyproject.toml", "django": "pyproject.toml", "express": "package.json"}


def git(cwd: Path, *args: str) -> str:
    return run(["git", *args], cwd=cwd)


def commit_all(repository: Path, message: str) -> None:
    git(repository, "add", "-A")
    git(repository, "commit", "-q", "-m", message)


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A template repository with releases 1.0.0 and 1.1.0."""
    repository = tmp_path_factory.mktemp("template-releases")
    for name in ("copier.yml", "template", "extensions"):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, repository / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, repository / name)
    settings = repository / "extensions" / "combinations.py"
    current = settings.read_text()
    assert OLD_HELP in current
    git(repository, "init", "-q")
    commit_all(repository, "release 1.0.0")
    git(repository, "tag", "1.0.0")
    settings.write_text(current.replace(OLD_HELP, NEW_HELP))
    commit_all(repository, "release 1.1.0: clearer MAX_BODY_BYTES help")
    git(repository, "tag", "1.1.0")
    return repository


def copy(releases: Path, destination: Path, version: str, **answers: str) -> Path:
    run_copy(
        str(releases),
        destination,
        data=answers,
        defaults=True,
        unsafe=True,
        quiet=True,
        vcs_ref=version,
    )
    return destination


def update(project: Path, *, conflict: str = "inline", **answers: str) -> None:
    run_update(
        project,
        data=answers,
        defaults=True,
        unsafe=True,
        quiet=True,
        overwrite=True,
        vcs_ref="1.1.0",
        conflict=conflict,  # type: ignore[arg-type]
    )


def start_project(releases: Path, destination: Path, **answers: str) -> Path:
    project = copy(releases, destination, "1.0.0", **answers)
    git(project, "init", "-q")
    commit_all(project, "generated from 1.0.0")
    return project


def user_edits(project: Path, framework: str) -> None:
    """Typical edits: a new module, a README line, a local setting."""
    module = project / USER_MODULE[framework]
    module.write_text(USER_CODE[framework])
    readme = project / "README.md"
    readme.write_text(readme.read_text() + "\n" + README_EDIT)
    env = project / ".env"
    env.write_text(env.read_text() + "LOG_LEVEL=debug\n")
    commit_all(project, "our changes")


def tracked_files(project: Path) -> list[Path]:
    """What git tracks and is still there: an update deletes the files it no longer renders
    (a module that moved) and leaves committing that to the user."""
    return [path for name in git(project, "ls-files").split() if (path := project / name).exists()]


def differing_files(left: Path, right: Path) -> set[str]:
    """Paths whose content differs, or that exist on one side only (git metadata aside)."""
    ignored = {".git", ".venv", "__pycache__", "node_modules"}
    differences: set[str] = set()

    def walk(comparison: filecmp.dircmp[str], prefix: str) -> None:
        for name in comparison.left_only + comparison.right_only + comparison.diff_files:
            if name not in ignored:
                differences.add(prefix + name)
        for name, sub in comparison.subdirs.items():
            if name not in ignored:
                walk(sub, f"{prefix}{name}/")

    walk(filecmp.dircmp(left, right, ignore=list(ignored)), "")
    return differences


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_update_keeps_user_edits_and_applies_the_release(
    releases: Path, tmp_path: Path, framework: str
) -> None:
    project = start_project(releases, tmp_path / "service", framework=framework)
    secret = (project / ".env").read_text()
    user_edits(project, framework)

    update(project)

    assert NEW_LINE in (project / ".env.example").read_text()
    assert README_EDIT in (project / "README.md").read_text()
    assert (project / USER_MODULE[framework]).exists()
    assert (project / ".env").read_text() == secret + "LOG_LEVEL=debug\n"  # never regenerated
    assert "_commit: 1.1.0" in (project / ".copier-answers.yml").read_text()
    assert not [path for path in tracked_files(project) if "<<<<<<<" in path.read_text()]
    assert not list(project.rglob("*.rej"))
    # Apart from the user's edits, the project is what a fresh copy of 1.1.0 gives.
    fresh = copy(releases, tmp_path / "fresh", "1.1.0", framework=framework)
    assert differing_files(project, fresh) == {
        ".env",
        "README.md",
        USER_MODULE[framework],
    }


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_updated_project_still_passes_its_tests(
    releases: Path, tmp_path: Path, framework: str, projects: Projects
) -> None:
    project = start_project(releases, tmp_path / "service", framework=framework)
    user_edits(project, framework)
    update(project)

    projects.install(project, framework)
    output = own_tests(project, projects.env)

    assert " passed" in output


@pytest.mark.parametrize(("conflict", "marker"), [("inline", "<<<<<<<"), ("rej", None)])
def test_a_real_conflict_is_shown(
    releases: Path, tmp_path: Path, conflict: str, marker: str | None
) -> None:
    project = start_project(releases, tmp_path / "service")
    env_example = project / ".env.example"
    env_example.write_text(env_example.read_text().replace(OLD_LINE, "# Our own wording."))
    commit_all(project, "our wording")

    update(project, conflict=conflict)

    text = env_example.read_text()
    if marker:
        assert marker in text
        assert "# Our own wording." in text
        assert NEW_LINE in text
    else:
        # The release's line is in place; the user's change waits in the .rej file.
        assert NEW_LINE in text
        rejected = project / ".env.example.rej"
        assert rejected.exists()
        assert "# Our own wording." in rejected.read_text()


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_changing_an_answer_adds_and_removes_files(
    releases: Path, tmp_path: Path, framework: str
) -> None:
    project = start_project(releases, tmp_path / "service", framework=framework)

    update(project, database="postgresql", pooling="pgbouncer")

    answers = (project / ".copier-answers.yml").read_text()
    assert "database: postgresql" in answers
    assert "pooling: pgbouncer" in answers
    fresh = copy(
        releases,
        tmp_path / "fresh",
        "1.1.0",
        framework=framework,
        database="postgresql",
        pooling="pgbouncer",
    )
    assert differing_files(project, fresh) == {".env"}  # the user's own, with its secret
    git(project, "add", "-A")
    removed_and_added = subprocess.run(
        ["git", "diff", "--cached", "--stat"],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert MANIFEST[framework] in removed_and_added


# The last commits of the template before the WebSocket and the gRPC questions: a project
# generated from one has no answer to the question that came after it.
BEFORE_WEBSOCKET = "41fa27c"
BEFORE_GRPC = "c7de9d6"


def releases_since(base: Path, before: str, feature: str) -> Path:
    """A template repository whose 1.0.0 is the template at `before` and whose 1.1.0 is the
    current one, which adds `feature`."""
    repository = base / f"{feature}-releases"
    repository.mkdir()
    archive = subprocess.run(
        ["git", "archive", before, "copier.yml", "template", "extensions"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(repository)], input=archive, check=True)
    git(repository, "init", "-q")
    commit_all(repository, f"release 1.0.0: before {feature}")
    git(repository, "tag", "1.0.0")
    for name in ("copier.yml", "template", "extensions"):
        target = repository / name
        shutil.rmtree(target) if target.is_dir() else target.unlink()
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, target)
    commit_all(repository, f"release 1.1.0: {feature}")
    git(repository, "tag", "1.1.0")
    return repository


@pytest.fixture(scope="module")
def websocket_releases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return releases_since(tmp_path_factory.mktemp("releases"), BEFORE_WEBSOCKET, "WebSocket")


@pytest.fixture(scope="module")
def grpc_releases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return releases_since(tmp_path_factory.mktemp("releases"), BEFORE_GRPC, "gRPC")


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_an_update_turns_websocket_on(
    websocket_releases: Path, tmp_path: Path, framework: str
) -> None:
    """From the release before WebSocket, an update that answers yes (Redis broker) gives
    what a fresh copy with those answers gives, the user's edits kept."""
    project = start_project(websocket_releases, tmp_path / "service", framework=framework)
    user_edits(project, framework)

    update(project, websocket="true", websocket_broker="redis")

    answers = (project / ".copier-answers.yml").read_text()
    assert "websocket: true" in answers
    assert "websocket_broker: redis" in answers
    assert not [path for path in tracked_files(project) if "<<<<<<<" in path.read_text()]
    fresh = copy(
        websocket_releases,
        tmp_path / "fresh",
        "1.1.0",
        framework=framework,
        websocket="true",
        websocket_broker="redis",
    )
    assert differing_files(project, fresh) == {".env", "README.md", USER_MODULE[framework]}


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_an_update_turns_grpc_on(grpc_releases: Path, tmp_path: Path, framework: str) -> None:
    """From the release before gRPC, a service with WebSocket answers yes to gRPC: it gets
    what a fresh copy with those answers gets (the hub it already had now also carries
    watches), the user's edits kept."""
    project = start_project(
        grpc_releases,
        tmp_path / "service",
        framework=framework,
        websocket="true",
        websocket_broker="memory",
    )
    user_edits(project, framework)

    update(project, grpc="true")

    assert "grpc: true" in (project / ".copier-answers.yml").read_text()
    assert not [path for path in tracked_files(project) if "<<<<<<<" in path.read_text()]
    fresh = copy(
        grpc_releases,
        tmp_path / "fresh",
        "1.1.0",
        framework=framework,
        websocket="true",
        websocket_broker="memory",
        grpc="true",
    )
    assert differing_files(project, fresh) == {".env", "README.md", USER_MODULE[framework]}
    assert (project / "proto" / "tasks" / "v1" / "tasks.proto").exists()
