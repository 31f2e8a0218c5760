import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  DEFAULT_MIGRATION_TABLE,
  type Kysely,
  type Migration,
  type MigrationProvider,
  type MigrationResultSet,
  Migrator,
  sql,
} from 'kysely';

const migrationFolder = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../migrations');

export class MigrationError extends Error {
  override name = 'MigrationError';
}

/**
 * Reads `migrations/`, named so that they sort in time order. The import runs from this module (not from
 * inside Kysely) so that whichever TypeScript loader runs the gateway, tsx or vitest, also loads them.
 */
async function migrationFiles(): Promise<string[]> {
  return (await readdir(migrationFolder)).filter((file) => /\.(ts|js)$/.test(file) && !file.endsWith('.d.ts')).sort();
}

const folderProvider: MigrationProvider = {
  async getMigrations() {
    const files = await migrationFiles();
    const migrations: Record<string, Migration> = {};
    for (const file of files) {
      const module = (await import(pathToFileURL(path.join(migrationFolder, file)).href)) as Migration;
      migrations[file.replace(/\.(ts|js)$/, '')] = { up: module.up, down: module.down };
    }
    return migrations;
  },
};

// biome-ignore lint/suspicious/noExplicitAny: migrations run on a schema of their own time (Kysely<any>, as Kysely's migrator documents)
function migrator(db: Kysely<any>): Migrator {
  return new Migrator({ db, provider: folderProvider });
}

function check(result: MigrationResultSet): string[] {
  if (result.error) {
    const failed = result.results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    const reason = result.error instanceof Error ? result.error.message : String(result.error);
    throw new MigrationError(`Migration ${failed} failed: ${reason}`);
  }
  return (result.results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/** Applies every pending migration; returns the names applied in this call. */
// biome-ignore lint/suspicious/noExplicitAny: migrations run on a schema of their own time (Kysely<any>, as Kysely's migrator documents)
export async function migrateToLatest(db: Kysely<any>): Promise<string[]> {
  return check(await migrator(db).migrateToLatest());
}

/**
 * Moves the database to where it stood right after the migration `name`: later ones are undone, newest
 * first (or pending ones up to it applied); returns the names migrated in this call.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations run on a schema of their own time (Kysely<any>, as Kysely's migrator documents)
export async function migrateTo(db: Kysely<any>, name: string): Promise<string[]> {
  return check(await migrator(db).migrateTo(name));
}

/**
 * Whether the database has applied exactly the migrations of `migrations/`: one statement, and no
 * migration module loaded, so that a command against an up-to-date database starts fast. Anything else
 * (a pending migration, no migration table yet, one the code does not know) is for `migrateToLatest`.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations run on a schema of their own time (Kysely<any>, as Kysely's migrator documents)
export async function isUpToDate(db: Kysely<any>): Promise<boolean> {
  const expected = (await migrationFiles()).map((file) => file.replace(/\.(ts|js)$/, ''));
  let applied: string[];
  try {
    applied = (await sql<{ name: string }>`select name from ${sql.table(DEFAULT_MIGRATION_TABLE)}`.execute(db)).rows
      .map((row) => row.name)
      .sort();
  } catch {
    return false;
  }
  return applied.length === expected.length && applied.every((name, index) => name === expected[index]);
}
