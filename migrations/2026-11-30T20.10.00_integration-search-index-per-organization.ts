import { type Kysely, sql } from 'kysely';

// Frozen in time: this file never imports application code.

export async function up(db: Kysely<any>): Promise<void> {
  // Every search is within one organization. The trigram index on `display_name` alone answered a term
  // with every organization's matches, then kept the organization's by a second index (a BitmapAnd whose
  // cost grows with the whole table's matches, not the organization's). With btree_gin the organization
  // is the index's first column: a search reads only its organization's trigram entries. btree_gin is a
  // trusted extension (PostgreSQL 13+); the embedded database loads PGlite's build of it.
  await sql`create extension if not exists btree_gin`.execute(db);
  await sql`create index integrations_org_display_name_trgm_idx on integrations
    using gin (organization_id, display_name gin_trgm_ops)`.execute(db);
  await sql`drop index if exists integrations_display_name_trgm_idx`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`create index if not exists integrations_display_name_trgm_idx on integrations using gin (display_name gin_trgm_ops)`.execute(
    db,
  );
  await sql`drop index if exists integrations_org_display_name_trgm_idx`.execute(db);
}
