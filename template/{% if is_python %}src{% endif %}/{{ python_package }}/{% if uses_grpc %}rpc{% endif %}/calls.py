"""Around every call: its request id, its caller, the rate limit, the status it ends with, and
one log line, as the ASGI layer does for an HTTP request."""

import asyncio
import inspect
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any, NamedTuple, TypeAlias

import grpc
from grpc import aio

from ..asgi import RateLimiter
from ..deadlines import AbandonedError, Deadline, deadline_var
from ..log import request_id_var
from .errors import DATABASE_UNAVAILABLE, UNEXPECTED, RpcError, unauthenticated

logger = logging.getLogger(__name__)

REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
# Codes that mean the service failed, not the client.
SERVER_FAULTS = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.DATA_LOSS}


class Caller(NamedTuple):
    user_id: int
    expires_at: float  # the token's expiry, as a Unix time


# Set for the calls of the services that need a token.
caller_var: ContextVar[Caller] = ContextVar("caller")
# What a call's initial metadata carries; a stream sends it once it is ready (see watch.py).
HEADERS_KEY = "x-request-id"
# A cancel this close to the deadline is the deadline, seen first by the client: its cancel
# arrives ahead of the server's deadline by the request's transit and queueing time.
DEADLINE_SLACK_S = 0.25

Authenticate = Callable[[str], Caller | None]  # None for a token it refuses
Behaviour = Callable[[Any, aio.ServicerContext[Any, Any]], Any]
# Subscripted for the type checker only: grpc's class is not generic at run time.
Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any] | None"


def current_caller() -> Caller:
    return caller_var.get()


def _metadata(details: grpc.HandlerCallDetails) -> dict[str, str]:
    return {
        key: value for key, value in details.invocation_metadata or () if isinstance(value, str)
    }


def _client_address(context: aio.ServicerContext[Any, Any]) -> str:
    """`ipv4:127.0.0.1:5000` or `ipv6:[::1]:5000` -> the address alone, as HTTP counts it."""
    peer = context.peer()
    address = peer.split(":", 1)[-1].rsplit(":", 1)[0]
    return address.strip("[]") or "unknown"


