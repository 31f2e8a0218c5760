import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertHealthChecks, insertIntegrations } from './support/fixtures.js';
import { createTestGateway, type TestGateway } from './support/gateway.js';

// A page whose nodes ask only for summary fields loads only the summary columns (a performance
// choice, see BENCHMARKS.md); any other field must still get its real value, however it is selected.
let gateway: TestGateway;
let key: string;
let integrationIds: string[];
let globalIds: string[];

beforeAll(async () => {
  gateway = await createTestGateway({ world: true });
  const org = gateway.world.acme;
  key = org.keys.VIEWER;
  const inserted = await insertIntegrations(gateway.db, org.organization.id, 3, (i) => ({
    displayName: `Columns ${i}`,
    requestedScopes: ['repo', 'read:org'],
    grantedScopes: ['repo'],
    createdAt: new Date(Date.parse('2026-01-01T00:00:00Z') + i * 1000),
  }));
  integrationIds = inserted.map((integration) => integration.id);
  globalIds = inserted.map((integration) => integration.globalId);
  for (const id of integrationIds) {
    await insertHealthChecks(gateway.db, org.organization.id, id, 3, new Date('2026-02-01T00:00:00Z'));
  }
  // Recorded with a probe's scopes (missing_scopes is written only where a check is recorded).
  await sql`update integration_health_checks set granted_scopes = '{repo}', missing_scopes = '{read:org}' where ok`.execute(gateway.db);
});
afterAll(() => gateway?.close());

