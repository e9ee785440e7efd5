import type { Request, RequestHandler } from "express";
import { type RateLimitInfo, rateLimit } from "express-rate-limit";

import { HttpProblem } from "../problems.js";

const WINDOW_MS = 60_000;

/** At most `perMinute` requests per client address and minute (in-process fixed window). */
export function rateLimitPerClient(perMinute: number): RequestHandler {
  return rateLimit({
    windowMs: WINDOW_MS,
    limit: perMinute,
    standardHeaders: "draft-8",
    legacyHeaders: false,
    handler: (req, _res, next) => {
      const { rateLimit: info } = req as Request & { rateLimit?: RateLimitInfo };
      const resetTime = info?.resetTime?.getTime() ?? Date.now() + WINDOW_MS;
      const retryAfter = Math.max(1, Math.ceil((resetTime - Date.now()) / 1000));
      next(
        new HttpProblem(429, `At most ${perMinute} requests per minute`, {
          "Retry-After": String(retryAfter),
        }),
      );
    },
  });
}
