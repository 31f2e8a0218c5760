import type { Kysely } from 'kysely';

// Frozen in time: this file never imports application code.

export async function up(db: Kysely<any>): Promise<void> {
  // Who calls the provider with the integration's credential (a token refresh or a revocation), and until
  // when: taken and released in short transactions, so that no database connection is held while the
  // provider answers. A lease past its expiry belongs to a process that stopped, and may be taken over.
  await db.schema.alterTable('integrations').addColumn('lease_owner', 'uuid').addColumn('lease_expires_at', 'timestamptz').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('integrations').dropColumn('lease_owner').dropColumn('lease_expires_at').execute();
}
