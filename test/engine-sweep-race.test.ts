import { sql } from 'kysely';
import { makeWorkerUtils } from 'graphile-worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ENGINE_CONFIG } from '../src/jobs/engine.config.js';
import { sweep } from '../src/jobs/sweep.task.js';
import { createTestDatabase, type TestDatabase, testDatabaseKind } from './support/database.js';
import { createOrgWithKeys, insertIntegration } from './support/fixtures.js';

// The sweep gives a newly eligible integration its first check, refresh and sync at a random moment
// within an interval; a request that meanwhile asked for one now (a sync requested right after
// connecting) must keep its "now": a requested sync was once moved up to an hour away, its run left queued.

describe.skipIf(testDatabaseKind !== 'postgres')('the sweep beside a writer (postgres only: two connections at once)', () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase();
    const utils = await makeWorkerUtils({ connectionString: database.url as string });
    try {
      await utils.migrate();
    } finally {
      await utils.release();
    }
  });
  afterAll(() => database?.drop());

  it('leaves a schedule a concurrent writer set while the sweep was giving the row its first one', async () => {
    const db = database.db;
    const org = await createOrgWithKeys(db, 'sweep-race');
    const { id } = await insertIntegration(db, org.organization.id, { provider: 'github', authKind: 'OAUTH2' });
    // Eligible for all three, and scheduled for none yet: as an integration is right after it connects.
    await db
      .updateTable('integrations')
      .set({ secret_ciphertext: 'sealed', credential_refreshable: true, credential_expires_at: new Date(Date.now() + 3_600_000) })
      .where('id', '=', id)
      .execute();

    let swept: Promise<unknown> | undefined;
    const asked = await db.transaction().execute(async (trx) => {
      // The writer: the integration's row locked and its schedule set to now, not committed yet.
      const row = await trx
        .updateTable('integrations')
        .set({ next_sync_at: sql<Date>`now()`, next_health_check_at: sql<Date>`now()`, next_refresh_at: sql<Date>`now()` })
        .where('id', '=', id)
        .returning(['next_sync_at', 'next_health_check_at', 'next_refresh_at'])
        .executeTakeFirstOrThrow();
      swept = sweep(
        db,
        { ...DEFAULT_ENGINE_CONFIG, syncIntervalSeconds: 3_600, healthCheckIntervalSeconds: 3_600 },
        5_000,
        async () => {},
      );
      const deadline = Date.now() + 10_000;
      for (;;) {
        const { rows } = await sql<{ count: number }>`
          select count(*)::int as count from pg_stat_activity
          where datname = current_database() and wait_event_type = 'Lock' and query like '%update integrations%'`.execute(db);
        if ((rows[0]?.count ?? 0) > 0) break;
        if (Date.now() > deadline) throw new Error('the sweep never waited for the writer');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return row;
    });
    await swept;
    const after = await db
      .selectFrom('integrations')
      .select(['next_sync_at', 'next_health_check_at', 'next_refresh_at'])
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    expect(after).toEqual(asked);
  });
});
