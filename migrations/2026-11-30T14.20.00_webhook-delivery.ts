import { type Kysely, sql } from 'kysely';

// Frozen in time: this file never imports application code.

export async function up(db: Kysely<any>): Promise<void> {
  // Where events are delivered: organization-wide endpoints (url, filter and secret here), and one row
  // per integration with a webhook, whose url, events and enabled flag stay on the integration.
  await db.schema
    .createTable('webhook_endpoints')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('organization_id', 'uuid', (c) => c.notNull().references('organizations.id').onDelete('cascade'))
    .addColumn('integration_id', 'uuid', (c) => c.unique().references('integrations.id').onDelete('cascade'))
    .addColumn('url', 'text')
    .addColumn('description', 'text')
    .addColumn('event_types', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'`))
    .addColumn('enabled', 'boolean', (c) => c.notNull().defaultTo(true))
    // Sealed {current, previous}: the signing secret, and the one it replaced while both sign.
    .addColumn('secret_ciphertext', 'text')
    .addColumn('secret_key_id', 'text')
    .addColumn('secret_version', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('secret_rotated_at', 'timestamptz')
    .addColumn('previous_secret_expires_at', 'timestamptz')
    .addColumn('failing_since', 'timestamptz')
    .addColumn('last_success_at', 'timestamptz')
    .addColumn('disabled_at', 'timestamptz')
    .addColumn('disabled_reason', 'text')
    // The Idempotency-Key (and mutation field) of the request that issued the current secret.
    .addColumn('secret_request_key', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint('webhook_endpoints_target_check', sql`integration_id is not null or url is not null`)
    .execute();
  await sql`create index webhook_endpoints_org_created_idx on webhook_endpoints (organization_id, created_at, id)`.execute(db);
  await sql`insert into webhook_endpoints (organization_id, integration_id)
    select organization_id, id from integrations where webhook_url is not null`.execute(db);

  // One event (or test message) for one endpoint, until it is delivered or given up.
  await db.schema
    .createTable('webhook_deliveries')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('organization_id', 'uuid', (c) => c.notNull().references('organizations.id').onDelete('cascade'))
    .addColumn('endpoint_id', 'uuid', (c) => c.notNull().references('webhook_endpoints.id').onDelete('cascade'))
    // The webhook-id: the event's id, the same on every attempt and redelivery.
    .addColumn('message_id', 'text', (c) => c.notNull())
    .addColumn('event_id', 'text')
    .addColumn('event_type', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('EVENT', 'REDELIVERY', 'TEST')`))
    // Deliveries of one subject to one endpoint go in position order.
    .addColumn('subject_key', 'text', (c) => c.notNull())
    .addColumn('position', 'bigint', (c) => c.notNull())
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('PENDING').check(sql`status in ('PENDING', 'SUCCEEDED', 'FAILED')`))
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'timestamptz')
    .addColumn('lease_owner', 'text')
    .addColumn('lease_expires_at', 'timestamptz')
    .addColumn('last_attempt_at', 'timestamptz')
    .addColumn('last_http_status', 'integer')
    .addColumn('last_error', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('finished_at', 'timestamptz')
    .execute();
  // An event is delivered once per endpoint (a publication that runs twice inserts nothing new).
  await sql`create unique index webhook_deliveries_event_idx on webhook_deliveries (endpoint_id, event_id) where kind = 'EVENT'`.execute(
    db,
  );
  await sql`create index webhook_deliveries_log_idx on webhook_deliveries (endpoint_id, created_at desc, id desc)`.execute(db);
  await sql`create index webhook_deliveries_pending_idx on webhook_deliveries (endpoint_id, subject_key, position)
    where status = 'PENDING'`.execute(db);
  // An endpoint's pending messages in delivery order, the oldest first (what a delivery job claims).
  await sql`create index webhook_deliveries_order_idx on webhook_deliveries (endpoint_id, position, created_at, id)
    where status = 'PENDING'`.execute(db);
  await sql`create index webhook_deliveries_due_idx on webhook_deliveries (next_attempt_at) where status = 'PENDING'`.execute(db);
  await sql`create index webhook_deliveries_finished_idx on webhook_deliveries (finished_at) where status <> 'PENDING'`.execute(db);

  await db.schema
    .createTable('webhook_delivery_attempts')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('delivery_id', 'uuid', (c) => c.notNull().references('webhook_deliveries.id').onDelete('cascade'))
    .addColumn('attempt', 'integer', (c) => c.notNull())
    .addColumn('attempted_at', 'timestamptz', (c) => c.notNull())
    .addColumn('http_status', 'integer')
    .addColumn('latency_ms', 'integer')
    .addColumn('error', 'text')
    .addColumn('response_body', 'text')
    .addColumn('next_attempt_at', 'timestamptz')
    .execute();
  await sql`create index webhook_delivery_attempts_delivery_idx on webhook_delivery_attempts (delivery_id, attempt)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['webhook_delivery_attempts', 'webhook_deliveries', 'webhook_endpoints']) {
    await db.schema.dropTable(table).ifExists().execute();
  }
}
