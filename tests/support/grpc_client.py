"""A service's gRPC API as a black box: everything it knows comes from the server's reflection.

No stub is generated from the template's proto and no copy of it is kept here: the descriptors
are asked of the running server (`grpc.reflection.v1alpha`, which the contract requires), turned
into message classes, and the methods are called by their paths. What a tool like grpcurl sees
is what the tests see.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import queue
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
from google.protobuf import descriptor_pool, message_factory
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

TASK_SERVICE = "tasks.v1.TaskService"
HEALTH_SERVICE = "grpc.health.v1.Health"
REFLECTION_SERVICE = "grpc.reflection.v1alpha.ServerReflection"
CALL_TIMEOUT_S = 10.0
Metadata = Sequence[tuple[str, str]]


def open_channel(target: str, timeout: float = 30) -> grpc.Channel:
    """A plaintext channel to `target`, once the server accepts connections on it (the gRPC
    listener may come up a moment after HTTP answers /healthz)."""
    channel = grpc.insecure_channel(target)
    try:
        grpc.channel_ready_future(channel).result(timeout=timeout)
    except grpc.FutureTimeoutError:
        channel.close()
        raise AssertionError(f"no gRPC server on {target} within {timeout} s") from None
    return channel


class Reflected:
    """A server's services and message classes, as its reflection service describes them."""

    def __init__(self, channel: grpc.Channel) -> None:
        self.database = ProtoReflectionDescriptorDatabase(channel)
        self.pool = descriptor_pool.DescriptorPool(self.database)

    def services(self) -> list[str]:
        return list(self.database.get_services())

    def message(self, full_name: str) -> type[Message]:
        return message_factory.GetMessageClass(self.pool.FindMessageTypeByName(full_name))

    def enum(self, full_name: str) -> dict[str, int]:
        """An enum's values by name."""
        return {
            value.name: value.number
            for value in self.pool.FindEnumTypeByName(full_name).values_by_name.values()
        }

    def method(self, name: str, service: str = TASK_SERVICE) -> MethodDescriptor:
        return self.pool.FindServiceByName(service).methods_by_name[name]


def bearer_metadata(token: str | None) -> list[tuple[str, str]]:
    return [] if token is None else [("authorization", f"Bearer {token}")]


class Tasks:
    """TaskService on one channel, its methods built from reflected descriptors; `token` is
    the caller's (None sends no authorization metadata)."""

    def __init__(self, channel: grpc.Channel, reflected: Reflected) -> None:
        self.channel = channel
        self.reflected = reflected
        self.status = reflected.enum("tasks.v1.TaskStatus")
        self.event_type = reflected.enum("tasks.v1.TaskEventType")
        self._callables: dict[str, Any] = {}

    def on(self, channel: grpc.Channel) -> Tasks:
        """The same service on another channel (another instance), without asking its
        reflection again."""
        return Tasks(channel, self.reflected)

    def request(self, method: str, **fields: Any) -> Message:
        """`method`'s request message; nested messages may be given as dicts."""
        return self._message(self.reflected.method(method).input_type.full_name)(**fields)

    def message(self, name: str, **fields: Any) -> Message:
        return self._message(f"tasks.v1.{name}")(**fields)

    def _message(self, full_name: str) -> type[Message]:
        return self.reflected.message(full_name)

    def callable(self, method: str) -> Any:
        if method not in self._callables:
            described = self.reflected.method(method)
            request = self._message(described.input_type.full_name)
            response = self._message(described.output_type.full_name)
            make = (
                self.channel.unary_stream
                if described.server_streaming
                else self.channel.unary_unary
            )
            self._callables[method] = make(
                f"/{TASK_SERVICE}/{method}",
                request_serializer=request.SerializeToString,
                response_deserializer=response.FromString,
            )
        return self._callables[method]

    def call(
        self,
        method: str,
        token: str | None,
        *,
        metadata: Metadata = (),
        timeout: float = CALL_TIMEOUT_S,
        **fields: Any,
    ) -> Any:
        """The response of a unary call; a failed call raises grpc.RpcError."""
        return self.callable(method)(
            self.request(method, **fields),
            metadata=[*bearer_metadata(token), *metadata],
            timeout=timeout,
        )

    def with_call(
        self,
        method: str,
        token: str | None,
        *,
        metadata: Metadata = (),
        timeout: float = CALL_TIMEOUT_S,
        **fields: Any,
    ) -> tuple[Any, grpc.Call]:
        """The response and the call (its initial and trailing metadata)."""
        return self.callable(method).with_call(
            self.request(method, **fields),
            metadata=[*bearer_metadata(token), *metadata],
            timeout=timeout,
        )

    def future(
        self, method: str, token: str | None, *, timeout: float | None = None, **fields: Any
    ) -> Any:
        """A unary call in flight (a grpc.Future that is also a grpc.Call)."""
        return self.callable(method).future(
            self.request(method, **fields), metadata=bearer_metadata(token), timeout=timeout
        )

    def watch(self, token: str | None, *, metadata: Metadata = (), timeout: float = 60) -> Watch:
        call = self.callable("WatchTasks")(
            self.request("WatchTasks"),
            metadata=[*bearer_metadata(token), *metadata],
            timeout=timeout,
        )
        return Watch(call)


