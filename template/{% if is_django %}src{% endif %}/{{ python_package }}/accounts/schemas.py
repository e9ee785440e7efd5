from datetime import datetime
from typing import Annotated, Literal

from ninja import Schema
from pydantic import ConfigDict, StringConstraints

Username = Annotated[
    str, StringConstraints(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
]
Password = Annotated[str, StringConstraints(min_length=8, max_length=128)]


class Credentials(Schema):
    model_config = ConfigDict(extra="forbid")

    username: Username
    password: Password


class UserOut(Schema):
    id: int
    username: str
    created_at: datetime


class Token(Schema):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - a scheme name, not a secret
    expires_in: int
