import { once } from "node:events";
import { connect } from "node:net";

import express from "express";
import { describe, expect, it } from "vitest";

import { cannotListen, listen, ListenError } from "../src/lifecycle.js";

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

describe("listening", () => {
  it("names the address and the setting when the port is taken", async () => {
    const taken = await listen(slowApp(), { host: "127.0.0.1", port: 0, shutdownGraceMs: 100 });
    try {
      const second = listen(slowApp(), {
        host: "127.0.0.1",
        port: taken.port,
        shutdownGraceMs: 100,
      });
      await expect(second).rejects.toThrow(
        new ListenError(
          `cannot serve HTTP on 127.0.0.1:${taken.port} (PORT): address already in use`,
        ),
      );
    } finally {
      await taken.stop();
    }
  });

  it("says why it cannot listen otherwise", () => {
    const denied = Object.assign(new Error("listen EACCES: permission denied"), { code: "EACCES" });
    expect(cannotListen("HTTP", "[::1]:80", "PORT", denied).message).toBe(
      "cannot serve HTTP on [::1]:80 (PORT): permission denied",
    );
    expect(cannotListen("HTTP", "host:1", "PORT", "no such host").message).toBe(
      "cannot serve HTTP on host:1 (PORT): no such host",
    );
    const wrapped = new Error("No address added errors: [listen EADDRINUSE: 127.0.0.1:1]");
    expect(cannotListen("HTTP", "127.0.0.1:1", "PORT", wrapped).message).toBe(
      "cannot serve HTTP on 127.0.0.1:1 (PORT): address already in use",
    );
  });
});
