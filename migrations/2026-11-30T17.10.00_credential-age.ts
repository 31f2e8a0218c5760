import { type Kysely, sql } from 'kysely';

// Frozen in time: this file never imports application code.

export async function up(db: Kysely<any>): Promise<void> {
  // When the stored OAuth2 tokens were obtained (authorized or last refreshed), and whether they carry a
  // refresh token: the engine refreshes tokens by age (TOKEN_REFRESH_MAX_AGE_SECONDS) as well as ahead of
  // their expiry, and only tokens it can refresh. Both read from the sealed credential when it is sealed.
  await db.schema
    .alterTable('integrations')
    .addColumn('credential_obtained_at', 'timestamptz')
    .addColumn('credential_refreshable', 'boolean', (c) => c.notNull().defaultTo(false))
    .execute();
  // Credentials sealed before: their age is counted from the row's last change, and those with an expiry
  // stay refreshed ahead of it as they were (a refresh token was the only way to have one with no
  // `expires_in`); the engine learns otherwise at their first refresh.
  await sql`
    update integrations
    set credential_obtained_at = updated_at, credential_refreshable = credential_expires_at is not null
    where auth_kind = 'OAUTH2' and secret_ciphertext is not null`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('integrations').dropColumn('credential_obtained_at').dropColumn('credential_refreshable').execute();
}
