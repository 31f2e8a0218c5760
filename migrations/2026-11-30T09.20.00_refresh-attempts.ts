import type { Kysely } from 'kysely';

// Frozen in time: this file never imports application code.

export async function up(db: Kysely<any>): Promise<void> {
  // The token refresh in flight, committed before the provider is called and cleared with its outcome.
  // A start that outlives every deadline without an outcome means the process making it stopped: if the
  // provider rotated the refresh token meanwhile, the new one was lost, and the next refresh says so.
  await db.schema
    .alterTable('integrations')
    .addColumn('refresh_started_at', 'timestamptz')
    .addColumn('refresh_attempt_id', 'uuid')
    .addColumn('refresh_request_id', 'text')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('integrations')
    .dropColumn('refresh_started_at')
    .dropColumn('refresh_attempt_id')
    .dropColumn('refresh_request_id')
    .execute();
}
