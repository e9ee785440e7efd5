import { type RequestHandler, Router } from "express";

import type { Method, Operation, RoutedOperation } from "../openapi.js";
import { HttpProblem } from "../problems.js";

/** An operation as a router declares it: what the OpenAPI document says of it, and its handlers. */
export type Endpoint = Operation & { handlers: RequestHandler[] };

/** `/tasks/:taskId/` as OpenAPI spells it: `/tasks/{taskId}`. */
const openApiPath = (path: string) => path.replace(/:(\w+)/g, "{$1}").replace(/(.)\/$/, "$1");

/**
 * A Router whose operations are documented where they are routed, under one OpenAPI tag; the
 * app mounts `router` and documents `operationsAt` the same path.
 */
export class DocumentedRouter {
  readonly router = Router();
  readonly #operations: Omit<RoutedOperation, "tag">[] = [];

  constructor(readonly tag: string) {}

  /**
   * Routes `path` with one endpoint per method; OPTIONS answers with the methods allowed (CORS
   * preflights are answered earlier, by the CORS middleware), any other method is a 405.
   */
  resource(path: string, endpoints: Partial<Record<Method, Endpoint>>): void {
    const route = this.router.route(path);
    const allowed: string[] = [];
    for (const [method, { handlers, ...operation }] of Object.entries(endpoints) as [
      Method,
      Endpoint,
    ][]) {
      route[method](...handlers);
      allowed.push(method.toUpperCase(), ...(method === "get" ? ["HEAD"] : []));
      this.#operations.push({ path, method, operation });
    }
    const allow = allowed.join(", ");
    route.all((req, res) => {
      if (req.method !== "OPTIONS") {
        throw new HttpProblem(405, `${req.method} is not allowed here`, { Allow: allow });
      }
      res.set("Allow", allow).status(204).end();
    });
  }

  /** The operations as the document lists them once `router` is mounted at `mountPath`. */
  operationsAt(mountPath: string): RoutedOperation[] {
    return this.#operations.map(({ path, method, operation }) => ({
      path: openApiPath(mountPath.replace(/\/$/, "") + path),
      method,
      tag: this.tag,
      operation,
    }));
  }
}
