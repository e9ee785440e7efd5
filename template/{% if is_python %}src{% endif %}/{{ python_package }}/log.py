"""Structured logs: JSON lines in production, readable lines in development.

Every line carries the request id of the request it belongs to (a context variable),
including lines written by background work started by that request.
"""

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

_HANDLER_NAME = "app"
request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

# Attributes every LogRecord has: anything else was passed with `extra=`.
# (uvicorn adds `color_message`, a duplicate of the message with terminal colours.)
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "request_id",
    "color_message",
}


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class WebSocketNoiseFilter(logging.Filter):
    """Drops uvicorn's lines about WebSocket handshakes: they print the query string, where a
    client may carry its token, and the service logs each handshake itself without it. Its
    sans-io protocol also logs an error after every handshake refused with an HTTP response
    (it never marks those complete); RequestContext logs the refusal instead."""

    _NOISE = (
        '"WebSocket %s"',
        "connection open",
        "connection closed",
        "ASGI callable returned without completing handshake",
    )

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        # At debug, websockets traces each handshake line by line ("< GET /path?token=...",
        # "< Authorization: Bearer ..."), through the logger uvicorn hands it.
        return not message.startswith(("< ", "> ")) and not any(
            noise in message for noise in self._NOISE
        )


def _extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    return {key: value for key, value in vars(record).items() if key not in _RECORD_ATTRIBUTES}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "msg": record.getMessage(),
            "logger": record.name,
            "request_id": getattr(record, "request_id", None),
            **_extra_fields(record),
        }
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class ConsoleFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created).strftime("%H:%M:%S.%f")[:-3]
        fields = " ".join(f"{key}={value}" for key, value in _extra_fields(record).items())
        request_id = getattr(record, "request_id", None)
        line = f"{ts} {record.levelname:<7} {record.getMessage()}"
        if fields:
            line += f" {fields}"
        if request_id:
            line += f" request_id={request_id}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure_logging(level: str, log_format: Literal["console", "json"]) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if log_format == "json" else ConsoleFormatter())
    handler.set_name(_HANDLER_NAME)
    root = logging.getLogger()
    # Replace our handler on reconfiguration; leave others' (pytest's capture) alone.
    for existing in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # aiosqlite logs every statement with its parameters at DEBUG: password hashes among them.
    logging.getLogger("aiosqlite").setLevel(logging.INFO)
    # RequestContext (asgi.py) logs one line per request; uvicorn's access log would double it.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    uvicorn_error = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, WebSocketNoiseFilter) for f in uvicorn_error.filters):
        uvicorn_error.addFilter(WebSocketNoiseFilter())
