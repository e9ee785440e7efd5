import { randomUUID } from "node:crypto";

import {
  type handleServerStreamingCall,
  type handleUnaryCall,
  Metadata,
  type ServerUnaryCall,
  type ServerWritableStream,
  type sendUnaryData,
  status,
  type StatusObject,
} from "@grpc/grpc-js";
import { ipKeyGenerator, type Store } from "express-rate-limit";
import type { z } from "zod";

import { CallAbandonedError } from "../db/abandoned-calls.js";
import { isDatabaseUnavailable } from "../db/database.js";
import { NotFoundError, UnauthenticatedError } from "../errors.js";
import type { Logger } from "../logger.js";
import { bearerToken } from "../middleware/authenticate.js";
import { serviceUnavailable, validationFailed } from "../problems.js";
import { CLIENT_REQUEST_ID, requestContext } from "../request-context.js";
import type { Tokens } from "../security/tokens.js";

/** A refusal with its gRPC status, thrown by a handler and sent as it is. */
export class GrpcError extends Error implements Partial<StatusObject> {
  override name = "GrpcError";

  constructor(
    readonly code: status,
    readonly details: string,
  ) {
    super(details);
  }
}

export const invalidArgument = (details: string) => new GrpcError(status.INVALID_ARGUMENT, details);

/** The parsed value, or INVALID_ARGUMENT naming each invalid field as `field: message`. */
export function parseArgument<Schema extends z.ZodType>(
  schema: Schema,
  value: unknown,
): z.output<Schema> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const fields = validationFailed(result.error).errors ?? [];
  throw invalidArgument(fields.map(({ field, message }) => `${field}: ${message}`).join("; "));
}

export interface CallOptions {
  logger: Logger;
  tokens: Tokens;
  /** The HTTP rate limit's counts, shared per client address; none when the limit is off. */
  rateLimit?: { store: Store; perMinute: number };
}

/** What a handler knows of its call: who asks, and whether they still wait. */
export interface CallContext {
  requestId: string;
  userId: number;
  token: string;
  /** Aborted once the caller stops waiting: cancelled, or past its deadline. */
  signal: AbortSignal;
}

/** HTTP's 503 detail, word for word. */
export const UNAVAILABLE_DETAIL = serviceUnavailable().detail;
export const INTERNAL_DETAIL = "An unexpected error occurred";
/** A cancel this close to the call's deadline is the deadline, seen first by the client. */
const DEADLINE_SLACK_MS = 250;

/**
 * The status for what a handler threw: refusals as the contract maps them, a database that is
 * down as UNAVAILABLE, anything else as INTERNAL, logged and never shown.
 */
export function statusOf(error: unknown, logger: Logger): GrpcError {
  if (error instanceof GrpcError) return error;
  if (error instanceof UnauthenticatedError) {
    return new GrpcError(status.UNAUTHENTICATED, error.message);
  }
  if (error instanceof NotFoundError) return new GrpcError(status.NOT_FOUND, error.message);
  if (error instanceof CallAbandonedError) {
    return error.deadlineExceeded
      ? new GrpcError(status.DEADLINE_EXCEEDED, "Deadline exceeded")
      : new GrpcError(status.CANCELLED, "The call was cancelled");
  }
  if (isDatabaseUnavailable(error)) {
    logger.warn({ err: error }, "database unavailable");
    return new GrpcError(status.UNAVAILABLE, UNAVAILABLE_DETAIL);
  }
  logger.error({ err: error }, "unhandled error");
  return new GrpcError(status.INTERNAL, INTERNAL_DETAIL);
}

/** The client address of a call (`host:port`, IPv6 unbracketed), as the HTTP rate limit keys it. */
function clientKey(peer: string): string {
  const port = peer.lastIndexOf(":");
  return ipKeyGenerator(port > 0 ? peer.slice(0, port) : peer);
}

/**
 * One call, from its start to its status: its request id (the client's `x-request-id` when
 * well-formed, sent back in the initial metadata), the signal of its caller waiting, and the one
 * log line.
 */
class Call {
  readonly requestId: string;
  /** When the caller stops waiting (ms since the epoch), Infinity for never. */
  readonly #deadline: number;
  readonly #abandoned = new AbortController();
  readonly #startedAt = performance.now();
  #logged = false;

  constructor(
    private readonly call:
      ServerUnaryCall<unknown, unknown> | ServerWritableStream<unknown, unknown>,
    private readonly options: CallOptions,
  ) {
    const [given] = call.metadata.get("x-request-id");
    this.requestId =
      typeof given === "string" && CLIENT_REQUEST_ID.test(given) ? given : randomUUID();
    this.#deadline = Number(call.getDeadline());
    call.once("cancelled", () => {
      this.#abandoned.abort();
      // grpc-js has told the client already; the line says what. The client's own deadline
      // timer usually fires first, and its cancel arrives ahead of this server's deadline by the
      // request's transit and queueing time: tens of milliseconds on a loaded machine.
      this.log(
        this.#deadline - Date.now() < DEADLINE_SLACK_MS
          ? status.DEADLINE_EXCEEDED
          : status.CANCELLED,
      );
    });
  }

