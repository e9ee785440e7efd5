"""Benchmark: one task read over gRPC (`GetTask`) and over HTTP (`GET /api/v1/tasks/{id}`).

    uv run python bench/grpc_unary.py --framework fastapi --concurrency 32 --duration 10

Renders a project with gRPC on (or takes `--project`, already installed), starts it with
`make run` in production mode on SQLite, signs a user up and creates one task, then reads that
task as fast as `--concurrency` callers in flight allow, for `--duration` seconds after a warm-up:
first over gRPC, from `--processes` client processes running grpc.aio (one event loop would
measure itself: a Python gRPC client spends more CPU per call than a fast server), then over
HTTP with the same server still up, from wrk when it is installed (a Lua script adds the
Authorization header) or else from the same kind of Python client (httpx). Prints calls per
second and latency percentiles for both, and the ratio. The gRPC client knows the service only
through reflection, as the contract tests do: the request is serialized once from a reflected
message class, and responses are counted, not parsed (wrk does not parse HTTP's either).

Not a test: figures depend on the machine (client and server share its cores), and a Python
client is slower than wrk; README.md records what they were here.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "extensions")]

import grpc  # noqa: E402
import httpx  # noqa: E402
from support.blackbox import Service, bearer  # noqa: E402
from support.grpc_client import Reflected, open_channel  # noqa: E402
from support.node import NODE_PREBUILDS, NODE_PREBUILDS_SETTING, ensure_node_prebuilds  # noqa: E402
from support.projects import copy_project  # noqa: E402

GET_TASK = "/tasks.v1.TaskService/GetTask"
WARMUP_S = 2.0


@dataclass
class Result:
    label: str
    calls: int
    errors: int
    seconds: float
    latencies_ms: list[float]  # empty when the tool reports percentiles itself
    percentiles_ms: dict[float, float]

    @property
    def rate(self) -> float:
        return self.calls / self.seconds


def _percentile(values: list[float], share: float) -> float:
    return statistics.quantiles(values, n=1000, method="inclusive")[int(share * 1000) - 1]


def _measured(label: str, parts: list[tuple[int, int, list[float]]], seconds: float) -> Result:
    latencies = [value for _, _, chunk in parts for value in chunk]
    return Result(
        label,
        calls=sum(calls for calls, _, _ in parts),
        errors=sum(errors for _, errors, _ in parts),
        seconds=seconds,
        latencies_ms=latencies,
        percentiles_ms={q: _percentile(latencies, q) for q in (0.5, 0.9, 0.99)}
        if len(latencies) > 1
        else {},
    )


async def _drive(call: Any, concurrency: int, duration: float) -> tuple[int, int, list[float]]:
    """`concurrency` loops calling `call()` back to back: a warm-up, then `duration` seconds
    whose calls are counted (a call counts where it started)."""
    start = time.perf_counter()
    measure_from = start + WARMUP_S
    stop = measure_from + duration
    latencies: list[float] = []
    errors = 0

    async def loop() -> None:
        nonlocal errors
        while (began := time.perf_counter()) < stop:
            ok = await call()
            ended = time.perf_counter()
            if began >= measure_from:
                latencies.append((ended - began) * 1000)
                errors += not ok

    await asyncio.gather(*(loop() for _ in range(concurrency)))
    return len(latencies), errors, latencies


def _grpc_client(
    target: str,
    request: bytes,
    token: str,
    concurrency: int,
    duration: float,
    barrier: Barrier,
    out: Any,
) -> None:
    async def main() -> tuple[int, int, list[float]]:
        async with grpc.aio.insecure_channel(target) as channel:
            # Bytes in, bytes out: no (de)serializer, the request is already serialized.
            get_task = channel.unary_unary(GET_TASK)
            metadata = (("authorization", f"Bearer {token}"),)

            async def call() -> bool:
                try:
                    await get_task(request, metadata=metadata, timeout=30)
                except grpc.RpcError:
                    return False
                return True

            await call()
            await asyncio.get_running_loop().run_in_executor(None, barrier.wait)
            return await _drive(call, concurrency, duration)

    out.put(asyncio.run(main()))


def _httpx_client(
    url: str, token: str, concurrency: int, duration: float, barrier: Barrier, out: Any
) -> None:
    async def main() -> tuple[int, int, list[float]]:
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(limits=limits, headers=headers) as client:

            async def call() -> bool:
                try:
                    return (await client.get(url, timeout=30)).status_code == 200
                except httpx.HTTPError:
                    return False

            await call()
            await asyncio.get_running_loop().run_in_executor(None, barrier.wait)
            return await _drive(call, concurrency, duration)

    out.put(asyncio.run(main()))


def _in_processes(
    label: str,
    target: Any,
    args: tuple[Any, ...],
    processes: int,
    concurrency: int,
    duration: float,
) -> Result:
    barrier = multiprocessing.Barrier(processes)
    results: Any = multiprocessing.Queue()
    shares = [concurrency // processes + (n < concurrency % processes) for n in range(processes)]
    workers = [
        multiprocessing.Process(target=target, args=(*args, share, duration, barrier, results))
        for share in shares
    ]
    for worker in workers:
        worker.start()
    parts = [results.get(timeout=duration + 120) for _ in workers]
    for worker in workers:
        worker.join()
    return _measured(label, parts, duration)


def _wrk(url: str, token: str, concurrency: int, duration: float, threads: int) -> Result:
    """wrk's own figures: requests/s over the run and its latency distribution."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(f'wrk.headers["Authorization"] = "Bearer {token}"\n')
    try:
        # A warm-up run, then the measured one.
        base = ["wrk", f"-t{threads}", f"-c{concurrency}", "--latency", "-s", script.name]
        subprocess.run([*base, f"-d{WARMUP_S:.0f}s", url], check=True, capture_output=True)
        output = subprocess.run(
            [*base, f"-d{duration:.0f}s", url], check=True, capture_output=True, text=True
        ).stdout
    finally:
        os.unlink(script.name)
    calls = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    seconds_match = re.search(r"requests in ([\d.]+)(m?s)", output)
    assert seconds_match, output
    seconds = float(seconds_match.group(1)) / (1000 if seconds_match.group(2) == "ms" else 1)
    errors_match = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    errors = int(errors_match.group(1)) if errors_match else 0
    errors += sum(map(int, socket_errors.groups())) if socket_errors else 0
    units = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    percentiles = {}
    for share in (0.5, 0.9, 0.99):
        found = re.search(rf"^\s+{int(share * 100)}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
        assert found, output
        percentiles[share] = float(found.group(1)) * units[found.group(2)]
    return Result("HTTP (wrk)", calls, errors, seconds, [], percentiles)


def _render(framework: str, env: dict[str, str]) -> Path:
    project = Path(tempfile.mkdtemp(prefix=f"bench-{framework}-")) / "service"
    copy_project(ROOT, project, framework=framework, database="sqlite", grpc="true")
    if framework == "express":
        ensure_node_prebuilds(project, env)  # better-sqlite3 built once, as the suite does
    subprocess.run(["make", "install"], cwd=project, env=env, check=True, stdout=subprocess.DEVNULL)
    return project


def _row(result: Result) -> str:
    cells = [
        f"{result.percentiles_ms[q]:.2f}" if q in result.percentiles_ms else "-"
        for q in (0.5, 0.9, 0.99)
    ]
    return f"| {result.label} | {result.rate:,.0f} | {' | '.join(cells)} | {result.errors} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--framework", choices=("fastapi", "django", "express"), required=True)
    parser.add_argument(
        "--project", type=Path, help="an installed project with gRPC to use instead"
    )
    parser.add_argument("--concurrency", type=int, default=32, help="calls in flight")
    parser.add_argument("--duration", type=float, default=10, help="seconds measured, per protocol")
    parser.add_argument(
        "--processes", type=int, default=os.cpu_count() or 2, help="client processes"
    )
    parser.add_argument(
        "--http-client",
        choices=("wrk", "httpx", "both"),
        default="wrk" if shutil.which("wrk") else "httpx",
        help="what reads over HTTP (wrk when installed)",
    )
    args = parser.parse_args()

    tools = {k: v for k, v in os.environ.items() if not k.startswith("VIRTUAL_ENV")}
    tools[NODE_PREBUILDS_SETTING] = str(NODE_PREBUILDS)
    project = args.project or _render(args.framework, tools)
    print(f"project: {project} (--project reuses it)", file=sys.stderr)
    env = {
        **tools,
        "APP_ENV": "production",
        "JWT_SECRET": secrets.token_urlsafe(48),
        "DATABASE_URL": f"sqlite:///{project}/var/bench-{secrets.token_hex(4)}.db",
        "RATE_LIMIT_PER_MINUTE": "0",
        "LOG_LEVEL": "warning",
    }
    with Service(project, env, "bench").start() as service:
        client = service.client()
        headers = bearer(client)
        token = headers["Authorization"].removeprefix("Bearer ")
        created = client.post("/api/v1/tasks", json={"title": "benchmarked"}, headers=headers)
        assert created.status_code == 201, created.text
        task_id = created.json()["id"]
        url = f"{service.base_url}/api/v1/tasks/{task_id}"

        with open_channel(service.grpc_target) as channel:
            reflected = Reflected(channel)
            request_type = reflected.method("GetTask").input_type.full_name
            request = reflected.message(request_type)(id=task_id).SerializeToString()

        grpc_args = (service.grpc_target, request, token)
        results = [
            _in_processes(
                "gRPC (grpc.aio)",
                _grpc_client,
                grpc_args,
                args.processes,
                args.concurrency,
                args.duration,
            )
        ]
        if args.http_client in ("wrk", "both"):
            results.append(_wrk(url, token, args.concurrency, args.duration, args.processes))
        if args.http_client in ("httpx", "both"):
            results.append(
                _in_processes(
                    "HTTP (httpx)",
                    _httpx_client,
                    (url, token),
                    args.processes,
                    args.concurrency,
                    args.duration,
                )
            )

    print(
        f"{args.framework}: one task read, {args.concurrency} calls in flight,"
        f" {args.duration:.0f} s after a {WARMUP_S:.0f} s warm-up, {args.processes} client"
        f" processes, {os.cpu_count()} cores shared with the server"
    )
    print("| protocol | calls/s | p50 ms | p90 ms | p99 ms | errors |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for result in results:
        print(_row(result))
    grpc_rate = results[0].rate
    for other in results[1:]:
        print(f"gRPC / {other.label}: {grpc_rate / other.rate:.2f} times the calls per second")


if __name__ == "__main__":
    main()
