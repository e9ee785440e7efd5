from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Task, utcnow
from ..schemas import TaskCreate, TaskUpdate


class OwnerNotFoundError(Exception):
    """The token is valid but its user is gone."""


async def create_task(session: AsyncSession, *, owner_id: int, data: TaskCreate) -> Task:
    task = Task(owner_id=owner_id, **data.model_dump())
    session.add(task)
    try:
        await session.commit()
    except IntegrityError as error:  # the foreign key: no such user (any more)
        await session.rollback()
        raise OwnerNotFoundError(owner_id) from error
    return task


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


async def update_task(session: AsyncSession, task: Task, changes: TaskUpdate) -> Task:
    for field, value in changes.model_dump(exclude_unset=True).items():
        setattr(task, field, value)
    task.updated_at = utcnow()
    await session.commit()
    return task


async def delete_task(session: AsyncSession, task: Task) -> None:
    await session.delete(task)
    await session.commit()
