import { z } from "zod";

import type { Task } from "../schemas.js";
import type { TaskEvent } from "../services/tasks.js";

export const WEBSOCKET_PATH = "/ws";
/** Larger frames close the connection with 1009 (ws checks it while reading). */
export const MAX_MESSAGE_BYTES = 64 * 1024;

/** RFC 6455 close codes the endpoint uses. */
export const CloseCode = {
  goingAway: 1001,
  policyViolation: 1008,
  tryAgainLater: 1013,
} as const;

// Extra members are ignored, so clients may send more than this version knows (an id, say).
const Ping = z.object({ type: z.literal("ping") });
const Broadcast = z.object({
  type: z.literal("broadcast"),
  // Parsed JSON already: anything but a missing member is a JSON value.
  data: z.custom<z.core.util.JSONType>((value) => value !== undefined, {
    error: "A broadcast needs a data member (any JSON value)",
  }),
});

/** What a client may send, each a JSON text frame. */
export const ClientMessage = z.discriminatedUnion("type", [Ping, Broadcast]);
export type ClientMessage = z.infer<typeof ClientMessage>;

/** A parsed frame as a message, or a sentence telling the client what is wrong with it. */
export function readClientMessage(value: unknown): ClientMessage | string {
  const result = ClientMessage.safeParse(value);
  if (result.success) return result.data;
  const [issue] = result.error.issues;
  if (issue?.path.length === 0) return "A message must be a JSON object";
  if (issue?.path[0] === "type") return 'A message needs a type: "ping" or "broadcast"';
  return issue?.message ?? "Invalid message";
}

export type ServerMessage =
  | { type: "pong" }
  | { type: "broadcast"; from: number; data: z.core.util.JSONType }
  | { type: TaskEvent["type"]; data: Task }
  | { type: "error"; detail: string };

/** A message on its way to every connection (`to: null`) or to one user's connections. */
export interface Envelope {
  to: number | null;
  message: ServerMessage;
}
