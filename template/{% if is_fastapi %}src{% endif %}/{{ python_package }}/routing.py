"""The route class of every API router: JSON bodies come already parsed, and checked, by the
JsonBody ASGI layer, so FastAPI takes that value instead of parsing the body a second time."""

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from .asgi import JSON_BODY_SCOPE_KEY


class ParsedJsonRequest(Request):
    async def json(self) -> Any:
        if JSON_BODY_SCOPE_KEY in self.scope:
            return self.scope[JSON_BODY_SCOPE_KEY]
        return await super().json()


class ParsedJsonRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def parsed_json_handler(request: Request) -> Response:
            return await handler(ParsedJsonRequest(request.scope, request.receive))

        return parsed_json_handler
