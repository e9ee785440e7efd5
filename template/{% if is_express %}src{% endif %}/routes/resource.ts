import type { RequestHandler, Router } from "express";

import { HttpProblem } from "../problems.js";

type Method = "get" | "post" | "patch" | "put" | "delete";

/**
 * Routes `path` with one handler chain per method; OPTIONS answers with the methods allowed
 * (CORS preflights are answered earlier, by the CORS middleware), any other method is a 405.
 */
export function resource(
  router: Router,
  path: string,
  methods: Partial<Record<Method, RequestHandler[]>>,
): void {
  const route = router.route(path);
  const allowed: string[] = [];
  for (const [method, handlers] of Object.entries(methods) as [Method, RequestHandler[]][]) {
    route[method](...handlers);
    allowed.push(method.toUpperCase(), ...(method === "get" ? ["HEAD"] : []));
  }
  const allow = allowed.join(", ");
  route.all((req, res) => {
    if (req.method !== "OPTIONS") {
      throw new HttpProblem(405, `${req.method} is not allowed here`, { Allow: allow });
    }
    res.set("Allow", allow).status(204).end();
  });
}
