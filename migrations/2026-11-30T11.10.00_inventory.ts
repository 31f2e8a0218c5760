import { type Kysely, sql } from 'kysely';

// Frozen in time: this file never imports application code.

export async function up(db: Kysely<any>): Promise<void> {
  // What each integration's credential reaches (repositories, projects, channels...), as its latest
  // successful inventory sync listed it: replaced as a whole by each sync.
  await db.schema
    .createTable('integration_resources')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('organization_id', 'uuid', (c) => c.notNull().references('organizations.id').onDelete('cascade'))
    .addColumn('integration_id', 'uuid', (c) => c.notNull().references('integrations.id').onDelete('cascade'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('external_id', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('url', 'text')
    .addColumn('metadata', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('synced_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('integration_resources_external_key', ['integration_id', 'kind', 'external_id'])
    .execute();
  // Pages of an integration's resources by name.
  await sql`create index integration_resources_by_name_idx on integration_resources (organization_id, integration_id, name, id)`.execute(
    db,
  );

  // Every sync: queued (on request or by the schedule), running, then succeeded or failed.
  await db.schema
    .createTable('integration_sync_runs')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('organization_id', 'uuid', (c) => c.notNull().references('organizations.id').onDelete('cascade'))
    .addColumn('integration_id', 'uuid', (c) => c.notNull().references('integrations.id').onDelete('cascade'))
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED')`))
    .addColumn('trigger', 'text', (c) => c.notNull().check(sql`trigger in ('SCHEDULE', 'REQUEST')`))
    .addColumn('queued_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('started_at', 'timestamptz')
    .addColumn('finished_at', 'timestamptz')
    .addColumn('item_count', 'integer')
    .addColumn('truncated', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('error_code', 'text')
    .addColumn('error', 'text')
    .execute();
  await sql`create index integration_sync_runs_recent_idx on integration_sync_runs (organization_id, integration_id, queued_at desc, id desc)`.execute(
    db,
  );

  // The latest run, on the integration (lists need no extra lookup), and when the engine syncs it next.
  await sql`alter table integrations drop constraint integrations_last_sync_status_check`.execute(db);
  await sql`alter table integrations add constraint integrations_last_sync_status_check
    check (last_sync_status in ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED'))`.execute(db);
  await db.schema
    .alterTable('integrations')
    .addColumn('last_sync_run_id', 'uuid')
    .addColumn('last_sync_item_count', 'integer')
    .addColumn('next_sync_at', 'timestamptz')
    .execute();
  await db.schema
    .createIndex('integrations_next_sync_idx')
    .on('integrations')
    .column('next_sync_at')
    .where(sql.ref('next_sync_at'), 'is not', null)
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('integrations_next_sync_idx').execute();
  await db.schema
    .alterTable('integrations')
    .dropColumn('last_sync_run_id')
    .dropColumn('last_sync_item_count')
    .dropColumn('next_sync_at')
    .execute();
  await sql`update integrations set last_sync_status = null where last_sync_status = 'QUEUED'`.execute(db);
  await sql`alter table integrations drop constraint integrations_last_sync_status_check`.execute(db);
  await sql`alter table integrations add constraint integrations_last_sync_status_check
    check (last_sync_status in ('RUNNING', 'SUCCEEDED', 'FAILED'))`.execute(db);
  await db.schema.dropTable('integration_sync_runs').execute();
  await db.schema.dropTable('integration_resources').execute();
}
