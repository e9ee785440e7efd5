"""The service's failures as gRPC status codes: never UNKNOWN for anything a client did."""

import grpc
from pydantic import ValidationError

DATABASE_UNAVAILABLE = "The database is unavailable, retry later"
UNEXPECTED = "An unexpected error occurred"


class RpcError(Exception):
    """Ends the call with this status; raised by the servicers, answered by CallContext."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        self.code = code
        self.details = details


def invalid(field: str, message: str) -> RpcError:
    """INVALID_ARGUMENT naming the field, as HTTP's 422 names it in `errors`."""
    return RpcError(grpc.StatusCode.INVALID_ARGUMENT, f"{field}: {message}")


def invalid_fields(error: ValidationError) -> RpcError:
    """The first field a schema refused, worded as HTTP's 422 words it."""
    first = error.errors()[0]
    # The field itself: what follows names the type that refused it (`title.constrained-str`).
    field = str(first["loc"][0]) if first["loc"] else "request"
    return invalid(field, first["msg"])


def not_found() -> RpcError:
    return RpcError(grpc.StatusCode.NOT_FOUND, "Task not found")


def unauthenticated(details: str) -> RpcError:
    return RpcError(grpc.StatusCode.UNAUTHENTICATED, details)
