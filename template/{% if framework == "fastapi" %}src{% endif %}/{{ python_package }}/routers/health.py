import asyncio
import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from ..db import Database
from ..schemas import Liveness, Readiness

logger = logging.getLogger(__name__)

# Answer within the contract's 3 s even when the database hangs.
READINESS_TIMEOUT_S = 2.0

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def liveness() -> Liveness:
    """The process is up; touches nothing outside it."""
    return Liveness()


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
async def readiness(request: Request) -> JSONResponse | Readiness:
    database: Database = request.app.state.database
    try:
        async with asyncio.timeout(READINESS_TIMEOUT_S), database.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception:  # any failure means "not ready"
        logger.warning("database not ready", exc_info=True)
        body = Readiness(status="unavailable", checks={"database": "error"})
        return JSONResponse(body.model_dump(), status_code=503)
    return Readiness(status="ok", checks={"database": "ok"})
