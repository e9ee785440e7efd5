import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, Depends, Header, HTTPException, Path, Query
from fastapi.responses import JSONResponse, Response
from pydantic.json_schema import SkipJsonSchema
from sqlalchemy.ext.asyncio import AsyncSession

from ..dependencies import (
    CurrentUserId,
    SessionDep,
    require_json_body,
    single_query_values,
    unauthorized,
)
from ..errors import problem
from ..models import Task, TaskStatus
from ..routing import ParsedJsonRoute
from ..schemas import TaskCreate, TaskOut, TaskPage, TaskUpdate
from ..services import tasks as service

logger = logging.getLogger(__name__)

router = APIRouter(
    prefix="/tasks",
    tags=["tasks"],
    dependencies=[Depends(require_json_body), Depends(single_query_values)],
    route_class=ParsedJsonRoute,
)

# Ids outside the column's range cannot exist: refuse them before they reach the database.
TaskId = Annotated[int, Path(ge=1, le=2**31 - 1)]
# 1..255 printable ASCII characters, without the spaces HTTP would strip at either end.
IdempotencyKey = Annotated[
    str | SkipJsonSchema[None],
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[!-~]([ -~]*[!-~])?$",
        description="Replays the first create made with this key (for 24 hours) instead of "
        "creating again",
    ),
]
_LOCATION = {"Location": {"description": "The task's URL", "schema": {"type": "string"}}}


async def _user_gone_or_not_found(session: AsyncSession, owner_id: int) -> HTTPException:
    # Only when nothing was found: the happy path costs no query for the user.
    if not await service.user_exists(session, owner_id):
        return unauthorized("The token's user no longer exists")
    return HTTPException(404, "Task not found")


async def _owned_task(task_id: TaskId, owner_id: CurrentUserId, session: SessionDep) -> Task:
    task = await service.get_task(session, owner_id=owner_id, task_id=task_id)
    if task is None:
        raise await _user_gone_or_not_found(session, owner_id)
    return task


OwnedTask = Annotated[Task, Depends(_owned_task)]


async def _announce_created(body: dict[str, Any]) -> None:
    """Runs after the response is sent: never delays it."""
    logger.info("task.created", extra={"task_id": body["id"], "owner_id": body["owner_id"]})


@router.post(
    "",
    status_code=201,
    response_model=TaskOut,
    responses={201: {"headers": _LOCATION}},
)
async def create_task(
    data: TaskCreate,
    owner_id: CurrentUserId,
    session: SessionDep,
    background: BackgroundTasks,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    try:
        created = await service.create_task(
            session, owner_id=owner_id, data=data, idempotency_key=idempotency_key
        )
    except service.OwnerNotFoundError:
        raise unauthorized("The token's user no longer exists") from None
    except service.IdempotencyKeyReusedError:
        return problem(
            422,
            "The request has invalid fields",
            errors=[
                {
                    "field": "Idempotency-Key",
                    "message": "already used with a different request body",
                }
            ],
        )
    headers = {"Location": created.location}
    if created.replayed:
        headers["Idempotent-Replayed"] = "true"
    else:
        background.add_task(_announce_created, created.body)
    return JSONResponse(created.body, status_code=201, headers=headers)


@router.get("")
async def list_tasks(
    owner_id: CurrentUserId,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    # `?status=` (empty) lists every status, like leaving it out.
    status: Literal["", TaskStatus] = "",
) -> TaskPage:
    tasks, total = await service.list_tasks(
        session, owner_id=owner_id, status=status or None, limit=limit, offset=offset
    )
    if not total and not await service.user_exists(session, owner_id):
        raise unauthorized("The token's user no longer exists")
    return TaskPage(
        items=[TaskOut.model_validate(task) for task in tasks],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.get("/{task_id}")
async def read_task(task: OwnedTask) -> TaskOut:
    return TaskOut.model_validate(task)


@router.patch("/{task_id}")
async def update_task(task: OwnedTask, changes: TaskUpdate, session: SessionDep) -> TaskOut:
    # Left out and null differ for the description only: null clears it.
    given = changes.model_fields_set
    updated = await service.update_task(
        session,
        task=task,
        title=changes.title,
        description=changes.description if "description" in given else service.UNCHANGED,
        status=changes.status,
    )
    return TaskOut.model_validate(updated)


@router.delete("/{task_id}", status_code=204)
async def delete_task(task: OwnedTask, session: SessionDep) -> None:
    await service.delete_task(session, task)
