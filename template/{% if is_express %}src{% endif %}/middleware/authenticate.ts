import type { RequestHandler, Response } from "express";

import { unauthorized } from "../problems.js";
import type { Tokens } from "../security/tokens.js";

declare module "express-serve-static-core" {
  interface Locals {
    userId?: number;
  }
}

/** The token of an `Authorization: Bearer <token>` value; undefined for anything else. */
export function bearerToken(authorization: string | undefined): string | undefined {
  const [scheme, token, ...rest] = (authorization ?? "").split(" ");
  return scheme?.toLowerCase() === "bearer" && token && rest.length === 0 ? token : undefined;
}

/** Requires `Authorization: Bearer <token>`; the caller's id comes from the signed token. */
export function authenticate(tokens: Tokens): RequestHandler {
  return async (req, res, next) => {
    const token = bearerToken(req.get("authorization"));
    if (token === undefined) throw unauthorized("Missing bearer token");
    res.locals.userId = await tokens.userIdFrom(token);
    next();
  };
}

/** The authenticated caller's id (routes behind `authenticate` only). */
export function callerId(res: Response): number {
  const { userId } = res.locals;
  if (userId === undefined) throw unauthorized("Missing bearer token");
  return userId;
}
