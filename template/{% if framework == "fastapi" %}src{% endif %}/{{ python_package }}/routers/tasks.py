import logging
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, HTTPException, Path, Query, Response
from pydantic import BeforeValidator

from ..dependencies import CurrentUserId, SessionDep, require_json_body, unauthorized
from ..errors import problem_responses
from ..models import Task, TaskStatus
from ..schemas import TaskCreate, TaskOut, TaskPage, TaskUpdate
from ..services import tasks as service

logger = logging.getLogger(__name__)

router = APIRouter(
    prefix="/tasks",
    tags=["tasks"],
    dependencies=[Depends(require_json_body)],
    responses=problem_responses(401, 404, 415, 422),
)

# Ids outside the column's range cannot exist: refuse them before they reach the database.
TaskId = Annotated[int, Path(ge=1, le=2**31 - 1)]


async def _owned_task(task_id: TaskId, owner_id: CurrentUserId, session: SessionDep) -> Task:
    task = await service.get_task(session, owner_id=owner_id, task_id=task_id)
    if task is None:
        raise HTTPException(404, "Task not found")
    return task


OwnedTask = Annotated[Task, Depends(_owned_task)]


async def _announce_created(task: TaskOut) -> None:
    """Runs after the response is sent: never delays it."""
    logger.info("task.created", extra={"task_id": task.id, "owner_id": task.owner_id})


@router.post("", status_code=201)
async def create_task(
    data: TaskCreate,
    owner_id: CurrentUserId,
    session: SessionDep,
    response: Response,
    background: BackgroundTasks,
) -> TaskOut:
    try:
        created = await service.create_task(session, owner_id=owner_id, data=data)
    except service.OwnerNotFoundError:
        raise unauthorized("The token's user no longer exists") from None
    task = TaskOut.model_validate(created)
    response.headers["Location"] = f"/api/v1/tasks/{task.id}"
    background.add_task(_announce_created, task)
    return task


@router.get("")
async def list_tasks(
    owner_id: CurrentUserId,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    # `?status=` (empty) lists every status, like leaving it out.
    status: Annotated[TaskStatus | None, BeforeValidator(lambda value: value or None)] = None,
) -> TaskPage:
    tasks, total = await service.list_tasks(
        session, owner_id=owner_id, status=status, limit=limit, offset=offset
    )
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
    return TaskOut.model_validate(await service.update_task(session, task, changes))


@router.delete("/{task_id}", status_code=204)
async def delete_task(task: OwnedTask, session: SessionDep) -> None:
    await service.delete_task(session, task)
