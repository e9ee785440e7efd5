import { randomUUID } from "node:crypto";
import { type IncomingMessage, STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";

import { decodeJwt } from "jose";
import { type RawData, type WebSocket, WebSocketServer } from "ws";

import type { Config } from "../config.js";
import { isDatabaseUnavailable } from "../db/database.js";
import { callerGone, UnauthenticatedError } from "../errors.js";
import type { Logger } from "../logger.js";
import { parseIJson } from "../middleware/body.js";
import { HttpProblem, RETRY_AFTER_S } from "../problems.js";
import { CLIENT_REQUEST_ID, requestContext } from "../request-context.js";
import { BARE_SECURITY_HEADERS } from "../security/headers.js";
import type { Tokens } from "../security/tokens.js";
import type { UserService } from "../services/users.js";
import type { Broker } from "./broker.js";
import { Connection, type Hub } from "./hub.js";
import {
  CloseCode,
  MAX_MESSAGE_BYTES,
  readClientMessage,
  type ServerMessage,
  WEBSOCKET_PATH,
} from "./protocol.js";

/** setTimeout's longest delay; a later token expiry is waited for in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** What ws closes with for the errors it finds in a client's frames; 1002 for the others. */
const PROTOCOL_ERROR_CLOSE_CODES: Partial<Record<string, number>> = {
  WS_ERR_UNSUPPORTED_MESSAGE_LENGTH: 1009,
  WS_ERR_INVALID_UTF8: 1007,
};

/** A pending upgrade: what its answer and its log line need. */
interface Handshake {
  socket: Duplex;
  method: string | undefined;
  url: URL;
  requestId: string;
  startedAt: number;
}

class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
  ) {
    super(detail);
  }
}

/** The handshake's token: `?token=` first (browsers cannot set headers), then a bearer header. */
function tokenOf(req: IncomingMessage, query: URLSearchParams): string | undefined {
  const given = query.get("token");
  if (given) return given;
  const [scheme, token, ...rest] = (req.headers.authorization ?? "").split(" ");
  return scheme?.toLowerCase() === "bearer" && token && rest.length === 0 ? token : undefined;
}

/** An HTTP answer written on the raw socket, as the application would: problem+json. */
function writeProblem(socket: Duplex, status: number, detail: string, requestId: string): void {
  const body = JSON.stringify({ type: "about:blank", title: STATUS_CODES[status], status, detail });
  const headers: Record<string, string> = {
    "Content-Type": "application/problem+json",
    "Content-Length": String(Buffer.byteLength(body)),
    "X-Request-ID": requestId,
    ...(status === 401 && { "WWW-Authenticate": "Bearer" }),
    ...(status === 503 && { "Retry-After": String(RETRY_AFTER_S) }),
    ...BARE_SECURITY_HEADERS,
    Connection: "close",
  };
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
      Object.entries(headers)
        .map(([name, value]) => `${name}: ${value}\r\n`)
        .join("") +
      `\r\n${body}`,
  );
}

/**
 * `GET /ws` on the HTTP server's port: the handshake is checked (origin, token, user) before
 * anything is upgraded, so a refusal is a plain HTTP answer. Accepted connections join the hub;
 * what they send is answered here, broadcasts go through the broker to every instance.
 */
