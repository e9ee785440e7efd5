"""Contract: `make dev` serves with auto-reload and human-readable logs."""

import time

import pytest
from combinations import Combination
from support.blackbox import Service
from support.projects import Projects

# The reloader and the console logs are the framework's. `make dev` migrates the database as
# `make run` does, through the same code (`serve --migrate`; Express's `migrate` target), which
# every combination's contract service runs on a database it must create.
pytestmark = pytest.mark.depends_on("framework")


def test_make_dev_serves_readable_logs(
    combination: Combination, projects: Projects, service_env: dict[str, str], service: Service
) -> None:
    env = {key: value for key, value in service_env.items() if key != "APP_ENV"}
    dev = Service(
        projects.installed(combination), {**env, "APP_ENV": "development"}, "dev", command="dev"
    )
    try:
        dev.start()
        response = dev.client().get("/healthz", headers={"X-Request-ID": "dev-probe"})
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}
        # The request's log line is written once the response is out: give it a moment.
        deadline = time.monotonic() + 5
        while "dev-probe" not in dev.output() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        dev.kill()

    request_lines = [line for line in dev.output().splitlines() if "dev-probe" in line]
    assert request_lines, dev.output()[-2000:]
    assert not request_lines[0].lstrip().startswith("{"), "development logs are for people"
