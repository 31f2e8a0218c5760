import type { Kysely } from 'kysely';

// Frozen in time: this file never imports application code.

export async function up(db: Kysely<any>): Promise<void> {
  // A person signed in through the organization's identity provider acts without an API key: what they
  // do is recorded under their subject (the token's `sub`) where a key's id is recorded for a key. At
  // most one of the two is set; the scheduler's events carry neither a subject nor a real key.
  await db.schema.alterTable('integration_events').addColumn('actor_subject', 'text').execute();
  await db.schema.alterTable('oauth_states').addColumn('actor_subject', 'text').execute();
  await db.schema.alterTable('integrations').addColumn('revoked_by_subject', 'text').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('integrations').dropColumn('revoked_by_subject').execute();
  await db.schema.alterTable('oauth_states').dropColumn('actor_subject').execute();
  await db.schema.alterTable('integration_events').dropColumn('actor_subject').execute();
}
