"""Writes; the view schedules the task_created signal once the task is saved."""

from datetime import timedelta
from enum import Enum
from typing import Any

from asgiref.sync import sync_to_async
from django.db import IntegrityError, transaction
from django.utils import timezone

from .models import IdempotencyKey, Task
from .schemas import TaskOut, TaskStatus

IDEMPOTENCY_KEY_TTL = timedelta(hours=24)


class OwnerNotFoundError(Exception):
    """The token is valid but its user is gone."""


# Every write runs in a transaction, however small: a write whose request failed (a timeout,
# a lost connection) is never committed by a server that carries on without its client.
@sync_to_async
def task_create(*, owner_id: int, title: str, description: str | None) -> Task:
    try:
        with transaction.atomic():
            return Task.objects.create(owner_id=owner_id, title=title, description=description)
    except IntegrityError as error:  # the foreign key: no such user (any more)
        raise OwnerNotFoundError(owner_id) from error


class IdempotencyKeyReusedError(Exception):
    """The key was first used with another body."""


@sync_to_async
def task_create_once(
    *, owner_id: int, title: str, description: str | None, key: str, request_hash: str
) -> tuple[dict[str, Any], bool]:
    """Creates the task and stores its response under `key` in one transaction, or returns the
    response stored by the first request with that key: (response, replayed)."""
    keys = IdempotencyKey.objects.filter(owner_id=owner_id, key=key)
    cutoff = timezone.now() - IDEMPOTENCY_KEY_TTL
    stored = keys.filter(created_at__gt=cutoff).first()
    if stored is not None:  # a retry: no task to create and roll back
        return _replay(stored, request_hash)
    try:
        with transaction.atomic():
            keys.filter(created_at__lte=cutoff).delete()  # expired: the key is free again
            task = Task.objects.create(owner_id=owner_id, title=title, description=description)
            response = _task_json(task)
            IdempotencyKey.objects.create(
                owner_id=owner_id, key=key, request_hash=request_hash, response=response
            )
        return response, False
    except IntegrityError as error:
        # The unique (owner, key) index made this request wait for the first one with the
        # key, and refused it once that committed: replay what the first one answered.
        stored = keys.first()
        if stored is None:  # the foreign key: no such user (any more)
            raise OwnerNotFoundError(owner_id) from error
    return _replay(stored, request_hash)


def _replay(stored: IdempotencyKey, request_hash: str) -> tuple[dict[str, Any], bool]:
    if stored.request_hash != request_hash:
        raise IdempotencyKeyReusedError(stored.key)
    return stored.response, True


def _task_json(task: Task) -> dict[str, Any]:
    return TaskOut.model_validate(task, from_attributes=True).model_dump(mode="json")


class Unchanged(Enum):
    """The default of a field an update leaves alone: None is a value (it clears the
    description), so it cannot mean "not given"."""

    UNCHANGED = "unchanged"


UNCHANGED = Unchanged.UNCHANGED


@sync_to_async
def task_update(
    *,
    task: Task,
    title: str | Unchanged = UNCHANGED,
    description: str | Unchanged | None = UNCHANGED,
    status: TaskStatus | Unchanged = UNCHANGED,
) -> Task:
    """Changes the fields given, and only those (an owner is never one of them)."""
    changed = ["updated_at"]
    if title is not UNCHANGED:
        task.title = title
        changed.append("title")
    if description is not UNCHANGED:
        task.description = description
        changed.append("description")
    if status is not UNCHANGED:
        task.status = status
        changed.append("status")
    with transaction.atomic():
        task.save(update_fields=changed)
    return task


@sync_to_async
def task_delete(*, task: Task) -> None:
    with transaction.atomic():
        task.delete()
