import type { z } from "zod";

import { validationFailed } from "./problems.js";

/** The parsed value, or a 422 problem naming each invalid field. */
export function parse<Schema extends z.ZodType>(schema: Schema, value: unknown): z.output<Schema> {
  const result = schema.safeParse(value);
  if (!result.success) throw validationFailed(result.error);
  return result.data;
}
