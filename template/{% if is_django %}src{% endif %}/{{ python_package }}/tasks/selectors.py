"""Reads, always scoped to the owner: another user's task simply does not exist."""

from .models import Task


async def task_get(*, owner_id: int, task_id: int) -> Task | None:
    return await Task.objects.filter(id=task_id, owner_id=owner_id).afirst()


async def task_list(
    *, owner_id: int, status: str | None, limit: int, offset: int
) -> tuple[list[Task], int]:
    tasks = Task.objects.filter(owner_id=owner_id)
    if status:
        tasks = tasks.filter(status=status)
    total = await tasks.acount()
    page = [task async for task in tasks.order_by("-created_at", "-id")[offset : offset + limit]]
    return page, total
