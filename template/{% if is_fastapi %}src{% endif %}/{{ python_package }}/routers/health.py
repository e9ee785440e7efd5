import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ..db import Database, ping
from ..schemas import Liveness, Readiness

logger = logging.getLogger(__name__)

# Connect, query and close, all within it: the contract's 3 s answer even when the database
# hangs.
READINESS_BUDGET_S = 2.0

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def liveness() -> Liveness:
    """The process is up; touches nothing outside it."""
    return Liveness()


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
async def readiness(request: Request) -> JSONResponse | Readiness:
    """Does the database answer? Asked on a connection of its own: a saturated pool is load,
    not unreadiness, and leaves this at 200."""
    database: Database = request.app.state.database
    try:
        await ping(database.settings, READINESS_BUDGET_S)
    except Exception:  # any failure means "not ready"
        logger.warning("database not ready", exc_info=True)
        body = Readiness(status="unavailable", checks={"database": "error"})
        return JSONResponse(body.model_dump(), status_code=503)
    return Readiness(status="ok", checks={"database": "ok"})
