import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { MAX_JSON_DEPTH, parseIJson } from "../src/middleware/body.js";
import { bearer, testApp } from "./helpers.js";

const TASKS = "/api/v1/tasks";

describe("bodies must be I-JSON (RFC 7493)", () => {
  const { app, close } = testApp();
  afterAll(close);
  let auth: { Authorization: string };
  beforeAll(async () => {
    auth = await bearer(app);
  });

  const post = (body: string | Buffer, type = "application/json") =>
    request(app)
      .post(TASKS)
      .set(auth)
      .set("Content-Type", type)
      // The bytes as they are: superagent would serialize a Buffer as JSON.
      .serialize((bytes: string | Buffer) => bytes as string)
      .send(body);

  it.each([
    [
      "invalid UTF-8",
      Buffer.from([...Buffer.from('{"title": "'), 0xff, 0xfe, ...Buffer.from('"}')]),
    ],
    ["a lone high surrogate, escaped", '{"title": "\\ud800"}'],
    ["a lone low surrogate, escaped", '{"title": "x\\udc00y"}'],
    ["a duplicate member name", '{"title": "a", "title": "b"}'],
    ["a duplicate member name spelled with an escape", '{"title": "a", "titl\\u0065": "b"}'],
    [
      "a duplicate in a nested object",
      '{"title": "a", "description": null, "x": {"k": 1, "k": 2}}',
    ],
    ["an empty body", ""],
    ["whitespace only", "  \n"],
    ["JSON with trailing garbage", '{"title": "a"} x'],
  ])("answers %s with 400 problem+json", async (_case, body) => {
    const response = await post(body);

    expect(response.status).toBe(400);
    expect(response.headers["content-type"]).toBe("application/problem+json");
  });

  it("keeps a well-formed surrogate pair, as sent", async () => {
    const response = await post('{"title": "smile \\ud83d\\ude00"}');

    expect(response.status).toBe(201);
    const { id, title } = response.body as { id: number; title: string };
    expect(title).toBe("smile \u{1F600}");
    expect((await request(app).get(`${TASKS}/${id}`).set(auth)).body).toMatchObject({ title });
  });

  it("allows the same member name in different objects", () => {
    expect(parseIJson(Buffer.from('[{"a": 1}, {"a": 2, "b": {"a": 3}}]'))).toEqual([
      { a: 1 },
      { a: 2, b: { a: 3 } },
    ]);
  });

  it(`allows ${MAX_JSON_DEPTH} levels of nesting, not one more`, async () => {
    const nested = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`;

    expect(() => parseIJson(Buffer.from(nested(MAX_JSON_DEPTH)))).not.toThrow();
    expect((await post(`{"title": ${nested(MAX_JSON_DEPTH - 1)}}`)).status).toBe(422);
    expect((await post(`{"title": ${nested(MAX_JSON_DEPTH)}}`)).status).toBe(400);
  });

  it("checks a body of 1 MiB in bounded time", async () => {
    const big = testApp({ MAX_BODY_BYTES: String(1024 * 1024) });
    const headers = await bearer(big.app);
    // Many strings with escapes (each decoded on its own), and many small objects.
    const escaped = JSON.stringify('a\n\t"b\u00e9'.repeat(8));
    const count = Math.floor((1024 * 1024 - 100) / (escaped.length * 2 + 1));
    const strings = `{"title": "x", "pad": [${Array(count).fill(escaped).join(",")}]}`;
    const objects = `[${Array.from({ length: 40_000 }, (_, n) => `{"k${n}": [1]}`).join(",")}]`;

    for (const payload of [strings, objects]) {
      expect(Buffer.byteLength(payload)).toBeLessThanOrEqual(1024 * 1024);
      const started = performance.now();
      const response = await request(big.app)
        .post(TASKS)
        .set(headers)
        .set("Content-Type", "application/json")
        .send(payload);
      expect(response.status).toBe(422);
      expect(performance.now() - started).toBeLessThan(2000);
    }
    await big.close();
  });

  it("answers a body-taking operation called without a body with 415", async () => {
    const response = await request(app).post(TASKS).set(auth);

    expect(response.status).toBe(415);
    expect(response.headers["content-type"]).toBe("application/problem+json");
  });

  it("accepts an explicit UTF-8 charset", async () => {
    const response = await post('{"title": "charset"}', "application/json; charset=utf-8");

    expect(response.status).toBe(201);
  });
});

describe("fields not in the schema", () => {
  const { app, close } = testApp();
  afterAll(close);
  let auth: { Authorization: string };
  beforeAll(async () => {
    auth = await bearer(app);
  });

  const fieldsOf = (body: unknown) =>
    (body as { errors: { field: string }[] }).errors.map((error) => error.field);

  it.each([
    [{ title: "t", status: "done" }, ["status"]],
    [{ title: "t", owner_id: 1, id: 5 }, ["owner_id", "id"]],
  ])("are a 422 on create: %j", async (payload, fields) => {
    const response = await request(app).post(TASKS).set(auth).send(payload);

    expect(response.status).toBe(422);
    expect(fieldsOf(response.body)).toEqual(fields);
  });

  it.each([
    [{ owner_id: 2 }, "owner_id"],
    [{ title: null }, "title"],
    [{ status: null }, "status"],
  ])("are a 422 on change, as is a null title or status: %j", async (changes, field) => {
    const created = await request(app).post(TASKS).set(auth).send({ title: "kept" });
    const url = `${TASKS}/${(created.body as { id: number }).id}`;

    const response = await request(app).patch(url).set(auth).send(changes);

    expect(response.status).toBe(422);
    expect(fieldsOf(response.body)).toEqual([field]);
    expect((await request(app).get(url).set(auth)).body).toEqual(created.body);
  });

  it("lets a change clear the description with null", async () => {
    const created = await request(app).post(TASKS).set(auth).send({ title: "t", description: "d" });

    const response = await request(app)
      .patch(`${TASKS}/${(created.body as { id: number }).id}`)
      .set(auth)
      .send({ description: null });

    expect(response.status).toBe(200);
    expect((response.body as { description: unknown }).description).toBeNull();
  });

  it.each([
    ["/api/v1/users", { username: "valid_name", password: "long enough", admin: true }, "admin"],
    ["/api/v1/auth/token", { username: "someone", password: "whatever", extra: 1 }, "extra"],
  ])("are a 422 on %s", async (path, payload, field) => {
    const response = await request(app).post(path).send(payload);

    expect(response.status).toBe(422);
    expect(fieldsOf(response.body)).toEqual([field]);
  });

  it("leave OAuth2's own form fields alone on the token endpoint", async () => {
    const response = await request(app)
      .post("/api/v1/auth/token")
      .type("form")
      .send({ grant_type: "password", username: "nobody_here", password: "whatever1", scope: "" });

    expect(response.status).toBe(401);
  });
});

describe("query and path bounds", () => {
  const { app, close } = testApp();
  afterAll(close);
  let auth: { Authorization: string };
  beforeAll(async () => {
    auth = await bearer(app);
  });

  it.each([{ offset: "2147483648" }, { limit: "00" }, { offset: "1".repeat(20) }])(
    "refuses the query %j",
    async (query) => {
      expect((await request(app).get(TASKS).query(query).set(auth)).status).toBe(422);
    },
  );

  it("accepts the largest offset", async () => {
    const response = await request(app).get(TASKS).query({ offset: "2147483647" }).set(auth);

    expect(response.status).toBe(200);
  });

  it.each(["2147483647", "1"])("answers an unknown id %s with 404", async (id) => {
    expect((await request(app).get(`${TASKS}/${id}`).set(auth)).status).toBe(404);
  });
});
