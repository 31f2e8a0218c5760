import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeTypedID } from '../src/graphql/global-id.js';
import { inventoryItems, inventoryOf } from './fake-provider/inventory.js';
import { createEngineWorld, type EngineWorld, waitFor } from './support/engine.js';

const SYNC = `query($id: ID!) { node(id: $id) { ... on Integration {
  nextSyncAt lastSync { status startedAt finishedAt itemCount error } } } }`;

let world: EngineWorld;
beforeAll(async () => {
  world = await createEngineWorld({
    HEALTH_CHECK_INTERVAL_SECONDS: '2',
    SYNC_INTERVAL_SECONDS: '2',
    WORKER_POLL_INTERVAL_MS: '100',
  });
  await world.startEngine();
});
afterAll(() => world?.close());

const lastSync = async (id: string) => (await world.graphql(world.org.keys.VIEWER, SYNC, { id })).data.node;

const resources = (id: string) =>
  world.db
    .selectFrom('integration_resources')
    .selectAll()
    .where('integration_id', '=', decodeTypedID(id, 'Integration'))
    .orderBy('external_id')
    .execute();

const runs = (id: string) =>
  world.db
    .selectFrom('integration_sync_runs')
    .selectAll()
    .where('integration_id', '=', decodeTypedID(id, 'Integration'))
    .orderBy('queued_at')
    .execute();

/** Waits for the integration's `n`th finished run; all its runs then. */
const finishedRuns = (id: string, n: number) =>
  waitFor(
    async () => {
      const all = await runs(id);
      return all.filter((run) => run.finished_at !== null).length >= n ? all : null;
    },
    30_000,
    `sync run ${n}`,
  );

