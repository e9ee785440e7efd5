import request from "supertest";
import { afterAll, describe, expect, it } from "vitest";

import { testApp } from "./helpers.js";

/** What Express's router (2.3+) lists of each path registered on it. */
interface RouteInfo {
  path: string | RegExp;
  methods?: string[];
  router?: Listable;
}
interface Listable {
  listRoutes(): RouteInfo[];
}

/** The document and its viewer: served by the app, not operations of its API. */
const NOT_OPERATIONS = [
  "GET /openapi.json",
  "GET /docs",
  "GET /docs/init.js",
  "GET /docs/swagger-ui.css",
  "GET /docs/swagger-ui-bundle.js",
];

/** `/api/v1/tasks` + `/:taskId` as OpenAPI spells it: `/api/v1/tasks/{taskId}`. */
const openApiPath = (path: string) =>
  path
    .replace(/\/{2,}/g, "/")
    .replace(/(.)\/$/, "$1")
    .replace(/:(\w+)/g, "{$1}");

/**
 * Every `METHOD path` the router and the routers mounted in it answer. `*` (405 and OPTIONS for
 * the rest) and the HEAD that Express adds to each GET are not operations of their own.
 */
function routedOperations(router: Listable, mountPath = ""): string[] {
  return router.listRoutes().flatMap(({ path, methods = [], router: mounted }) => {
    if (typeof path !== "string") throw new Error(`${String(path)}: a RegExp is not documented`);
    if (mounted) return routedOperations(mounted, mountPath + path);
    return methods
      .filter((method) => method !== "*" && method !== "HEAD")
      .map((method) => `${method} ${openApiPath(mountPath + path)}`);
  });
}

describe("OpenAPI and docs", () => {
  const { app, close } = testApp();
  afterAll(close);

  it("serves the OpenAPI document built from the zod schemas", async () => {
    const response = await request(app).get("/openapi.json");

    const document = response.body as {
      openapi: string;
      paths: Record<string, unknown>;
      components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
    };
    expect(document.openapi).toMatch(/^3\./);
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining(["/api/v1/users", "/api/v1/auth/token", "/api/v1/tasks/{taskId}"]),
    );
    expect(Object.keys(document.components.schemas.Task?.properties ?? {})).toContain("owner_id");
  });

  it("serves Swagger UI from the package, without inline scripts", async () => {
    const page = await request(app).get("/docs");
    const init = await request(app).get("/docs/init.js");
    const bundle = await request(app).get("/docs/swagger-ui-bundle.js");

    expect(page.status).toBe(200);
    expect(page.headers["content-type"]).toMatch(/^text\/html/);
    expect(init.text).toContain("/openapi.json");
    expect(bundle.status).toBe(200);
    expect((await request(app).get("/docs/package.json")).status).toBe(404);
  });

  it("documents every routed operation, and only those", async () => {
    const { paths } = (await request(app).get("/openapi.json")).body as {
      paths: Record<string, Record<string, unknown>>;
    };
    const documented = Object.entries(paths).flatMap(([path, operations]) =>
      Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`),
    );

    const routed = routedOperations(app.router as unknown as Listable);

    expect(routed.filter((operation) => !NOT_OPERATIONS.includes(operation)).sort()).toEqual(
      documented.sort(),
    );
    expect(routed).toEqual(expect.arrayContaining(NOT_OPERATIONS));
  });
});
