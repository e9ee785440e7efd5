"""Contract: `/docs` renders in a real browser with no network, under the service's own
Content-Security-Policy (Debian's headless Chromium; nothing is fetched from outside)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile

import pytest
from support.blackbox import Service

pytestmark = [pytest.mark.slow, pytest.mark.depends_on("framework")]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Headless, offline and quiet: no background connections the closed network would refuse.
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-extensions", "--enable-logging=stderr", "--v=0", "--virtual-time-budget=15000",
]  # fmt: skip


def render(url: str) -> subprocess.CompletedProcess[str]:
    """The DOM after the page's scripts ran, and what the browser logged meanwhile."""
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        return subprocess.run(
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", url],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


def test_docs_render_offline_under_the_csp(service: Service) -> None:
    if not shutil.which(CHROMIUM):
        pytest.fail("chromium is not installed: .ci/run installs Debian's chromium package")
    policy = service.client().get("/docs").headers.get("content-security-policy", "")

    page = render(f"{service.base_url}/docs")

    assert page.returncode == 0, page.stderr[-4000:]
    assert "default-src 'none'" in policy
    # Swagger UI built its operation list from /openapi.json: the page's scripts all ran.
    assert "opblock-summary-path" in page.stdout, page.stdout[-4000:] + page.stderr[-4000:]
    assert "/api/v1/tasks" in page.stdout
    refused = [
        line
        for line in page.stderr.splitlines()
        if "Content Security Policy" in line or "Refused to" in line or "net::ERR_" in line
    ]
    assert not refused, "\n".join(refused)
