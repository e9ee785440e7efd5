import { once } from "node:events";
import { connect } from "node:net";

import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { listen, MAX_HEADER_BYTES, type RunningServer } from "../src/lifecycle.js";
import { INT4_MAX } from "../src/schemas.js";
import { testApp } from "./helpers.js";

const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
  "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** What a client gets for raw bytes sent on a fresh connection. */
async function rawExchange(port: number, bytes: string): Promise<string> {
  const socket = connect(port, "127.0.0.1");
  await once(socket, "connect");
  socket.write(bytes);
  const chunks: Buffer[] = [];
  socket.on("data", (chunk: Buffer) => chunks.push(chunk));
  socket.on("error", () => undefined);
  await once(socket, "close");
  return Buffer.concat(chunks).toString();
}

describe("errors before the application sees the request", () => {
  const { app, logger, logs, close } = testApp();
  let running: RunningServer;
  beforeAll(async () => {
    running = await listen(app, {
      host: "127.0.0.1",
      port: 0,
      shutdownGraceMs: 1000,
      logger,
    });
  });
  afterAll(async () => {
    await running.stop();
    await close();
  });

  it(`answers headers over ${MAX_HEADER_BYTES} bytes with 431 problem+json`, async () => {
    const response = await rawExchange(
      running.port,
      `GET /healthz?secret=1 HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(17 * 1024)}\r\n\r\n`,
    );

    const [head = "", body = ""] = response.split("\r\n\r\n");
    expect(head).toMatch(/^HTTP\/1\.1 431 /);
    expect(head).toMatch(/\r\nContent-Type: application\/problem\+json\r\n/);
    expect(head).toMatch(/\r\nX-Request-ID: [0-9a-f-]{36}\r\n/);
    expect(head).toMatch(/\r\nConnection: close(\r\n|$)/);
    expect(head).toContain(`Content-Security-Policy: ${CSP}`);
    expect(JSON.parse(body)).toMatchObject({
      status: 431,
      title: "Request Header Fields Too Large",
    });
    const line = logs.lines.find((entry) => entry.status === 431);
    expect(line).toMatchObject({ msg: "request", method: "GET", path: "/healthz" });
  });

  it("lets headers just under the limit through", async () => {
    const response = await fetch(`http://127.0.0.1:${running.port}/healthz`, {
      headers: { "X-Big": "a".repeat(15 * 1024) },
    });

    expect(response.status).toBe(200);
  });

  it("logs a request whose client hung up mid-body as 499, at info", async () => {
    const socket = connect(running.port, "127.0.0.1");
    await once(socket, "connect");
    socket.write(
      "POST /api/v1/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
        'Content-Length: 100\r\nX-Request-ID: abandoned-1\r\n\r\n{"username": ',
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 200));

    const lines = logs.lines.filter((entry) => entry.request_id === "abandoned-1");
    expect(lines).toEqual([
      expect.objectContaining({
        msg: "request",
        level: "info",
        status: 499,
        path: "/api/v1/users",
      }),
    ]);
  });

  it("answers a malformed request line with 400 problem+json", async () => {
    const response = await rawExchange(running.port, "NOT A REQUEST\r\n\r\n");

    expect(response).toMatch(/^HTTP\/1\.1 400 /);
    expect(response).toMatch(/\r\nContent-Type: application\/problem\+json\r\n/);
    expect(response).toMatch(/\r\nX-Request-ID: /);
  });
});

describe("Content-Security-Policy", () => {
  const { app, close } = testApp();
  afterAll(close);

  it("is the contract's, once, on every response", async () => {
    for (const path of ["/healthz", "/nowhere", "/openapi.json", "/docs", "/api/v1/users/me"]) {
      const response = await request(app).get(path);
      expect(response.headers["content-security-policy"]).toBe(CSP);
    }
  });

  it("leaves /docs nothing inline to block", async () => {
    const page = (await request(app).get("/docs")).text;

    expect(page).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);
    for (const script of page.match(/<script[^>]*>[^<]*<\/script>/g) ?? []) {
      expect(script).toMatch(/^<script src="\/docs\/[^"]+"><\/script>$/);
    }
  });
});

describe("the OpenAPI document is exact", () => {
  const { app, close } = testApp();
  afterAll(close);
  type Responses = Record<string, { content?: Record<string, { schema: unknown }> }>;
  interface Operation {
    parameters: { name: string; in: string; schema: Record<string, unknown> }[];
    requestBody?: unknown;
    security?: unknown;
    responses: Responses;
  }
  let document: {
    paths: Record<string, Record<string, Operation>>;
    components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
  };
  beforeAll(async () => {
    document = (await request(app).get("/openapi.json")).body as typeof document;
  });
  const operations = () =>
    Object.entries(document.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, op]) => ({ path, method, op })),
    );

  it("resolves every $ref", () => {
    const refs = JSON.stringify(document).match(/"\$ref":"[^"]+"/g) ?? [];
    for (const ref of refs) {
      const name = /#\/components\/schemas\/([^"]+)/.exec(ref)?.[1] ?? "";
      expect(document.components.schemas[name], ref).toBeDefined();
    }
    expect(refs.length).toBeGreaterThan(10);
  });

  it("documents every problem an operation can answer with", () => {
    for (const { path, method, op } of operations().filter((o) => o.path.startsWith("/api/"))) {
      const expected = ["422", "429", "431", "500", "503"];
      if (op.requestBody) expected.push("400", "413", "415");
      if (op.security) expected.push("401");
      if (path.includes("{")) expected.push("404");
      for (const status of expected) {
        const response = op.responses[status];
        expect(response, `${method} ${path} ${status}`).toBeDefined();
        expect(response?.content?.["application/problem+json"]?.schema).toEqual({
          $ref: "#/components/schemas/Problem",
        });
      }
    }
  });

  it("documents ids and paging as the bounded integers they are", () => {
    const tasks = document.paths["/api/v1/tasks"]?.get?.parameters ?? [];
    const task = document.paths["/api/v1/tasks/{taskId}"]?.get?.parameters ?? [];
    const schemaOf = (list: typeof tasks, name: string) =>
      list.find((parameter) => parameter.name === name)?.schema;

    expect(schemaOf(task, "taskId")).toEqual({ type: "integer", minimum: 1, maximum: INT4_MAX });
    expect(schemaOf(tasks, "limit")).toMatchObject({ type: "integer", minimum: 1, maximum: 100 });
    expect(schemaOf(tasks, "offset")).toMatchObject({
      type: "integer",
      minimum: 0,
      maximum: INT4_MAX,
    });
  });

  it("makes only the description nullable in a change, and allows no other field", () => {
    const update = document.components.schemas.TaskUpdate as {
      properties: Record<string, unknown>;
      additionalProperties: unknown;
    };
    const text = (name: string) => JSON.stringify(update.properties[name]);

    expect(text("title")).not.toContain("null");
    expect(text("status")).not.toContain("null");
    expect(text("description")).toContain("null");
    expect(update.additionalProperties).toBe(false);
    expect(Object.keys(document.components.schemas.TaskCreate?.properties ?? {})).toEqual([
      "title",
      "description",
    ]);
  });
});
