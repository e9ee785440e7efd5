"""Async receivers: Django 5 awaits them with `Signal.asend`."""

import logging
from typing import Any

from django.dispatch import receiver

from .schemas import TaskOut
from .signals import task_created

logger = logging.getLogger(__name__)


@receiver(task_created)
async def announce_task_created(sender: Any, task: TaskOut, **kwargs: Any) -> None:
    logger.info("task.created", extra={"task_id": task.id, "owner_id": task.owner_id})
