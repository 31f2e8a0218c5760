import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrgWithKeys, type IntegrationFixture, insertIntegration, type OrgFixture } from './support/fixtures.js';
import { createTestGateway, type TestGateway } from './support/gateway.js';

const VARIABLES = '$first: Int, $after: String, $last: Int, $before: String, $filter: IntegrationFilter, $orderBy: IntegrationOrder';
const LIST = `query List(${VARIABLES}) {
  integrations(first: $first, after: $after, last: $last, before: $before, filter: $filter, orderBy: $orderBy) {
    totalCount
    edges { node { displayName } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}`;

const t = (minutes: number) => new Date(Date.parse('2026-03-01T00:00:00.000Z') + minutes * 60_000);

let gateway: TestGateway;
let filterOrg: OrgFixture;
let orderOrg: OrgFixture;

/** Rows for the filter tests: name, then the fields that differ. */
const FILTER_ROWS: [string, IntegrationFixture][] = [
  ['Alpha GitHub', { provider: 'github', health: 'HEALTHY' }],
  ['beta gitlab', { provider: 'gitlab', health: 'DEGRADED', environment: 'staging' }],
  ['Gamma Slack', { provider: 'slack', status: 'NEEDS_REAUTH', health: 'UNHEALTHY' }],
  ['delta jira', { provider: 'jira', status: 'ERROR', environment: null }],
  ['Old GitHub', { provider: 'github', status: 'REVOKED' }],
  ['100% uptime', { provider: 'datadog', health: 'HEALTHY' }],
  ['100 percent', { provider: 'datadog', health: 'HEALTHY', environment: 'staging' }],
  ['snake_case', { provider: 'http', status: 'PENDING_AUTHORIZATION' }],
  ['snake case', { provider: 'http', health: 'DEGRADED' }],
];

interface OrderRow {
  name: string;
  id: string;
  createdAt: Date;
  updatedAt: Date;
  lastCheckAt: Date | null;
}
const orderRows: OrderRow[] = [];

beforeAll(async () => {
  gateway = await createTestGateway();
  filterOrg = await createOrgWithKeys(gateway.db, 'filters');
  for (const [i, [displayName, fixture]] of FILTER_ROWS.entries()) {
    await insertIntegration(gateway.db, filterOrg.organization.id, { displayName, createdAt: t(i), ...fixture });
  }
  orderOrg = await createOrgWithKeys(gateway.db, 'orders');
  // Mixed case, a case-only tie (Echo/echo), updated_at in another order, some never checked and one check tie.
  const names = ['delta', 'Bravo', 'echo', 'CHARLIE', 'alpha', 'Echo', 'golf', 'Foxtrot', 'hotel'];
  const updated = [5, 1, 8, 3, 7, 0, 2, 6, 4];
  const checked = [30, null, 10, null, 20, 10, null, 40, 5];
  for (const [i, name] of names.entries()) {
    const row = { name, createdAt: t(i), updatedAt: t(100 + updated[i]!), lastCheckAt: checked[i] === null ? null : t(200 + checked[i]!) };
    const { id } = await insertIntegration(gateway.db, orderOrg.organization.id, {
      displayName: name,
      createdAt: row.createdAt,
      updatedAt: row.updatedAt,
      lastCheckAt: row.lastCheckAt,
      health: row.lastCheckAt ? 'HEALTHY' : 'UNKNOWN',
    });
    orderRows.push({ ...row, id });
  }
});
afterAll(() => gateway?.close());

async function names(filter: Record<string, unknown>): Promise<string[]> {
  const res = await gateway.graphql(filterOrg.keys.VIEWER, LIST, { first: 100, filter });
  expect(res.status).toBe(200);
  expect(res.body.errors).toBeUndefined();
  const { edges, totalCount } = res.body.data.integrations;
  const listed = edges.map((e: { node: { displayName: string } }) => e.node.displayName);
  expect(totalCount).toBe(listed.length);
  return listed;
}

