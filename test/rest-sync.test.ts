import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeTypedID } from '../src/graphql/global-id.js';
import { inventoryItems, inventoryOf } from './fake-provider/inventory.js';
import { createEngineWorld, type EngineWorld, waitFor } from './support/engine.js';
import { configFor } from './support/integration-flows.js';
import { type RestClient, restClient } from './support/rest-client.js';

// An integration's inventory over REST, through the generated client on a real port: a sync on demand
// (queued at once, run by the engine), its runs and the resources it stored, paged and filtered as in GraphQL.

let world: EngineWorld;
let github: string;
beforeAll(async () => {
  // Scheduled syncs an hour apart: every run here is one a request queued.
  world = await createEngineWorld({ SYNC_INTERVAL_SECONDS: '3600', WORKER_POLL_INTERVAL_MS: '100' }, {}, { listen: true });
  await world.startEngine();
  inventoryOf(world.fake.store.inventories, 'github').push(...inventoryItems('github', 150));
  github = await world.connectToken('github', world.fake.issueApiToken('github'));
});
afterAll(() => world?.close());

const as = (role: 'VIEWER' | 'EDITOR', headers: Record<string, string> = {}): RestClient =>
  restClient(world.url, world.org.keys[role], headers);
const path = (id: string) => ({ params: { path: { id } } });
const runsOf = async (id: string) => (await as('VIEWER').GET('/integrations/{id}/sync-runs', path(id))).data?.data ?? [];

const rowIdOf = (id: string) => decodeTypedID(id, 'Integration');

/** Where a sync that never finished stopped: its runs, the queue's jobs and the engine's last lines about them. */
const engineState = async () => ({
  runs: await runsOf(github),
  jobs: (await sql`select task_identifier, attempts, last_error, run_at, locked_at, locked_by from graphile_worker.jobs`.execute(world.db))
    .rows,
  now: new Date().toISOString(),
  // The engine's lines, not the requests' (the wait's own polls of /sync-runs would fill them).
  logs: world.logs.filter((line) => /sync|job|worker|queue|engine/i.test(line) && !line.includes('"msg":"request"')).slice(-25),
  run: (
    await sql`select status, started_at, finished_at from integration_sync_runs where integration_id = ${rowIdOf(github)}
    order by queued_at desc limit 3`.execute(world.db)
  ).rows,
  integration: (await sql`select next_sync_at from integrations where id = ${rowIdOf(github)}`.execute(world.db)).rows,
});

describe('POST /v1/integrations/{id}/sync', () => {
  it('queues a sync at once (202, the queued run); a retry under its Idempotency-Key is replayed; the engine runs it', async () => {
    const key = `sync-${randomUUID()}`;
    const first = await as('EDITOR', { 'idempotency-key': key }).POST('/integrations/{id}/sync', path(github));
    expect(first.response.status).toBe(202);
    expect(first.data?.sync_run).toMatchObject({ status: 'queued', trigger: 'request', item_count: null, started_at: null });
    expect(first.data?.data).toMatchObject({ id: github, provider: 'github' });
    expect(['queued', 'running', 'succeeded']).toContain(first.data?.data.last_sync?.status);
    const retried = await as('EDITOR', { 'idempotency-key': key }).POST('/integrations/{id}/sync', path(github));
    expect(retried.response.status).toBe(202);
    expect(retried.response.headers.get('idempotent-replayed')).toBe('true');
    expect(retried.data).toEqual(first.data);

    const runs = await waitFor(
      async () => {
        const all = await runsOf(github);
        return all[0]?.finished_at ? all : null;
      },
      40_000,
      'the requested sync',
      // Failed a few times under load, unexplained: the runs, the queue's jobs and the engine's last lines say
      // where it stopped (the test's own timeout is longer than the wait, so that this is what fails).
      engineState,
    );
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ id: first.data?.sync_run.id, trigger: 'request', item_count: 150, truncated: false, error: null });
    const after = await as('VIEWER').GET('/integrations/{id}', path(github));
    expect(after.data?.last_sync).toMatchObject({ status: 'succeeded', item_count: 150 });
  }, 60_000);

  it('is refused to a VIEWER (403), and is 404 for an integration of another organization; nothing is queued', async () => {
    const before = (await runsOf(github)).length;
    const viewer = await as('VIEWER').POST('/integrations/{id}/sync', path(github));
    expect(viewer.response.status).toBe(403);
    expect(viewer.error).toMatchObject({ code: 'FORBIDDEN' });
    const neighbour = restClient(world.url, world.other.keys.EDITOR);
    const foreign = await neighbour.POST('/integrations/{id}/sync', path(github));
    expect(foreign.response.status).toBe(404);
    expect(foreign.error).toMatchObject({ code: 'NOT_FOUND' });
    expect((await neighbour.GET('/integrations/{id}/resources', path(github))).response.status).toBe(404);
    expect((await neighbour.GET('/integrations/{id}/sync-runs', path(github))).response.status).toBe(404);
    expect((await runsOf(github)).length).toBe(before);
  });

  it('answers 422 for an integration with nothing to list, naming what it lacks', async () => {
    const input = {
      provider: 'http',
      display_name: 'no inventory',
      auth_kind: 'api_token' as const,
      config: configFor('http', world.fake),
      credentials: { token: world.fake.issueApiToken('http') },
    };
    const connected = await as('EDITOR').POST('/integrations', { body: input });
    const id = connected.data?.data.id as string;
    const refused = await as('EDITOR').POST('/integrations/{id}/sync', path(id));
    expect(refused.response.status).toBe(422);
    expect(refused.error).toMatchObject({ code: 'VALIDATION' });
    expect(refused.error?.detail).toContain('inventoryPath');
  });
});

