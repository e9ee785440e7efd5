import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { createServer, type Server, type ServerResponse, STATUS_CODES } from "node:http";
import type { AddressInfo, Socket } from "node:net";

import type { Express } from "express";

import type { Logger } from "./logger.js";
import { BARE_SECURITY_HEADERS } from "./security/headers.js";

/** Request line and headers together, the same limit on every framework of the contract. */
export const MAX_HEADER_BYTES = 16 * 1024;

/**
 * Answers what Node's HTTP parser refused before the application could see it (headers over
 * MAX_HEADER_BYTES, a malformed request line) as the application would: problem+json, with a
 * request id and the security headers, and a log line. Node would send a bare status.
 */
function answerClientError(logger: Logger | undefined) {
  return (error: NodeJS.ErrnoException, socket: Socket) => {
    // The client went away (mid-body too): nobody to answer; the request's own line says 499.
    if (error.code === "ECONNRESET" || error.code === "HPE_INVALID_EOF_STATE" || !socket.writable) {
      socket.destroy();
      return;
    }
    const status =
      error.code === "HPE_HEADER_OVERFLOW"
        ? 431
        : error.code === "ERR_HTTP_REQUEST_TIMEOUT"
          ? 408
          : 400;
    const requestId = randomUUID();
    const body = JSON.stringify({
      type: "about:blank",
      title: STATUS_CODES[status],
      status,
      detail:
        status === 431
          ? `The request headers are larger than ${MAX_HEADER_BYTES} bytes`
          : "The request could not be read",
    });
    const headers = {
      "Content-Type": "application/problem+json",
      "Content-Length": String(Buffer.byteLength(body)),
      "X-Request-ID": requestId,
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
    // The request line, when the parser got that far; never the query string.
    const line = /^([A-Z]+) ([^\s?]*)/.exec(
      (error as { rawPacket?: Buffer }).rawPacket?.toString("latin1", 0, 2048) ?? "",
    );
    logger?.info(
      { request_id: requestId, method: line?.[1], path: line?.[2], status, duration_ms: 0 },
      "request",
    );
  };
}

export interface RunningServer {
  server: Server;
  port: number;
  /** Stops accepting, lets in-flight requests finish within the grace period, then closes. */
  stop(): Promise<void>;
}

export async function listen(
  app: Express,
  options: { host: string; port: number; shutdownGraceMs: number; logger?: Logger },
): Promise<RunningServer> {
  const server = createServer({ maxHeaderSize: MAX_HEADER_BYTES });
  server.on("clientError", answerClientError(options.logger));
  const inFlight = new Set<ServerResponse>();
  let stopping: Promise<void> | undefined;

  // Registered before the app, so it sees every response before anything is sent.
  server.on("request", (_req, res: ServerResponse) => {
    // Keep-alive connections close after their response once shutdown has begun.
    if (stopping) res.setHeader("Connection", "close");
    inFlight.add(res);
    res.on("close", () => inFlight.delete(res));
  });
  server.on("request", app);
  server.listen(options.port, options.host);
  await once(server, "listening");

  return {
    server,
    port: (server.address() as AddressInfo).port,
    stop() {
      stopping ??= new Promise<void>((resolve) => {
        for (const res of inFlight) {
          if (!res.headersSent) res.setHeader("Connection", "close");
        }
        const force = setTimeout(() => {
          server.closeAllConnections();
        }, options.shutdownGraceMs);
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        server.closeIdleConnections();
      });
      return stopping;
    },
  };
}
