"""Writes; the view schedules the task_created signal once the task is saved."""

from typing import Any

from django.db import IntegrityError

from .models import Task


class OwnerNotFoundError(Exception):
    """The token is valid but its user is gone."""


async def task_create(*, owner_id: int, title: str, description: str | None) -> Task:
    try:
        return await Task.objects.acreate(owner_id=owner_id, title=title, description=description)
    except IntegrityError as error:  # the foreign key: no such user (any more)
        raise OwnerNotFoundError(owner_id) from error


async def task_update(task: Task, changes: dict[str, Any]) -> Task:
    for field, value in changes.items():
        setattr(task, field, value)
    await task.asave(update_fields=[*changes, "updated_at"])
    return task


async def task_delete(task: Task) -> None:
    await task.adelete()
