import request from "supertest";
import { afterAll, describe, expect, it } from "vitest";

import { bearer, testApp } from "./helpers.js";

const TASKS = "/api/v1/tasks";

describe("a valid token whose user was deleted", () => {
  const { app, db, close } = testApp();
  afterAll(close);

  /** A signed-in user with one task, then deleted (their tasks go with them). */
  async function goneUser() {
    const auth = await bearer(app);
    const task = await request(app).post(TASKS).set(auth).send({ title: "left behind" });
    const me = await request(app).get("/api/v1/users/me").set(auth);
    await db
      .deleteFrom("users")
      .where("id", "=", (me.body as { id: number }).id)
      .execute();
    return { auth, url: `${TASKS}/${(task.body as { id: number }).id}` };
  }

  it("is a 401 on every authenticated endpoint, never a 500", async () => {
    const { auth, url } = await goneUser();

    const responses = await Promise.all([
      request(app).post(TASKS).set(auth).send({ title: "orphan" }),
      request(app).post(TASKS).set(auth).set("Idempotency-Key", "k").send({ title: "orphan" }),
      request(app).get(TASKS).set(auth),
      request(app).get(url).set(auth),
      request(app).patch(url).set(auth).send({ title: "changed" }),
      request(app).patch(url).set(auth).send({}),
      request(app).delete(url).set(auth),
      request(app).get("/api/v1/users/me").set(auth),
    ]);

    for (const response of responses) {
      expect(response.status).toBe(401);
      expect(response.headers["www-authenticate"]).toMatch(/^Bearer/);
      expect(response.headers["content-type"]).toBe("application/problem+json");
    }
  });

  it("stays a 401 for a token verified (and remembered) before the user went", async () => {
    const { auth } = await goneUser();

    expect((await request(app).get(TASKS).set(auth)).status).toBe(401);
    expect((await request(app).get(TASKS).set(auth)).status).toBe(401);
  });
});
