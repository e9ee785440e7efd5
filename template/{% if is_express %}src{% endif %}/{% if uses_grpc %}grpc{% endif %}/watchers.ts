import { type ServerWritableStream, status } from "@grpc/grpc-js";

import {
  TaskEventType,
  type WatchTasksRequest,
  type WatchTasksResponse,
} from "../gen/tasks/v1/tasks.js";
import { type Delivery, type Hub, MAX_QUEUED_MESSAGES, type Subscriber } from "../realtime/hub.js";
import type { TaskEventMessage } from "../realtime/realtime.js";
import { GrpcError, type Stream } from "./calls.js";
import { toProtoTask } from "./convert.js";

/** setTimeout's longest delay; a later token expiry is waited for in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

const EVENT_TYPES: Partial<Record<string, TaskEventType>> = {
  "task.created": TaskEventType.TASK_EVENT_TYPE_CREATED,
  "task.updated": TaskEventType.TASK_EVENT_TYPE_UPDATED,
  "task.deleted": TaskEventType.TASK_EVENT_TYPE_DELETED,
};

type WatchCall = ServerWritableStream<WatchTasksRequest, WatchTasksResponse>;

/**
 * One WatchTasks stream in the hub: its user's task events, written without waiting for the
 * client, at most MAX_QUEUED_MESSAGES unwritten before it ends with RESOURCE_EXHAUSTED.
 */
export class Watcher implements Subscriber {
  #queued = 0;
  #ended = false;
  #expiry: NodeJS.Timeout | undefined;

  constructor(
    readonly userId: number,
    private readonly call: WatchCall,
    private readonly stream: Stream,
    private readonly onEnd: (watcher: Watcher) => void,
  ) {}

  /** Ends the stream with UNAUTHENTICATED once the token expires. */
  expireAt(expiresAtMs: number): void {
    const left = expiresAtMs - Date.now();
    if (left > 0) {
      this.#expiry = setTimeout(
        () => {
          this.expireAt(expiresAtMs);
        },
        Math.min(left, MAX_TIMER_MS),
      );
    } else this.end(new GrpcError(status.UNAUTHENTICATED, "The token expired"));
  }

  /** Task events only: any other message is not the stream's. */
  receive({ message }: Delivery): boolean {
    if (this.#ended) return false;
    const type = EVENT_TYPES[message.type];
    if (type === undefined) return true;
    if (this.#queued >= MAX_QUEUED_MESSAGES) {
      this.end(new GrpcError(status.RESOURCE_EXHAUSTED, "Events were not read in time"));
      return false;
    }
    this.#queued++;
    const { data } = message as TaskEventMessage;
    this.call.write({ type, task: toProtoTask(data) }, () => {
      this.#queued--;
    });
    return true;
  }

  /** Ends the stream with `error`'s status; without one, the client has left already. */
  end(error?: GrpcError): void {
    if (this.#ended) return;
    this.#ended = true;
    clearTimeout(this.#expiry);
    this.onEnd(this);
    if (error) this.stream.end(error);
  }
}

/** This process's watch streams: in the hub while open, all ended with UNAVAILABLE at shutdown. */
export class Watchers {
  readonly #open = new Set<Watcher>();
  #stopping = false;

  constructor(private readonly hub: Hub) {}

  /**
   * Registers the stream in the hub, then sends its initial metadata: a client that has it gets
   * every event from then on.
   */
  watch(userId: number, expiresAtMs: number, call: WatchCall, stream: Stream): void {
    if (this.#stopping) {
      throw new GrpcError(status.UNAVAILABLE, "The server is shutting down, retry later");
    }
    const watcher = new Watcher(userId, call, stream, (ended) => {
      this.hub.remove(ended);
      this.#open.delete(ended);
    });
    this.hub.add(watcher);
    this.#open.add(watcher);
    call.once("cancelled", () => {
      watcher.end();
    });
    watcher.expireAt(expiresAtMs);
    stream.start();
  }

  /** Shutdown: every stream ends with UNAVAILABLE now, and a late one is refused. */
  closeAll(): void {
    this.#stopping = true;
    for (const watcher of [...this.#open]) {
      watcher.end(new GrpcError(status.UNAVAILABLE, "The server is shutting down"));
    }
  }
}
