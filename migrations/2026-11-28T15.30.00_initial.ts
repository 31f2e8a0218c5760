import { type Kysely, sql } from 'kysely';

// Frozen in time: this file never imports application code.

const INTEGRATION_STATUSES = `'PENDING_AUTHORIZATION', 'ACTIVE', 'NEEDS_REAUTH', 'ERROR', 'REVOKED'`;
const HEALTHS = `'HEALTHY', 'DEGRADED', 'UNHEALTHY', 'UNKNOWN'`;

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('organizations')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('slug', 'text', (c) => c.notNull().unique())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('api_keys')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('organization_id', 'uuid', (c) => c.notNull().references('organizations.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull().check(sql`role in ('VIEWER', 'EDITOR', 'ADMIN')`))
    .addColumn('prefix', 'text', (c) => c.notNull().unique())
    .addColumn('key_hash', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('last_used_at', 'timestamptz')
    .addColumn('revoked_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('api_keys_organization_idx').on('api_keys').columns(['organization_id', 'created_at', 'id']).execute();

  await db.schema
    .createTable('integrations')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('organization_id', 'uuid', (c) => c.notNull().references('organizations.id').onDelete('cascade'))
    .addColumn('provider', 'text', (c) => c.notNull())
    .addColumn('display_name', 'text', (c) => c.notNull())
    .addColumn('environment', 'text')
    .addColumn('auth_kind', 'text', (c) => c.notNull().check(sql`auth_kind in ('OAUTH2', 'API_TOKEN', 'BASIC')`))
    .addColumn('status', 'text', (c) => c.notNull().check(sql.raw(`status in (${INTEGRATION_STATUSES})`)))
    .addColumn('status_reason', 'text')
    .addColumn('health', 'text', (c) =>
      c
        .notNull()
        .defaultTo('UNKNOWN')
        .check(sql.raw(`health in (${HEALTHS})`)),
    )
    .addColumn('consecutive_failures', 'integer', (c) => c.notNull().defaultTo(0))
    // Summary of the latest health check, kept on the row so that lists need no join.
    .addColumn('last_check_at', 'timestamptz')
    .addColumn('last_check_ok', 'boolean')
    .addColumn('last_check_latency_ms', 'integer')
    .addColumn('last_check_http_status', 'integer')
    .addColumn('last_check_message', 'text')
    .addColumn('requested_scopes', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'`))
    .addColumn('granted_scopes', sql`text[]`)
    .addColumn('account', 'jsonb')
    .addColumn('config', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('webhook_url', 'text')
    .addColumn('webhook_events', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'`))
    .addColumn('webhook_enabled', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('webhook_secret_rotated_at', 'timestamptz')
    .addColumn('last_sync_status', 'text', (c) => c.check(sql`last_sync_status in ('RUNNING', 'SUCCEEDED', 'FAILED')`))
    .addColumn('last_sync_started_at', 'timestamptz')
    .addColumn('last_sync_finished_at', 'timestamptz')
    .addColumn('last_sync_error', 'text')
    .addColumn('secret_ciphertext', 'text')
    .addColumn('secret_key_id', 'text')
    .addColumn('secret_version', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('credential_expires_at', 'timestamptz')
    .addColumn('revoked_at', 'timestamptz')
    .addColumn('revoked_by_key_id', 'uuid')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('row_version', 'integer', (c) => c.notNull().defaultTo(1))
    .execute();
  // One index per list order, each led by the tenant, ending in id for keyset cursors.
  await sql`create index integrations_org_created_idx on integrations (organization_id, created_at, id)`.execute(db);
  await sql`create index integrations_org_updated_idx on integrations (organization_id, updated_at, id)`.execute(db);
  await sql`create index integrations_org_name_idx on integrations (organization_id, lower(display_name), id)`.execute(db);
  await sql`create index integrations_org_checked_idx on integrations (organization_id, coalesce(last_check_at, '-infinity'::timestamptz), id)`.execute(
    db,
  );
  await sql`create index integrations_org_status_idx on integrations (organization_id, status, health)`.execute(db);
  await sql`create index integrations_org_provider_idx on integrations (organization_id, provider)`.execute(db);

  await db.schema
    .createTable('integration_health_checks')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('organization_id', 'uuid', (c) => c.notNull().references('organizations.id').onDelete('cascade'))
    .addColumn('integration_id', 'uuid', (c) => c.notNull().references('integrations.id').onDelete('cascade'))
    .addColumn('checked_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('ok', 'boolean', (c) => c.notNull())
    .addColumn('http_status', 'integer')
    .addColumn('latency_ms', 'integer')
    .addColumn('error_code', 'text')
    .addColumn('message', 'text')
    .addColumn('identity', 'jsonb')
    .addColumn('granted_scopes', sql`text[]`)
    .addColumn('missing_scopes', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'`))
    .execute();
  await sql`create index integration_health_checks_recent_idx on integration_health_checks (organization_id, integration_id, checked_at desc, id desc)`.execute(
    db,
  );

  await db.schema
    .createTable('integration_events')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('organization_id', 'uuid', (c) => c.notNull().references('organizations.id').onDelete('cascade'))
    // No foreign key: the audit trail outlives anything it describes.
    .addColumn('integration_id', 'uuid')
    .addColumn('actor_key_id', 'uuid')
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('outcome', 'text', (c) => c.notNull())
    .addColumn('request_id', 'text')
    .addColumn('detail', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`create index integration_events_org_integration_idx on integration_events (organization_id, integration_id, created_at)`.execute(
    db,
  );
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['integration_events', 'integration_health_checks', 'integrations', 'api_keys', 'organizations']) {
    await db.schema.dropTable(table).ifExists().execute();
  }
}