def rpc_error(function: Callable[..., Any], *args: Any, **kwargs: Any) -> grpc.RpcError:
    """The error a call ends with; fails the test when it succeeds."""
    try:
        response = function(*args, **kwargs)
    except grpc.RpcError as error:
        return error
    raise AssertionError(f"the call succeeded: {response}")


def code_of(function: Callable[..., Any], *args: Any, **kwargs: Any) -> grpc.StatusCode:
    return rpc_error(function, *args, **kwargs).code()


class Watch:
    """A WatchTasks stream read by a thread of its own, so that a test waits with a timeout."""

    def __init__(self, call: Any) -> None:
        self.call = call
        self._items: queue.Queue[Any] = queue.Queue()
        self._registered = threading.Event()
        self.initial_metadata: dict[str, str] = {}
        self.ended_at: float | None = None  # time.monotonic() when the stream ended
        self._thread = threading.Thread(target=self._read, name="grpc-watch", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            self.initial_metadata = dict(self.call.initial_metadata())
            self._registered.set()
            for event in self.call:
                self._items.put(event)
        except grpc.RpcError as error:
            self.ended_at = time.monotonic()
            self._items.put(error)
        else:
            self.ended_at = time.monotonic()
            self._items.put(None)
        finally:
            self._registered.set()

    def registered(self, timeout: float = 10) -> Watch:
        """Waits for the server's initial metadata: from then on, every event is delivered."""
        assert self._registered.wait(timeout), f"no initial metadata within {timeout} s"
        if self._items.qsize() and not self.initial_metadata:
            raise AssertionError(f"the stream ended before it was registered: {self._peek()}")
        return self

    def _peek(self) -> Any:
        item = self._items.get()
        self._items.put(item)
        return item

    def next(self, timeout: float = 5) -> Any:
        """The next event; fails when the stream ends or nothing comes in time."""
        try:
            item = self._items.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no event within {timeout} s") from None
        if isinstance(item, grpc.RpcError) or item is None:
            raise AssertionError(f"the stream ended instead: {describe(item)}")
        return item

    def pending(self) -> list[Any]:
        """What arrived and was not read yet, without waiting."""
        items = []
        while True:
            try:
                items.append(self._items.get_nowait())
            except queue.Empty:
                return items

    def ended(self, timeout: float = 5) -> grpc.RpcError | None:
        """How the stream ended (its status as an error; None for OK), skipping events."""
        try:
            while True:
                item = self._items.get(timeout=timeout)
                if isinstance(item, grpc.RpcError) or item is None:
                    return item
        except queue.Empty:
            raise AssertionError(f"the stream did not end within {timeout} s") from None

    def cancel(self) -> None:
        self.call.cancel()
        self._thread.join(timeout=5)

    def __enter__(self) -> Watch:
        return self

    def __exit__(self, *_exception: object) -> None:
        self.call.cancel()
        self._thread.join(timeout=5)


def describe(item: Any) -> str:
    if isinstance(item, grpc.RpcError):
        return f"{item.code().name}: {item.details()}"
    return "OK" if item is None else str(item)


# A task, gRPC side and HTTP side, in one comparable form --------------------------------------


def timestamp(value: Any) -> datetime:
    """A google.protobuf.Timestamp as an aware datetime (microseconds, as HTTP's times)."""
    return datetime.fromtimestamp(value.seconds, UTC) + timedelta(microseconds=value.nanos // 1000)


def grpc_task(task: Any) -> dict[str, Any]:
    """A reflected tasks.v1.Task as HTTP returns a task, times parsed."""
    status = task.DESCRIPTOR.fields_by_name["status"].enum_type.values_by_number[task.status]
    return {
        "id": task.id,
        "title": task.title,
        "description": task.description if task.HasField("description") else None,
        "status": status.name.removeprefix("TASK_STATUS_").lower(),
        "owner_id": task.owner_id,
        "created_at": timestamp(task.created_at),
        "updated_at": timestamp(task.updated_at),
    }


def http_task(task: dict[str, Any]) -> dict[str, Any]:
    """An HTTP task with its RFC 3339 times parsed."""
    return {
        **task,
        "created_at": datetime.fromisoformat(task["created_at"]),
        "updated_at": datetime.fromisoformat(task["updated_at"]),
    }


# Tokens the API would never issue -------------------------------------------------------------


def _part(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def hs256(claims: dict[str, Any], secret: str) -> str:
    """A JWT signed as the service signs its own."""
    header = _part(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = _part(json.dumps(claims).encode())
    signature = hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256)
    return f"{header}.{payload}.{_part(signature.digest())}"


def unsigned(claims: dict[str, Any]) -> str:
    """A JWT with `alg: none` and no signature."""
    header = _part(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{_part(json.dumps(claims).encode())}."
