import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeTypedID } from '../src/graphql/global-id.js';
import { deadLockMs } from '../src/jobs/schedule.js';
import { inventoryItems, inventoryOf } from './fake-provider/inventory.js';
import { createEngineWorld, type EngineWorld, waitFor } from './support/engine.js';
import { CONNECT, configFor } from './support/integration-flows.js';

// A sync's claim on its integration holds for the whole listing, however many pages the provider cuts
// the inventory into: a claim sized for 100-item pages once ran out under Jira's 50-item (or smaller)
// pages, and a second job listed the same integration at once.

const PROBE_TIMEOUT_MS = 1_500;
const MAX_ITEMS = 100;
/** The claim as it was once sized: a dead job's lock, and one provider deadline per 100 items. */
const OLD_CLAIM_MS = deadLockMs(PROBE_TIMEOUT_MS) + Math.ceil(MAX_ITEMS / 100) * PROBE_TIMEOUT_MS;
const PROJECTS = 40;
/** Each page of one project waits this long: the listing outlasts the old claim, each page well within its deadline. */
const PAGE_DELAY_MS = 500;

let world: EngineWorld;
beforeAll(async () => {
  world = await createEngineWorld(
    {
      HEALTH_CHECK_INTERVAL_SECONDS: '2',
      SYNC_INTERVAL_SECONDS: '3600',
      SYNC_MAX_ITEMS: String(MAX_ITEMS),
      WORKER_POLL_INTERVAL_MS: '100',
    },
    { probeTimeoutMs: PROBE_TIMEOUT_MS },
  );
  // Two runners, as two gateway processes run them: either may take a second job for the integration.
  await world.startEngine();
  await world.startEngine();
});
afterAll(() => world?.close());

const SYNC_NOW = `mutation($input: SyncIntegrationInput!) { syncIntegration(input: $input) { syncRun { status } userErrors { code } } }`;

describe("a sync's claim", () => {
  it('holds while a listing of small pages outlasts the claim once sized for 100-item pages: no second sync at once', async () => {
    expect(PROJECTS * PAGE_DELAY_MS).toBeGreaterThan(OLD_CLAIM_MS + 2_000);
    inventoryOf(world.fake.store.inventories, 'jira').push(...inventoryItems('jira', PROJECTS));
    const input = {
      provider: 'jira',
      authKind: 'BASIC',
      displayName: 'jira',
      config: configFor('jira', world.fake),
      credentials: world.fake.addBasicUser('jira'),
    };
    const id = (await world.graphql(world.org.keys.EDITOR, CONNECT, { input })).data.connectIntegration.integration.id as string;
    world.fake.reset();
    world.fake.knobs('jira').listPageSize = 1;
    world.fake.fault('jira', 'list', { delayMs: PAGE_DELAY_MS }, Infinity);
    const queued = (await world.graphql(world.org.keys.EDITOR, SYNC_NOW, { input: { id } })).data.syncIntegration;
    expect(queued).toMatchObject({ userErrors: [], syncRun: { status: 'QUEUED' } });

    const integrationId = decodeTypedID(id, 'Integration');
    const runs = await waitFor(
      async () => {
        const all = await world.db.selectFrom('integration_sync_runs').selectAll().where('integration_id', '=', integrationId).execute();
        return all.some((run) => run.finished_at !== null) ? all : null;
      },
      PROJECTS * PAGE_DELAY_MS + 30_000,
      'the sync to finish',
    );
    // The listing took longer than the old claim: long enough for sweeps to find it due again, had the
    // claim not been kept.
    expect(runs).toHaveLength(1);
    const run = runs[0] as (typeof runs)[number];
    expect(run).toMatchObject({ status: 'SUCCEEDED', item_count: PROJECTS, error_code: null });
    expect((run.finished_at as Date).getTime() - (run.started_at as Date).getTime()).toBeGreaterThan(OLD_CLAIM_MS);
    // One listing: a page a project, each asked for once.
    expect(world.fake.calls('jira', 'list')).toBe(PROJECTS);
    const stored = await world.db
      .selectFrom('integration_resources')
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .where('integration_id', '=', integrationId)
      .executeTakeFirstOrThrow();
    expect(Number(stored.count)).toBe(PROJECTS);
    // The next sync one interval on, not a claim's time.
    const next = (await world.row(id)).next_sync_at as Date;
    expect(next.getTime() - Date.now()).toBeGreaterThan(3_000_000);
  });
});
