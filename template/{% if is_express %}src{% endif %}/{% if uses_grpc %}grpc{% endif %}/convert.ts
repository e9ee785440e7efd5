import { TaskStatus as ProtoTaskStatus, type Task as ProtoTask } from "../gen/tasks/v1/tasks.js";
import type { Task } from "../schemas.js";

type TaskStatus = Task["status"];

const TO_PROTO: Record<TaskStatus, ProtoTaskStatus> = {
  pending: ProtoTaskStatus.TASK_STATUS_PENDING,
  processing: ProtoTaskStatus.TASK_STATUS_PROCESSING,
  done: ProtoTaskStatus.TASK_STATUS_DONE,
};

/** A status of the API's, or null for TASK_STATUS_UNSPECIFIED and numbers this proto lacks. */
export function fromProtoStatus(status: ProtoTaskStatus): TaskStatus | null {
  const found = Object.entries(TO_PROTO).find(([, value]) => value === status);
  return found ? (found[0] as TaskStatus) : null;
}

/** A task as HTTP returns it, as its message: RFC 3339 times as Timestamps, null as unset. */
export function toProtoTask(task: Task): ProtoTask {
  return {
    id: BigInt(task.id),
    title: task.title,
    description: task.description ?? undefined,
    status: TO_PROTO[task.status],
    ownerId: BigInt(task.owner_id),
    createdAt: new Date(task.created_at),
    updatedAt: new Date(task.updated_at),
  };
}
