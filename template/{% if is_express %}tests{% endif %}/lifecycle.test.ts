import { once } from "node:events";
import { connect } from "node:net";

import express from "express";
import { describe, expect, it } from "vitest";

import { listen } from "../src/lifecycle.js";

/** An app with one slow endpoint, so a request can be in flight during shutdown. */
function slowApp() {
  const app = express();
  app.get("/slow", (_req, res) => {
    setTimeout(() => res.json({ done: true }), 300);
  });
  app.get("/fast", (_req, res) => {
    res.json({ done: true });
  });
  return app;
}

describe("graceful stop", () => {
  it("lets an in-flight request finish, then stops accepting", async () => {
    const running = await listen(slowApp(), { host: "127.0.0.1", port: 0, shutdownGraceMs: 5000 });
    const url = `http://127.0.0.1:${running.port}`;

    const inFlight = fetch(`${url}/slow`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const stopped = running.stop();
    const response = await inFlight;
    await stopped;

    expect(response.status).toBe(200);
    expect(response.headers.get("connection")).toBe("close");
    expect(await response.json()).toEqual({ done: true });
    await expect(fetch(`${url}/slow`)).rejects.toThrow();
  });

  it("answers a request that arrives on an open connection during shutdown, then closes it", async () => {
    const running = await listen(slowApp(), { host: "127.0.0.1", port: 0, shutdownGraceMs: 5000 });
    const socket = connect(running.port, "127.0.0.1");
    await once(socket, "connect");
    socket.write("GET /fast HTTP/1.1\r\nHost: localhost\r\n"); // not finished yet
    await new Promise((resolve) => setTimeout(resolve, 50));

    const stopped = running.stop();
    socket.write("\r\n");
    let answer = "";
    socket.on("data", (chunk: Buffer) => (answer += chunk.toString()));
    await once(socket, "close");
    await stopped;

    expect(answer).toMatch(/^HTTP\/1.1 200/);
    expect(answer.toLowerCase()).toContain("connection: close");
  });

  it("closes what is still open when the grace period ends", async () => {
    const running = await listen(slowApp(), { host: "127.0.0.1", port: 0, shutdownGraceMs: 100 });
    const socket = connect(running.port, "127.0.0.1");
    await once(socket, "connect");
    socket.write("GET /slow HTTP/1.1\r\nHost: localhost\r\n"); // headers never finish

    const started = performance.now();
    await running.stop();

    expect(performance.now() - started).toBeLessThan(2000);
    socket.destroy();
  });
});
