import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeTypedID } from '../src/graphql/global-id.js';
import { inventoryItems, inventoryOf } from './fake-provider/inventory.js';
import { createEngineWorld, type EngineWorld, waitFor } from './support/engine.js';
import { CONNECT, configFor } from './support/integration-flows.js';

// Inventory syncs of Jira, Datadog, ServiceNow and the generic HTTP API against the fake provider, each
// along its provider's own pagination; the GitHub, GitLab, Slack and PagerDuty ones are in engine-sync.

let world: EngineWorld;
beforeAll(async () => {
  world = await createEngineWorld({
    HEALTH_CHECK_INTERVAL_SECONDS: '2',
    SYNC_INTERVAL_SECONDS: '2',
    SYNC_MAX_ITEMS: '1200',
    WORKER_POLL_INTERVAL_MS: '100',
  });
  await world.startEngine();
});
afterAll(() => world?.close());

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

const finished = async (id: string) => (await runs(id)).filter((run) => run.finished_at !== null);

/** Waits for the integration's `n`th finished run; all its finished runs then. */
const finishedRuns = (id: string, n: number) =>
  waitFor(async () => ((await finished(id)).length >= n ? finished(id) : null), 30_000, `sync run ${n}`);

/** Connects with a basic credential of the fake (or `config` on top of the connector's) as EDITOR; the global ID. */
async function connectBasic(provider: string, config: Record<string, string> = {}): Promise<string> {
  const input = {
    provider,
    authKind: 'BASIC',
    displayName: provider,
    config: { ...configFor(provider, world.fake), ...config },
    credentials: world.fake.addBasicUser(provider),
  };
  const body = await world.graphql(world.org.keys.EDITOR, CONNECT, { input });
  const id = body.data?.connectIntegration?.integration?.id;
  if (!id) throw new Error(`connect failed: ${JSON.stringify(body)}`);
  return id as string;
}

