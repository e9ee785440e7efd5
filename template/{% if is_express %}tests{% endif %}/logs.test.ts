import { PassThrough } from "node:stream";

import request from "supertest";
import { afterAll, describe, expect, it } from "vitest";

import { createLogger } from "../src/logger.js";
import { requestContext } from "../src/request-context.js";
import { bearer, PASSWORD, testApp } from "./helpers.js";

describe("logs", () => {
  const { app, logs, events, close } = testApp();
  afterAll(close);

  it("writes one JSON line per request with the request id", async () => {
    await request(app).get("/readyz").set("X-Request-ID", "log-probe-1");

    const lines = logs.lines.filter((line) => line.request_id === "log-probe-1");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: "info",
      msg: "request",
      method: "GET",
      path: "/readyz",
      status: 200,
    });
    expect(typeof lines[0]?.ts).toBe("string");
    expect(typeof lines[0]?.duration_ms).toBe("number");
  });

  it("carries the request id into background work", async () => {
    const auth = await bearer(app);
    const published = new Promise((resolve) => events.once("event", resolve));

    await request(app)
      .post("/api/v1/tasks")
      .set(auth)
      .set("X-Request-ID", "log-probe-2")
      .send({ title: "logged" });
    await published;
    await new Promise((resolve) => setImmediate(resolve));

    const own = logs.lines.filter((line) => line.request_id === "log-probe-2");
    expect(own.map((line) => line.msg)).toEqual(
      expect.arrayContaining(["request", "task.created"]),
    );
  });

  it("never writes passwords", async () => {
    await bearer(app);

    expect(JSON.stringify(logs.lines)).not.toContain(PASSWORD);
  });

  it("names levels as the contract does", () => {
    const sink = new PassThrough();
    const chunks: string[] = [];
    sink.on("data", (chunk: Buffer) => chunks.push(chunk.toString()));
    const logger = createLogger({ logLevel: "warning", logFormat: "json" }, sink);

    logger.info("hidden");
    logger.warn("shown");
    logger.fatal({ password: "hunter22", authorization: "Bearer hunter22" }, "fatal");

    const lines = chunks.map((chunk) => JSON.parse(chunk) as Record<string, unknown>);
    expect(lines.map((line) => [line.level, line.msg])).toEqual([
      ["warning", "shown"],
      ["critical", "fatal"],
    ]);
    expect(chunks.join("")).not.toContain("hunter22");
  });

  it("writes readable lines for people in console format", () => {
    const sink = new PassThrough();
    const chunks: string[] = [];
    sink.on("data", (chunk: Buffer) => chunks.push(chunk.toString()));
    const logger = createLogger({ logLevel: "info", logFormat: "console" }, sink);

    requestContext.run({ requestId: "console-probe" }, () => {
      logger.info("hello");
    });

    const output = chunks.join("");
    expect(output).toContain("hello");
    expect(output).toContain("console-probe");
    expect(output.trimStart().startsWith("{")).toBe(false);
  });
});
