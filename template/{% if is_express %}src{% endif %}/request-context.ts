import { AsyncLocalStorage } from "node:async_hooks";
import { randomUUID } from "node:crypto";
import type { RequestHandler } from "express";

export interface RequestContext {
  requestId: string;
}

/** The current request, for every log line written on its behalf, background work included. */
export const requestContext = new AsyncLocalStorage<RequestContext>();

const CLIENT_REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** Keeps a well-formed client `X-Request-ID`, otherwise makes one, and echoes it. */
export const withRequestContext: RequestHandler = (req, res, next) => {
  const given = req.get("x-request-id");
  const requestId = given !== undefined && CLIENT_REQUEST_ID.test(given) ? given : randomUUID();
  req.id = requestId;
  res.setHeader("X-Request-ID", requestId);
  requestContext.run({ requestId }, next);
};