describe('inventory syncs of Jira, Datadog, ServiceNow and HTTP APIs', () => {
  it('list Jira projects by startAt until isLast, on the site and by cloud id through the gateway; a 429 waits', async () => {
    inventoryOf(world.fake.store.inventories, 'jira').push(...inventoryItems('jira', 120));
    const basic = await connectBasic('jira');
    await finishedRuns(basic, 1);
    const stored = await resources(basic);
    expect(stored).toHaveLength(120);
    // 50 a page.
    expect(world.fake.calls('jira', 'list')).toBeGreaterThanOrEqual(3);
    expect(stored.find((row) => row.external_id === '10001')).toMatchObject({
      kind: 'project',
      name: 'Project 1',
      url: 'https://acme.atlassian.net/browse/PRJ1',
      metadata: { key: 'PRJ1', projectTypeKey: 'software', style: 'next-gen', isPrivate: false },
    });

    const oauth = await world.connectOAuth('jira');
    await finishedRuns(oauth, 1);
    expect(await resources(oauth)).toHaveLength(120);
    expect((await finished(oauth))[0]).toMatchObject({ status: 'SUCCEEDED', item_count: 120 });

    world.fake.fault('jira', 'list', { status: 429, retryAfter: 300 });
    const done = (await finished(basic)).length + (await finished(oauth)).length;
    await waitFor(
      async () => (await finished(basic)).length + (await finished(oauth)).length > done,
      30_000,
      'a sync meeting the rate limit',
    );
    const limited = [...(await finished(basic)), ...(await finished(oauth))].find((run) => run.error_code === 'PROVIDER_RATE_LIMITED');
    expect(limited).toMatchObject({ status: 'FAILED' });
    const row = await world.db
      .selectFrom('integrations')
      .selectAll()
      .where('id', '=', limited?.integration_id as string)
      .executeTakeFirstOrThrow();
    expect((row.next_sync_at as Date).getTime() - Date.now()).toBeGreaterThan(250_000);
    expect(await resources(basic)).toHaveLength(120);
  });

  it('list Datadog monitors by page while a page is full, cut at SYNC_MAX_ITEMS; an API key alone has no inventory', async () => {
    inventoryOf(world.fake.store.inventories, 'datadog').push(...inventoryItems('datadog', 1_500));
    const calls = world.fake.calls('datadog', 'list');
    const id = await world.connectOAuth('datadog');
    const [run] = await finishedRuns(id, 1);
    expect(run).toMatchObject({ status: 'SUCCEEDED', item_count: 1_200, truncated: true });
    // Page 0 (1,000) and page 1, where the 1,200th monitor is.
    expect(world.fake.calls('datadog', 'list') - calls).toBeGreaterThanOrEqual(2);
    const stored = await resources(id);
    expect(stored).toHaveLength(1_200);
    expect(stored.find((row) => row.external_id === '5000001')).toMatchObject({
      kind: 'monitor',
      name: 'Monitor 1',
      url: 'https://app.datadoghq.com/monitors/5000001',
      metadata: { type: 'metric alert', overall_state: 'OK', priority: null },
    });

    const apiKey = await world.connectToken('datadog', world.fake.issueApiToken('datadog'));
    const SYNC_NOW = `mutation($input: SyncIntegrationInput!) { syncIntegration(input: $input) {
      syncRun { status } userErrors { code message } } }`;
    const refused = (await world.graphql(world.org.keys.EDITOR, SYNC_NOW, { input: { id: apiKey } })).data.syncIntegration;
    expect(refused).toMatchObject({ syncRun: null, userErrors: [{ code: 'VALIDATION' }] });
    expect(refused.userErrors[0].message).toContain('OAUTH2');
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(await runs(apiKey)).toEqual([]);
    expect((await world.row(apiKey)).next_sync_at).toBeNull();
  });

  it("list the ServiceNow user's groups, or the records of the table the config names, along the Table API's Link headers", async () => {
    const memberships = inventoryOf(world.fake.store.inventories, 'servicenow');
    memberships.push(...inventoryItems('servicenow', 1_100));
    // Someone else's membership, which the user's query leaves out.
    memberships.push({ sys_id: 'other', user: 'someone-else', group: { display_value: 'Not mine', value: 'f'.repeat(32) } });
    const groups = await connectBasic('servicenow');
    const [run] = await finishedRuns(groups, 1);
    expect(run).toMatchObject({ status: 'SUCCEEDED', item_count: 1_100, truncated: false });
    const stored = await resources(groups);
    expect(stored.some((row) => row.name === 'Not mine')).toBe(false);
    expect(stored[0]).toMatchObject({
      kind: 'group',
      external_id: '1'.padStart(32, '0'),
      name: 'Group 1',
      url: `https://acme.service-now.com/nav_to.do?uri=sys_user_group.do%3Fsys_id%3D${'1'.padStart(32, '0')}`,
    });

    inventoryOf(world.fake.store.inventories, 'servicenow:cmdb_ci_server').push(
      ...Array.from({ length: 30 }, (_, i) => ({ sys_id: `srv${i}`, host_name: `host-${i}`, sys_class_name: 'cmdb_ci_server' })),
    );
    const table = await connectBasic('servicenow', { inventoryTable: 'cmdb_ci_server', inventoryNameField: 'host_name' });
    await finishedRuns(table, 1);
    const servers = await resources(table);
    expect(servers).toHaveLength(30);
    expect(servers[0]).toMatchObject({
      kind: 'record',
      external_id: 'srv0',
      name: 'host-0',
      metadata: { 'sys_class_name.value': 'cmdb_ci_server' },
    });

    const input = {
      provider: 'servicenow',
      authKind: 'BASIC',
      displayName: 'bad table',
      config: { ...configFor('servicenow', world.fake), inventoryTable: 'sys_user?sysparm_query=active=true' },
      credentials: world.fake.addBasicUser('servicenow'),
    };
    const bad = (await world.graphql(world.org.keys.EDITOR, CONNECT, { input })).data.connectIntegration;
    expect(bad).toMatchObject({ integration: null, userErrors: [{ code: 'VALIDATION', field: ['input', 'config', 'inventoryTable'] }] });
  });

  it('list an HTTP API at its inventoryPath: a JSON array with Link headers, {items, next} with a cursor or a path', async () => {
    inventoryOf(world.fake.store.inventories, 'http').push(...inventoryItems('http', 250));
    const connect = async (inventoryPath?: string) => {
      const config = { ...configFor('http', world.fake), ...(inventoryPath ? { inventoryPath } : {}) };
      const input = {
        provider: 'http',
        authKind: 'API_TOKEN',
        displayName: 'api',
        config,
        credentials: { token: world.fake.issueApiToken('http') },
      };
      const body = await world.graphql(world.org.keys.EDITOR, CONNECT, { input });
      return body.data.connectIntegration.integration.id as string;
    };
    for (const style of ['link', 'cursor', 'url']) {
      const id = await connect(`/items?style=${style}`);
      const [run] = await finishedRuns(id, 1);
      expect(run, style).toMatchObject({ status: 'SUCCEEDED', item_count: 250 });
      const stored = await resources(id);
      expect(
        stored.find((row) => row.external_id === 'item-250'),
        style,
      ).toMatchObject({
        kind: 'item',
        name: 'Item 250',
        url: 'https://api.example.com/items/250',
      });
    }
    const none = await connect();
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(await runs(none)).toEqual([]);
  });
});
