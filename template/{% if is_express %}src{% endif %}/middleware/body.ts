import express, { type RequestHandler } from "express";

import { badRequest, unsupportedMediaType } from "../problems.js";

export const JSON_TYPES = ["application/json", "application/*+json"];
export const FORM_TYPE = "application/x-www-form-urlencoded";

/** 415 for a body of another media type, or for no body at all; validation decides the rest. */
export function accepts(...types: string[]): RequestHandler {
  const expected = types.includes(FORM_TYPE) ? "application/json or a form" : "application/json";
  return (req, _res, next) => {
    // `false` means a body of another type; `null` means no body at all.
    if (!req.is(types)) throw unsupportedMediaType(`Send the body as ${expected}`);
    next();
  };
}

export const acceptsJson = accepts(...JSON_TYPES);

/** RFC 7493 (I-JSON) allows no deeper nesting than this here: a parser's stack is not a toy. */
export const MAX_JSON_DEPTH = 32;

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * JSON bodies as I-JSON (RFC 7493) or 400: UTF-8 only, no lone surrogates, no duplicate member
 * names, bounded nesting. `JSON.parse` alone accepts all of these, and what it keeps of a
 * duplicate or a broken character is not what the client meant.
 */
export function ijsonBody(limit: number): RequestHandler[] {
  return [
    express.raw({ type: JSON_TYPES, limit }),
    (req, _res, next) => {
      if (!Buffer.isBuffer(req.body)) {
        next();
        return;
      }
      const charset = req.headers["content-type"]?.match(/;\s*charset\s*=\s*"?([^";\s]+)/i)?.[1];
      if (charset !== undefined && !/^utf-?8$/i.test(charset)) {
        throw unsupportedMediaType("Send the body as UTF-8");
      }
      req.body = parseIJson(req.body);
      next();
    },
  ];
}

/** The value of an I-JSON document; a 400 problem otherwise. */
export function parseIJson(bytes: Uint8Array): unknown {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw badRequest("The body is not valid UTF-8");
  }
  if (text.trim() === "") throw badRequest("The body is empty; send a JSON value");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw badRequest("The body is not valid JSON");
  }
  checkIJson(text);
  return value;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * One pass over text `JSON.parse` has accepted: nesting depth, member names per object, and
 * every string's decoded value (escapes such as `\ud800` included). Linear in the body's size.
 */
function checkIJson(text: string): void {
  // One entry per open container: the member names of an object, or null for an array.
  const open: (Set<string> | null)[] = [];
  let expectingName = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (char === "{" || char === "[") {
      if (open.length === MAX_JSON_DEPTH) {
        throw badRequest(`The body nests deeper than ${MAX_JSON_DEPTH} levels`);
      }
      open.push(char === "{" ? new Set() : null);
      expectingName = char === "{";
    } else if (char === "}" || char === "]") {
      open.pop();
      expectingName = false;
    } else if (char === ",") {
      expectingName = open.at(-1) instanceof Set;
    } else if (char === '"') {
      let end = i + 1;
      let escaped = false;
      while (text[end] !== '"') {
        if (text[end] === "\\") {
          escaped = true;
          end++;
        }
        end++;
      }
      const raw = text.slice(i, end + 1);
      const decoded = escaped ? (JSON.parse(raw) as string) : raw.slice(1, -1);
      if (escaped && LONE_SURROGATE.test(decoded)) {
        throw badRequest("The body has a lone surrogate in a string");
      }
      const names = open.at(-1);
      if (expectingName && names) {
        if (names.has(decoded)) throw badRequest("The body repeats a member name in an object");
        names.add(decoded);
        expectingName = false;
      }
      i = end;
    }
  }
}