const active = FILTER_ROWS.filter(([, f]) => f.status !== 'REVOKED').map(([name]) => name);

describe('integrations filter', () => {
  it('leaves out REVOKED integrations unless statuses asks for them', async () => {
    expect(await names({})).toEqual(active);
    expect(await names({ statuses: ['REVOKED'] })).toEqual(['Old GitHub']);
    expect(await names({ statuses: ['ACTIVE', 'REVOKED'] })).toEqual([
      'Alpha GitHub',
      'beta gitlab',
      'Old GitHub',
      '100% uptime',
      '100 percent',
      'snake case',
    ]);
    expect(await names({ statuses: ['ERROR', 'PENDING_AUTHORIZATION'] })).toEqual(['delta jira', 'snake_case']);
  });

  it('filters by providers, healths and environment', async () => {
    expect(await names({ providers: ['github'] })).toEqual(['Alpha GitHub']);
    expect(await names({ providers: ['gitlab', 'slack'] })).toEqual(['beta gitlab', 'Gamma Slack']);
    expect(await names({ providers: ['nobody'] })).toEqual([]);
    expect(await names({ healths: ['DEGRADED', 'UNHEALTHY'] })).toEqual(['beta gitlab', 'Gamma Slack', 'snake case']);
    expect(await names({ environment: 'staging' })).toEqual(['beta gitlab', '100 percent']);
    expect(await names({ environment: 'nowhere' })).toEqual([]);
  });

  it('searches display names case-insensitively, taking % and _ literally', async () => {
    expect(await names({ search: 'GITHUB' })).toEqual(['Alpha GitHub']);
    expect(await names({ search: 'a sl' })).toEqual(['Gamma Slack']);
    expect(await names({ search: '100%' })).toEqual(['100% uptime']);
    expect(await names({ search: '%' })).toEqual(['100% uptime']);
    expect(await names({ search: 'e_c' })).toEqual(['snake_case']);
    expect(await names({ search: '_' })).toEqual(['snake_case']);
    expect(await names({ search: 'no such name' })).toEqual([]);
  });

  it('combines conditions so that all must hold', async () => {
    expect(await names({ providers: ['datadog', 'github'], healths: ['HEALTHY'], search: 'up' })).toEqual(['100% uptime']);
    expect(await names({ providers: ['github'], statuses: ['ACTIVE', 'REVOKED'], search: 'old' })).toEqual(['Old GitHub']);
    expect(await names({ providers: ['datadog'], environment: 'staging' })).toEqual(['100 percent']);
    expect(await names({ healths: ['HEALTHY'], environment: 'staging', search: 'uptime' })).toEqual([]);
  });

  it('accepts 50 values and 200 characters', async () => {
    expect(await names({ providers: [...Array.from({ length: 49 }, (_, i) => `p${i}`), 'gitlab'] })).toEqual(['beta gitlab']);
    expect(await names({ search: 'x'.repeat(200), environment: 'y'.repeat(200) })).toEqual([]);
  });

  it.each([
    ['providers', { providers: Array.from({ length: 51 }, (_, i) => `p${i}`) }],
    ['statuses', { statuses: Array.from({ length: 51 }, () => 'ACTIVE') }],
    ['healths', { healths: Array.from({ length: 51 }, () => 'HEALTHY') }],
    ['search', { search: 'x'.repeat(201) }],
    ['environment', { environment: 'e'.repeat(201) }],
  ])('rejects an over-long filter.%s with BAD_USER_INPUT', async (name, filter) => {
    const res = await gateway.graphql(filterOrg.keys.VIEWER, LIST, { first: 10, filter });
    expect(res.status).toBe(200);
    expect(res.body.data).toBeNull();
    expect(res.body.errors).toHaveLength(1);
    expect(res.body.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: `filter.${name}` });
    expect(res.body.errors![0]!.message).toContain(`filter.${name}`);
  });
});

