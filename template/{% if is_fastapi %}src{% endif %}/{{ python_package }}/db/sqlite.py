"""SQLite through aiosqlite: WAL, foreign keys and a busy timeout on every connection."""

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import ConnectionPoolEntry

from ..settings import Settings

DRIVER = "sqlite+aiosqlite"
# sqlite3 opens no transaction for a SELECT: reads need nothing of their own.
READ_OPTIONS: dict[str, Any] = {}
BUSY_TIMEOUT_MS = 5000
PRAGMAS = (
    "journal_mode=WAL",
    "foreign_keys=ON",
    f"busy_timeout={BUSY_TIMEOUT_MS}",
    "synchronous=NORMAL",
)


def engine_options(_: Settings) -> dict[str, Any]:
    """SQLAlchemy's own choices: a file needs no pool sizes or network timeouts."""
    return {}


def tune(engine: AsyncEngine, _: Settings) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _set_pragmas(dbapi_connection: DBAPIConnection, _: ConnectionPoolEntry) -> None:
        cursor = dbapi_connection.cursor()
        for pragma in PRAGMAS:
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()


def is_unavailable(error: DBAPIError) -> bool:
    # The busy timeout ran out on a lock another connection holds.
    return "database is locked" in str(error.orig)
