from datetime import datetime
from typing import Annotated, Literal

from ninja import Schema
from pydantic import ConfigDict, StringConstraints, field_validator

TaskStatus = Literal["pending", "processing", "done"]
# No NUL characters: not every database can store them in text.
Title = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00]*$")]
Description = Annotated[str, StringConstraints(max_length=10_000, pattern=r"^[^\x00]*$")]


class TaskCreate(Schema):
    model_config = ConfigDict(extra="forbid")

    title: Title
    description: Description | None = None


class TaskUpdate(Schema):
    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    description: Description | None = None
    status: TaskStatus | None = None

    @field_validator("title", "status")
    @classmethod
    def _not_null(cls, value: str | None) -> str:
        # Omitted means "unchanged"; an explicit null is a mistake.
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
