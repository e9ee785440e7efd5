import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

from django.db import connection
from django.http import HttpRequest
from ninja import Router, Schema, Status

logger = logging.getLogger(__name__)
# Answer within the contract's 3 s even when the database hangs.
READINESS_TIMEOUT_S = 2.0
# The ping gets a thread of its own: a hung database then blocks that one thread, never the
# shared pool that the rest of Django's async machinery needs.
_pinger = ThreadPoolExecutor(max_workers=1, thread_name_prefix="readyz")
_ping: "asyncio.Future[None] | None" = None

router = Router(tags=["health"])


class Liveness(Schema):
    status: Literal["ok"] = "ok"


class Readiness(Schema):
    status: Literal["ok", "unavailable"]
    checks: dict[str, Literal["ok", "error"]]


@router.get("/healthz", response=Liveness)
async def liveness(request: HttpRequest) -> Liveness:
    """The process is up; touches nothing outside it."""
    return Liveness()


def _ping_database() -> None:
    # The connection is closed (or returned to the pool) right away: this thread serves no
    # request that would close it.
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        connection.close()


@router.get("/readyz", response={200: Readiness, 503: Readiness})
async def readiness(request: HttpRequest) -> Status[Readiness]:
    global _ping  # noqa: PLW0603 - one ping in flight, shared by concurrent probes
    if _ping is None or _ping.done():
        _ping = asyncio.get_running_loop().run_in_executor(_pinger, _ping_database)
    try:
        await asyncio.wait_for(asyncio.shield(_ping), READINESS_TIMEOUT_S)
    except Exception:  # any failure means "not ready"
        logger.warning("database not ready", exc_info=True)
        return Status(503, Readiness(status="unavailable", checks={"database": "error"}))
    return Status(200, Readiness(status="ok", checks={"database": "ok"}))
