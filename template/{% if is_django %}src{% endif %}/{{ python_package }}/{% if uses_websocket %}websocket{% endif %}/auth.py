"""The handshake's checks, as Channels middleware: the Origin, then the token and its user.

A refused handshake is answered with HTTP 401 (no, a malformed or an expired token, or a user
that no longer exists), 403 (an origin CORS_ORIGINS does not list) or 503 (the database did not
answer), before it is accepted, through the ASGI WebSocket denial response; a server without it
answers 403."""

import logging
from typing import Any
from urllib.parse import parse_qs

from channels.middleware import BaseMiddleware
from django.conf import settings
from django.db import DatabaseError

from ..accounts.selectors import user_exists
from ..accounts.tokens import verify_access_token
from ..core.lifespan import Receive, Scope, Send
from ..problems import DATABASE_RETRY_AFTER_S, DATABASE_UNAVAILABLE, PROBLEM_JSON, problem_body
from ..realtime import origin_allowed

# Where the middleware leaves the caller for the consumer.
USER_ID_SCOPE_KEY = "user_id"
EXPIRES_AT_SCOPE_KEY = "token_expires_at"

logger = logging.getLogger(__name__)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def _token(scope: Scope) -> str | None:
    """`?token=` wins over `Authorization: Bearer`."""
    query = parse_qs(bytes(scope.get("query_string", b"")).decode("latin-1"))
    if query.get("token"):
        return query["token"][0]
    scheme, _, credentials = (_header(scope, b"authorization") or "").partition(" ")
    return credentials.strip() or None if scheme.lower() == "bearer" else None


class TokenAuthMiddleware(BaseMiddleware):  # type: ignore[misc]
    """Lets the handshake through with the caller in the scope, or refuses it."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> Any:
        if not origin_allowed(_header(scope, b"origin"), tuple(settings.CORS_ALLOWED_ORIGINS)):
            await refuse(receive, send, scope, 403, "The origin is not allowed")
            return None
        token = _token(scope)
        verified = verify_access_token(token) if token else None
        if verified is None:
            await refuse(receive, send, scope, 401, "A valid token is required")
            return None
        try:
            exists = await user_exists(user_id=verified.user_id)
        except DatabaseError:
            logger.warning("database unavailable", exc_info=True)
            await refuse(receive, send, scope, 503, DATABASE_UNAVAILABLE)
            return None
        if not exists:
            await refuse(receive, send, scope, 401, "The token's user no longer exists")
            return None
        scope = dict(scope)
        scope[USER_ID_SCOPE_KEY] = verified.user_id
        scope[EXPIRES_AT_SCOPE_KEY] = verified.expires_at
        return await self.inner(scope, receive, send)


async def refuse(receive: Receive, send: Send, scope: Scope, status: int, detail: str) -> None:
    """Answers the handshake with `status` and a problem+json body, without accepting it; a
    503 says when to retry, as the HTTP API's do."""
    await receive()  # websocket.connect
    if "websocket.http.response" not in scope.get("extensions", {}):
        await send({"type": "websocket.close"})  # the server answers 403
        return
    body = problem_body(status, detail)
    retry_after = [(b"retry-after", str(DATABASE_RETRY_AFTER_S).encode())] if status == 503 else []
    await send(
        {
            "type": "websocket.http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
                *retry_after,
            ],
        }
    )
    await send({"type": "websocket.http.response.body", "body": body})
