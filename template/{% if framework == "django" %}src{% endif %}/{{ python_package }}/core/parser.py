"""Request bodies as the JsonBody ASGI layer parsed them: once, and as strict I-JSON."""

from typing import Any, cast

from django.http import HttpRequest
from ninja.parser import Parser

from ..asgi import JSON_BODY_SCOPE_KEY


class PreParsedJson(Parser):
    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        scope = getattr(request, "scope", {})
        if JSON_BODY_SCOPE_KEY in scope:
            return cast(dict[str, Any], scope[JSON_BODY_SCOPE_KEY])
        return super().parse_body(request)  # a request that came another way (the test client)
