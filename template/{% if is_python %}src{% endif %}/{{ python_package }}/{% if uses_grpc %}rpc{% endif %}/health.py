"""grpc.health.v1.Health, answered from the checks of /readyz."""

from collections.abc import Awaitable, Callable
from typing import Any

from grpc import aio
from grpc_health.v1 import health_pb2
from grpc_health.v1.health import aio as health_aio

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class ReadinessHealth(health_aio.HealthServicer):
    """`Check` runs the readiness checks for the server ("") and the services it names, so a
    balancer's probe sees the database as /readyz does; from SIGTERM on, NOT_SERVING."""

    def __init__(self, services: tuple[str, ...], ready: Callable[[], Awaitable[bool]]) -> None:
        super().__init__()
        self.services = ("", *services)
        self.ready = ready

    async def start(self) -> None:
        for service in self.services:
            await self.set(service, SERVING)

    async def Check(  # noqa: N802 - the generated servicer's name
        self, request: health_pb2.HealthCheckRequest, context: aio.ServicerContext[Any, Any]
    ) -> health_pb2.HealthCheckResponse:
        if request.service in self.services:
            status = SERVING if await self.ready() else NOT_SERVING
            await self.set(request.service, status)  # ignored once shutting down
        return await super().Check(request, context)