class CallContext(aio.ServerInterceptor):
    """Wraps the handlers of every service; `protected` names those that need a token."""

    def __init__(
        self,
        *,
        protected: tuple[str, ...],
        authenticate: Authenticate,
        limiter: RateLimiter | None,
        is_unavailable: Callable[[BaseException], bool],
        tidy: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.protected = tuple(f"/{service}/" for service in protected)
        self.authenticate = authenticate
        self.limiter = limiter
        self.is_unavailable = is_unavailable
        self.tidy = tidy  # awaited before and after each protected call

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        method = handler_call_details.method
        metadata = _metadata(handler_call_details)
        given = metadata.get("x-request-id", "")
        request_id = given if REQUEST_ID.match(given) else str(uuid.uuid4())
        call = _Call(self, method, metadata, request_id)
        wrap = {
            "unary_unary": grpc.unary_unary_rpc_method_handler,
            "unary_stream": grpc.unary_stream_rpc_method_handler,
            "stream_unary": grpc.stream_unary_rpc_method_handler,
            "stream_stream": grpc.stream_stream_rpc_method_handler,
        }
        for kind, make in wrap.items():
            behaviour = getattr(handler, kind)
            if behaviour is not None:
                return make(
                    call.wrap(behaviour, streams_out=kind.endswith("stream")),
                    request_deserializer=handler.request_deserializer,
                    response_serializer=handler.response_serializer,
                )
        return handler


class _Call:
    """One call's context, from its first byte to its log line."""

    def __init__(
        self, interceptor: CallContext, method: str, metadata: dict[str, str], request_id: str
    ) -> None:
        self.interceptor = interceptor
        self.method = method
        self.metadata = metadata
        self.request_id = request_id
        self.code = grpc.StatusCode.OK
        self.started = time.perf_counter()

    def wrap(self, behaviour: Behaviour, *, streams_out: bool) -> Behaviour:
        if inspect.isasyncgenfunction(behaviour):

            async def stream(request: Any, context: aio.ServicerContext[Any, Any]) -> Any:
                with _Scope(self, context) as failure:
                    await self._admit(context)
                    async for response in behaviour(request, context):
                        yield response
                await self._finish(context, failure)

            return stream

        async def unary(request: Any, context: aio.ServicerContext[Any, Any]) -> Any:
            if not streams_out:  # a stream sends its headers when it is ready (watch.py)
                await context.send_initial_metadata(((HEADERS_KEY, self.request_id),))
            response = None
            with _Scope(self, context) as failure:
                await self._admit(context)
                response = await behaviour(request, context)
            await self._finish(context, failure)
            return response

        return unary

    async def _admit(self, context: aio.ServicerContext[Any, Any]) -> None:
        """The rate limit and the token, for the services that need them."""
        if not self.method.startswith(self.interceptor.protected):
            return
        limiter = self.interceptor.limiter
        if limiter is not None and limiter.retry_after(_client_address(context)) is not None:
            detail = f"Rate limit of {limiter.per_minute} requests per minute exceeded"
            raise RpcError(grpc.StatusCode.RESOURCE_EXHAUSTED, detail)
        scheme, _, token = self.metadata.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthenticated("Missing bearer token")
        caller = self.interceptor.authenticate(token.strip())
        if caller is None:
            raise unauthenticated("Invalid or expired token")
        caller_var.set(caller)
        if self.interceptor.tidy is not None:
            await self.interceptor.tidy()

    async def _finish(self, context: aio.ServicerContext[Any, Any], failure: "_Failure") -> None:
        """Ends a failed call with its status, then logs it."""
        if self.interceptor.tidy is not None and self.method.startswith(self.interceptor.protected):
            await self.interceptor.tidy()
        try:
            if failure.code is not None:
                self.code = failure.code
                await context.abort(failure.code, failure.details)
        finally:
            self._log()

    def _log(self) -> None:
        level = logging.ERROR if self.code in SERVER_FAULTS else logging.INFO
        logger.log(
            level,
            "rpc",
            extra={
                "method": self.method,
                "code": self.code.name,
                "duration_ms": round((time.perf_counter() - self.started) * 1000, 2),
            },
        )


class _Failure:
    code: grpc.StatusCode | None = None
    details = ""


class _Scope:
    """The call's request id for everything it runs; what it raised, as a status."""

    def __init__(self, call: _Call, context: aio.ServicerContext[Any, Any]) -> None:
        self.call = call
        self.context = context
        self.failure = _Failure()
        self.deadline = Deadline(context.time_remaining())

    def __enter__(self) -> _Failure:
        # Each call runs in a task of its own: the values end with it.
        request_id_var.set(self.call.request_id)
        deadline_var.set(self.deadline)
        return self.failure

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, _: Any
    ) -> bool:
        if error is None:
            return False
        if isinstance(error, aio.AbortError | asyncio.CancelledError):
            self._ended_early(error)
            return False  # the call has its status already
        self.failure.code, self.failure.details = self._status(error)
        return True

    def _ended_early(self, error: BaseException) -> None:
        call = self.call
        if isinstance(error, aio.AbortError):  # the handler ended the call itself
            call.code = self.context.code() or grpc.StatusCode.UNKNOWN
        else:  # the deadline passed, or the client cancelled
            self.deadline.abandoned = True  # a write still running in a thread must not commit
            remaining = self.context.time_remaining()
            expired = remaining is not None and remaining < DEADLINE_SLACK_S
            call.code = grpc.StatusCode.DEADLINE_EXCEEDED if expired else grpc.StatusCode.CANCELLED
        call._log()

    def _status(self, error: BaseException) -> tuple[grpc.StatusCode, str]:
        if isinstance(error, RpcError):
            return error.code, error.details
        if isinstance(error, AbandonedError):  # a write found the caller gone: rolled back
            return grpc.StatusCode.DEADLINE_EXCEEDED, "The deadline passed: nothing was committed"
        if self.call.interceptor.is_unavailable(error):
            logger.warning("database unavailable", exc_info=error)
            return grpc.StatusCode.UNAVAILABLE, DATABASE_UNAVAILABLE
        logger.error("unexpected error", exc_info=error)
        return grpc.StatusCode.INTERNAL, UNEXPECTED
