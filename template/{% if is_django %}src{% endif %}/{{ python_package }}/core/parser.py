"""How Ninja reads requests: bodies as the JsonBody ASGI layer parsed them (once, as strict
I-JSON), and query strings that name each parameter once."""

from typing import Any, cast

from django.http import HttpRequest
from django.utils.datastructures import MultiValueDict
from ninja.errors import ValidationError
from ninja.parser import Parser

from ..asgi import JSON_BODY_SCOPE_KEY


class StrictParser(Parser):
    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        scope = getattr(request, "scope", {})
        if JSON_BODY_SCOPE_KEY in scope:
            return cast(dict[str, Any], scope[JSON_BODY_SCOPE_KEY])
        return super().parse_body(request)  # a request that came another way (the test client)

    def parse_querydict(
        self, data: MultiValueDict[str, Any], list_fields: list[str], request: HttpRequest
    ) -> dict[str, Any]:
        # `?offset=1&offset=2` is ambiguous: refused, where Django would take the last one.
        repeated = [
            key for key, values in data.lists() if len(values) > 1 and key not in list_fields
        ]
        if repeated:
            raise ValidationError(
                [
                    {"loc": ("query", key), "msg": "given more than once", "type": "value_error"}
                    for key in repeated
                ]
            )
        return super().parse_querydict(data, list_fields, request)
