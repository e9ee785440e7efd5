"""Request and response bodies: the contract's payloads, validated at the edge."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints, field_validator
from pydantic.json_schema import SkipJsonSchema

from .models import TaskStatus

Username = Annotated[
    str, StringConstraints(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
]
Password = Annotated[str, StringConstraints(min_length=8, max_length=128)]
# No NUL characters: not every database can store them in text.
Title = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00]*$")]
Description = Annotated[str, StringConstraints(max_length=10_000, pattern=r"^[^\x00]*$")]


class RequestBody(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Credentials(RequestBody):
    username: Username
    password: Password


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    created_at: datetime


class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - a scheme name, not a secret
    expires_in: int


class TaskCreate(RequestBody):
    title: Title
    description: Description | None = None


class TaskUpdate(RequestBody):
    # Title and status may be left out, not set to null: the schema does not offer null.
    title: Title | SkipJsonSchema[None] = None
    description: Description | None = None
    status: TaskStatus | SkipJsonSchema[None] = None

    @field_validator("title", "status")
    @classmethod
    def _not_null(cls, value: str | None) -> str:
        # Omitted means "unchanged"; an explicit null is a mistake.
        if value is None:
            msg = "may be omitted but not null"
            raise ValueError(msg)
        return value


class TaskOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    description: str | None
    status: TaskStatus
    owner_id: int
    created_at: datetime
    updated_at: datetime


class TaskPage(BaseModel):
    items: list[TaskOut]
    total: int
    limit: int
    offset: int


class Liveness(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, Literal["ok", "error"]]


class FieldError(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details, as every error body."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = None
