"""Benchmark: generated services against hand-written references, reading and creating tasks.

    make bench                                   # PostgreSQL, every pooling, three frameworks
    make bench BENCH_ARGS='--frameworks fastapi --databases postgresql,sqlite --passes 3'

Renders each chosen combination (or reuses `--workdir`'s installs), starts it with `make run`
and production settings, one server process (`WEB_CONCURRENCY=1`), signs a user up and creates
`--tasks` tasks through the API, then drives it with wrk (`-t1 -c<concurrency>`): authenticated
`GET /api/v1/tasks/{id}` over those tasks, then `POST /api/v1/tasks`. Beside them run two
references kept in bench/reference/, the same read and insert by hand with no auth, logs or
middleware: "A", Starlette on asyncpg (uvloop, httptools), and "E", Express 5 on pg, both on
PostgreSQL with a 10-connection pool. Every pass starts each service afresh, in the opposite order
to the pass before, and reports req/s, p50/p99, errors, the server's CPU per request (its whole
process tree, from /proc), its resident memory after the run and the seconds from `make run` to
its first `/healthz`; ratios to the references are taken within the same pass.

Prints a Markdown table; writes it and every pass's figures as JSON to `--out` (.reports/bench.*).
Not a test: figures depend on the machine. README.md records what they were here.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "extensions")]

import httpx  # noqa: E402
from combinations import (  # noqa: E402
    DATABASES,
    FRAMEWORKS,
    POOLINGS,
    Combination,
    given_answers,
    valid_combinations,
)
from faults import process_tree, tree_rss_kib  # noqa: E402
from support.blackbox import PASSWORD, Service, sign_up  # noqa: E402
from support.commands import free_port, wait_for_port  # noqa: E402
from support.databases import MYSQL, POSTGRES  # noqa: E402
from support.node import NODE_PREBUILDS, NODE_PREBUILDS_SETTING, ensure_node_prebuilds  # noqa: E402
from support.pgbouncer import PgBouncer  # noqa: E402
from support.projects import copy_project  # noqa: E402

REFERENCES = ROOT / "bench" / "reference"
WORKLOADS = ("read", "write")
WARMUP_S = 2
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
TIMES, DASH = "\u00d7", "\u2013"  # the table's multiplication sign and range dash
REFERENCE_SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    id serial PRIMARY KEY,
    owner_id integer NOT NULL,
    title varchar(200) NOT NULL,
    description text,
    status varchar(16) NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS tasks_owner_id ON tasks (owner_id);
"""


@dataclass
class Measured:
    """One wrk run against one service."""

    service: str
    workload: str
    passed: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_ms_per_request: float
    rss_mb: float
    start_s: float


@dataclass
class Running:
    base_url: str
    root_pid: int
    start_s: float
    token: str | None
    task_ids: list[int] = field(default_factory=list)


def _cpu_seconds(root: int) -> float:
    """User and system CPU of the process tree under `root` (children it has waited for too)."""
    ticks = 0
    for pid in process_tree(root):
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return ticks / CLOCK_TICKS


def _wrk_script(workload: str, running: Running) -> str:
    lines = []
    if running.token:
        lines.append(f'wrk.headers["Authorization"] = "Bearer {running.token}"')
    if workload == "read":  # a random one of the seeded tasks per request
        lines.append(f"local ids = {{{','.join(map(str, running.task_ids))}}}")
        lines.append(
            'request = function() return wrk.format("GET", "/api/v1/tasks/"'
            " .. ids[math.random(#ids)]) end"
        )
    else:
        lines += [
            'wrk.method = "POST"',
            'wrk.path = "/api/v1/tasks"',
            'wrk.headers["Content-Type"] = "application/json"',
            'wrk.body = \'{"title": "benchmarked", "description": "one of many"}\'',
        ]
    return "\n".join(lines) + "\n"


