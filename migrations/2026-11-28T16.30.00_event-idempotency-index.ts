import { type Kysely, sql } from 'kysely';

// Frozen in time: this file never imports application code.

export async function up(db: Kysely<any>): Promise<void> {
  // A retried mutation finds what its earlier attempt did by the request's Idempotency-Key.
  await sql`create index integration_events_idempotency_idx on integration_events (organization_id, (detail->>'idempotencyKey')) where detail ? 'idempotencyKey'`.execute(
    db,
  );
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop index if exists integration_events_idempotency_idx`.execute(db);
}
