"""Where the suite's time goes: combination by stage, with pass/fail and seconds.

A pytest plugin (loaded with `-p reporting`). Every test phase is filed under its combination
(the `[fastapi-sqlite-none]` part of its id, `-` for tests of the template itself) and a stage:
render, setup (install, database, server start: whatever session fixtures do first), lint, test
(the project's own), contract, faults, update, template (the rest). Installs are also recorded
on their own through `record()`. xdist hands every test report to the controller; what workers
`record()` they write as parts, which the controller merges into `.reports/matrix.json` and
`.reports/matrix.md` before it prints a summary at the end of the run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from combinations import FRAMEWORKS, valid_combinations

REPORTS = Path(__file__).parent.parent / ".reports"
PARTS = REPORTS / "parts"
# A test id's combination: `[<id>]` or `[<id>-<more params>]`, the longest id first.
COMBINATION_ID = re.compile(
    r"\[("
    + "|".join(re.escape(c.id) for c in sorted(valid_combinations(), key=lambda c: -len(c.id)))
    + "|"
    + "|".join(FRAMEWORKS)
    + r")[-\]]"
)
STAGES = ("render", "setup", "install", "lint", "test", "contract", "faults", "update", "template")

_rows: list[dict[str, Any]] = []
_is_worker = False
# When each worker ran each combination (epoch seconds of its first start and last stop): how
# well the workers were kept busy, and what one idle worker cost at the end.
_spans: dict[tuple[str, str], list[float]] = {}
# Per check (a test function, whatever its parameters): seconds in all its phases, and runs.
_checks: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])


def record(combination: str, stage: str, seconds: float, *, passed: bool = True) -> None:
    """Files time spent outside a test phase's own accounting (e.g. one install)."""
    _rows.append({"combination": combination, "stage": stage, "seconds": seconds, "passed": passed})


def _stage(nodeid: str, when: str) -> str:
    module = nodeid.split("::")[0]
    if module.endswith(("test_render.py", "test_questions.py")):
        return "render"
    if when != "call":
        return "setup"
    if module.endswith("test_generated.py"):
        return "lint" if "test_lint" in nodeid else "test"
    if module.endswith("test_faults.py"):
        return "faults"
    if "/contract/" in module:
        return "contract"
    if module.endswith("test_update.py"):
        return "update"
    return "template"


def _parts() -> Path:
    """This run's parts: xdist workers are children of the run's controller, so two runs in
    one checkout do not mix."""
    run = os.getppid() if "PYTEST_XDIST_WORKER" in os.environ else os.getpid()
    return PARTS / str(run)


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def pytest_configure(config: pytest.Config) -> None:
    global _is_worker  # one process, one role
    _is_worker = hasattr(config, "workerinput")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if _is_worker:
        return  # the controller gets this report too
    if report.when == "teardown" and report.duration < 0.05 and report.passed:
        return  # nothing to see
    found = COMBINATION_ID.search(report.nodeid)
    gateway = getattr(getattr(report, "node", None), "gateway", None)
    key = (gateway.id if gateway else "main", found.group(1) if found else "-")
    stage = _stage(report.nodeid, report.when)
    # Quick checks of a rendered combination go to any worker, last: the template's time, not
    # the end of that combination's span (their setup phase, which renders, included).
    quick = _stage(report.nodeid, "call") in ("render", "template")
    span_key = (key[0], "-") if quick else key
    span = _spans.setdefault(span_key, [report.start, report.stop])
    span[0], span[1] = min(span[0], report.start), max(span[1], report.stop)
    check = _checks[report.nodeid.split("[")[0]]
    check[0] += report.duration
    check[1] += report.when == "call"
    record(
        key[1],
        stage,
        report.duration,
        passed=not report.failed,
    )


def pytest_sessionstart(session: pytest.Session) -> None:
    if not hasattr(session.config, "workerinput"):  # the controller, or a run without xdist
        shutil.rmtree(_parts(), ignore_errors=True)
        session.config.stash[_started] = time.monotonic()


_started = pytest.StashKey[float]()


def pytest_sessionfinish(session: pytest.Session) -> None:
    if not _rows:
        return
    _parts().mkdir(parents=True, exist_ok=True)
    (_parts() / f"{_worker()}.json").write_text(json.dumps(_rows))


