import request from "supertest";
import { afterAll, beforeEach, describe, expect, it } from "vitest";

import { timestamp } from "../src/db/database.js";
import { bearer, testApp } from "./helpers.js";

const TASKS = "/api/v1/tasks";

describe("Idempotency-Key on creates", () => {
  const { app, db, events, close } = testApp();
  afterAll(close);
  let auth: { Authorization: string };
  beforeEach(async () => {
    auth = await bearer(app);
  });

  const create = (key: string, body: Record<string, unknown> = { title: "once" }) =>
    request(app).post(TASKS).set(auth).set("Idempotency-Key", key).send(body);
  const total = async () =>
    ((await request(app).get(TASKS).set(auth)).body as { total: number }).total;

  it("creates once, then replays the stored response", async () => {
    let published = 0;
    const count = () => published++;
    events.on("event", count);

    const first = await create("order-42");
    const again = await create("order-42");
    events.off("event", count);

    expect(first.status).toBe(201);
    expect(first.headers["idempotent-replayed"]).toBeUndefined();
    expect(again.status).toBe(201);
    expect(again.headers["idempotent-replayed"]).toBe("true");
    expect(again.headers.location).toBe(first.headers.location);
    expect(again.body).toEqual(first.body);
    expect(await total()).toBe(1);
    expect(published).toBe(1);
  });

  it("compares bodies after validation", async () => {
    await create("same", { title: "t" });

    const again = await create("same", { title: "t", description: null });

    expect(again.headers["idempotent-replayed"]).toBe("true");
  });

  it("refuses the same key with another body", async () => {
    await create("reused", { title: "first" });

    const response = await create("reused", { title: "second" });

    expect(response.status).toBe(422);
    expect((response.body as { errors: { field: string }[] }).errors[0]?.field).toBe(
      "Idempotency-Key",
    );
    expect(await total()).toBe(1);
  });

  it("keeps keys per user", async () => {
    await create("shared");
    const other = await bearer(app);

    const response = await request(app)
      .post(TASKS)
      .set(other)
      .set("Idempotency-Key", "shared")
      .send({ title: "once" });

    expect(response.status).toBe(201);
    expect(response.headers["idempotent-replayed"]).toBeUndefined();
  });

  it.each(["", "x".repeat(256), "tab\there", "caf\u00e9"])("refuses the key %j", async (key) => {
    const response = await request(app)
      .post(TASKS)
      .set(auth)
      .set("Idempotency-Key", key)
      .send({ title: "never" });

    expect(response.status).toBe(422);
    expect((response.body as { errors: { field: string }[] }).errors[0]?.field).toBe(
      "Idempotency-Key",
    );
    expect(await total()).toBe(0);
  });

  it("accepts 255 printable ASCII characters", async () => {
    expect((await create(`${"~".repeat(127)} ${"!".repeat(127)}`)).status).toBe(201);
  });

  it("creates one task for concurrent requests with one key", async () => {
    const responses = await Promise.all(Array.from({ length: 5 }, () => create("racing")));

    expect(responses.map((response) => response.status)).toEqual([201, 201, 201, 201, 201]);
    expect(new Set(responses.map((response) => (response.body as { id: number }).id)).size).toBe(1);
    expect(responses.filter((r) => r.headers["idempotent-replayed"] === "true")).toHaveLength(4);
    expect(await total()).toBe(1);
  });

  it("forgets a key after 24 hours", async () => {
    const first = await create("yesterday");
    const ownerId = (first.body as { owner_id: number }).owner_id;
    const dayAgo = new Date(Date.now() - 24 * 60 * 60 * 1000 - 1000);
    await db
      .updateTable("idempotency_keys")
      .set({ created_at: timestamp(db, dayAgo) })
      .where("owner_id", "=", ownerId)
      .execute();

    const again = await create("yesterday");

    expect(again.status).toBe(201);
    expect(again.headers["idempotent-replayed"]).toBeUndefined();
    expect(await total()).toBe(2);
  });
});
