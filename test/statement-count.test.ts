import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrgWithKeys, insertHealthChecks, insertIntegrations } from './support/fixtures.js';
import type { LocalBudgets } from '../src/http/limits/local-budgets.js';
import { createTestGateway, type TestGateway } from './support/gateway.js';

const SIZES = [10, 100] as const;
const CHECKS_PER_INTEGRATION = 3;

let gateway: TestGateway;
let key: string;
let globalIds: string[];

/**
 * Written in the background, never by a request: the batched flush of the budgets counted in the process
 * (every RATE_LIMIT_FLUSH_MS) and the batched record of keys' use (at most once a minute per key). A flush
 * may fall inside a measured request; `flushes are batched` below shows they do not come per request.
 */
const BACKGROUND = /rate_limit_add\(|^update "api_keys" set "last_used_at"/;

function listQuery(options: { totalCount?: boolean; healthChecks?: boolean } = {}): string {
  return `query List($first: Int!) {
    integrations(first: $first) {
      ${options.totalCount ? 'totalCount' : ''}
      edges { node {
        id displayName health
        provider { key name }
        lastHealthCheck { ok checkedAt latencyMs }
        lastSync { status finishedAt }
        ${options.healthChecks ? 'healthChecks(first: 5) { edges { node { ok } } }' : ''}
      } }
    }
  }`;
}

/**
 * Runs one request in the steady state and returns the statements run between its start and its answer:
 * the same request just before, unmeasured, so that the key is verified and the budgets heard of lately
 * (a key is trusted for API_KEY_CACHE_TTL_MS, a budget's count for under a second).
 */
async function measure(query: string, variables: Record<string, unknown>) {
  expect((await gateway.graphql(key, query, variables)).status).toBe(200);
  // What a flush would do meanwhile: on a busy machine a request may take longer than a budget is trusted.
  await (gateway.rateLimitStore as LocalBudgets).flush();
  gateway.statements.reset();
  const res = await gateway.graphql(key, query, variables);
  const statements = gateway.statements.sql.filter((text) => !BACKGROUND.test(text));
  expect(res.status).toBe(200);
  expect(res.body.errors).toBeUndefined();
  // Rate limited in the process: the headers come without a statement.
  expect(Number(res.headers.get('x-ratelimit-remaining'))).toBeGreaterThan(0);
  return { data: res.body.data, count: statements.length, statements };
}

beforeAll(async () => {
  // Budgets in the database, counted in the process as in production (generous: far from their reserve).
  // Keys trusted for a minute rather than 5 s: on a busy machine, this file's requests take longer than that.
  gateway = await createTestGateway({ world: true, rateLimit: {}, apiKeyCache: { ttlMs: 60_000, size: 100 } });
  const org = gateway.world.acme;
  key = org.keys.VIEWER;
  const rows = await insertIntegrations(gateway.db, org.organization.id, 120, (i) => ({
    displayName: `Counted ${i}`,
    createdAt: new Date(Date.parse('2026-01-01T00:00:00Z') + i * 1000),
    provider: ['github', 'gitlab', 'slack', 'jira'][i % 4],
    health: 'HEALTHY',
    lastCheckAt: new Date(Date.parse('2026-02-01T00:00:00Z') + i * 1000),
    lastSync: {
      status: 'SUCCEEDED',
      startedAt: new Date('2026-02-01T00:00:00Z'),
      finishedAt: new Date('2026-02-01T00:01:00Z'),
      error: null,
    },
  }));
  globalIds = rows.map((row) => row.globalId);
  for (const row of rows) await insertHealthChecks(gateway.db, org.organization.id, row.id, CHECKS_PER_INTEGRATION);
});
afterAll(() => gateway?.close());

describe('statements per read request in the steady state', () => {
  it('spends one statement on an integrations page, whatever its size: none on authentication or the rate limit', async () => {
    for (const first of SIZES) {
      const { data, count, statements } = await measure(listQuery(), { first });
      const edges = data.integrations.edges;
      expect(edges).toHaveLength(first);
      expect(edges[0].node).toMatchObject({
        provider: { key: 'github', name: 'GitHub' },
        lastSync: { status: 'SUCCEEDED' },
        lastHealthCheck: { ok: true },
      });
      expect(statements).toEqual([expect.stringMatching(/from "integrations"/)]);
      expect(count).toBe(1);
    }
  });

  it('spends one statement on node(id)', async () => {
    const query = 'query($id: ID!) { node(id: $id) { id ... on Integration { displayName health lastSync { status } } } }';
    const { data, statements } = await measure(query, { id: globalIds[7] });
    expect(data.node).toMatchObject({ id: globalIds[7], displayName: 'Counted 7', lastSync: { status: 'SUCCEEDED' } });
    expect(statements).toEqual([expect.stringMatching(/from "integrations"/)]);
  });

  it('adds exactly one statement when totalCount is selected', async () => {
    for (const first of SIZES) {
      const { data, count, statements } = await measure(listQuery({ totalCount: true }), { first });
      expect(data.integrations.totalCount).toBe(120);
      expect(count).toBe(2);
      expect(statements.filter((s) => /count\(\*\)/.test(s))).toHaveLength(1);
    }
  });

  it("adds exactly one statement for every integration's healthChecks page", async () => {
    const counts: number[] = [];
    for (const first of SIZES) {
      const { data, count, statements } = await measure(listQuery({ healthChecks: true }), { first });
      expect(data.integrations.edges).toHaveLength(first);
      for (const edge of data.integrations.edges) expect(edge.node.healthChecks.edges).toHaveLength(CHECKS_PER_INTEGRATION);
      expect(statements.filter((s) => /integration_health_checks/.test(s))).toHaveLength(1);
      counts.push(count);
    }
    expect(counts).toEqual([2, 2]);
  });

  it('costs 1 page + 1 count + 1 history with everything selected, at 10 and at 100', async () => {
    const statements: string[][] = [];
    for (const first of SIZES) statements.push((await measure(listQuery({ totalCount: true, healthChecks: true }), { first })).statements);
    expect(
      statements.map((run) => run.length),
      statements.flat().join('\n'),
    ).toEqual([3, 3]);
  });

  it('loads 100 integrations by ID through nodes(ids) in one statement', async () => {
    const ids = globalIds.slice(0, 100);
    const { data, count } = await measure('query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Integration { displayName } } }', { ids });
    expect(data.nodes.map((node: { id: string }) => node.id)).toEqual(ids);
    expect(count).toBe(1);
  });

  it("flushes the counted budgets in batches, not per request, and records a key's use once", async () => {
    const query = listQuery();
    await gateway.graphql(key, query, { first: 10 });
    await (gateway.rateLimitStore as LocalBudgets).flush();
    gateway.statements.reset();
    const started = Date.now();
    const answers = await Promise.all(Array.from({ length: 40 }, () => gateway.graphql(key, query, { first: 10 })));
    const elapsed = Date.now() - started;
    for (const answer of answers) expect(answer.status).toBe(200);
    const flushes = gateway.statements.sql.filter((text) => /rate_limit_add\(/.test(text)).length;
    // One flush per RATE_LIMIT_FLUSH_MS (250 ms by default) at most, whatever the number of requests.
    expect(flushes).toBeLessThanOrEqual(Math.ceil(elapsed / 250) + 1);
    // A budget in use is heard of at every flush: the process seldom has to charge a request in the database.
    expect(gateway.statements.sql.filter((text) => /rate_limit_charge\(/.test(text)).length).toBeLessThanOrEqual(4);
    expect(gateway.statements.sql.filter((text) => /from "api_keys"/.test(text))).toEqual([]);
    expect(gateway.statements.sql.filter((text) => /^update "api_keys"/.test(text)).length).toBeLessThanOrEqual(1);
  });
});

/**
 * With budgets charged in PostgreSQL request by request (RATE_LIMIT_FLUSH_MS=0) and no key kept in memory
 * (API_KEY_CACHE_TTL_MS=0), a request for a document the gateway has run before is charged in its
 * authentication statement (src/http/limits/early-charge.ts): one statement fewer, the same answers. Real
 * clients send Content-Length; yoga.fetch does not add it, so these requests set it.
 */
describe('the rate-limit charge folded into authentication', () => {
  let limited: TestGateway;
  let org: Awaited<ReturnType<typeof createOrgWithKeys>>;
  const FIVE_POINTS = 'query Five { integrations(first: 2) { edges { node { id } } } }';

  const post = async (key: string | null, query: string, extra: Record<string, string> = {}) => {
    const body = JSON.stringify({ query });
    limited.statements.reset();
    const response = await limited.fetch('/graphql', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json',
        'content-length': String(Buffer.byteLength(body)),
        ...(key ? { authorization: `Bearer ${key}` } : {}),
        ...extra,
      },
      body,
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : {}, sql: [...limited.statements.sql] };
  };
  const spent = async (organizationId: string) =>
    (await limited.db.selectFrom('rate_limit_buckets').select('points').where('key', '=', `org:${organizationId}`).executeTakeFirst())
      ?.points ?? 0;

  beforeAll(async () => {
    limited = await createTestGateway({
      world: true,
      rateLimit: { apiKeyPoints: 12, organizationPoints: 1_000, local: { flushMs: 0 } },
      apiKeyCache: { ttlMs: 0, size: 1 },
    });
    org = limited.world.acme;
    await insertIntegrations(limited.db, org.organization.id, 3);
  });
  afterAll(() => limited?.close());

  it('charges a known document with its authentication, reporting the budget the same way', async () => {
    const first = await post(org.keys.VIEWER, FIVE_POINTS);
    expect(first.status).toBe(200);
    expect(first.sql.filter((text) => /rate_limit_charge\(/.test(text))).toHaveLength(1);
    expect(first.headers.get('x-ratelimit-remaining')).toBe('7');

    const second = await post(org.keys.VIEWER, FIVE_POINTS);
    expect(second.status).toBe(200);
    expect(second.body.data.integrations.edges).toHaveLength(2);
    // Authentication and the charge in one statement, then the page.
    // (Recording the key's use is written in the background, maybe while this request runs: left out.)
    const statements = second.sql.filter((text) => !/update "api_keys"/.test(text));
    expect(statements).toHaveLength(2);
    expect(statements[0]).toMatch(/from api_keys[\s\S]*rate_limit_charge\(/);
    expect(second.headers.get('x-ratelimit-limit')).toBe('12');
    expect(second.headers.get('x-ratelimit-remaining')).toBe('2');
    expect(second.body.extensions.cost).toMatchObject({ requested: 5, limit: 12, remaining: 2 });
    expect(await spent(org.organization.id)).toBe(10);
  });

  it('refuses with 429 from the charge made at authentication, running nothing', async () => {
    const refused = await post(org.keys.VIEWER, FIVE_POINTS);
    expect(refused.status).toBe(429);
    expect(refused.body.errors[0].extensions).toMatchObject({ code: 'RATE_LIMITED', scope: 'API_KEY', limit: 12 });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(refused.sql.filter((text) => /"integrations"/.test(text))).toEqual([]);
    expect(refused.sql.filter((text) => /rate_limit_charge\(/.test(text))).toHaveLength(1);
  });

  it('charges nothing, and answers only 401, for a wrong, unknown or revoked key', async () => {
    const before = await spent(org.organization.id);
    const wrongSecret = `${org.keys.EDITOR.slice(0, org.keys.EDITOR.lastIndexOf('_'))}_${'A'.repeat(43)}`;
    const unknown = `igw_000000000000_${'B'.repeat(43)}`;
    for (const key of [wrongSecret, unknown]) {
      const res = await post(key, FIVE_POINTS);
      expect(res.status).toBe(401);
      expect(res.body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
      expect(res.body.data).toBeUndefined();
    }
    await limited.db
      .updateTable('api_keys')
      .set({ revoked_at: new Date() })
      .where('organization_id', '=', org.organization.id)
      .where('role', '=', 'ADMIN')
      .execute();
    const revoked = await post(org.keys.ADMIN, FIVE_POINTS);
    expect(revoked.status).toBe(401);
    expect(await spent(org.organization.id)).toBe(before);
  });

  it('still answers 401 before any other refusal to a caller without a valid key', async () => {
    const unknown = `igw_000000000000_${'C'.repeat(43)}`;
    expect((await post(unknown, '{ integrations(first: 2) { edges { node { nope } } } }')).status).toBe(401);
    expect((await post(unknown, FIVE_POINTS, { 'content-length': '999999999' })).status).toBe(401);
  });
});

/**
 * Budgets counted in the process (the default): a budget the shared store has reported spent is refused
 * in the process, without a statement, until its window ends.
 */
describe('a spent budget refused without the database', () => {
  let limited: TestGateway;
  const FIVE_POINTS = '{ integrations(first: 2) { edges { node { id } } } }';

  beforeAll(async () => {
    // Counted in the process down to the budget's last tenth (RATE_LIMIT_EXACT_POINTS=0).
    limited = await createTestGateway({ rateLimit: { apiKeyPoints: 12, organizationPoints: 100_000, local: { exactPoints: 0 } } });
  });
  afterAll(() => limited?.close());

  it('answers 429 from what the store last said, running no statement at all', async () => {
    const org = await createOrgWithKeys(limited.db, 'spent-locally');
    await insertIntegrations(limited.db, org.organization.id, 3);
    expect((await limited.graphql(org.keys.VIEWER, FIVE_POINTS)).status).toBe(200);
    expect((await limited.graphql(org.keys.VIEWER, FIVE_POINTS)).status).toBe(200);
    // 10 of 12 points, the last five counted in the process: the third has no room, and from then on the
    // process refuses by itself.
    expect((await limited.graphql(org.keys.VIEWER, FIVE_POINTS)).status).toBe(429);
    limited.statements.reset();
    const refused = await limited.graphql(org.keys.VIEWER, FIVE_POINTS);
    expect(refused.status).toBe(429);
    expect(refused.body.errors[0].extensions).toMatchObject({ code: 'RATE_LIMITED', scope: 'API_KEY', limit: 12 });
    expect(refused.headers.get('x-ratelimit-remaining')).toBe('2');
    expect(limited.statements.sql.filter((text) => !BACKGROUND.test(text))).toEqual([]);
  });
});
