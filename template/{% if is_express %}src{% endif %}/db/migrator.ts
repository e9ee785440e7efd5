import { readdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

import { type Kysely, type Migration, type MigrationProvider, Migrator } from "kysely";

import type { Logger } from "../logger.js";

export const MIGRATIONS_FOLDER = fileURLToPath(new URL("./migrations", import.meta.url));
const MIGRATION_FILE = /^(?<name>.+)\.(?:js|ts)$/;

/**
 * The migrations in MIGRATIONS_FOLDER, named after their files: `.js` once built, `.ts` under
 * tsx and vitest. Imported from here (not from inside Kysely) so that either loader applies.
 */
class FolderMigrationProvider implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    const migrations: Record<string, Migration> = {};
    for (const file of (await readdir(MIGRATIONS_FOLDER)).sort()) {
      const name = MIGRATION_FILE.exec(file)?.groups?.name;
      if (name === undefined || file.endsWith(".d.ts")) continue;
      const url = pathToFileURL(path.join(MIGRATIONS_FOLDER, file)).href;
      migrations[name] = (await import(url)) as Migration;
    }
    return migrations;
  }
}

/** Applies pending migrations in name order; the database's own lock keeps it one at a time. */
export async function migrateToLatest<Tables>(db: Kysely<Tables>, logger: Logger): Promise<void> {
  const migrator = new Migrator({ db, provider: new FolderMigrationProvider() });
  const { error, results = [] } = await migrator.migrateToLatest();
  for (const { migrationName, status } of results) {
    logger.info({ migration: migrationName, status }, "migration");
  }
  if (error !== undefined) {
    throw error instanceof Error ? error : new Error("migration failed", { cause: error });
  }
}