def _merge() -> tuple[dict[tuple[str, str], dict[str, Any]], list[dict[str, Any]]]:
    parts = sorted(_parts().glob("*.json"))
    rows = [row for part in parts for row in json.loads(part.read_text())]
    cells: dict[tuple[str, str], dict[str, Any]] = defaultdict(
        lambda: {"seconds": 0.0, "failed": 0, "count": 0}
    )
    for row in rows:
        cell = cells[(row["combination"], row["stage"])]
        cell["seconds"] += row["seconds"]
        cell["count"] += 1
        cell["failed"] += not row["passed"]
    return cells, rows


def _schedule() -> dict[str, dict[str, Any]]:
    """Per worker: when it finished its last test, and when it ran each combination (seconds
    from the first test's start)."""
    if not _spans:
        return {}
    origin = min(start for start, _ in _spans.values())
    workers: dict[str, dict[str, Any]] = {}
    for (worker, combination), (start, stop) in sorted(_spans.items(), key=lambda i: i[1][0]):
        entry = workers.setdefault(worker, {"until": 0.0, "combinations": []})
        entry["until"] = max(entry["until"], stop - origin)
        entry["combinations"].append(
            {"combination": combination, "from": start - origin, "to": stop - origin}
        )
    return dict(sorted(workers.items()))


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if hasattr(config, "workerinput") or _started not in config.stash:
        return
    cells, _ = _merge()
    shutil.rmtree(_parts(), ignore_errors=True)
    if not cells:
        return
    wall = time.monotonic() - config.stash[_started]
    combinations = sorted({combination for combination, _ in cells})
    stages = [s for s in STAGES if any(stage == s for _, stage in cells)]
    header = "| combination | " + " | ".join(stages) + " | total |"
    lines = [header, "|" + " --- |" * (len(stages) + 2)]
    for combination in combinations:
        row, total = [], 0.0
        for stage in stages:
            cell = cells.get((combination, stage))
            if cell is None:
                row.append("")
                continue
            total += cell["seconds"]
            mark = f" ✗{cell['failed']}" if cell["failed"] else ""
            row.append(f"{cell['seconds']:.0f}{mark}")
        lines.append(f"| {combination} | " + " | ".join(row) + f" | {total:.0f} |")
    per_stage = {
        stage: sum(c["seconds"] for (_, s), c in cells.items() if s == stage) for stage in stages
    }
    # Installs happen inside setup phases: shown on their own, counted once.
    worker_seconds = sum(seconds for stage, seconds in per_stage.items() if stage != "install")
    failed = [f"{c} / {s}" for (c, s), cell in sorted(cells.items()) if cell["failed"]]
    schedule = _schedule()
    checks = sorted(_checks.items(), key=lambda item: -item[1][0])
    summary = [
        f"wall {wall:.0f} s; {worker_seconds:.0f} worker-seconds in test phases",
        "worker-seconds per stage: "
        + ", ".join(f"{stage} {seconds:.0f}" for stage, seconds in per_stage.items()),
        "workers busy until: "
        + ", ".join(f"{worker} {span['until']:.0f} s" for worker, span in schedule.items()),
        "slowest checks (seconds in all runs / runs): "
        + ", ".join(f"{name.split('::')[-1]} {sec:.0f}/{runs}" for name, (sec, runs) in checks[:6]),
        "failed: " + (", ".join(failed) if failed else "none"),
    ]
    REPORTS.mkdir(exist_ok=True)
    (REPORTS / "matrix.md").write_text(
        "# Test matrix: seconds per combination and stage (✗n: failed phases)\n\n"
        + "\n".join(lines)
        + "\n\n"
        + "\n".join(f"- {line}" for line in summary)
        + "\n"
    )
    (REPORTS / "matrix.json").write_text(
        json.dumps(
            {
                "wall_seconds": wall,
                "stages": per_stage,
                "workers": schedule,
                "checks": [
                    {"check": name, "seconds": seconds, "runs": runs}
                    for name, (seconds, runs) in checks
                ],
                "cells": [
                    {"combination": c, "stage": s, **cell} for (c, s), cell in sorted(cells.items())
                ],
            },
            indent=2,
        )
    )
    terminalreporter.section("where the time went (.reports/matrix.md)")
    for line in [*lines, "", *summary]:
        terminalreporter.write_line(line)
