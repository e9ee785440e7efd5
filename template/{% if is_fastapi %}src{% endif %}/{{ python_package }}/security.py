"""Password hashing (argon2) and access tokens (HS256 JWT)."""

import os
import time

import jwt
from anyio import CapacityLimiter, to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from .settings import Settings

JWT_ALGORITHM = "HS256"
# argon2id with OWASP's parameters (19 MiB, 2 passes, 1 lane): ~30 ms of one core per hash,
# where RFC 9106's 64 MiB profile costs six times that, so a burst of logins costs a sixth of
# the CPU. Hashes carry their parameters: changing them keeps old hashes valid.
password_hasher = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)
# At most one hash per core at a time: a burst of logins queues instead of piling up threads,
# each holding its 19 MiB.
_hashing_slots = CapacityLimiter(os.cpu_count() or 1)
# Verified when the username is unknown, so both paths cost the same time.
_DUMMY_HASH = password_hasher.hash("not-a-real-password")


class InvalidTokenError(Exception):
    pass


async def hash_password(password: str) -> str:
    # argon2 is deliberately slow: keep it off the event loop.
    return await to_thread.run_sync(password_hasher.hash, password, limiter=_hashing_slots)


async def verify_password(password: str, password_hash: str | None) -> bool:
    try:
        await to_thread.run_sync(
            password_hasher.verify, password_hash or _DUMMY_HASH, password, limiter=_hashing_slots
        )
    except (VerificationError, InvalidHashError):
        return False
    return password_hash is not None


def create_access_token(user_id: int, settings: Settings) -> str:
    now = int(time.time())
    claims = {"sub": str(user_id), "iat": now, "exp": now + settings.jwt_ttl_s}
    return jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm=JWT_ALGORITHM)


def user_id_from_token(token: str, settings: Settings) -> int:
    """The caller's id, straight from the signed token: no database round trip."""
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret.get_secret_value(),
            algorithms=[JWT_ALGORITHM],
            options={"require": ["sub", "exp"]},
        )
        return int(claims["sub"])
    except (jwt.PyJWTError, ValueError) as error:
        raise InvalidTokenError(str(error)) from error