describe('GET /v1/integrations/{id}/resources and /sync-runs', () => {
  it('pages the resources by name with cursors shared with GraphQL, filtered by kind and search, under /v1 and unprefixed', async () => {
    const viewer = as('VIEWER');
    const first = await viewer.GET('/integrations/{id}/resources', { params: { path: { id: github }, query: { limit: 100 } } });
    expect(first.response.status).toBe(200);
    expect(first.data?.data).toHaveLength(100);
    expect(first.data?.has_more).toBe(true);
    expect(first.data?.data[0]).toEqual({
      kind: 'repository',
      external_id: '100001',
      name: 'octocat/repo-1',
      url: 'https://github.com/octocat/repo-1',
      metadata: { private: false, archived: false, default_branch: 'main' },
      synced_at: expect.any(String),
    });
    const cursor = first.data?.next_cursor as string;
    const second = await viewer.GET('/integrations/{id}/resources', { params: { path: { id: github }, query: { limit: 100, cursor } } });
    expect(second.data?.data).toHaveLength(50);
    expect(second.data).toMatchObject({ has_more: false, next_cursor: null });
    const names = [...(first.data?.data ?? []), ...(second.data?.data ?? [])].map((resource) => resource.name);
    expect(new Set(names).size).toBe(150);
    expect(names).toEqual([...names].sort());

    // A cursor of GraphQL's `resources` pages the REST list, and the filter is the same.
    const QUERY = `query($id: ID!) { node(id: $id) { ... on Integration {
      resources(first: 2, filter: { search: "REPO-14", kind: "repository" }) { pageInfo { endCursor } } } } }`;
    const graphql = await world.graphql(world.org.keys.VIEWER, QUERY, { id: github });
    const after = graphql.data.node.resources.pageInfo.endCursor as string;
    const filtered = await viewer.GET('/integrations/{id}/resources', {
      params: { path: { id: github }, query: { search: 'REPO-14', kind: 'repository', cursor: after, limit: 100 } },
    });
    // repo-14 and repo-140..149, by name: the first two were GraphQL's page.
    expect(filtered.data?.data.map((resource) => resource.name)).toEqual(Array.from({ length: 9 }, (_, i) => `octocat/repo-14${i + 1}`));
    const otherKind = await viewer.GET('/integrations/{id}/resources', { params: { path: { id: github }, query: { kind: 'channel' } } });
    expect(otherKind.data).toEqual({ data: [], next_cursor: null, has_more: false });

    const unprefixed = await fetch(`${world.url}/integrations/${encodeURIComponent(github)}/resources?limit=100`, {
      headers: { authorization: `Bearer ${world.org.keys.VIEWER}` },
    });
    expect(unprefixed.status).toBe(200);
    expect(await unprefixed.json()).toEqual(first.data);
    const runs = await fetch(`${world.url}/integrations/${encodeURIComponent(github)}/sync-runs`, {
      headers: { authorization: `Bearer ${world.org.keys.VIEWER}` },
    });
    expect((await runs.json()).data).toEqual(await runsOf(github));
  });

  it('pages the sync runs newest first, and refuses bad parameters with 400 problems naming them', async () => {
    const editor = as('EDITOR');
    for (let n = 0; n < 2; n += 1) {
      await editor.POST('/integrations/{id}/sync', path(github));
      await waitFor(async () => (await runsOf(github))[0]?.finished_at, 40_000, 'another sync', engineState);
    }
    const page = await as('VIEWER').GET('/integrations/{id}/sync-runs', { params: { path: { id: github }, query: { limit: 2 } } });
    expect(page.data?.data).toHaveLength(2);
    expect(page.data?.has_more).toBe(true);
    const [newer, older] = page.data?.data ?? [];
    expect(Date.parse(newer?.queued_at as string)).toBeGreaterThan(Date.parse(older?.queued_at as string));
    const rest = await as('VIEWER').GET('/integrations/{id}/sync-runs', {
      params: { path: { id: github }, query: { limit: 2, cursor: page.data?.next_cursor as string } },
    });
    expect(rest.data).toMatchObject({ has_more: false, next_cursor: null });
    expect(rest.data?.data).toHaveLength(1);

    const raw = (query: string) =>
      fetch(`${world.url}/v1/integrations/${encodeURIComponent(github)}/resources?${query}`, {
        headers: { authorization: `Bearer ${world.org.keys.VIEWER}` },
      });
    const zero = await raw('limit=0');
    expect(zero.status).toBe(400);
    expect((await zero.json()).errors[0].pointer).toBe('/query/limit');
    const unknown = await raw('sort=name');
    expect(unknown.status).toBe(400);
    expect((await unknown.json()).errors[0].pointer).toBe('/query/sort');
    const cursor = await raw('cursor=not-a-cursor');
    expect(cursor.status).toBe(400);
    expect((await cursor.json()).code).toBe('INVALID_CURSOR');
  }, 100_000);
});