async function page(query: string) {
  gateway.statements.reset();
  const res = await gateway.graphql(key, query);
  expect(res.body.errors).toBeUndefined();
  const statement = gateway.statements.sql.find((sql) => /from "integrations"/.test(sql) && !/count\(/.test(sql)) as string;
  return { data: res.body.data, wholeRows: /"integrations"\.\*/.test(statement) };
}

describe('columns loaded for a page of integrations', () => {
  it('loads only the summary columns when only summary fields are selected', async () => {
    const { data, wholeRows } = await page(
      '{ integrations(first: 3) { edges { cursor node { id displayName status health provider { key } ' +
        'lastHealthCheck { ok } lastSync { status } createdAt healthChecks(first: 1) { edges { node { ok } } } } } } }',
    );
    expect(wholeRows).toBe(false);
    expect(data.integrations.edges.map((e: any) => e.node.displayName)).toEqual(['Columns 0', 'Columns 1', 'Columns 2']);
    expect(data.integrations.edges.map((e: any) => e.node.createdAt)).toEqual([
      '2026-01-01T00:00:00.000Z',
      '2026-01-01T00:00:01.000Z',
      '2026-01-01T00:00:02.000Z',
    ]);
  });

  it('answers pages that select a single summary field, or only IDs', async () => {
    const names = await page('{ integrations(first: 3) { edges { node { displayName } } pageInfo { hasNextPage endCursor } } }');
    expect(names.wholeRows).toBe(false);
    expect(names.data.integrations.edges.map((e: any) => e.node.displayName)).toEqual(['Columns 0', 'Columns 1', 'Columns 2']);
    const ids = await page('{ integrations(first: 2) { totalCount edges { cursor node { id } } } }');
    expect(ids.wholeRows).toBe(false);
    expect(ids.data.integrations.edges).toHaveLength(2);
    expect(ids.data.integrations.totalCount).toBe(3);
  });

  it.each([
    ['a field on the node', '{ integrations(first: 3) { edges { node { displayName scopes grantedScopes missingScopes } } } }'],
    [
      'an inline fragment',
      '{ integrations(first: 3) { edges { node { displayName ... on Integration { scopes grantedScopes missingScopes } } } } }',
    ],
    [
      'a fragment spread',
      'query { integrations(first: 3) { edges { node { ...More } } } } ' +
        'fragment More on Integration { displayName scopes grantedScopes missingScopes }',
    ],
    ['an alias', '{ integrations(first: 3) { edges { node { displayName scopes grantedScopes gone: missingScopes } } } }'],
  ])('loads whole rows when another field is selected through %s', async (_how, query) => {
    const { data, wholeRows } = await page(query);
    expect(wholeRows).toBe(true);
    for (const { node } of data.integrations.edges) {
      expect(node.scopes).toEqual(['repo', 'read:org']);
      expect(node.grantedScopes).toEqual(['repo']);
      expect(node.missingScopes ?? node.gone).toEqual(['read:org']);
    }
  });

  it('loads whole rows for webhook, config, account and credential fields', async () => {
    const { data, wholeRows } = await page(
      '{ integrations(first: 1) { edges { node { webhook { enabled events } config account hasCredentials } } } }',
    );
    expect(wholeRows).toBe(true);
    expect(data.integrations.edges[0].node).toEqual({
      webhook: { enabled: false, events: [] },
      config: {},
      account: null,
      hasCredentials: false,
    });
  });
});

// A `node` (or `nodes`) whose integration asks only for summary fields loads only their columns too.
const NODE_FIELDS =
  'id displayName environment authKind status statusReason health provider { key } ' +
  'lastHealthCheck { ok checkedAt } lastSync { status } revokedAt endUser { id } scopes grantedScopes createdAt updatedAt';

describe('columns loaded for a node', () => {
  async function nodes(query: string, variables: Record<string, unknown>) {
    gateway.statements.reset();
    const res = await gateway.graphql(key, query, variables);
    expect(res.body.errors).toBeUndefined();
    const statements = gateway.statements.sql.filter((sql) => /from "integrations"/.test(sql));
    return { data: res.body.data, statements, wholeRows: statements.map((sql) => /select \*/.test(sql)) };
  }

  it('loads only the columns of the summary fields selected, and answers them as the whole row does', async () => {
    const partial = await nodes(`query ($id: ID!) { node(id: $id) { ... on Integration { ${NODE_FIELDS} } } }`, { id: globalIds[1] });
    expect(partial.wholeRows).toEqual([false]);
    expect(partial.statements[0]).not.toMatch(/"config"|"secret_ciphertext"|"webhook_url"/);
    // The same fields with one that needs the whole row.
    const whole = await nodes(`query ($id: ID!) { node(id: $id) { ... on Integration { ${NODE_FIELDS} config } } }`, {
      id: globalIds[1],
    });
    expect(whole.wholeRows).toEqual([true]);
    const { config, ...rest } = whole.data.node;
    expect(config).toEqual({});
    expect(partial.data.node).toEqual(rest);
    expect(partial.data.node).toMatchObject({ displayName: 'Columns 1', scopes: ['repo', 'read:org'], grantedScopes: ['repo'] });
  });

  it('loads whole rows for a field it has no columns for, through a fragment spread', async () => {
    const { data, wholeRows } = await nodes(
      'query ($id: ID!) { node(id: $id) { id ...More } } fragment More on Integration { displayName missingScopes webhook { enabled } }',
      { id: globalIds[0] },
    );
    expect(wholeRows).toEqual([true]);
    expect(data.node).toEqual({ id: globalIds[0], displayName: 'Columns 0', missingScopes: ['read:org'], webhook: { enabled: false } });
  });

  it('answers two selections of the same integrations in one request, one statement per column set', async () => {
    const { data, statements } = await nodes(
      'query ($ids: [ID!]!, $id: ID!) { a: nodes(ids: $ids) { ... on Integration { id displayName } } ' +
        'b: node(id: $id) { ... on Integration { id health createdAt } } c: node(id: $id) { ... on Integration { id displayName } } }',
      { ids: globalIds, id: globalIds[2] },
    );
    expect(statements).toHaveLength(2);
    expect(data.a.map((node: any) => node.displayName)).toEqual(['Columns 0', 'Columns 1', 'Columns 2']);
    expect(data.b).toEqual({ id: globalIds[2], health: 'UNKNOWN', createdAt: '2026-01-01T00:00:02.000Z' });
    expect(data.c).toEqual({ id: globalIds[2], displayName: 'Columns 2' });
  });

  it("answers null for another organization's integration, whatever the columns", async () => {
    const [other] = await insertIntegrations(gateway.db, gateway.world.globex.organization.id, 1);
    const { data } = await nodes('query ($id: ID!) { node(id: $id) { ... on Integration { id displayName } } }', {
      id: other?.globalId,
    });
    expect(data.node).toBeNull();
  });
});

const CHECK_FIELDS = 'id checkedAt ok httpStatus latencyMs errorCode message grantedScopes missingScopes';

describe('columns loaded for pages of health checks', () => {
  async function history(query: string) {
    gateway.statements.reset();
    const res = await gateway.graphql(key, query);
    expect(res.body.errors).toBeUndefined();
    const statements = gateway.statements.sql.filter((sql) => /from integration_health_checks/.test(sql));
    return { data: res.body.data, statements };
  }

  /** Every check of every page, as node(id) answers it from the whole row. */
  async function wholeChecks(ids: string[]) {
    const res = await gateway.graphql(key, `query ($ids: [ID!]!) { nodes(ids: $ids) { ... on HealthCheck { ${CHECK_FIELDS} } } }`, {
      ids,
    });
    expect(res.body.errors).toBeUndefined();
    return res.body.data.nodes;
  }

  it('reads only the columns of the fields selected, and answers them as the whole row does', async () => {
    const { data, statements } = await history(
      '{ integrations(first: 3) { edges { node { ' +
        'healthChecks(first: 2) { edges { node { id ok latencyMs } } pageInfo { hasNextPage } } } } } }',
    );
    expect(statements).toHaveLength(1);
    expect(statements[0]).toContain('"h"."ok"');
    expect(statements[0]).toContain('"h"."latency_ms"');
    expect(statements[0]).not.toContain('"h"."granted_scopes"');
    expect(statements[0]).not.toContain('h.*');
    const pages = data.integrations.edges.map((e: any) => e.node.healthChecks);
    expect(pages.map((p: any) => p.pageInfo.hasNextPage)).toEqual([true, true, true]);
    const checks = pages.flatMap((p: any) => p.edges.map((e: any) => e.node));
    expect(checks).toHaveLength(6);
    const whole = await wholeChecks(checks.map((check: any) => check.id));
    expect(checks).toEqual(whole.map(({ id, ok, latencyMs }: any) => ({ id, ok, latencyMs })));
  });

  it.each([
    ['on the node', `{ integrations(first: 3) { edges { node { healthChecks(first: 3) { edges { node { ${CHECK_FIELDS} } } } } } } }`],
    [
      'through a fragment spread and an alias',
      '{ integrations(first: 3) { edges { node { healthChecks(first: 3) { edges { node { ...Check gone: missingScopes } } } } } } } ' +
        'fragment Check on HealthCheck { id checkedAt ok httpStatus latencyMs errorCode message grantedScopes }',
    ],
  ])('answers every field selected %s as the whole row does', async (_how, query) => {
    const { data, statements } = await history(query);
    expect(statements).toHaveLength(1);
    expect(statements[0]).toContain('"h"."missing_scopes"');
    const checks = data.integrations.edges.flatMap((e: any) => e.node.healthChecks.edges.map((c: any) => c.node));
    expect(checks).toHaveLength(9);
    const whole = await wholeChecks(checks.map((check: any) => check.id));
    const answered = checks.map(({ gone, ...check }: any) => (gone === undefined ? check : { ...check, missingScopes: gone }));
    expect(answered).toEqual(whole);
    expect(answered.filter((check: any) => check.ok).every((check: any) => check.grantedScopes[0] === 'repo')).toBe(true);
  });

  it('answers two selections of one page with different fields, each from its own statement', async () => {
    const { data, statements } = await history(
      '{ integrations(first: 1) { edges { node { ' +
        'a: healthChecks(first: 3) { edges { node { id ok } } } b: healthChecks(first: 3) { edges { node { id missingScopes } } } } } } }',
    );
    expect(statements).toHaveLength(2);
    const node = data.integrations.edges[0].node;
    const whole = await wholeChecks(node.a.edges.map((e: any) => e.node.id));
    expect(node.a.edges.map((e: any) => e.node)).toEqual(whole.map(({ id, ok }: any) => ({ id, ok })));
    expect(node.b.edges.map((e: any) => e.node)).toEqual(whole.map(({ id, missingScopes }: any) => ({ id, missingScopes })));
  });
});
