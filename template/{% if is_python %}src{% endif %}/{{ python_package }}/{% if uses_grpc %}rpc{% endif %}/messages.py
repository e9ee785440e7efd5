"""Between the proto's messages and the shapes the HTTP API uses: one task, as JSON, in both.

Requests are checked here for what the proto's types cannot say (ranges, mask paths); the
fields' own rules (a title's length, …) are the HTTP schemas', applied by the servicers.
"""

from collections.abc import Mapping
from typing import Any, NamedTuple

from ..proto.tasks.v1 import tasks_pb2
from .errors import invalid

MAX_ID = 2**31 - 1  # the column is 32-bit
DEFAULT_LIMIT = 20
MAX_LIMIT = 100

STATUSES: dict[str, "tasks_pb2.TaskStatus.ValueType"] = {
    "pending": tasks_pb2.TASK_STATUS_PENDING,
    "processing": tasks_pb2.TASK_STATUS_PROCESSING,
    "done": tasks_pb2.TASK_STATUS_DONE,
}
STATUS_NAMES = {value: name for name, value in STATUSES.items()}
EVENT_TYPES: dict[str, "tasks_pb2.TaskEventType.ValueType"] = {
    "task.created": tasks_pb2.TASK_EVENT_TYPE_CREATED,
    "task.updated": tasks_pb2.TASK_EVENT_TYPE_UPDATED,
    "task.deleted": tasks_pb2.TASK_EVENT_TYPE_DELETED,
}
UPDATABLE = ("title", "description", "status")


def task_message(task: Mapping[str, Any]) -> tasks_pb2.Task:
    """A task as the HTTP API returns it (JSON), as a Task message."""
    message = tasks_pb2.Task(
        id=task["id"],
        title=task["title"],
        status=STATUSES[task["status"]],
        owner_id=task["owner_id"],
    )
    if task["description"] is not None:
        message.description = task["description"]
    message.created_at.FromJsonString(task["created_at"])
    message.updated_at.FromJsonString(task["updated_at"])
    return message


def task_id(value: int, field: str = "id") -> int:
    if not 1 <= value <= MAX_ID:
        raise invalid(field, f"must be between 1 and {MAX_ID}")
    return value


class Page(NamedTuple):
    limit: int
    offset: int
    status: str | None


def page(request: tasks_pb2.ListTasksRequest) -> Page:
    """ListTasks' query, bounded as GET /api/v1/tasks bounds it."""
    limit = request.limit or DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise invalid("limit", f"must be between 1 and {MAX_LIMIT}")
    if request.offset < 0:
        raise invalid("offset", f"must be between 0 and {MAX_ID}")
    if request.status not in (tasks_pb2.TASK_STATUS_UNSPECIFIED, *STATUS_NAMES):
        raise invalid("status", "is not a TaskStatus")
    return Page(limit, request.offset, STATUS_NAMES.get(request.status))


def changes(request: tasks_pb2.UpdateTaskRequest) -> dict[str, Any]:
    """UpdateTask's mask as PATCH's body: the fields named, with their new values; a
    description named but unset is None, which clears it."""
    given: dict[str, Any] = {}
    for path in request.update_mask.paths:
        if path not in UPDATABLE:
            raise invalid("update_mask", f"{path!r} is not one of {', '.join(UPDATABLE)}")
        if path == "status":
            if request.task.status not in STATUS_NAMES:
                raise invalid("task.status", f"must be one of {', '.join(STATUSES)}")
            given["status"] = STATUS_NAMES[request.task.status]
        elif path == "description":
            has = request.task.HasField("description")
            given["description"] = request.task.description if has else None
        else:
            given["title"] = request.task.title
    return given
