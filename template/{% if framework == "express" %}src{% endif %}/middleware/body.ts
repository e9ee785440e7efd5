import type { RequestHandler } from "express";

import { unsupportedMediaType } from "../problems.js";

export const JSON_TYPES = ["application/json", "application/*+json"];
export const FORM_TYPE = "application/x-www-form-urlencoded";

/** 415 for a body of another media type; requests without a body pass (validation decides). */
export function accepts(...types: string[]): RequestHandler {
  const expected = types.includes(FORM_TYPE) ? "application/json or a form" : "application/json";
  return (req, _res, next) => {
    // `false` means a body of another type; `null` means no body at all.
    if (req.is(types) === false) throw unsupportedMediaType(`Send the body as ${expected}`);
    next();
  };
}

export const acceptsJson = accepts(...JSON_TYPES);
