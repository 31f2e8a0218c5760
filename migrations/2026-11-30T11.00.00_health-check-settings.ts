import { type Kysely, sql } from 'kysely';

// Frozen in time: this file never imports application code.

export async function up(db: Kysely<any>): Promise<void> {
  // An integration's own time between scheduled health probes (null: the deployment's interval), and
  // whether its scheduled probes are paused (a paused integration has no next check; it can still be
  // tested on demand).
  await db.schema
    .alterTable('integrations')
    .addColumn('health_check_interval_seconds', 'integer', (c) => c.check(sql`health_check_interval_seconds between 60 and 86400`))
    .addColumn('health_checks_paused', 'boolean', (c) => c.notNull().defaultTo(false))
    .execute();
  // The schedule settings an OAuth2 reconnection asked for, applied by the callback with the tokens
  // (JSON of the columns above); null: none asked for.
  await db.schema.alterTable('oauth_states').addColumn('schedule', 'jsonb').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('oauth_states').dropColumn('schedule').execute();
  await db.schema.alterTable('integrations').dropColumn('health_check_interval_seconds').dropColumn('health_checks_paused').execute();
}