def _wrk(running: Running, workload: str, concurrency: int, duration: int) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_wrk_script(workload, running))
    base = ["wrk", "-t1", f"-c{concurrency}", "--latency", "-s", script.name]
    try:
        subprocess.run([*base, f"-d{WARMUP_S}s", running.base_url], check=True, capture_output=True)
        cpu_before = _cpu_seconds(running.root_pid)
        output = subprocess.run(
            [*base, f"-d{duration}s", running.base_url], check=True, capture_output=True, text=True
        ).stdout
        cpu = _cpu_seconds(running.root_pid) - cpu_before
    finally:
        os.unlink(script.name)
    requests = int(_found(r"(\d+) requests in", output))
    rate = float(_found(r"Requests/sec:\s+([\d.]+)", output))
    errors = int(_found(r"Non-2xx or 3xx responses: (\d+)", output, "0"))
    if sockets := re.search(r"connect (\d+), read (\d+), write (\d+), timeout (\d+)", output):
        errors += sum(map(int, sockets.groups()))
    units = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    percentiles = {}
    for share in (50, 99):
        found = re.search(rf"^\s+{share}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
        assert found, output
        percentiles[share] = float(found.group(1)) * units[found.group(2)]
    return {
        "requests_per_s": rate,
        "p50_ms": percentiles[50],
        "p99_ms": percentiles[99],
        "errors": errors,
        "cpu_ms_per_request": 1000 * cpu / max(requests, 1),
    }


def _found(pattern: str, text: str, default: str | None = None) -> str:
    match = re.search(pattern, text)
    if match:
        return match.group(1)
    assert default is not None, f"no {pattern!r} in wrk's output:\n{text}"
    return default


def _wait_healthy(base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 180
    with httpx.Client(base_url=base_url, timeout=1) as probe:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                sys.exit(f"{base_url}: exited with {process.returncode}:\n{log.read_text()}")
            with contextlib.suppress(httpx.TransportError):
                if probe.get("/healthz").status_code == 200:
                    return
            time.sleep(0.05)
    sys.exit(f"{base_url}: no /healthz in 180 s:\n{log.read_text()}")


class Generated:
    """A rendered, installed combination on a database of its own, seeded through its API."""

    def __init__(
        self, combination: Combination, template: Path, workdir: Path, tools: dict[str, str]
    ) -> None:
        self.combination = combination
        self.template = template
        self.label = combination.id
        self.project = workdir / combination.id
        self.tools = tools
        self.database_url = ""
        self.username = ""
        self.task_ids: list[int] = []

    def install(self) -> None:
        if not (self.project / ".installed").exists():
            shutil.rmtree(self.project, ignore_errors=True)
            copy_project(self.template, self.project, **given_answers(self.combination))
            if self.combination.framework == "express":
                ensure_node_prebuilds(self.project, self.tools)  # built once, as the suite does
            subprocess.run(
                ["make", "install"],
                cwd=self.project,
                env=self.tools,
                check=True,
                stdout=subprocess.DEVNULL,
            )
            (self.project / ".installed").touch()

    def prepare(self, bouncer: PgBouncer | None) -> None:
        name = f"bench_{secrets.token_hex(4)}"
        database = self.combination.database
        if database == "sqlite":
            self.database_url = f"sqlite:///{self.project}/var/{name}.db"
        elif self.combination.pooling == "pgbouncer":
            assert bouncer is not None
            self.database_url = f"{bouncer.url}/{name}"
        else:
            self.database_url = f"{POSTGRES if database == 'postgresql' else MYSQL}/{name}"

    @contextlib.contextmanager
    def running(self, tasks: int) -> Iterator[Running]:
        env = {
            **self.tools,
            "APP_ENV": "production",
            "JWT_SECRET": "bench-" + "s" * 48,
            "DATABASE_URL": self.database_url,
            "RATE_LIMIT_PER_MINUTE": "0",
            "WEB_CONCURRENCY": "1",
        }
        service = Service(self.project, env, "bench")
        started = time.monotonic()
        service.start()
        start_s = time.monotonic() - started
        try:
            with service.client() as client:
                if not self.username:  # the database persists across passes: seed it once
                    self.username = sign_up(client)["username"]
                token = client.post(
                    "/api/v1/auth/token", json={"username": self.username, "password": PASSWORD}
                ).json()["access_token"]
                headers = {"Authorization": f"Bearer {token}"}
                while len(self.task_ids) < tasks:
                    created = client.post(
                        "/api/v1/tasks",
                        json={"title": f"seeded {len(self.task_ids)}"},
                        headers=headers,
                    )
                    assert created.status_code == 201, created.text
                    self.task_ids.append(created.json()["id"])
            yield Running(service.base_url, service.process.pid, start_s, token, self.task_ids)  # type: ignore[union-attr]
        finally:
            service.terminate()
            service.kill()


class Reference:
    """A hand-written server on PostgreSQL, over a table of its own seeded by SQL."""

    def __init__(self, label: str, command: list[str], cwd: Path) -> None:
        self.label = label
        self.command = command
        self.cwd = cwd
        self.database_url = ""
        self.task_ids: list[int] = []

    def prepare(self, tasks: int) -> None:
        name = f"bench_ref_{secrets.token_hex(4)}"
        self.database_url = f"{POSTGRES}/{name}"
        _psql("postgres", f'CREATE DATABASE "{name}"')
        _psql(
            name,
            REFERENCE_SCHEMA
            + "INSERT INTO tasks (owner_id, title, status, created_at, updated_at) SELECT 1,"
            f" 'seeded ' || n, 'pending', now(), now() FROM generate_series(1, {tasks}) n;",
        )
        self.task_ids = list(range(1, tasks + 1))

    @contextlib.contextmanager
    def running(self, tasks: int) -> Iterator[Running]:
        port = free_port()
        env = {**os.environ, "DATABASE_URL": self.database_url, "PORT": str(port)}
        command = [part.replace("{port}", str(port)) for part in self.command]
        log = Path(tempfile.mkstemp(prefix=f"bench-{self.label}-", suffix=".log")[1])
        started = time.monotonic()
        with log.open("wb") as output:
            process = subprocess.Popen(
                command, cwd=self.cwd, env=env, stdout=output, stderr=subprocess.STDOUT
            )
        try:
            base_url = f"http://127.0.0.1:{port}"
            wait_for_port(port)
            _wait_healthy(base_url, process, log)
            yield Running(base_url, process.pid, time.monotonic() - started, None, self.task_ids)
        finally:
            process.terminate()
            process.wait(timeout=30)


def _psql(database: str, sql: str) -> None:
    subprocess.run(
        [
            "psql",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            database,
        ],
        input=sql,
        text=True,
        check=True,
        capture_output=True,
    )


def _references() -> list[Reference]:
    express = REFERENCES / "express-pg"
    if not (express / "node_modules").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=express, check=True)
    uvicorn = [
        sys.executable,
        "-m",
        "uvicorn",
        "starlette_asyncpg:app",
        "--port",
        "{port}",
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    return [Reference("A", uvicorn, REFERENCES), Reference("E", ["node", "server.mjs"], express)]


def _range(values: list[float], digits: int = 0) -> str:
    low, high = min(values), max(values)
    text = f"{low:,.{digits}f}"
    return text if f"{high:,.{digits}f}" == text else f"{text}{DASH}{high:,.{digits}f}"


def _table(results: list[Measured], labels: list[str], workloads: list[str]) -> str:
    """One row per service and workload: ranges over the passes, ratios within each pass."""
    rows = [
        f"| service | workload | req/s | {TIMES} A | {TIMES} E | p50 ms | p99 ms | errors"
        " | CPU ms/req | RSS MB | start s |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    by = {(r.service, r.workload, r.passed): r for r in results}
    for label in labels:
        for workload in workloads:
            mine = [r for r in results if r.service == label and r.workload == workload]
            ratios = {
                ref: [
                    r.requests_per_s / by[(ref, workload, r.passed)].requests_per_s
                    for r in mine
                    if (ref, workload, r.passed) in by
                ]
                for ref in ("A", "E")
            }
            rows.append(
                f"| {label} | {workload} | {_range([r.requests_per_s for r in mine])}"
                f" | {_range(ratios['A'], 2) if ratios['A'] else '-'}"
                f" | {_range(ratios['E'], 2) if ratios['E'] else '-'}"
                f" | {_range([r.p50_ms for r in mine], 1)} | {_range([r.p99_ms for r in mine], 1)}"
                f" | {sum(r.errors for r in mine)}"
                f" | {_range([r.cpu_ms_per_request for r in mine], 2)}"
                f" | {_range([r.rss_mb for r in mine])} | {_range([r.start_s for r in mine], 1)} |"
            )
    return "\n".join(rows)


def _pooling_table(results: list[Measured], workloads: list[str]) -> str:
    """Pooled (`app`) ÷ unpooled (`none`) req/s, pass by pass, per framework and database."""
    rows = ["| framework-database | workload | app \u00f7 none |", "| --- | --- | ---: |"]
    by = {(r.service, r.workload, r.passed): r.requests_per_s for r in results}
    passes = range(max(r.passed for r in results) + 1)
    for service, workload in sorted({(r.service, r.workload) for r in results}):
        unpooled = service.removesuffix("-app") + "-none"
        ratios = [
            by[(service, workload, n)] / by[(unpooled, workload, n)]
            for n in passes
            if service.endswith("-app") and (unpooled, workload, n) in by
        ]
        if ratios:
            rows.append(
                f"| {unpooled.removesuffix('-none')} | {workload} | {_range(ratios, 1)}{TIMES} |"
            )
    return "\n".join(rows) if len(rows) > 2 else ""


def _chosen(args: argparse.Namespace) -> list[Combination]:
    wanted = {
        "framework": args.frameworks.split(","),
        "database": args.databases.split(","),
        "pooling": args.pooling.split(","),
    }
    chosen = [
        c
        for c in valid_combinations()
        if all(getattr(c, key) in values for key, values in wanted.items())
        and c.broker is None
        and not c.grpc_enabled
    ]
    if not chosen:
        sys.exit(f"no valid combination of {wanted}")
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frameworks", default=",".join(FRAMEWORKS), help=", ".join(FRAMEWORKS))
    parser.add_argument("--databases", default="postgresql", help=", ".join(DATABASES))
    parser.add_argument("--pooling", default=",".join(POOLINGS), help=", ".join(POOLINGS))
    parser.add_argument("--workloads", default=",".join(WORKLOADS), help=", ".join(WORKLOADS))
    parser.add_argument("--no-references", action="store_true", help="skip A and E")
    parser.add_argument("--passes", type=int, default=2)
    parser.add_argument("--duration", type=int, default=10, help="seconds measured per run")
    parser.add_argument("--concurrency", type=int, default=32, help="connections held by wrk")
    parser.add_argument("--tasks", type=int, default=100, help="tasks the reads pick from")
    parser.add_argument(
        "--workdir", type=Path, default=ROOT / "var" / "bench", help="installs, kept for reuse"
    )
    parser.add_argument("--out", type=Path, default=ROOT / ".reports" / "bench")
    parser.add_argument(
        "--template",
        type=Path,
        default=ROOT,
        help="another checkout to render from (say, main before a change; its own --workdir)",
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: `make bench` installs it (Debian package wrk)")
    workloads = args.workloads.split(",")

    tools = {k: v for k, v in os.environ.items() if not k.startswith("VIRTUAL_ENV")}
    tools[NODE_PREBUILDS_SETTING] = str(NODE_PREBUILDS)
    args.workdir.mkdir(parents=True, exist_ok=True)
    services: list[Generated | Reference] = [
        Generated(combination, args.template, args.workdir, tools) for combination in _chosen(args)
    ]
    for generated in services:
        print(f"installing {generated.label}", file=sys.stderr)
        generated.install()  # type: ignore[union-attr]
    if not args.no_references:
        services += _references()

    results: list[Measured] = []
    with contextlib.ExitStack() as stack:
        bouncer = None
        if any(
            getattr(s, "combination", None) and s.combination.pooling == "pgbouncer"
            for s in services
        ):  # type: ignore[union-attr]
            bouncer = PgBouncer()
            stack.callback(bouncer.stop)
        for service in services:
            if isinstance(service, Generated):
                service.prepare(bouncer)
            else:
                service.prepare(args.tasks)
        for passed in range(args.passes):
            for service in services if passed % 2 == 0 else services[::-1]:
                print(f"pass {passed + 1}: {service.label}", file=sys.stderr)
                with service.running(args.tasks) as running:
                    for workload in workloads:
                        figures = _wrk(running, workload, args.concurrency, args.duration)
                        results.append(
                            Measured(
                                service.label,
                                workload,
                                passed,
                                rss_mb=tree_rss_kib(running.root_pid) / 1024,
                                start_s=running.start_s,
                                **figures,  # type: ignore[arg-type]
                            )
                        )

    labels = [service.label for service in services]
    header = (
        f"{time.strftime('%Y-%m-%d')}, {platform.machine()} with {os.cpu_count()} cores shared by"
        f" wrk (-t1 -c{args.concurrency}, {args.duration} s after {WARMUP_S} s) and one server"
        f" process; {args.passes} passes in alternating order; {args.tasks} tasks"
    )
    report = "\n\n".join(
        part
        for part in (header, _table(results, labels, workloads), _pooling_table(results, workloads))
        if part
    )
    print(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".md").write_text(report + "\n")
    args.out.with_suffix(".json").write_text(
        json.dumps({"header": header, "results": [asdict(r) for r in results]}, indent=2) + "\n"
    )
    print(f"written: {args.out}.md, {args.out}.json", file=sys.stderr)


if __name__ == "__main__":
    main()
