"""Shared dependencies, used as `Annotated` aliases in the routers.

All are `async def`: FastAPI runs plain `def` dependencies in a thread pool.
"""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession

from .asgi import BODY_METHODS, is_json_content_type
from .db import Database
from .security import InvalidTokenError, user_id_from_token
from .settings import Settings

_bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


async def get_app_settings(request: Request) -> Settings:
    """The settings the app was created with (tests create apps with their own)."""
    settings: Settings = request.app.state.settings
    return settings


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    database: Database = request.app.state.database
    async with database.sessionmaker() as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
# scope="function": the connection goes back to the pool when the endpoint returns, not after
# the response is sent and background work is done.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


def unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


async def get_current_user_id(
    token: Annotated[str | None, Depends(_bearer)], settings: SettingsDep
) -> int:
    if token is None:
        raise unauthorized("Missing bearer token")
    try:
        return user_id_from_token(token, settings)
    except InvalidTokenError:
        raise unauthorized("Invalid or expired token") from None


CurrentUserId = Annotated[int, Depends(get_current_user_id)]


async def single_query_values(request: Request) -> None:
    """422 for a query parameter given twice: FastAPI would quietly keep the last value."""
    query = request.query_params
    repeated = sorted({key for key in query if len(query.getlist(key)) > 1})
    if repeated:
        raise RequestValidationError(
            [
                {"type": "repeated", "loc": ("query", key), "msg": "may be given once only"}
                for key in repeated
            ]
        )


async def require_json_body(request: Request) -> None:
    """415 for a body that is not JSON (FastAPI would otherwise report it as a 422)."""
    if request.method in BODY_METHODS and not is_json_content_type(
        request.headers.get("content-type")
    ):
        raise HTTPException(415, "Send the body as application/json")
