import { existsSync, writeFileSync } from "node:fs";
import path from "node:path";

import { MIGRATIONS_FOLDER } from "../db/migrator.js";

const SKELETON = `import type { Kysely } from "kysely";

export function up(_db: Kysely<unknown>): Promise<void> {
  // e.g. return _db.schema.alterTable("tasks").addColumn("due_at", "text").execute();
  return Promise.resolve();
}

export function down(_db: Kysely<unknown>): Promise<void> {
  // e.g. return _db.schema.alterTable("tasks").dropColumn("due_at").execute();
  return Promise.resolve();
}
`;

const words = process.argv.slice(2).join(" ");
const slug = words
  .toLowerCase()
  .replace(/[^a-z0-9]+/g, "_")
  .replace(/^_|_$/g, "");
if (!slug) {
  console.error('usage: make migration name="what it changes"');
  process.exit(2);
}
// Migrations run in name order: a UTC timestamp first keeps that the order they were made in.
const stamp = new Date().toISOString().replace(/[-:]/g, "").replace("T", "_").slice(0, 15);
// Run with tsx, so the folder is the one in src/.
const file = path.join(MIGRATIONS_FOLDER, `${stamp}_${slug}.ts`);
if (existsSync(file)) throw new Error(`${file} exists`);
writeFileSync(file, SKELETON);
console.log(`created ${path.relative(process.cwd(), file)}`);
