import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertIntegrations } from './support/fixtures.js';
import { createTestGateway, type TestGateway } from './support/gateway.js';

// A page whose nodes ask only for summary fields loads only the summary columns (a performance
// choice, see BENCHMARKS.md); any other field must still get its real value, however it is selected.
let gateway: TestGateway;
let key: string;

beforeAll(async () => {
  gateway = await createTestGateway({ world: true });
  const org = gateway.world.acme;
  key = org.keys.VIEWER;
  await insertIntegrations(gateway.db, org.organization.id, 3, (i) => ({
    displayName: `Columns ${i}`,
    requestedScopes: ['repo', 'read:org'],
    grantedScopes: ['repo'],
    createdAt: new Date(Date.parse('2026-01-01T00:00:00Z') + i * 1000),
  }));
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
