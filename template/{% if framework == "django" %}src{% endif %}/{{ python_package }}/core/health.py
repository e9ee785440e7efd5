import asyncio
import logging
from typing import Literal

from asgiref.sync import sync_to_async
from django.db import connection
from django.http import HttpRequest
from ninja import Router, Schema, Status

logger = logging.getLogger(__name__)
# Answer within the contract's 3 s even when the database hangs.
READINESS_TIMEOUT_S = 2.0

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
    # In a pool thread of its own (not the request's), so that a hung database cannot hold
    # the response back; the connection is closed (or returned to the pool) right away.
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        connection.close()


@router.get("/readyz", response={200: Readiness, 503: Readiness})
async def readiness(request: HttpRequest) -> Status[Readiness]:
    try:
        async with asyncio.timeout(READINESS_TIMEOUT_S):
            await sync_to_async(_ping_database, thread_sensitive=False)()
    except Exception:  # any failure means "not ready"
        logger.warning("database not ready", exc_info=True)
        return Status(503, Readiness(status="unavailable", checks={"database": "error"}))
    return Status(200, Readiness(status="ok", checks={"database": "ok"}))
