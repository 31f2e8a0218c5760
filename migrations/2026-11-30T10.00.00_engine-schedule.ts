import { type Kysely, sql } from 'kysely';

// Frozen in time: this file never imports application code.

export async function up(db: Kysely<any>): Promise<void> {
  // When the background engine next probes the integration, and next refreshes its OAuth2 tokens ahead of
  // expiry; null when nothing is scheduled (no credential, revoked, or a token that never expires). The
  // engine's sweep finds what is due through the partial indexes.
  await db.schema
    .alterTable('integrations')
    .addColumn('next_health_check_at', 'timestamptz')
    .addColumn('next_refresh_at', 'timestamptz')
    .execute();
  await db.schema
    .createIndex('integrations_next_health_check_idx')
    .on('integrations')
    .column('next_health_check_at')
    .where(sql.ref('next_health_check_at'), 'is not', null)
    .execute();
  await db.schema
    .createIndex('integrations_next_refresh_idx')
    .on('integrations')
    .column('next_refresh_at')
    .where(sql.ref('next_refresh_at'), 'is not', null)
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('integrations_next_refresh_idx').execute();
  await db.schema.dropIndex('integrations_next_health_check_idx').execute();
  await db.schema.alterTable('integrations').dropColumn('next_health_check_at').dropColumn('next_refresh_at').execute();
}
