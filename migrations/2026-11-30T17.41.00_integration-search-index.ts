import { type Kysely, sql } from 'kysely';

// Frozen in time: this file never imports application code.

export async function up(db: Kysely<any>): Promise<void> {
  // `filter: {search}` is a case-insensitive substring of the display name (`ilike '%term%'`): no b-tree
  // helps, and without this index a rare term reads every integration of the organization. A trigram
  // GIN index answers `ilike` for terms of three characters or more. pg_trgm is a trusted extension
  // (PostgreSQL 13+), and the embedded database loads PGlite's build of it (src/db/connection.ts).
  await sql`create extension if not exists pg_trgm`.execute(db);
  await sql`create index integrations_display_name_trgm_idx on integrations using gin (display_name gin_trgm_ops)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop index if exists integrations_display_name_trgm_idx`.execute(db);
  // The extension stays: other objects may use it by now, and keeping it costs nothing.
}
