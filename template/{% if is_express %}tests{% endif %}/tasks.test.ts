import type { Express } from "express";
import request from "supertest";
import { afterAll, beforeEach, describe, expect, it } from "vitest";

import type { TaskEvent } from "../src/services/tasks.js";
import { bearer, testApp } from "./helpers.js";

const TASKS = "/api/v1/tasks";

type TaskBody = Record<string, unknown> & { id: number };

describe("tasks", () => {
  const { app, events, logs, close } = testApp();
  afterAll(close);
  let auth: { Authorization: string };

  beforeEach(async () => {
    auth = await bearer(app);
  });

  let createdBy = "";
  const create = async (fields: Record<string, unknown> = {}, as: Express = app) => {
    const response = await request(as)
      .post(TASKS)
      .set(auth)
      .send({ title: "a task", ...fields });
    expect(response.status).toBe(201);
    createdBy = String(response.headers["x-request-id"]);
    return response.body as TaskBody;
  };

  it("creates a task and says where it is", async () => {
    const response = await request(app)
      .post(TASKS)
      .set(auth)
      .send({ title: "Write docs", description: "all of them" });

    expect(response.status).toBe(201);
    const task = response.body as TaskBody;
    expect(response.headers.location).toBe(`${TASKS}/${task.id}`);
    expect(task).toMatchObject({
      title: "Write docs",
      description: "all of them",
      status: "pending",
    });
    expect(Object.keys(task).sort()).toEqual(
      ["created_at", "description", "id", "owner_id", "status", "title", "updated_at"].sort(),
    );
    const me = await request(app).get("/api/v1/users/me").set(auth);
    expect(task.owner_id).toBe((me.body as { id: number }).id);
  });

  it("publishes task.created in the request's context", async () => {
    const seen = new Promise<TaskEvent>((resolve) => events.once("event", resolve));

    const task = await create({ title: "announced" });

    const event = await seen;
    expect(event.type).toBe("task.created");
    expect(event.task).toEqual(task);
    // Published once the response is written, before the request's line at its "finish".
    const messages = logs.lines.filter((line) => line.request_id === createdBy).map((l) => l.msg);
    expect(messages).toEqual(["task.created", "request"]);
  });

  it("answers even when a listener fails, and logs the failure", async () => {
    const failing = () => {
      throw new Error("listener failed");
    };
    events.prependOnceListener("event", failing);

    await create({ title: "still created" });

    expect(logs.lines.some((line) => line.msg === "task event listener failed")).toBe(true);
  });

  it("makes the description optional", async () => {
    expect((await create()).description).toBeNull();
    expect((await create({ description: null })).description).toBeNull();
  });

  it("reads, updates and deletes, publishing each change", async () => {
    const task = await create({ title: "draft" });
    const published: string[] = [];
    const record = ({ type }: TaskEvent) => published.push(type);
    events.on("event", record);
    const url = `${TASKS}/${task.id}`;

    const read = await request(app).get(url).set(auth);
    const updated = await request(app)
      .patch(url)
      .set(auth)
      .send({ title: "final", status: "done" });
    const unchanged = await request(app).patch(url).set(auth).send({});
    const deleted = await request(app).delete(url).set(auth);
    const gone = await request(app).get(url).set(auth);

    expect(read.body).toEqual(task);
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({
      title: "final",
      status: "done",
      created_at: task.created_at,
    });
    // An empty PATCH changes nothing but updated_at.
    type Stamped = TaskBody & { updated_at: string };
    const { updated_at: touchedAt, ...untouched } = unchanged.body as Stamped;
    const { updated_at: updatedAt, ...fields } = updated.body as Stamped;
    expect(untouched).toEqual(fields);
    expect(touchedAt >= updatedAt).toBe(true);
    expect(deleted.status).toBe(204);
    expect(deleted.text).toBe("");
    expect(gone.status).toBe(404);
    expect(gone.headers["content-type"]).toBe("application/problem+json");
    events.off("event", record);
    // An empty PATCH is answered with the task, and announced as every PATCH.
    expect(published).toEqual(["task.updated", "task.updated", "task.deleted"]);
  });

  it("lists newest first, a page at a time", async () => {
    const ids: number[] = [];
    for (const n of [0, 1, 2]) ids.push((await create({ title: `task ${n}` })).id);

    const first = await request(app).get(TASKS).query({ limit: 2, offset: 0 }).set(auth);
    const rest = await request(app).get(TASKS).query({ limit: 2, offset: 2 }).set(auth);

    const page = first.body as { items: TaskBody[]; total: number; limit: number; offset: number };
    expect([page.total, page.limit, page.offset]).toEqual([3, 2, 0]);
    const items = [...page.items, ...(rest.body as { items: TaskBody[] }).items];
    expect(items.map((task) => task.id)).toEqual(ids.reverse());
  });

  it("filters by status, and an empty status is no filter", async () => {
    const done = await create({ title: "done" });
    await create({ title: "pending" });
    await request(app).patch(`${TASKS}/${done.id}`).set(auth).send({ status: "done" });

    const everything = await request(app).get(TASKS).query({ status: "" }).set(auth);
    const onlyDone = await request(app).get(TASKS).query({ status: "done" }).set(auth);

    expect((everything.body as { total: number }).total).toBe(2);
    expect((onlyDone.body as { items: TaskBody[] }).items.map((task) => task.id)).toEqual([
      done.id,
    ]);
  });

  it.each([{ limit: 0 }, { limit: 101 }, { offset: -1 }, { status: "lost" }, { limit: "many" }])(
    "refuses the query %j",
    async (query) => {
      const response = await request(app).get(TASKS).query(query).set(auth);

      expect(response.status).toBe(422);
      const { errors } = response.body as { errors: { field: string }[] };
      expect(errors.map((error) => error.field)).toEqual(Object.keys(query));
    },
  );

  it.each([
    [{}, "title"],
    [{ title: "" }, "title"],
    [{ title: "t".repeat(201) }, "title"],
    [{ title: "ok", description: "d".repeat(10_001) }, "description"],
    [{ title: "nul \u0000 inside" }, "title"],
    [{ title: "ok", status: "archived" }, "status"],
  ])("refuses the task %j", async (payload, field) => {
    const response = await request(app).post(TASKS).set(auth).send(payload);

    expect(response.status).toBe(422);
    expect((response.body as { errors: { field: string }[] }).errors[0]?.field).toBe(field);
  });

  it.each([{ title: "" }, { status: "archived" }, { title: null }])(
    "refuses the change %j and keeps the task",
    async (changes) => {
      const task = await create();

      const response = await request(app).patch(`${TASKS}/${task.id}`).set(auth).send(changes);

      expect(response.status).toBe(422);
      expect((await request(app).get(`${TASKS}/${task.id}`).set(auth)).body).toEqual(task);
    },
  );

  it.each(["0", "abc", "2147483648"])("refuses the id %s", async (id) => {
    const response = await request(app).get(`${TASKS}/${id}`).set(auth);

    expect(response.status).toBe(422);
  });

  it("hides other users' tasks", async () => {
    const task = await create({ title: "private" });
    const url = `${TASKS}/${task.id}`;
    const stranger = await bearer(app);

    expect((await request(app).get(url).set(stranger)).status).toBe(404);
    expect((await request(app).patch(url).set(stranger).send({ title: "mine" })).status).toBe(404);
    expect((await request(app).delete(url).set(stranger)).status).toBe(404);
    expect((await request(app).get(TASKS).set(stranger)).body).toMatchObject({ total: 0 });
    expect((await request(app).get(url).set(auth)).body).toEqual(task);
  });

  it("needs a token", async () => {
    const response = await request(app).post(TASKS).send({ title: "anonymous" });

    expect(response.status).toBe(401);
    expect(response.headers["www-authenticate"]).toMatch(/^Bearer/);
  });

  it("answers other methods with 405 and Allow, OPTIONS with Allow", async () => {
    const response = await request(app).put(TASKS).set(auth).send({ title: "x" });
    const options = await request(app).options(`${TASKS}/1`);

    expect(response.status).toBe(405);
    expect(response.headers.allow).toBe("GET, HEAD, POST");
    expect(options.status).toBe(204);
    expect(options.headers.allow).toBe("GET, HEAD, PATCH, DELETE");
  });

  it.each(["1e0", "0x1", " 1"])("wants decimal digits in the id, not %j", async (id) => {
    const response = await request(app)
      .get(`${TASKS}/${encodeURIComponent(id)}`)
      .set(auth);

    expect(response.status).toBe(422);
  });
});
