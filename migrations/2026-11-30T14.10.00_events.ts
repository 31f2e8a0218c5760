import { type Kysely, sql } from 'kysely';

// Frozen in time: this file never imports application code.

export async function up(db: Kysely<any>): Promise<void> {
  // The outbox and audit log: one row per change to an integration or an API key, written in the
  // transaction of the change. `seq` is the order of writing; `position` is given by the publisher, one
  // after another in the order the rows became visible (commit order), with no gaps.
  await db.schema
    .createTable('events')
    .addColumn('id', 'text', (c) => c.primaryKey().check(sql`id ~ '^evt_[A-Za-z0-9]+$'`))
    .addColumn('seq', 'bigint', (c) => c.notNull().generatedAlwaysAsIdentity())
    .addColumn('organization_id', 'uuid', (c) => c.notNull().references('organizations.id').onDelete('cascade'))
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('subject_id', 'text', (c) => c.notNull())
    .addColumn('integration_id', 'uuid')
    .addColumn('api_key_id', 'uuid')
    .addColumn('actor_kind', 'text', (c) => c.notNull().check(sql`actor_kind ~ '^[A-Z_]+$'`))
    .addColumn('actor_label', 'text', (c) => c.notNull())
    .addColumn('actor_api_key_id', 'uuid')
    .addColumn('actor_subject', 'text')
    .addColumn('request_id', 'text')
    .addColumn('data', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('occurred_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('position', 'bigint', (c) => c.unique())
    .addColumn('published_at', 'timestamptz')
    .execute();
  // What the publisher has yet to publish, oldest first.
  await sql`create index events_unpublished_idx on events (seq) where position is null`.execute(db);
  // The audit log, newest first, for an organization and for one integration.
  await sql`create index events_recent_idx on events (organization_id, occurred_at desc, seq desc)`.execute(db);
  await sql`create index events_integration_idx on events (organization_id, integration_id, occurred_at desc, seq desc)
    where integration_id is not null`.execute(db);
  // Retention.
  await sql`create index events_occurred_idx on events (occurred_at)`.execute(db);
  // A subscriber resuming from a position reads its organization's events after it.
  await sql`create index events_published_idx on events (organization_id, position) where position is not null`.execute(db);

  // The last position given: kept apart from the rows, so that positions never repeat once old events are purged.
  await db.schema
    .createTable('event_publication')
    .addColumn('id', 'boolean', (c) => c.primaryKey().defaultTo(true).check(sql`id`))
    .addColumn('last_position', 'bigint', (c) => c.notNull().defaultTo(0))
    .execute();
  await sql`insert into event_publication (id, last_position) values (true, 0)`.execute(db);

  // Live subscriptions held open, per principal (an API key), over all processes: each row is renewed by
  // the process serving it while it lasts, and lapses shortly after that process stops.
  await db.schema
    .createTable('event_subscriptions')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('organization_id', 'uuid', (c) => c.notNull().references('organizations.id').onDelete('cascade'))
    .addColumn('principal', 'text', (c) => c.notNull())
    .addColumn('started_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await sql`create index event_subscriptions_principal_idx on event_subscriptions (principal, expires_at)`.execute(db);

  // Wakes the publisher when a transaction that wrote events commits (notifications are sent at commit).
  await sql`create function events_appended_notify() returns trigger language plpgsql as $$
    begin
      perform pg_notify('igw_events_appended', '');
      return null;
    end
  $$`.execute(db);
  await sql`create trigger events_appended after insert on events for each statement execute function events_appended_notify()`.execute(
    db,
  );
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop trigger if exists events_appended on events`.execute(db);
  await sql`drop function if exists events_appended_notify()`.execute(db);
  await db.schema.dropTable('event_subscriptions').execute();
  await db.schema.dropTable('event_publication').execute();
  await db.schema.dropTable('events').execute();
}
