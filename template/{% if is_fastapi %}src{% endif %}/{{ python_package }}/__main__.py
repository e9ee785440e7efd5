"""`python -m <package> serve|migrate`: what `make run`, `make dev` and `make migrate` call.

`serve --migrate` applies pending migrations, then serves, in one interpreter: `make run` and
`make dev` use it, as a second one would import the application again (about a second)."""

import argparse
import asyncio
import math
import signal
from pathlib import Path
from types import FrameType

import uvicorn
from alembic import command
from alembic.config import Config
from sqlalchemy import make_url

from .db import create_database_if_missing, is_unavailable, unreachable_reason
from .log import configure_logging
from .settings import get_settings

PROJECT_ROOT = Path.cwd()


def migrate() -> None:
    settings = get_settings()
    configure_logging(settings.log_level, settings.effective_log_format)
    try:
        asyncio.run(create_database_if_missing(settings))
        command.upgrade(Config(PROJECT_ROOT / "alembic.ini"), "head")
    except Exception as error:
        if not is_unavailable(error):
            raise
        # One line an operator can act on, not a traceback; never the password.
        url = make_url(settings.database_url)._replace(password=None)  # set() keeps it
        where = url.render_as_string(hide_password=False)
        raise SystemExit(
            f"error: database unreachable at {where}: {unreachable_reason(error)}"
        ) from None


def _exit_zero(_signal: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)


def serve(*, reload: bool, migrate_first: bool) -> None:
    if migrate_first:
        migrate()
    settings = get_settings()
    configure_logging(settings.log_level, settings.effective_log_format)
    # Uvicorn drains, then re-raises the SIGTERM it caught; a drained stop is a clean exit.
    signal.signal(signal.SIGTERM, _exit_zero)
    uvicorn.run(
        f"{__package__}.main:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        reload=reload,
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=math.ceil(settings.shutdown_grace_s),
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog=__package__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve", help="serve HTTP until SIGTERM")
    serve_parser.add_argument("--reload", action="store_true", help="restart on code changes")
    serve_parser.add_argument(
        "--migrate", action="store_true", help="apply pending migrations first (as `migrate`)"
    )
    commands.add_parser("migrate", help="create the database if needed, apply migrations")
    args = parser.parse_args()
    if args.command == "migrate":
        migrate()
    else:
        serve(reload=args.reload, migrate_first=args.migrate)


if __name__ == "__main__":
    main()
