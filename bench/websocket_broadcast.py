"""Benchmark: one broadcast to N WebSocket clients of one instance, delivery latency and memory.

    uv run python bench/websocket_broadcast.py --framework fastapi --clients 1000

Renders a project with WebSocket on (or takes `--project`, already installed), starts it with
`make run` in production mode, opens N connections from several client processes (one process's
event loop reading 1,000 sockets would measure itself), then sends `--rounds` broadcasts, one at
a time. A delivery's latency runs from the sender's clock before it sends to the receiver's after
it has parsed the message (one host, one clock). Prints percentiles over every delivery and the
server's resident memory (its whole process tree) before and after the clients connect.

Not a test: figures depend on the machine; README.md records what they were here.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "extensions")]

from faults import tree_rss_kib  # noqa: E402
from support.blackbox import REDIS_URL, Service, bearer  # noqa: E402
from support.node import NODE_PREBUILDS, NODE_PREBUILDS_SETTING, ensure_node_prebuilds  # noqa: E402
from support.projects import copy_project  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402


def _raise_file_limit() -> None:
    """A thousand sockets on each side: the default soft limit (1,024) is too low."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _clients(url: str, count: int, rounds: int, barrier: Barrier, out: Any) -> None:
    """One client process: `count` connections, each recording every broadcast's latency."""
    _raise_file_limit()

    async def main() -> list[float]:
        sockets = []
        for _ in range(count):
            sockets.append(await connect(url, max_size=None, open_timeout=60))
        await asyncio.get_running_loop().run_in_executor(None, barrier.wait)
        latencies: list[float] = []

        async def listen(ws: Any) -> None:
            for _ in range(rounds):
                while (message := json.loads(await ws.recv()))["type"] != "broadcast":
                    pass
                latencies.append((time.time_ns() - message["data"]["sent_ns"]) / 1e6)

        await asyncio.wait_for(asyncio.gather(*(listen(ws) for ws in sockets)), 120)
        for ws in sockets:
            await ws.close()
        return latencies

    out.put(asyncio.run(main()))


def _render(framework: str, broker: str, database: str, env: dict[str, str]) -> Path:
    project = Path(tempfile.mkdtemp(prefix=f"bench-{framework}-")) / "service"
    copy_project(
        ROOT,
        project,
        framework=framework,
        database=database,
        websocket="true",
        websocket_broker=broker,
    )
    if framework == "express":
        ensure_node_prebuilds(project, env)  # better-sqlite3 built once, as the suite does
    subprocess.run(["make", "install"], cwd=project, env=env, check=True, stdout=subprocess.DEVNULL)
    return project


def _percentile(values: list[float], share: float) -> float:
    return statistics.quantiles(values, n=1000, method="inclusive")[int(share * 1000) - 1]


async def _send(url: str, rounds: int, pause_s: float) -> None:
    async with connect(url) as sender:
        for _ in range(rounds):
            await asyncio.sleep(pause_s)
            data = {"sent_ns": time.time_ns()}
            await sender.send(json.dumps({"type": "broadcast", "data": data}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--framework", choices=("fastapi", "django", "express"), required=True)
    parser.add_argument("--broker", choices=("memory", "redis"), default="memory")
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=20, help="broadcasts, one at a time")
    parser.add_argument("--processes", type=int, default=4, help="client processes")
    parser.add_argument("--pause", type=float, default=0.5, help="seconds between broadcasts")
    parser.add_argument("--project", type=Path, help="an installed project to use instead")
    args = parser.parse_args()
    _raise_file_limit()  # the service inherits it

    tools = {k: v for k, v in os.environ.items() if not k.startswith("VIRTUAL_ENV")}
    tools[NODE_PREBUILDS_SETTING] = str(NODE_PREBUILDS)
    project = args.project or _render(args.framework, args.broker, "sqlite", tools)
    env = {
        **tools,
        "APP_ENV": "production",
        "JWT_SECRET": secrets.token_urlsafe(48),
        "DATABASE_URL": f"sqlite:///{project}/var/bench.db",
        "RATE_LIMIT_PER_MINUTE": "0",
        "LOG_LEVEL": "warning",
        "REDIS_URL": REDIS_URL,
        "REDIS_PREFIX": f"bench-{secrets.token_hex(4)}",
    }
    with Service(project, env, "bench").start() as service:
        token = bearer(service.client())["Authorization"].removeprefix("Bearer ")
        url = f"ws://127.0.0.1:{service.port}/ws?token={token}"
        idle_kib = tree_rss_kib(service.server_pid())

        barrier = multiprocessing.Barrier(args.processes + 1)
        results: Any = multiprocessing.Queue()
        share = args.clients // args.processes
        workers = [
            multiprocessing.Process(
                target=_clients, args=(url, share, args.rounds, barrier, results)
            )
            for _ in range(args.processes)
        ]
        started = time.monotonic()
        for worker in workers:
            worker.start()
        barrier.wait(timeout=300)
        connect_s = time.monotonic() - started
        connected_kib = tree_rss_kib(service.server_pid())
        asyncio.run(_send(url, args.rounds, args.pause))
        latencies = [value for _ in workers for value in results.get(timeout=180)]
        for worker in workers:
            worker.join()

    print(
        f"{args.framework} ({args.broker}): {share * args.processes} clients connected in"
        f" {connect_s:.1f} s; {args.rounds} broadcasts, {len(latencies)} deliveries"
    )
    print(
        "latency ms: "
        + ", ".join(f"p{int(q * 100)} {_percentile(latencies, q):.1f}" for q in (0.5, 0.9, 0.99))
        + f", max {max(latencies):.1f}"
    )
    print(
        f"server memory (RSS, process tree): {idle_kib / 1024:.0f} MiB idle,"
        f" {connected_kib / 1024:.0f} MiB with the clients"
        f" ({(connected_kib - idle_kib) / share / args.processes:.1f} KiB per connection)"
    )


if __name__ == "__main__":
    main()
