import request from "supertest";
import { afterAll, describe, expect, it } from "vitest";

import { PASSWORD, signUp, testApp, uniqueName } from "./helpers.js";

const RFC3339_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

describe("sign-up", () => {
  const { app, close } = testApp();
  afterAll(close);

  it("returns the new user", async () => {
    const username = uniqueName();
    const response = await request(app)
      .post("/api/v1/users")
      .send({ username, password: PASSWORD });

    expect(response.status).toBe(201);
    const user = response.body as Record<string, unknown>;
    expect(Object.keys(user).sort()).toEqual(["created_at", "id", "username"]);
    expect(user.username).toBe(username);
    expect(user.created_at).toMatch(RFC3339_UTC);
  });

  it("refuses a taken username", async () => {
    const { username } = await signUp(app);

    const response = await request(app)
      .post("/api/v1/users")
      .send({ username, password: PASSWORD });

    expect(response.status).toBe(409);
    expect(response.headers["content-type"]).toBe("application/problem+json");
  });

  it("treats usernames as case-sensitive", async () => {
    const username = uniqueName("Case");
    await signUp(app, username);

    await signUp(app, username.toLowerCase());
  });

  it.each([
    [{ username: "ab", password: PASSWORD }, "username"],
    [{ username: "a".repeat(65), password: PASSWORD }, "username"],
    [{ username: "has space", password: PASSWORD }, "username"],
    [{ username: "valid_name", password: "seven77" }, "password"],
    [{ username: "valid_name", password: "x".repeat(129) }, "password"],
    [{ password: PASSWORD }, "username"],
  ])("names the invalid field of %j", async (payload, field) => {
    const response = await request(app).post("/api/v1/users").send(payload);

    expect(response.status).toBe(422);
    const { errors } = response.body as { errors: { field: string; message: string }[] };
    expect(errors.map((error) => error.field)).toEqual([field]);
    expect(errors[0]?.message).toBeTruthy();
  });

  it("wants JSON", async () => {
    const response = await request(app)
      .post("/api/v1/users")
      .type("form")
      .send({ username: uniqueName(), password: PASSWORD });

    expect(response.status).toBe(415);
  });

  it("can be closed", async () => {
    const closed = testApp({ ALLOW_SIGNUP: "false" });

    const response = await request(closed.app)
      .post("/api/v1/users")
      .send({ username: uniqueName(), password: PASSWORD });
    await closed.close();

    expect(response.status).toBe(403);
  });
});

describe("tokens and the caller", () => {
  const { app, close } = testApp();
  afterAll(close);

  it("issues a token for JSON or form credentials", async () => {
    const { username } = await signUp(app);

    for (const send of [
      request(app).post("/api/v1/auth/token").send({ username, password: PASSWORD }),
      request(app).post("/api/v1/auth/token").type("form").send({ username, password: PASSWORD }),
    ]) {
      const response = await send;
      expect(response.status).toBe(200);
      expect(response.headers["cache-control"]).toBe("no-store");
      const token = response.body as Record<string, unknown>;
      expect(Object.keys(token).sort()).toEqual(["access_token", "expires_in", "token_type"]);
      expect(token.token_type).toBe("bearer");
      expect(token.expires_in).toBe(3600);
    }
  });

  it.each([
    ["a wrong password", "wrong password", true],
    ["an unknown user", PASSWORD, false],
  ])("refuses %s", async (_case, password, known) => {
    const { username } = await signUp(app);

    const response = await request(app)
      .post("/api/v1/auth/token")
      .send({ username: known ? username : uniqueName("nobody"), password });

    expect(response.status).toBe(401);
    expect(response.headers["www-authenticate"]).toMatch(/^Bearer/);
  });

  it("refuses credentials in another media type", async () => {
    const response = await request(app).post("/api/v1/auth/token").type("text").send("alice");

    expect(response.status).toBe(415);
  });

  it("says who the caller is", async () => {
    const user = await signUp(app);
    const token = await request(app)
      .post("/api/v1/auth/token")
      .send({ username: user.username, password: PASSWORD });

    const response = await request(app)
      .get("/api/v1/users/me")
      .set("Authorization", `Bearer ${(token.body as { access_token: string }).access_token}`);

    expect(response.status).toBe(200);
    expect(response.body).toEqual(user);
  });

  it.each([undefined, "Bearer not.a.token", "Basic dXNlcjpwYXNz", "Bearer a b"])(
    "needs a valid token (%s)",
    async (authorization) => {
      const call = request(app).get("/api/v1/users/me");
      const response = await (authorization ? call.set("Authorization", authorization) : call);

      expect(response.status).toBe(401);
      expect(response.headers["www-authenticate"]).toMatch(/^Bearer/);
    },
  );
});
