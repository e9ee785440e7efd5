import { afterAll, beforeEach, describe, expect, it } from "vitest";

import { createDatabase } from "../src/db/database.js";
import {
  ConflictError,
  IdempotencyKeyReusedError,
  NotFoundError,
  UnauthenticatedError,
} from "../src/errors.js";
import { type Task, TaskQuery } from "../src/schemas.js";
import { TaskEvents, TaskService } from "../src/services/tasks.js";
import { UserService } from "../src/services/users.js";
import { PASSWORD, testConfig, uniqueName } from "./helpers.js";

// The service layer called directly on the test database: no HTTP, domain errors only.
const db = createDatabase(testConfig());
afterAll(() => db.destroy());
const users = new UserService(db);
const tasks = new TaskService(db);

/** The first page of all tasks, as a query without parameters asks for it. */
const FIRST_PAGE = TaskQuery.parse({});

const newUser = () => users.signUp({ username: uniqueName(), password: PASSWORD });

/** A user who signed up and was then deleted (their tasks go with them). */
async function goneUser(): Promise<number> {
  const { id } = await newUser();
  await db.deleteFrom("users").where("id", "=", id).execute();
  return id;
}

describe("UserService", () => {
  it("signs up, authenticates and finds a user", async () => {
    const username = uniqueName();

    const user = await users.signUp({ username, password: PASSWORD });

    expect(user).toMatchObject({ username });
    expect(await users.authenticate({ username, password: PASSWORD })).toEqual(user);
    expect(await users.find(user.id)).toEqual(user);
  });

  it("refuses a taken username with a ConflictError", async () => {
    const { username } = await newUser();

    await expect(users.signUp({ username, password: PASSWORD })).rejects.toThrow(ConflictError);
  });

  it("authenticates nobody with a wrong password or an unknown name", async () => {
    const { username } = await newUser();

    expect(await users.authenticate({ username, password: "wrong password" })).toBeUndefined();
    expect(
      await users.authenticate({ username: uniqueName(), password: PASSWORD }),
    ).toBeUndefined();
  });

  it("finds no user that is gone", async () => {
    expect(await users.find(await goneUser())).toBeUndefined();
  });
});

describe("TaskService", () => {
  let ownerId: number;
  beforeEach(async () => {
    ({ id: ownerId } = await newUser());
  });

  it("creates, reads, changes and deletes an owner's task", async () => {
    const created = await tasks.create(ownerId, { title: "draft", description: null });

    const changed = await tasks.update(ownerId, created.id, { title: "final", status: "done" });
    const unchanged = await tasks.update(ownerId, created.id, {});
    const read = await tasks.get(ownerId, created.id);
    const deleted = await tasks.delete(ownerId, created.id);

    expect(created).toMatchObject({ title: "draft", status: "pending", owner_id: ownerId });
    expect(changed).toMatchObject({
      title: "final",
      status: "done",
      created_at: created.created_at,
    });
    // `{}` changes nothing but updated_at.
    expect(unchanged).toEqual({ ...changed, updated_at: unchanged.updated_at });
    expect(unchanged.updated_at >= changed.updated_at).toBe(true);
    expect(read).toEqual(unchanged);
    expect(deleted).toEqual(unchanged);
    await expect(tasks.get(ownerId, created.id)).rejects.toThrow(NotFoundError);
  });

  it("pages newest first and filters by status", async () => {
    const first = await tasks.create(ownerId, { title: "first", description: null });
    const second = await tasks.create(ownerId, { title: "second", description: null });
    await tasks.create(ownerId, { title: "third", description: null });
    await tasks.update(ownerId, first.id, { status: "done" });

    const page = await tasks.list(ownerId, TaskQuery.parse({ limit: "2", offset: "1" }));
    const done = await tasks.list(ownerId, TaskQuery.parse({ status: "done" }));

    expect(page).toMatchObject({ total: 3, limit: 2, offset: 1 });
    expect(page.items.map((task) => task.id)).toEqual([second.id, first.id]);
    expect(done.items.map((task) => task.id)).toEqual([first.id]);
  });

  it("treats another owner's task as missing, whatever the operation", async () => {
    const task = await tasks.create(ownerId, { title: "private", description: null });
    const { id: stranger } = await newUser();

    await expect(tasks.get(stranger, task.id)).rejects.toThrow(NotFoundError);
    await expect(tasks.update(stranger, task.id, { title: "mine" })).rejects.toThrow(NotFoundError);
    await expect(tasks.delete(stranger, task.id)).rejects.toThrow(NotFoundError);
    expect(await tasks.list(stranger, FIRST_PAGE)).toMatchObject({ total: 0 });
    expect(await tasks.get(ownerId, task.id)).toEqual(task);
  });

  it("refuses an owner who is gone with an UnauthenticatedError, never a NotFoundError", async () => {
    const gone = await goneUser();
    const input = { title: "orphan", description: null };

    for (const call of [
      () => tasks.create(gone, input),
      () => tasks.createOnce(gone, "key", input, (task) => task),
      () => tasks.get(gone, 1),
      () => tasks.list(gone, FIRST_PAGE),
      () => tasks.update(gone, 1, { title: "changed" }),
      () => tasks.delete(gone, 1),
    ]) {
      await expect(call()).rejects.toThrow(UnauthenticatedError);
    }
  });

  it("creates once per key, replaying what was recorded", async () => {
    const input = { title: "once", description: null };
    const record = (task: Task) => ({ recordedId: task.id });

    const first = await tasks.createOnce(ownerId, "order-1", input, record);
    const again = await tasks.createOnce(ownerId, "order-1", input, record);

    expect(first.replayed).toBe(false);
    expect(again).toEqual({ recorded: first.recorded, replayed: true });
    expect(await tasks.list(ownerId, FIRST_PAGE)).toMatchObject({ total: 1 });
    await expect(
      tasks.createOnce(ownerId, "order-1", { title: "other", description: null }, record),
    ).rejects.toThrow(IdempotencyKeyReusedError);
  });
});

describe("TaskService events", () => {
  it("announces each change, whoever calls the service, once it is done", async () => {
    const events = new TaskEvents();
    const announced = new TaskService(db, events);
    const seen: string[] = [];
    events.on("event", ({ type, task }) => seen.push(`${type} ${task.title}`));
    const { id: ownerId } = await newUser();

    const task = await announced.create(ownerId, { title: "one", description: null });
    // In the background: not before the caller has carried on.
    expect(seen).toEqual([]);
    await announced.update(ownerId, task.id, { title: "two" });
    await announced.update(ownerId, task.id, {});
    await announced.createOnce(ownerId, "key-1", { title: "three", description: null }, () => 1);
    await announced.createOnce(ownerId, "key-1", { title: "three", description: null }, () => 1);
    await announced.delete(ownerId, task.id);
    await expect(announced.delete(ownerId, task.id)).rejects.toThrow(NotFoundError);
    await new Promise((resolve) => setImmediate(resolve));

    expect(seen).toEqual([
      "task.created one",
      "task.updated two",
      "task.updated two",
      "task.created three",
      "task.deleted two",
    ]);
  });
});

describe("TaskEvents", () => {
  it("reports a listener that throws as an error event", () => {
    const events = new TaskEvents();
    const failure = new Error("listener failed");
    const errors: unknown[] = [];
    events.on("event", () => {
      throw failure;
    });
    events.on("error", (error) => errors.push(error));

    events.publish("task.deleted", {} as Task);

    expect(errors).toEqual([failure]);
  });
});
