"""tasks.v1.TaskService: the HTTP API's task endpoints over gRPC, on the same services."""

import logging
from collections.abc import AsyncIterator
from typing import Any

from grpc import aio
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import Database
from ..models import Task
from ..proto.tasks.v1 import tasks_pb2, tasks_pb2_grpc
from ..realtime import Hub
from ..schemas import TaskCreate, TaskOut, TaskUpdate
from ..security import InvalidTokenError, user_id_and_expiry_from_token
from ..services import tasks as service
from ..settings import Settings
from .calls import Authenticate, Caller, current_caller
from .errors import RpcError, invalid_fields, not_found, unauthenticated
from .messages import changes, page, task_id, task_message
from .watch import watch_tasks

logger = logging.getLogger(__name__)

Context = aio.ServicerContext[Any, Any]


def caller_from_token(settings: Settings) -> Authenticate:
    """The token check of HTTP's bearer dependency, for the call's metadata."""

    def authenticate(token: str) -> Caller | None:
        try:
            return Caller(*user_id_and_expiry_from_token(token, settings))
        except InvalidTokenError:
            return None

    return authenticate


def _message(task: Task) -> tasks_pb2.Task:
    return task_message(TaskOut.model_validate(task).model_dump(mode="json"))


class TaskServicer(tasks_pb2_grpc.TaskServiceServicer):
    def __init__(self, database: Database, hub: Hub) -> None:
        self.database = database
        self.hub = hub

    async def _owned(self, session: AsyncSession, requested_id: int) -> Task:
        owner_id = current_caller().user_id
        task = await service.get_task(session, owner_id=owner_id, task_id=task_id(requested_id))
        if task is None:
            raise await self._user_gone_or(session, not_found())
        return task

    @staticmethod
    async def _user_gone_or(session: AsyncSession, error: RpcError) -> RpcError:
        # Only when nothing was found: the happy path costs no query for the user.
        if not await service.user_exists(session, current_caller().user_id):
            return unauthenticated("The token's user no longer exists")
        return error

    async def GetTask(  # noqa: N802 - the generated servicer's names
        self, request: tasks_pb2.GetTaskRequest, context: Context
    ) -> tasks_pb2.GetTaskResponse:
        async with self.database.reader() as session:
            return tasks_pb2.GetTaskResponse(task=_message(await self._owned(session, request.id)))

    async def ListTasks(  # noqa: N802
        self, request: tasks_pb2.ListTasksRequest, context: Context
    ) -> tasks_pb2.ListTasksResponse:
        query = page(request)
        owner_id = current_caller().user_id
        async with self.database.reader() as session:
            tasks, total = await service.list_tasks(
                session,
                owner_id=owner_id,
                status=query.status,
                limit=query.limit,
                offset=query.offset,
            )
            if not total and not await service.user_exists(session, owner_id):
                raise unauthenticated("The token's user no longer exists")
        return tasks_pb2.ListTasksResponse(
            tasks=[_message(task) for task in tasks],
            total=total,
            limit=query.limit,
            offset=query.offset,
        )

    async def CreateTask(  # noqa: N802
        self, request: tasks_pb2.CreateTaskRequest, context: Context
    ) -> tasks_pb2.CreateTaskResponse:
        try:
            data = TaskCreate(
                title=request.title,
                description=request.description if request.HasField("description") else None,
            )
        except ValidationError as error:
            raise invalid_fields(error) from None
        owner_id = current_caller().user_id
        async with self.database.sessionmaker() as session:
            try:
                created = await service.create_task(session, owner_id=owner_id, data=data)
            except service.OwnerNotFoundError:
                raise unauthenticated("The token's user no longer exists") from None
        logger.info("task.created", extra={"task_id": created.body["id"], "owner_id": owner_id})
        return tasks_pb2.CreateTaskResponse(task=task_message(created.body))

    async def UpdateTask(  # noqa: N802
        self, request: tasks_pb2.UpdateTaskRequest, context: Context
    ) -> tasks_pb2.UpdateTaskResponse:
        given = changes(request)
        try:
            update = TaskUpdate.model_validate(given)
        except ValidationError as error:
            raise invalid_fields(error) from None
        async with self.database.sessionmaker() as session:
            task = await self._owned(session, request.id)
            updated = await service.update_task(
                session,
                task=task,
                title=update.title,
                description=update.description if "description" in given else service.UNCHANGED,
                status=update.status,
            )
            return tasks_pb2.UpdateTaskResponse(task=_message(updated))

    async def DeleteTask(  # noqa: N802
        self, request: tasks_pb2.DeleteTaskRequest, context: Context
    ) -> tasks_pb2.DeleteTaskResponse:
        async with self.database.sessionmaker() as session:
            await service.delete_task(session, await self._owned(session, request.id))
        return tasks_pb2.DeleteTaskResponse()

    async def WatchTasks(  # noqa: N802
        self, request: tasks_pb2.WatchTasksRequest, context: Context
    ) -> AsyncIterator[tasks_pb2.WatchTasksResponse]:
        async def user_exists(user_id: int) -> bool:
            async with self.database.sessionmaker() as session:
                return await service.user_exists(session, user_id)

        async for event in watch_tasks(self.hub, context, user_exists):
            yield event
