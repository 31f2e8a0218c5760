import { type Kysely, sql } from 'kysely';

// Frozen in time: this file never imports application code.

export async function up(db: Kysely<any>): Promise<void> {
  // One row per Idempotency-Key an organization used on a mutation. The primary key is the claim:
  // `INSERT ... ON CONFLICT` on it decides, across any number of gateway processes, who runs the request.
  await db.schema
    .createTable('idempotency_keys')
    .addColumn('organization_id', 'uuid', (c) => c.notNull().references('organizations.id').onDelete('cascade'))
    .addColumn('key', 'text', (c) => c.notNull())
    // Only the API key that claimed it may replay it: the stored body is sealed with that key.
    .addColumn('api_key_id', 'uuid', (c) => c.notNull())
    // SHA-256 of the operation document, operation name and canonical JSON of the variables.
    .addColumn('fingerprint', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull().check(sql`state in ('IN_PROGRESS', 'COMPLETED')`))
    // The running attempt's token and lease; after the lease a retry of the same request takes over.
    .addColumn('lease_token', 'uuid')
    .addColumn('lease_expires_at', 'timestamptz')
    .addColumn('response_status', 'integer')
    .addColumn('response_headers', 'jsonb')
    .addColumn('response_body', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('completed_at', 'timestamptz')
    // End of the retention window; purged after it, and a new request may then use the key afresh.
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('idempotency_keys_pkey', ['organization_id', 'key'])
    .addCheckConstraint(
      'idempotency_keys_completed_check',
      sql`state <> 'COMPLETED' or (response_status is not null and response_headers is not null and response_body is not null)`,
    )
    .execute();
  await sql`create index idempotency_keys_expiry_idx on idempotency_keys (expires_at)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('idempotency_keys').ifExists().execute();
}
