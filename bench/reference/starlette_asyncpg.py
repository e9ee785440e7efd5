"""Reference "A": the task read and create by hand, Starlette on asyncpg, nothing else.

No auth, request log, request id, limits or problem+json: the ceiling a generated service is
measured against. Run by bench/http_tasks.py:

    DATABASE_URL=postgresql://... uvicorn starlette_asyncpg:app --loop uvloop --http httptools
"""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

COLUMNS = "id, title, description, status, owner_id, created_at, updated_at"
POOL_SIZE = int(os.environ.get("POOL_SIZE", "10"))


def _json(row: asyncpg.Record, status_code: int = 200) -> Response:
    task = dict(row)
    task["created_at"] = task["created_at"].isoformat()
    task["updated_at"] = task["updated_at"].isoformat()
    return Response(orjson.dumps(task), status_code, media_type="application/json")


async def read_task(request: Request) -> Response:
    row = await request.app.state.pool.fetchrow(
        f"SELECT {COLUMNS} FROM tasks WHERE id = $1 AND owner_id = $2",
        int(request.path_params["id"]),
        1,
    )
    if row is None:
        return Response(status_code=404)
    return _json(row)


async def create_task(request: Request) -> Response:
    body = orjson.loads(await request.body())
    row = await request.app.state.pool.fetchrow(
        f"INSERT INTO tasks (owner_id, title, description, status, created_at, updated_at)"
        f" VALUES ($1, $2, $3, 'pending', now(), now()) RETURNING {COLUMNS}",
        1,
        body["title"],
        body.get("description"),
    )
    return _json(row, 201)


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    async with asyncpg.create_pool(
        os.environ["DATABASE_URL"], min_size=POOL_SIZE, max_size=POOL_SIZE
    ) as pool:
        app.state.pool = pool
        yield


app = Starlette(
    routes=[
        Route("/api/v1/tasks/{id:int}", read_task),
        Route("/api/v1/tasks", create_task, methods=["POST"]),
        Route("/healthz", lambda _request: Response(b"{}", media_type="application/json")),
    ],
    lifespan=lifespan,
)