export class WebSocketEndpoint {
  readonly #server = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_MESSAGE_BYTES,
    // Off, as by default, and said so: compression is per connection, so a broadcast would be
    // compressed once per client.
    perMessageDeflate: false,
  });
  /** Each pending handshake, for what ws reports about it by its request. */
  readonly #handshakes = new WeakMap<IncomingMessage, Handshake>();
  #closing = false;

  constructor(
    private readonly deps: {
      config: Pick<Config, "corsOrigins">;
      tokens: Tokens;
      users: UserService;
      hub: Hub;
      broker: Broker;
      logger: Logger;
    },
  ) {
    // The 101 carries the request id, as every HTTP answer does.
    this.#server.on("headers", (headers, req) => {
      const handshake = this.#handshakes.get(req);
      if (handshake) headers.push(`X-Request-ID: ${handshake.requestId}`);
    });
    // A handshake ws itself refuses (a bad Sec-WebSocket-Key, version): answered our way.
    this.#server.on("wsClientError", (error, socket, req) => {
      const handshake = this.#handshakes.get(req);
      if (handshake) this.#refuse(handshake, new Refusal(400, error.message));
      else socket.destroy();
    });
  }

  /** The server's `upgrade` listener. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const given = req.headers["x-request-id"];
    const handshake: Handshake = {
      socket,
      method: req.method,
      url: new URL(req.url ?? "/", "http://localhost"),
      requestId: typeof given === "string" && CLIENT_REQUEST_ID.test(given) ? given : randomUUID(),
      startedAt: performance.now(),
    };
    // Node took its own error listener off the socket before the upgrade, and ws adds one in
    // handleUpgrade only: until then a client's reset (or an EPIPE writing a refusal) would be
    // an unhandled error, which ends the process.
    const onSocketError = (error: Error) => {
      this.deps.logger.debug(
        { err: error, request_id: handshake.requestId },
        "websocket handshake socket error",
      );
    };
    socket.on("error", onSocketError);
    this.#handshakes.set(req, handshake);
    requestContext.run({ requestId: handshake.requestId }, () => {
      this.#authenticate(req, handshake.url).then(
        (session) => {
          // The client gave up while the database answered: nothing to upgrade, nobody to tell.
          if (socket.destroyed) return;
          // Shutdown began meanwhile: its closeAll would not see this connection.
          if (this.#closing) {
            this.#refuse(handshake, new Refusal(503, "The server is shutting down, retry later"));
            return;
          }
          socket.removeListener("error", onSocketError);
          this.#server.handleUpgrade(req, socket, head, (ws) => {
            this.#accept(ws, handshake.requestId, session);
          });
        },
        (error: unknown) => {
          this.#refuse(handshake, error);
        },
      );
    });
  }

  /** Shutdown: every connection gets 1001, and a late handshake a 503. */
  async closeConnections(): Promise<void> {
    this.#closing = true;
    await this.deps.hub.closeAll(CloseCode.goingAway, "The server is shutting down");
  }

  async #authenticate(
    req: IncomingMessage,
    url: URL,
  ): Promise<{ userId: number; expiresAtMs: number }> {
    const { config, tokens, users } = this.deps;
    if (url.pathname !== WEBSOCKET_PATH) throw new Refusal(404, `No route for ${url.pathname}`);
    if (this.#closing) throw new Refusal(503, "The server is shutting down, retry later");
    // Browsers send their page's origin: a page elsewhere must not ride on a user's token.
    const origin = req.headers.origin;
    if (origin !== undefined && config.corsOrigins.length > 0) {
      if (!config.corsOrigins.includes(origin)) throw new Refusal(403, "Origin not allowed");
    }
    const token = tokenOf(req, url.searchParams);
    if (token === undefined) {
      throw new Refusal(401, "Missing token: send ?token= or an Authorization: Bearer header");
    }
    const userId = await tokens.userIdFrom(token);
    if (!(await users.find(userId))) throw callerGone();
    // userIdFrom verified the signature and required `exp`.
    const { exp } = decodeJwt(token) as { exp: number };
    return { userId, expiresAtMs: exp * 1000 };
  }

  #refuse(handshake: Handshake, error: unknown): void {
    let refusal: Refusal;
    if (error instanceof Refusal) refusal = error;
    else if (error instanceof UnauthenticatedError) refusal = new Refusal(401, error.message);
    else if (isDatabaseUnavailable(error)) {
      refusal = new Refusal(503, "The database is unavailable, retry later");
    } else {
      this.deps.logger.error({ err: error }, "websocket handshake failed");
      refusal = new Refusal(500, "Internal error");
    }
    writeProblem(handshake.socket, refusal.status, refusal.detail, handshake.requestId);
    // The contract's request line; the path without its query string (it may carry the token).
    this.deps.logger.info(
      {
        request_id: handshake.requestId,
        method: handshake.method,
        path: handshake.url.pathname,
        status: refusal.status,
        duration_ms: Math.round(performance.now() - handshake.startedAt),
      },
      "request",
    );
  }

  #accept(
    ws: WebSocket,
    requestId: string,
    { userId, expiresAtMs }: { userId: number; expiresAtMs: number },
  ): void {
    const { hub, logger } = this.deps;
    const connection = new Connection(ws, userId, requestId);
    hub.add(connection);
    // Accepted as shutdown began: closeAll has its connections already, this one goes now.
    if (this.#closing) connection.close(CloseCode.goingAway, "The server is shutting down");

    let expiry: NodeJS.Timeout;
    const expireAt = () => {
      const left = expiresAtMs - Date.now();
      if (left > 0) expiry = setTimeout(expireAt, Math.min(left, MAX_TIMER_MS));
      else connection.close(CloseCode.policyViolation, "The token expired");
    };
    expireAt();

    ws.on("message", (data, isBinary) => {
      requestContext.run({ requestId }, () => {
        this.#receive(connection, data, isBinary);
      });
    });
    // ws closes the connection itself on a protocol error and reports it here (without a
    // listener the process would crash); its close code is the one the log line gives, and a
    // peer that does not answer that close is cut as after ours.
    ws.on("error", (error: Error & { code?: string }) => {
      connection.closing(PROTOCOL_ERROR_CLOSE_CODES[error.code ?? ""] ?? 1002);
      logger.debug({ err: error, request_id: requestId }, "websocket protocol error");
    });
    ws.on("close", (code) => {
      clearTimeout(expiry);
      hub.remove(connection);
      logger.info(
        {
          request_id: requestId,
          path: WEBSOCKET_PATH,
          status: 101,
          user_id: userId,
          close_code: connection.closedWith ?? code,
          duration_ms: Math.round(performance.now() - connection.openedAt),
        },
        "websocket",
      );
    });
  }

  #receive(connection: Connection, data: RawData, isBinary: boolean): void {
    const reply = (message: ServerMessage) => connection.send(JSON.stringify(message));
    const error = (detail: string) => reply({ type: "error", detail });
    if (isBinary) {
      error("Binary frames are not supported: send JSON text");
      return;
    }
    let parsed: unknown;
    try {
      // The HTTP bodies' I-JSON rules (duplicate names, lone surrogates, depth); text frames
      // arrive as one Buffer (ws's default binaryType).
      parsed = parseIJson(data as Buffer);
    } catch (problem) {
      if (!(problem instanceof HttpProblem)) throw problem;
      error(problem.detail.replace(/^The body/, "The message"));
      return;
    }
    const message = readClientMessage(parsed);
    if (typeof message === "string") {
      error(message);
      return;
    }
    switch (message.type) {
      case "ping":
        reply({ type: "pong" });
        break;
      case "broadcast":
        this.deps.broker
          .publish({
            to: null,
            message: { type: "broadcast", from: connection.userId, data: message.data },
          })
          .catch(() => error("broadcasts are unavailable, retry later"));
        break;
    }
  }
}