type Field = 'CREATED_AT' | 'UPDATED_AT' | 'DISPLAY_NAME' | 'LAST_CHECKED_AT';

/** The order the API promises, computed independently: key, then id, both in the requested direction. */
function expectedOrder(field: Field, direction: 'ASC' | 'DESC'): string[] {
  const key = (row: OrderRow): string | number => {
    if (field === 'CREATED_AT') return row.createdAt.getTime();
    if (field === 'UPDATED_AT') return row.updatedAt.getTime();
    if (field === 'DISPLAY_NAME') return row.name.toLowerCase();
    return row.lastCheckAt?.getTime() ?? Number.NEGATIVE_INFINITY;
  };
  const sign = direction === 'ASC' ? 1 : -1;
  const compare = (a: OrderRow, b: OrderRow) => {
    const [ka, kb] = [key(a), key(b)];
    if (ka !== kb) return ka < kb ? -sign : sign;
    return a.id < b.id ? -sign : sign;
  };
  return [...orderRows].sort(compare).map((row) => row.name);
}

async function orderPage(vars: Record<string, unknown>) {
  const res = await gateway.graphql(orderOrg.keys.VIEWER, LIST, vars);
  expect(res.body.errors).toBeUndefined();
  return res.body.data.integrations as {
    edges: { node: { displayName: string } }[];
    pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string; endCursor: string };
  };
}

describe('integrations orderBy', () => {
  it('sorts DISPLAY_NAME case-insensitively and never-checked integrations as the oldest', async () => {
    const listed = async (field: string, direction: string) =>
      (await orderPage({ first: 100, orderBy: { field, direction } })).edges.map((e) => e.node.displayName);
    const byName = await listed('DISPLAY_NAME', 'ASC');
    expect(byName.slice(0, 4)).toEqual(['alpha', 'Bravo', 'CHARLIE', 'delta']);
    expect(byName.slice(4, 6).sort()).toEqual(['Echo', 'echo']);
    expect(byName.slice(6)).toEqual(['Foxtrot', 'golf', 'hotel']);
    const neverChecked = ['Bravo', 'CHARLIE', 'golf'];
    expect((await listed('LAST_CHECKED_AT', 'ASC')).slice(0, 3).sort()).toEqual(neverChecked);
    expect((await listed('LAST_CHECKED_AT', 'DESC')).slice(-3).sort()).toEqual(neverChecked);
    expect((await listed('LAST_CHECKED_AT', 'DESC'))[0]).toBe('Foxtrot');
  });

  it('defaults to CREATED_AT ascending', async () => {
    const page = await orderPage({ first: 100 });
    expect(page.edges.map((e) => e.node.displayName)).toEqual(orderRows.map((row) => row.name));
  });

  const cases = (['CREATED_AT', 'UPDATED_AT', 'DISPLAY_NAME', 'LAST_CHECKED_AT'] as const).flatMap((field) =>
    (['ASC', 'DESC'] as const).map((direction) => [field, direction] as const),
  );

  it.each(cases)('orders by %s %s across pages, forwards and backwards', async (field, direction) => {
    const orderBy = { field, direction };
    const expected = expectedOrder(field, direction);
    const whole = await orderPage({ first: 100, orderBy });
    expect(whole.edges.map((e) => e.node.displayName)).toEqual(expected);

    const forward: string[] = [];
    let after: string | null = null;
    for (let guard = 0; guard < 10; guard += 1) {
      const page = await orderPage({ first: 2, after, orderBy });
      forward.push(...page.edges.map((e) => e.node.displayName));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(forward).toEqual(expected);

    const backward: string[] = [];
    let before: string | null = null;
    for (let guard = 0; guard < 10; guard += 1) {
      const page = await orderPage({ last: 2, before, orderBy });
      backward.unshift(...page.edges.map((e) => e.node.displayName));
      if (!page.pageInfo.hasPreviousPage) break;
      before = page.pageInfo.startCursor;
    }
    expect(backward).toEqual(expected);
  });
});