  get signal(): AbortSignal {
    return this.#abandoned.signal;
  }

  /**
   * `work` in the call's request context: its log lines carry the id, its queries the signal and
   * the deadline (which a statement that held the event loop may pass before the signal knows).
   */
  run(work: () => Promise<void>): void {
    const context = { requestId: this.requestId, signal: this.signal, deadline: this.#deadline };
    void requestContext.run(context, work);
  }

  sendHeaders(): void {
    const metadata = new Metadata();
    metadata.set("x-request-id", this.requestId);
    this.call.sendMetadata(metadata);
  }

  /** The caller, once the rate limit and the token let them through. */
  async admit(): Promise<CallContext> {
    await this.#spend();
    const [authorization] = this.call.metadata.get("authorization");
    const token = bearerToken(typeof authorization === "string" ? authorization : undefined);
    if (token === undefined) throw new GrpcError(status.UNAUTHENTICATED, "Missing bearer token");
    const userId = await this.options.tokens.userIdFrom(token);
    return { requestId: this.requestId, userId, token, signal: this.signal };
  }

  failure(error: unknown): GrpcError {
    return statusOf(error, this.options.logger);
  }

  /** The contract's line: `{"msg": "rpc", request_id, method, code, duration_ms}`, once. */
  log(code: status): void {
    if (this.#logged) return;
    this.#logged = true;
    const line = {
      request_id: this.requestId,
      method: this.call.getPath(),
      code: status[code],
      duration_ms: Math.round(performance.now() - this.#startedAt),
    };
    if (code === status.INTERNAL || code === status.UNKNOWN) this.options.logger.error(line, "rpc");
    else this.options.logger.info(line, "rpc");
  }

  /** RESOURCE_EXHAUSTED when the client used its minute's budget, HTTP's included (429). */
  async #spend(): Promise<void> {
    const { rateLimit } = this.options;
    if (!rateLimit) return;
    const { totalHits } = await rateLimit.store.increment(clientKey(this.call.getPeer()));
    if (totalHits <= rateLimit.perMinute) return;
    throw new GrpcError(
      status.RESOURCE_EXHAUSTED,
      `At most ${rateLimit.perMinute} requests per minute`,
    );
  }
}

/** `work`'s answer to a unary call, or the status of what it threw. */
function answer<Response>(
  scope: Call,
  callback: sendUnaryData<Response>,
  work: () => Promise<Response>,
): void {
  scope.sendHeaders();
  scope.run(async () => {
    try {
      const response = await work();
      scope.log(status.OK);
      callback(null, response);
    } catch (error) {
      const failure = scope.failure(error);
      scope.log(failure.code);
      callback(failure);
    }
  });
}

/**
 * A unary handler behind the service's rules: rate limit, the caller's token, then the work in
 * the call's context; whatever it throws becomes its status.
 */
export function unary<Request, Response>(
  options: CallOptions,
  handler: (request: Request, context: CallContext) => Promise<Response>,
): handleUnaryCall<Request, Response> {
  return (call, callback) => {
    const scope = new Call(call, options);
    answer(scope, callback, async () => handler(call.request, await scope.admit()));
  };
}

/** A unary handler anyone may call (health checks): no token, no rate limit; the same line. */
export function openUnary<Request, Response>(
  options: CallOptions,
  handler: (request: Request) => Promise<Response>,
): handleUnaryCall<Request, Response> {
  return (call, callback) => {
    answer(new Call(call, options), callback, () => handler(call.request));
  };
}

/** How a streaming handler starts its stream, and ends it. */
export interface Stream {
  /** Sends the initial metadata: the client knows the stream is live. */
  start(): void;
  /** Ends the stream with `error`'s status (a watch never ends on its own). */
  end(error: GrpcError): void;
}

/** A server-streaming handler behind the same rules as `unary`; it ends its stream itself. */
export function serverStreaming<Request, Response>(
  options: CallOptions,
  handler: (
    call: ServerWritableStream<Request, Response>,
    context: CallContext,
    stream: Stream,
  ) => Promise<void>,
): handleServerStreamingCall<Request, Response> {
  return (call) => {
    const scope = new Call(call, options);
    const stream: Stream = {
      start: () => {
        scope.sendHeaders();
      },
      end: (error) => {
        scope.log(error.code);
        // grpc-js ends the stream with this status once what was written has gone out.
        call.emit("error", error);
      },
    };
    scope.run(async () => {
      try {
        await handler(call, await scope.admit(), stream);
      } catch (error) {
        // Refused before it started.
        stream.start();
        stream.end(scope.failure(error));
      }
    });
  };
}
