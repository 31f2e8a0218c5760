import { type Kysely, sql } from 'kysely';

// Frozen in time: this file never imports application code.

export async function up(db: Kysely<any>): Promise<void> {
  // Where a sealed credential may be sent: JSON {"api","token","revoke"} of origins, written with the
  // ciphertext and covered by its associated data byte for byte. Null for secrets sealed before this
  // column existed: their origins cannot be derived here without the connector catalog, so the gateway
  // binds them at their next seal (see `boundOrigins` in the integration module).
  await sql`alter table integrations add column secret_origins text`.execute(db);
  // What an OAuth2 authorization will apply when its callback succeeds. A reconnection changes nothing on
  // the integration until then. Null config: a state started before these columns, which applies none.
  await sql`alter table oauth_states add column display_name text, add column environment text, add column config jsonb`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`alter table oauth_states drop column if exists config, drop column if exists environment, drop column if exists display_name`.execute(
    db,
  );
  await sql`alter table integrations drop column if exists secret_origins`.execute(db);
}
