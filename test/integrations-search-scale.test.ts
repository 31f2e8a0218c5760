import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXACT_COUNT_LIMIT, SEARCH_CANDIDATE_LIMIT } from '../src/modules/integration/integration-list.repository.js';
import { createOrgWithKeys, type OrgFixture } from './support/fixtures.js';
import { createTestGateway, type TestGateway } from './support/gateway.js';

const LIST = `query List($first: Int, $after: String, $filter: IntegrationFilter, $orderBy: IntegrationOrder) {
  integrations(first: $first, after: $after, filter: $filter, orderBy: $orderBy) {
    edges { node { displayName } }
    pageInfo { hasNextPage endCursor }
  }
}`;
const COUNT = 'query Count($filter: IntegrationFilter) { integrations(first: 1, filter: $filter) { totalCount } }';

/** More integrations than the exact count reaches, of which more than SEARCH_CANDIDATE_LIMIT say "common". */
const ROWS = EXACT_COUNT_LIMIT + 500;
const COMMON_EVERY = 4;

let gateway: TestGateway;
let org: OrgFixture;

/** Every page of a search, in order. */
async function walk(filter: Record<string, unknown>, orderBy?: Record<string, unknown>): Promise<string[]> {
  const names: string[] = [];
  let after: string | null = null;
  for (;;) {
    const res: Awaited<ReturnType<TestGateway['graphql']>> = await gateway.graphql(org.keys.VIEWER, LIST, {
      first: 100,
      after,
      filter,
      ...(orderBy ? { orderBy } : {}),
    });
    expect(res.body.errors).toBeUndefined();
    const { edges, pageInfo } = (res.body.data as { integrations: unknown }).integrations as {
      edges: { node: { displayName: string } }[];
      pageInfo: { hasNextPage: boolean; endCursor: string };
    };
    names.push(...edges.map((e) => e.node.displayName));
    if (!pageInfo.hasNextPage) return names;
    after = pageInfo.endCursor;
  }
}

beforeAll(async () => {
  gateway = await createTestGateway();
  org = await createOrgWithKeys(gateway.db, 'large');
  // Names "Common 1" / "Item 2" / ..., with "Rare" in every 1000th; created_at out of insertion order.
  await sql`
    insert into integrations (id, organization_id, provider, display_name, auth_kind, status, health, consecutive_failures,
      requested_scopes, created_at, updated_at)
    select gen_random_uuid(), ${org.organization.id}::uuid, 'http',
      case when i % ${COMMON_EVERY}::int = 0 then 'Common ' else 'Item ' end || i || case when i % 1000 = 0 then ' rare' else '' end,
      'API_TOKEN', 'ACTIVE', 'HEALTHY', 0, '{}',
      timestamptz '2026-02-01T00:00:00Z' + ((i * 7919) % 100003) * interval '1 second', now()
    from generate_series(1, ${ROWS}::int) i`.execute(gateway.db);
  await sql`analyze integrations`.execute(gateway.db);
}, 120_000);
afterAll(() => gateway?.close());

/** What SQL says the search's pages are, in CREATED_AT or DISPLAY_NAME DESC order. */
async function expected(term: string, order: 'created' | 'name-desc'): Promise<string[]> {
  const orderBy = order === 'created' ? sql`created_at asc, id asc` : sql`lower(display_name) desc, id desc`;
  const rows = await sql<{ display_name: string }>`
    select display_name from integrations
    where organization_id = ${org.organization.id}::uuid and display_name ilike ${`%${term}%`}
    order by ${orderBy}`.execute(gateway.db);
  return rows.rows.map((row) => row.display_name);
}

describe('search and totalCount in a large organization', () => {
  it('pages a term with more matches than the trigram step takes, in order, every match once', async () => {
    const want = await expected('common', 'created');
    expect(want.length).toBeGreaterThan(SEARCH_CANDIDATE_LIMIT);
    expect(await walk({ search: 'common' })).toEqual(want);
    expect(await walk({ search: 'COMMON' }, { field: 'DISPLAY_NAME', direction: 'DESC' })).toEqual(await expected('common', 'name-desc'));
  }, 120_000);

  it('pages a rare term and a term matching nothing', async () => {
    const want = await expected('rare', 'created');
    expect(want.length).toBe(Math.floor(ROWS / 1000));
    expect(await walk({ search: 'rare' })).toEqual(want);
    expect(await walk({ search: 'Common 1000 rare' })).toEqual(['Common 1000 rare']);
    expect(await walk({ search: 'nothing like this' })).toEqual([]);
  });

  it('counts exactly up to the limit, and above it answers an estimate above the limit', async () => {
    const count = async (filter: Record<string, unknown>) =>
      (await gateway.graphql(org.keys.VIEWER, COUNT, { filter })).body.data.integrations.totalCount as number;
    expect(await count({ search: 'common' })).toBe(Math.floor(ROWS / COMMON_EVERY));
    expect(await count({ search: 'rare' })).toBe(Math.floor(ROWS / 1000));
    const all = await count({});
    expect(all).toBeGreaterThan(EXACT_COUNT_LIMIT);
    // The planner's estimate from the statistics ANALYZE just took: near the truth.
    expect(Math.abs(all - ROWS)).toBeLessThan(ROWS * 0.2);
  });
});
