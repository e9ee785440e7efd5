from datetime import datetime
from typing import Annotated, Literal

from ninja import Schema
from pydantic import ConfigDict, StringConstraints, field_validator
from pydantic.json_schema import SkipJsonSchema

from ..core.openapi import omittable

TaskStatus = Literal["pending", "processing", "done"]
# `?status=` (empty) lists every status, like leaving it out.
TaskStatusFilter = Literal["", "pending", "processing", "done"]
# No NUL characters: not every database can store them in text.
Title = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00]*$")]
Description = Annotated[str, StringConstraints(max_length=10_000, pattern=r"^[^\x00]*$")]


class TaskCreate(Schema):
    model_config = ConfigDict(extra="forbid")

    title: Title
    description: Description | None = None


class TaskUpdate(Schema):
    model_config = ConfigDict(extra="forbid")

    # Omitted means "unchanged"; only the description can be set to null (it clears it).
    title: Title | SkipJsonSchema[None] = omittable()
    description: Description | None = None
    status: TaskStatus | SkipJsonSchema[None] = omittable()

    @field_validator("title", "status")
    @classmethod
    def _not_null(cls, value: str | None) -> str:
        if value is None:
            msg = "may be omitted but not null"
            raise ValueError(msg)
        return value


class TaskOut(Schema):
    id: int
    title: str
    description: str | None
    status: TaskStatus
    owner_id: int
    created_at: datetime
    updated_at: datetime


class TaskPage(Schema):
    items: list[TaskOut]
    total: int
    limit: int
    offset: int
