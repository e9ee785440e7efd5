"""Once through the real `copier` command line, as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

COPIER = [sys.executable, "-m", "copier"]


def copier(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COPIER, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def test_without_trust_copier_explains_why(copier_template: Path, tmp_path: Path) -> None:
    result = copier("copy", "--defaults", str(copier_template), str(tmp_path / "svc"))

    assert result.returncode != 0
    assert "--trust" in result.stderr
    assert "jinja_extensions" in result.stderr
    assert not (tmp_path / "svc").exists() or not any((tmp_path / "svc").iterdir())


def test_with_trust_the_default_service_is_generated(copier_template: Path, tmp_path: Path) -> None:
    result = copier("copy", "--trust", "--defaults", str(copier_template), str(tmp_path / "svc"))

    assert result.returncode == 0, result.stderr
    assert "make install" in result.stdout + result.stderr  # the message after copy
    project = tmp_path / "svc"
    assert (project / "src" / "my_service" / "main.py").exists()
    assert "database: sqlite" in (project / ".copier-answers.yml").read_text()
