import { type Kysely, sql } from 'kysely';

// Frozen in time: this file never imports application code.

export async function up(db: Kysely<any>): Promise<void> {
  // The provider refused the integration's refresh token: when, and why. It stays set until a refresh
  // succeeds or a new credential replaces the refused one, so that a probe which still gets through with
  // the old access token does not make the integration look connected again.
  await db.schema
    .alterTable('integrations')
    .addColumn('refresh_refused_at', 'timestamptz')
    .addColumn('refresh_refused_reason', 'text')
    .execute();
  // Integrations already NEEDS_REAUTH after a refused refresh carry it in their status reason.
  await sql`
    update integrations
       set refresh_refused_at = updated_at,
           refresh_refused_reason = status_reason
     where status = 'NEEDS_REAUTH' and status_reason like 'Token refresh refused:%'
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('integrations').dropColumn('refresh_refused_at').dropColumn('refresh_refused_reason').execute();
}
