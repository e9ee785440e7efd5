import { once } from "node:events";
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

import type { Express } from "express";

export interface RunningServer {
  server: Server;
  port: number;
  /** Stops accepting, lets in-flight requests finish within the grace period, then closes. */
  stop(): Promise<void>;
}

export async function listen(
  app: Express,
  options: { host: string; port: number; shutdownGraceMs: number },
): Promise<RunningServer> {
  const server = createServer();
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
