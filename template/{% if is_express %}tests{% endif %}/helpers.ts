import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { type AddressInfo, createServer, type Server, type Socket } from "node:net";
import { Writable } from "node:stream";

import type { Express } from "express";
import request from "supertest";
import { inject } from "vitest";

import { createApp } from "../src/app.js";
import { type Config, loadConfig } from "../src/config.js";
import { createDatabase, type Database } from "../src/db/database.js";
import { createLogger, type Logger } from "../src/logger.js";
import { TaskEvents } from "../src/services/tasks.js";

export const PASSWORD = "correct horse battery";

/** Log lines as the service writes them, kept for assertions. */
export class LogLines extends Writable {
  readonly lines: Record<string, unknown>[] = [];

  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    for (const line of chunk.toString().split("\n").filter(Boolean)) {
      this.lines.push(JSON.parse(line) as Record<string, unknown>);
    }
    done();
  }
}

export interface TestApp {
  app: Express;
  config: Config;
  db: Database;
  events: TaskEvents;
  logger: Logger;
  logs: LogLines;
  close: () => Promise<void>;
}

/** Settings from the contract's variables, on the test database. */
export function testConfig(env: Record<string, string> = {}): Config {
  return loadConfig({
    APP_ENV: "test",
    DATABASE_URL: inject("databaseUrl"),
    JWT_SECRET: "test-secret-that-is-long-enough-for-hs256",
    LOG_FORMAT: "json",
    RATE_LIMIT_PER_MINUTE: "0",
    ...env,
  });
}

/** The application on the test database. */
export function testApp(env: Record<string, string> = {}): TestApp {
  const config = testConfig(env);
  const db = createDatabase(config);
  const logs = new LogLines();
  const events = new TaskEvents();
  const logger = createLogger(config, logs);
  const app = createApp({ config, db, logger, events });
  return { app, config, db, events, logger, logs, close: () => db.destroy() };
}

/** `databaseUrl`, pointed at `server` instead, once it listens on the loopback. */
export async function urlOf(server: Server, databaseUrl: string): Promise<string> {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const url = new URL(databaseUrl);
  url.hostname = "127.0.0.1";
  url.port = String((server.address() as AddressInfo).port);
  return url.toString();
}

/** A database server that accepts connections and never answers: its URL, and its end. */
export async function hungServer(databaseUrl: string): Promise<{ url: string; close(): void }> {
  const sockets: Socket[] = [];
  const server = createServer((socket) => sockets.push(socket));
  const url = await urlOf(server, databaseUrl);
  return {
    url,
    close: () => {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

export const uniqueName = (prefix = "user") => `${prefix}_${randomBytes(5).toString("hex")}`;

export async function signUp(app: Express, username = uniqueName()) {
  const response = await request(app).post("/api/v1/users").send({ username, password: PASSWORD });
  if (response.status !== 201) throw new Error(`sign-up failed: ${response.text}`);
  return response.body as { id: number; username: string; created_at: string };
}

/** Signs a fresh user up; the Authorization header of their token. */
export async function bearer(app: Express, username?: string): Promise<{ Authorization: string }> {
  const user = await signUp(app, username);
  const response = await request(app)
    .post("/api/v1/auth/token")
    .send({ username: user.username, password: PASSWORD });
  return { Authorization: `Bearer ${(response.body as { access_token: string }).access_token}` };
}
