import type { Kysely } from 'kysely';

// Frozen in time: this file never imports application code.

export async function up(db: Kysely<any>): Promise<void> {
  // The highest position the retention purge has deleted: a subscriber resuming from an earlier position
  // may have missed events that are gone, and is told to start afresh instead of being served a gap.
  await db.schema
    .alterTable('event_publication')
    .addColumn('purged_through_position', 'bigint', (c) => c.notNull().defaultTo(0))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('event_publication').dropColumn('purged_through_position').execute();
}
