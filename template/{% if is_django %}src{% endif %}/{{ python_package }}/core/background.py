"""Work that runs after the response is on its way, for any app: `run_in_background(coro)`."""

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.db import connections

logger = logging.getLogger(__name__)
# Work in flight: kept referenced so it is not garbage-collected mid-way.
_in_flight: set[asyncio.Task[Any]] = set()


def run_in_background(coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task[None]:
    """Schedules `coroutine` and returns at once: it never delays the response. It runs with
    the request's context (its request id) but not its connections: those are closed by then.
    It never raises: a failure is logged."""
    job = asyncio.create_task(_run_detached(coroutine))
    _in_flight.add(job)
    job.add_done_callback(_in_flight.discard)
    return job


async def _run_detached(coroutine: Coroutine[Any, Any, Any]) -> None:
    # Its own thread context, so its ORM calls get connections of their own, closed when done.
    async with ThreadSensitiveContext():
        try:
            await coroutine
        except Exception:
            logger.exception("background work failed")
        finally:
            await sync_to_async(connections.close_all)()
