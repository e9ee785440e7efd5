"""The gRPC server: the task service, health and reflection behind CallContext, on GRPC_PORT."""

import asyncio
import logging
from collections.abc import Awaitable, Callable

from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from ..proto.tasks.v1 import tasks_pb2, tasks_pb2_grpc
from ..settings import Settings
from .calls import CallContext
from .health import ReadinessHealth

logger = logging.getLogger(__name__)

TASK_SERVICE = tasks_pb2.DESCRIPTOR.services_by_name["TaskService"].full_name
HEALTH_SERVICE = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name


class GrpcServer:
    """Started and stopped by the app that serves HTTP, in its event loop."""

    def __init__(
        self,
        settings: Settings,
        *,
        servicer: tasks_pb2_grpc.TaskServiceServicer,
        calls: CallContext,
        ready: Callable[[], Awaitable[bool]],
    ) -> None:
        self.settings = settings
        self.servicer = servicer
        self.calls = calls
        self.health = ReadinessHealth((TASK_SERVICE,), ready)
        self.port = settings.grpc_port  # the bound one once started (0 asks for any)
        self._server: aio.Server | None = None
        self._stopping: asyncio.Future[None] | None = None

    async def start(self) -> None:
        server = aio.server(
            interceptors=[self.calls],
            options=[
                # HTTP's body limit; a bigger message is RESOURCE_EXHAUSTED.
                ("grpc.max_receive_message_length", self.settings.max_body_bytes),
                # Linux lets a second server share a port with SO_REUSEPORT: a port in use
                # must fail the start, not split the calls between two services.
                ("grpc.so_reuseport", 0),
            ],
        )
        tasks_pb2_grpc.add_TaskServiceServicer_to_server(self.servicer, server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        reflection.enable_server_reflection(
            (TASK_SERVICE, HEALTH_SERVICE, reflection.SERVICE_NAME), server
        )
        host = self.settings.host
        self.port = server.add_insecure_port(
            f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"
        )
        await self.health.start()
        await server.start()
        self._server = server
        logger.info("grpc listening", extra={"host": host, "port": self.port})

    def begin_stop(self) -> None:
        """SIGTERM: NOT_SERVING, no new call, in-flight calls get SHUTDOWN_GRACE_S."""
        if self._stopping is None and self._server is not None:
            self._stopping = asyncio.ensure_future(self._stop(self._server))

    async def stop(self) -> None:
        self.begin_stop()
        if self._stopping is not None:
            await self._stopping

    async def _stop(self, server: aio.Server) -> None:
        await self.health.enter_graceful_shutdown()
        await server.stop(self.settings.shutdown_grace_s)
