"""HS256 access tokens: the caller's id, signed; no database round trip to check one."""

import time

import jwt
from django.conf import settings
from django.http import HttpRequest
from ninja.errors import HttpError
from ninja.security import HttpBearer

from .selectors import user_exists

JWT_ALGORITHM = "HS256"


def create_access_token(user_id: int) -> str:
    now = int(time.time())
    claims = {"sub": str(user_id), "iat": now, "exp": now + settings.JWT_TTL_S}
    return jwt.encode(claims, settings.JWT_SECRET, algorithm=JWT_ALGORITHM)


def caller_id(request: HttpRequest) -> int:
    """The id BearerToken authenticated: Ninja puts it on the request as `auth`."""
    user_id: int = request.auth  # type: ignore[attr-defined]
    return user_id


async def ensure_caller_exists(request: HttpRequest) -> None:
    """A valid token can outlive its user: 401 then. Checked only when a read found nothing
    (or a write hit the missing foreign key), so the happy path costs no extra query."""
    if not await user_exists(user_id=caller_id(request)):
        raise HttpError(401, "The token's user no longer exists")


class BearerToken(HttpBearer):
    """Authenticates as the token's user id (`request.auth`); Ninja answers 401 otherwise."""

    def authenticate(self, request: HttpRequest, token: str) -> int | None:
        try:
            claims = jwt.decode(
                token,
                settings.JWT_SECRET,
                algorithms=[JWT_ALGORITHM],
                options={"require": ["sub", "exp"]},
            )
            return int(claims["sub"])
        except (jwt.PyJWTError, ValueError):
            return None
