import request from "supertest";
import { afterAll, describe, expect, it } from "vitest";

import { testApp } from "./helpers.js";

describe("health", () => {
  const service = testApp();
  afterAll(() => service.close());

  it("is alive without touching anything", async () => {
    const response = await request(service.app).get("/healthz");

    expect(response.status).toBe(200);
    expect(response.body).toEqual({ status: "ok" });
  });

  it("is ready when the database answers", async () => {
    const response = await request(service.app).get("/readyz");

    expect(response.status).toBe(200);
    expect(response.body).toEqual({ status: "ok", checks: { database: "ok" } });
  });

  it("is not ready when the database cannot be opened", async () => {
    const broken = testApp({ DATABASE_URL: "sqlite:////dev/null/nowhere.db" });

    const response = await request(broken.app).get("/readyz");
    await broken.close();

    expect(response.status).toBe(503);
    expect(response.body).toEqual({ status: "unavailable", checks: { database: "error" } });
  });

  it("allows only GET", async () => {
    const response = await request(service.app).post("/healthz");

    expect(response.status).toBe(405);
    expect(response.headers.allow).toBe("GET, HEAD");
  });
});
