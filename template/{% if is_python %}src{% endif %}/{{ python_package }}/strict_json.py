"""I-JSON (RFC 7493) parsing: what the service accepts as a JSON body, whatever the framework.

Python's `json` alone accepts duplicate member names (the last one wins), lone surrogates,
`NaN` and any nesting depth (until a RecursionError): each is refused here instead.
"""

import json
import re
from typing import Any

MAX_DEPTH = 32

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_A_BRACKET = bytes(set(range(256)) - set(b"[]{}"))
_INNERMOST = re.compile(rb"\[\]|\{\}")
# A \uD800-\uDFFF escape somewhere (maybe escaped itself): worth a closer look.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


class InvalidJsonError(ValueError):
    """The body is not I-JSON; the message says why, fit for a 400's detail."""


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    members = dict(pairs)
    if len(members) != len(pairs):
        msg = "duplicate member name"
        raise InvalidJsonError(msg)
    return members


def _refuse_constant(name: str) -> Any:
    msg = f"{name} is not JSON"
    raise InvalidJsonError(msg)


def _too_deep(body: bytes) -> bool:
    """Whether valid JSON nests deeper than MAX_DEPTH: peel the innermost containers off, one
    level per pass, in C (strings first removed, since they may hold brackets)."""
    brackets = _STRING.sub(b"", body).translate(None, _NOT_A_BRACKET)
    for _ in range(MAX_DEPTH):
        if not brackets:
            return False
        brackets = _INNERMOST.sub(b"", brackets)
    return bool(brackets)


def _has_lone_surrogate(value: Any) -> bool:
    # A proper escaped pair decodes to one character: any surrogate left is a lone one.
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            pending.extend(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def loads(body: bytes) -> Any:
    """The body's value, or InvalidJsonError."""
    if not body.strip():
        msg = "the body is empty"
        raise InvalidJsonError(msg)
    try:
        text = body.decode()  # strict UTF-8: raw surrogates are invalid too
    except UnicodeDecodeError:
        msg = "the body is not valid UTF-8"
        raise InvalidJsonError(msg) from None
    try:
        value = json.loads(text, object_pairs_hook=_unique_members, parse_constant=_refuse_constant)
    except InvalidJsonError:
        raise
    except RecursionError:
        msg = f"the body nests deeper than {MAX_DEPTH} levels"
        raise InvalidJsonError(msg) from None
    except ValueError as error:
        msg = f"the body is not valid JSON: {error}"
        raise InvalidJsonError(msg) from None
    if _too_deep(body):
        msg = f"the body nests deeper than {MAX_DEPTH} levels"
        raise InvalidJsonError(msg)
    if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(value):
        msg = "the body holds a lone surrogate"
        raise InvalidJsonError(msg)
    return value