describe('inventory syncs', () => {
  it('store 2,500 repositories listed across pages, and a later sync removes the deleted ones and adds the new', async () => {
    const repositories = inventoryOf(world.fake.store.inventories, 'github');
    repositories.push(...inventoryItems('github', 2_500));
    const id = await world.connectToken('github', world.fake.issueApiToken('github'));
    await finishedRuns(id, 1);
    const first = await lastSync(id);
    expect(first.lastSync).toMatchObject({ status: 'SUCCEEDED', itemCount: 2_500, error: null });
    expect(Date.parse(first.lastSync.finishedAt)).toBeGreaterThanOrEqual(Date.parse(first.lastSync.startedAt));
    expect(first.nextSyncAt).not.toBeNull();
    expect(world.fake.calls('github', 'list')).toBeGreaterThanOrEqual(25);
    const stored = await resources(id);
    expect(stored).toHaveLength(2_500);
    expect(stored.find((row) => row.external_id === '100001')).toMatchObject({
      kind: 'repository',
      name: 'octocat/repo-1',
      url: 'https://github.com/octocat/repo-1',
      metadata: { private: false, archived: false, default_branch: 'main' },
    });

    repositories.splice(0, 300);
    repositories.push(...inventoryItems('github', 10, 3_001));
    const done = (await runs(id)).filter((run) => run.finished_at !== null).length;
    const all = await finishedRuns(id, done + 1);
    expect(all.every((run) => run.trigger === 'SCHEDULE' && run.status === 'SUCCEEDED')).toBe(true);
    const after = await resources(id);
    expect(after).toHaveLength(2_210);
    const ids = new Set(after.map((row) => row.external_id));
    expect(ids.has('100001')).toBe(false);
    expect(ids.has('100300')).toBe(false);
    expect(ids.has('100301')).toBe(true);
    expect(ids.has('103010')).toBe(true);
    expect((await lastSync(id)).lastSync).toMatchObject({ status: 'SUCCEEDED', itemCount: 2_210 });
  });

  it('lists GitLab projects, and a listing that fails keeps the previous inventory and waits for the Retry-After', async () => {
    inventoryOf(world.fake.store.inventories, 'gitlab').push(...inventoryItems('gitlab', 250));
    const id = await world.connectToken('gitlab', world.fake.issueApiToken('gitlab'));
    await finishedRuns(id, 1);
    expect(await resources(id)).toHaveLength(250);
    expect((await resources(id))[0]).toMatchObject({ kind: 'project', name: 'ada/project-1', metadata: { visibility: 'private' } });

    world.fake.fault('gitlab', 'list', { status: 429, retryAfter: 120 });
    const done = (await runs(id)).filter((run) => run.finished_at !== null).length;
    const all = await finishedRuns(id, done + 1);
    expect(all.at(-1)).toMatchObject({ status: 'FAILED', error_code: 'PROVIDER_RATE_LIMITED', item_count: null });
    const node = await lastSync(id);
    expect(node.lastSync).toMatchObject({ status: 'FAILED', itemCount: null });
    expect(Date.parse(node.nextSyncAt) - Date.now()).toBeGreaterThan(100_000);
    expect(await resources(id)).toHaveLength(250);
  });

  it('lists Slack channels along the body cursor, and records a refused token as a failed run keeping the channels', async () => {
    inventoryOf(world.fake.store.inventories, 'slack').push(...inventoryItems('slack', 450));
    const token = world.fake.issueApiToken('slack');
    const id = await world.connectToken('slack', token);
    await finishedRuns(id, 1);
    // 450 channels, 200 a page.
    expect(world.fake.calls('slack', 'list')).toBeGreaterThanOrEqual(3);
    const stored = await resources(id);
    expect(stored).toHaveLength(450);
    expect(stored[0]).toMatchObject({
      kind: 'channel',
      external_id: 'C00000001',
      name: 'channel-1',
      url: null,
      metadata: { num_members: 1 },
    });

    world.fake.revokeCredential('slack', { token });
    const done = (await runs(id)).filter((run) => run.finished_at !== null).length;
    const all = await finishedRuns(id, done + 1);
    expect(all.at(-1)).toMatchObject({ status: 'FAILED', error_code: 'PROVIDER_REJECTED_CREDENTIALS' });
    expect(await resources(id)).toHaveLength(450);
  });

  it('lists PagerDuty services by offset while the answer says there are more', async () => {
    inventoryOf(world.fake.store.inventories, 'pagerduty').push(...inventoryItems('pagerduty', 230));
    const id = await world.connectToken('pagerduty', world.fake.issueApiToken('pagerduty'));
    await finishedRuns(id, 1);
    const stored = await resources(id);
    expect(stored).toHaveLength(230);
    expect(new Set(stored.map((row) => row.external_id)).size).toBe(230);
    expect(stored[0]).toMatchObject({
      kind: 'service',
      external_id: 'PS00001',
      name: 'Service 1',
      metadata: { status: 'active', description: null },
    });
  });

  it('syncIntegration queues a run at once; resources and syncRuns page what it stored', async () => {
    const id = await world.connectToken('github', world.fake.issueApiToken('github'));
    const SYNC_NOW = `mutation($input: SyncIntegrationInput!) { syncIntegration(input: $input) {
      syncRun { status trigger itemCount } integration { lastSync { status } } userErrors { code field } } }`;
    const queued = (await world.graphql(world.org.keys.EDITOR, SYNC_NOW, { input: { id } })).data.syncIntegration;
    expect(queued).toMatchObject({ userErrors: [], syncRun: { status: 'QUEUED', trigger: 'REQUEST', itemCount: null } });
    expect(['QUEUED', 'RUNNING', 'SUCCEEDED']).toContain(queued.integration.lastSync.status);
    const refused = (await world.graphql(world.org.keys.VIEWER, SYNC_NOW, { input: { id } })).errors?.[0]?.extensions?.code;
    expect(refused).toBe('FORBIDDEN');

    const all = await finishedRuns(id, 1);
    expect(all.find((run) => run.trigger === 'REQUEST')).toMatchObject({ status: 'SUCCEEDED', item_count: 2_210 });
    const PAGES = `query($id: ID!, $after: String) { node(id: $id) { ... on Integration {
      resources(first: 2, after: $after, filter: { search: "repo-30" }) { edges { node { kind externalId name url metadata } }
        pageInfo { hasNextPage endCursor } }
      syncRuns(first: 5) { edges { node { status trigger itemCount truncated error } } } } } }`;
    const first = (await world.graphql(world.org.keys.VIEWER, PAGES, { id })).data.node;
    expect(first.resources.edges.map((edge: any) => edge.node.name)).toEqual(['octocat/repo-3001', 'octocat/repo-3002']);
    expect(first.resources.edges[0].node).toMatchObject({
      kind: 'repository',
      externalId: '103001',
      metadata: { default_branch: 'main' },
    });
    expect(first.resources.pageInfo.hasNextPage).toBe(true);
    const second = (await world.graphql(world.org.keys.VIEWER, PAGES, { id, after: first.resources.pageInfo.endCursor })).data.node;
    expect(second.resources.edges.map((edge: any) => edge.node.name)).toEqual(['octocat/repo-3003', 'octocat/repo-3004']);
    expect(first.syncRuns.edges.map((edge: any) => edge.node.status)).toContain('SUCCEEDED');
  });

  it('syncIntegration under an Idempotency-Key queues one run: a retry gets the same answer, replayed', async () => {
    const id = await world.connectToken('github', world.fake.issueApiToken('github'));
    // Scheduled syncs run every 2 s here: count the runs requested by syncIntegration.
    const requested = async (integration: string) => (await runs(integration)).filter((run) => run.trigger === 'REQUEST').length;
    const SYNC_NOW = `mutation($input: SyncIntegrationInput!) { syncIntegration(input: $input) {
      syncRun { status trigger queuedAt } userErrors { code } } }`;
    const key = `sync-${randomUUID()}`;
    const first = await world.send(world.org.keys.EDITOR, SYNC_NOW, { input: { id } }, { 'idempotency-key': key });
    expect(first.body.data.syncIntegration).toMatchObject({ userErrors: [], syncRun: { status: 'QUEUED', trigger: 'REQUEST' } });
    const retried = await world.send(world.org.keys.EDITOR, SYNC_NOW, { input: { id } }, { 'idempotency-key': key });
    expect(retried.status).toBe(first.status);
    expect(retried.headers.get('idempotent-replayed')).toBe('true');
    expect(retried.text).toBe(first.text);
    expect(await requested(id)).toBe(1);
    // The same key for another integration's sync is another request: refused, nothing queued.
    const other = await world.connectToken('github', world.fake.issueApiToken('github'));
    const reused = await world.send(world.org.keys.EDITOR, SYNC_NOW, { input: { id: other } }, { 'idempotency-key': key });
    expect(reused.body.errors?.[0]?.extensions?.code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(await requested(other)).toBe(0);
  });
});
