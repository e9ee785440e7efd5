import asyncio
import logging
from collections.abc import Coroutine
from typing import Annotated, Any

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.db import connections
from django.http import HttpRequest, HttpResponse
from ninja import Router
from ninja.errors import HttpError
from pydantic import Field

from ..accounts.tokens import BearerToken, caller_id, ensure_caller_exists
from . import selectors, services
from .models import Task
from .schemas import TaskCreate, TaskOut, TaskPage, TaskStatusFilter, TaskUpdate
from .signals import task_created

logger = logging.getLogger(__name__)
router = Router(tags=["tasks"], auth=BearerToken())

# Ids outside the column's range cannot exist: refuse them before they reach the database.
TaskId = Annotated[int, Field(ge=1, le=2**31 - 1)]
# Background work in flight: kept referenced so it is not garbage-collected mid-way.
_background: set[asyncio.Task[Any]] = set()


async def _run_detached(coroutine: Coroutine[Any, Any, Any]) -> None:
    # Its own thread context and connections, closed when done: the request's are gone.
    async with ThreadSensitiveContext():
        try:
            await coroutine
        except Exception:
            logger.exception("background work failed")
        finally:
            await sync_to_async(connections.close_all)()


def _in_background(coroutine: Coroutine[Any, Any, Any]) -> None:
    """Runs after the response is on its way: never delays it."""
    job = asyncio.create_task(_run_detached(coroutine))
    _background.add(job)
    job.add_done_callback(_background.discard)


async def _owned_task(request: HttpRequest, task_id: int) -> Task:
    task = await selectors.task_get(owner_id=caller_id(request), task_id=task_id)
    if task is None:
        await ensure_caller_exists(request)
        raise HttpError(404, "Task not found")
    return task


@router.post("", response={201: TaskOut})
async def create_task(request: HttpRequest, response: HttpResponse, data: TaskCreate) -> TaskOut:
    try:
        created = await services.task_create(
            owner_id=caller_id(request), title=data.title, description=data.description
        )
    except services.OwnerNotFoundError:
        raise HttpError(401, "The token's user no longer exists") from None
    task = TaskOut.model_validate(created, from_attributes=True)
    response["Location"] = f"/api/v1/tasks/{task.id}"
    _in_background(task_created.asend(sender=Task, task=task))
    return task


@router.get("", response=TaskPage)
async def list_tasks(
    request: HttpRequest,
    limit: Annotated[int, Field(ge=1, le=100)] = 20,
    offset: Annotated[int, Field(ge=0, le=2**31 - 1)] = 0,
    status: TaskStatusFilter = "",
) -> TaskPage:
    tasks, total = await selectors.task_list(
        owner_id=caller_id(request), status=status or None, limit=limit, offset=offset
    )
    if total == 0:
        await ensure_caller_exists(request)
    return TaskPage(
        items=[TaskOut.model_validate(task, from_attributes=True) for task in tasks],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.get("/{task_id}", response=TaskOut)
async def read_task(request: HttpRequest, task_id: TaskId) -> TaskOut:
    return TaskOut.model_validate(await _owned_task(request, task_id), from_attributes=True)


@router.patch("/{task_id}", response=TaskOut)
async def update_task(request: HttpRequest, task_id: TaskId, data: TaskUpdate) -> TaskOut:
    task = await _owned_task(request, task_id)
    updated = await services.task_update(task, data.model_dump(exclude_unset=True))
    return TaskOut.model_validate(updated, from_attributes=True)


@router.delete("/{task_id}", response={204: None})
async def delete_task(request: HttpRequest, task_id: TaskId) -> None:
    await services.task_delete(await _owned_task(request, task_id))
