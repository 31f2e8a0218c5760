import { type Kysely, sql } from 'kysely';

// Frozen in time: this file never imports application code.

export async function up(db: Kysely<any>): Promise<void> {
  // A connect session: a short-lived, single-purpose token an EDITOR key issues for one end user, which
  // opens the hosted connect page. Only the token's hash is kept; the session is spent by the connection
  // it makes (spent_at, integration_id), and ends with its expiry or the key that issued it.
  await db.schema
    .createTable('connect_sessions')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('organization_id', 'uuid', (c) => c.notNull().references('organizations.id').onDelete('cascade'))
    .addColumn('created_by_key_id', 'uuid', (c) => c.notNull().references('api_keys.id').onDelete('cascade'))
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('end_user_id', 'text', (c) => c.notNull())
    .addColumn('end_user_display_name', 'text')
    .addColumn('end_user_email', 'text')
    // Null: every provider (or auth kind) of the catalog.
    .addColumn('allowed_providers', sql`text[]`)
    .addColumn('allowed_auth_kinds', sql`text[]`)
    .addColumn('allowed_origins', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'`))
    .addColumn('environment', 'text')
    .addColumn('return_url', 'text')
    // The integration reconnected (set at creation), or the one the session created (set by its first attempt).
    .addColumn('integration_id', 'uuid', (c) => c.references('integrations.id').onDelete('set null'))
    .addColumn('reconnect', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('spent_at', 'timestamptz')
    .execute();
  await sql`create index connect_sessions_organization_idx on connect_sessions (organization_id, created_at)`.execute(db);
  await sql`create index connect_sessions_expiry_idx on connect_sessions (expires_at)`.execute(db);

  // The end user an integration was connected for (by a connect session); null when an API key connected it.
  await db.schema
    .alterTable('integrations')
    .addColumn('end_user_id', 'text')
    .addColumn('end_user_display_name', 'text')
    .addColumn('end_user_email', 'text')
    .execute();
  await sql`create index integrations_end_user_idx on integrations (organization_id, end_user_id) where end_user_id is not null`.execute(
    db,
  );

  // The connect session an OAuth2 authorization was started from: the callback spends it.
  await db.schema
    .alterTable('oauth_states')
    .addColumn('connect_session_id', 'uuid', (c) => c.references('connect_sessions.id').onDelete('cascade'))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('oauth_states').dropColumn('connect_session_id').execute();
  await sql`drop index if exists integrations_end_user_idx`.execute(db);
  await db.schema
    .alterTable('integrations')
    .dropColumn('end_user_id')
    .dropColumn('end_user_display_name')
    .dropColumn('end_user_email')
    .execute();
  await db.schema.dropTable('connect_sessions').ifExists().execute();
}
