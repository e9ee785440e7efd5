import hashlib
import json
from datetime import timedelta
from enum import Enum
from typing import Any, NamedTuple

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import IdempotencyKey, Task, TaskStatus, User, utcnow
from ..schemas import TaskCreate, TaskOut

# How long a create's response is replayed for its idempotency key.
IDEMPOTENCY_KEY_TTL = timedelta(hours=24)


class Unchanged(Enum):
    """A field an update leaves as it is, where None is a value it may be set to."""

    UNCHANGED = "unchanged"


UNCHANGED = Unchanged.UNCHANGED


class OwnerNotFoundError(Exception):
    """The token is valid but its user is gone."""


class IdempotencyKeyReusedError(Exception):
    """The key came with another body than the create it was first used for."""


class CreateResponse(NamedTuple):
    """A create's 201 answer, as first sent or as replayed for its idempotency key."""

    location: str
    body: dict[str, Any]
    replayed: bool = False


def _fingerprint(data: TaskCreate) -> str:
    # After validation: the same fields in another order or spacing are the same request.
    return hashlib.sha256(data.model_dump_json().encode()).hexdigest()


async def _stored_response(
    session: AsyncSession, *, owner_id: int, key: str | None, fingerprint: str
) -> CreateResponse | None:
    """What the create made with this key answered, if there is a key and such a create."""
    if key is None:
        return None
    stored = await session.scalar(
        select(IdempotencyKey).where(
            IdempotencyKey.owner_id == owner_id,
            IdempotencyKey.key == key,
            IdempotencyKey.created_at > utcnow() - IDEMPOTENCY_KEY_TTL,
        )
    )
    if stored is None:
        return None
    if stored.request_hash != fingerprint:
        raise IdempotencyKeyReusedError(key)
    response = json.loads(stored.response)
    return CreateResponse(response["location"], response["body"], replayed=True)


# Concurrent keyed creates of different users can deadlock more than once in a row under load.
DEADLOCK_RETRIES = 3


def _is_deadlock(error: OperationalError) -> bool:
    """InnoDB's gap locks can make concurrent keyed creates deadlock (MySQL error 1213)."""
    args: tuple[object, ...] = getattr(error.orig, "args", ())
    return bool(args) and args[0] == 1213


async def create_task(
    session: AsyncSession,
    *,
    owner_id: int,
    data: TaskCreate,
    idempotency_key: str | None = None,
    deadlock_retries: int = DEADLOCK_RETRIES,
) -> CreateResponse:
    """Creates the task, or with a key already used replays what that create answered.

    The task and its key's stored response commit together: a create either happened and can
    be replayed, or did not happen at all. Concurrent creates with one key meet at the key's
    primary key; the losers replay the winner's response.
    """
    fingerprint = _fingerprint(data)
    stored = await _stored_response(
        session, owner_id=owner_id, key=idempotency_key, fingerprint=fingerprint
    )
    if stored is not None:
        return stored
    task = Task(owner_id=owner_id, **data.model_dump())
    session.add(task)
    try:
        await session.flush()
        created = CreateResponse(
            f"/api/v1/tasks/{task.id}", TaskOut.model_validate(task).model_dump(mode="json")
        )
        if idempotency_key is not None:
            await session.execute(  # an expired use of the key makes way
                delete(IdempotencyKey).where(
                    IdempotencyKey.owner_id == owner_id,
                    IdempotencyKey.key == idempotency_key,
                    IdempotencyKey.created_at <= utcnow() - IDEMPOTENCY_KEY_TTL,
                )
            )
            stored_response = {"status": 201, "location": created.location, "body": created.body}
            session.add(
                IdempotencyKey(
                    owner_id=owner_id,
                    key=idempotency_key,
                    request_hash=fingerprint,
                    response=json.dumps(stored_response, ensure_ascii=False),
                )
            )
        await session.commit()
    except IntegrityError as error:  # the owner's foreign key, or the key taken meanwhile
        await session.rollback()
        stored = await _stored_response(
            session, owner_id=owner_id, key=idempotency_key, fingerprint=fingerprint
        )
        if stored is not None:
            return stored
        raise OwnerNotFoundError(owner_id) from error
    except OperationalError as error:
        # The deadlock's loser was rolled back whole: once more finds the winner's response
        # or, when the deadlock was with another key's create, makes this one.
        if idempotency_key is None or deadlock_retries <= 0 or not _is_deadlock(error):
            raise
        await session.rollback()
        return await create_task(
            session,
            owner_id=owner_id,
            data=data,
            idempotency_key=idempotency_key,
            deadlock_retries=deadlock_retries - 1,
        )
    return created


async def user_exists(session: AsyncSession, user_id: int) -> bool:
    return await session.scalar(select(User.id).where(User.id == user_id)) is not None


async def get_task(session: AsyncSession, *, owner_id: int, task_id: int) -> Task | None:
    """One query, scoped to the owner: another user's task simply does not exist."""
    return await session.scalar(select(Task).where(Task.id == task_id, Task.owner_id == owner_id))


async def list_tasks(
    session: AsyncSession, *, owner_id: int, status: str | None, limit: int, offset: int
) -> tuple[list[Task], int]:
    conditions = [Task.owner_id == owner_id]
    if status is not None:
        conditions.append(Task.status == status)
    total = await session.scalar(select(func.count()).select_from(Task).where(*conditions))
    rows = await session.scalars(
        select(Task)
        .where(*conditions)
        .order_by(Task.created_at.desc(), Task.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows), total or 0


async def update_task(
    session: AsyncSession,
    *,
    task: Task,
    title: str | None = None,
    description: str | Unchanged | None = UNCHANGED,
    status: TaskStatus | None = None,
) -> Task:
    """Writes the fields given, and only these: title and status are never null, so None
    leaves them as they are; a description of None clears it."""
    if title is not None:
        task.title = title
    if description is not UNCHANGED:
        task.description = description
    if status is not None:
        task.status = status
    task.updated_at = utcnow()
    await session.commit()
    return task


async def delete_task(session: AsyncSession, task: Task) -> None:
    await session.delete(task)
    await session.commit()
