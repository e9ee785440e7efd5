import hashlib
import json
import re
from typing import Annotated

from django.http import HttpRequest, HttpResponse
from ninja import Router
from ninja.errors import HttpError, ValidationError
from pydantic import Field

from ..accounts.tokens import BearerToken, caller_id, ensure_caller_exists
from ..core.background import run_in_background
from . import selectors, services
from .models import Task
from .schemas import TaskCreate, TaskOut, TaskPage, TaskStatusFilter, TaskUpdate
from .signals import task_created

router = Router(tags=["tasks"], auth=BearerToken())

# Printable ASCII; HTTP would strip a space at either end, so a key cannot have one there.
IDEMPOTENCY_KEY = re.compile(r"[!-~](?:[ -~]{0,253}[!-~])?")
# Ids outside the column's range cannot exist: refuse them before they reach the database.
TaskId = Annotated[int, Field(ge=1, le=2**31 - 1)]


async def _owned_task(request: HttpRequest, task_id: int) -> Task:
    task = await selectors.task_get(owner_id=caller_id(request), task_id=task_id)
    if task is None:
        await ensure_caller_exists(request)
        raise HttpError(404, "Task not found")
    return task


@router.post(
    "",
    response={201: TaskOut},
    openapi_extra={
        "parameters": [
            {
                "in": "header",
                "name": "Idempotency-Key",
                "required": False,
                "description": "Replays the first create made with this key (for 24 hours) "
                "instead of creating again",
                "schema": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 255,
                    "pattern": f"^{IDEMPOTENCY_KEY.pattern}$",
                },
            }
        ]
    },
)
async def create_task(request: HttpRequest, response: HttpResponse, data: TaskCreate) -> TaskOut:
    key = _idempotency_key(request)
    try:
        if key is None:
            created = await services.task_create(
                owner_id=caller_id(request), title=data.title, description=data.description
            )
            task, replayed = TaskOut.model_validate(created, from_attributes=True), False
        else:
            stored, replayed = await services.task_create_once(
                owner_id=caller_id(request),
                title=data.title,
                description=data.description,
                key=key,
                request_hash=_fingerprint(data),
            )
            task = TaskOut.model_validate(stored)
    except services.OwnerNotFoundError:
        raise HttpError(401, "The token's user no longer exists") from None
    except services.IdempotencyKeyReusedError:
        raise _invalid_key("was first used with another body") from None
    response["Location"] = f"/api/v1/tasks/{task.id}"
    if replayed:
        response["Idempotent-Replayed"] = "true"
    else:
        run_in_background(task_created.asend(sender=Task, task=task))
    return task


def _idempotency_key(request: HttpRequest) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is not None and not IDEMPOTENCY_KEY.fullmatch(key):
        raise _invalid_key("must be 1 to 255 printable ASCII characters, no space at either end")
    return key


def _invalid_key(message: str) -> ValidationError:
    return ValidationError(
        [{"loc": ("header", "Idempotency-Key"), "msg": message, "type": "value_error"}]
    )


def _fingerprint(data: TaskCreate) -> str:
    """The body as validated: the same fields in another order are the same request."""
    canonical = json.dumps(data.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


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
    # Only the fields sent: the schema forbids others, the service has no parameter for them.
    updated = await services.task_update(task=task, **data.model_dump(exclude_unset=True))
    return TaskOut.model_validate(updated, from_attributes=True)


@router.delete("/{task_id}", response={204: None})
async def delete_task(request: HttpRequest, task_id: TaskId) -> None:
    await services.task_delete(task=await _owned_task(request, task_id))
