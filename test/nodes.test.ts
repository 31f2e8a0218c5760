import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeGlobalID } from '../src/graphql/global-id.js';
import { insertHealthChecks, insertIntegration, type OrgFixture } from './support/fixtures.js';
import { createTestGateway, type GraphQLAnswer, type TestGateway } from './support/gateway.js';

const NODE = `query($id: ID!) { node(id: $id) {
  __typename id
  ... on Integration { displayName }
  ... on HealthCheck { ok checkedAt }
  ... on Organization { slug }
  ... on ApiKey { role prefix }
} }`;
const NODES = 'query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }';
const MISSING_UUID = '00000000-0000-4000-8000-000000000000';
const b64 = (text: string) => Buffer.from(text).toString('base64url');

let gateway: TestGateway;
let org: OrgFixture;
let other: OrgFixture;
let integration: { id: string; globalId: string };
let foreignIntegration: { id: string; globalId: string };
let checkIds: string[];
const checksEndAt = new Date('2026-05-01T12:00:00.000Z');
const created = new Date('2026-04-01T08:30:00.123Z');
/** Global IDs of org's keys, by role. */
const keyIds: Record<string, string> = {};

beforeAll(async () => {
  gateway = await createTestGateway({ world: true });
  ({ acme: org, globex: other } = gateway.world);
  integration = await insertIntegration(gateway.db, org.organization.id, {
    provider: 'gitlab',
    displayName: 'GitLab main',
    health: 'HEALTHY',
    lastCheckAt: checksEndAt,
    requestedScopes: ['read_api', 'read_user', 'api'],
    grantedScopes: ['read_api'],
    createdAt: created,
    lastSync: {
      status: 'FAILED',
      startedAt: new Date('2026-04-30T00:00:00Z'),
      finishedAt: new Date('2026-04-30T00:02:00Z'),
      error: 'rate limited',
    },
  });
  await gateway.db
    .updateTable('integrations')
    .set({
      webhook_url: 'https://hooks.example.test/in',
      webhook_events: ['push', 'merge_request'],
      webhook_enabled: true,
      webhook_secret_rotated_at: created,
    })
    .where('id', '=', integration.id)
    .execute();
  checkIds = await insertHealthChecks(gateway.db, org.organization.id, integration.id, 12, checksEndAt);
  foreignIntegration = await insertIntegration(gateway.db, other.organization.id, { displayName: 'Not yours' });
  for (const role of ['VIEWER', 'EDITOR', 'ADMIN'] as const) {
    keyIds[role] = (await gateway.graphql(org.keys[role], '{ viewer { apiKey { id } } }')).body.data.viewer.apiKey.id;
  }
});
afterAll(() => gateway?.close());

async function node(id: string, as = org.keys.VIEWER) {
  const res = await gateway.graphql(as, NODE, { id });
  expect(res.status).toBe(200);
  expect(res.body.errors).toBeUndefined();
  return res.body.data.node;
}

async function expectIdError(query: string, variables: Record<string, unknown>, code: string, field: string) {
  const res = await gateway.graphql(org.keys.VIEWER, query, variables);
  expect(res.status).toBe(200);
  expect(res.body.errors).toHaveLength(1);
  const [error] = res.body.errors!;
  expect(error!.extensions?.code).toBe(code);
  expect(error!.path).toEqual([field]);
  expect(error!.message).not.toMatch(/unexpected/i);
  expect(res.body.data?.[field] ?? null).toBeNull();
  return error!;
}

describe('node(id)', () => {
  it('resolves an Integration, a HealthCheck and the own Organization with the right __typename', async () => {
    expect(await node(integration.globalId)).toEqual({ __typename: 'Integration', id: integration.globalId, displayName: 'GitLab main' });
    const checkId = encodeGlobalID('HealthCheck', checkIds[11]!);
    expect(await node(checkId)).toEqual({ __typename: 'HealthCheck', id: checkId, ok: true, checkedAt: checksEndAt.toISOString() });
    const orgId = encodeGlobalID('Organization', org.organization.id);
    expect(await node(orgId)).toEqual({ __typename: 'Organization', id: orgId, slug: 'acme' });
  });

  it("answers null for another organization's objects and for IDs that do not exist", async () => {
    expect(await node(foreignIntegration.globalId)).toBeNull();
    expect(await node(encodeGlobalID('Organization', other.organization.id))).toBeNull();
    expect(await node(encodeGlobalID('Integration', MISSING_UUID))).toBeNull();
    expect(await node(encodeGlobalID('HealthCheck', MISSING_UUID))).toBeNull();
  });

  it('shows a VIEWER its own API key but no other key', async () => {
    expect(await node(keyIds.VIEWER!)).toEqual({
      __typename: 'ApiKey',
      id: keyIds.VIEWER,
      role: 'VIEWER',
      prefix: org.keys.VIEWER.slice(0, 16),
    });
    expect(await node(keyIds.ADMIN!)).toBeNull();
    expect(await node(keyIds.VIEWER!, org.keys.EDITOR)).toBeNull();
  });

  it("shows an ADMIN every key of its organization, and no other organization's keys", async () => {
    expect(await node(keyIds.VIEWER!, org.keys.ADMIN)).toMatchObject({ __typename: 'ApiKey', role: 'VIEWER' });
    expect(await node(keyIds.EDITOR!, org.keys.ADMIN)).toMatchObject({ __typename: 'ApiKey', role: 'EDITOR' });
    const foreignKeyId = (await gateway.graphql(other.keys.VIEWER, '{ viewer { apiKey { id } } }')).body.data.viewer.apiKey.id;
    expect(await node(foreignKeyId, org.keys.ADMIN)).toBeNull();
  });

  it.each([
    ['garbage', 'garbage'],
    ['an empty string', ''],
    ['a non-UUID id', b64('Integration:not-a-uuid')],
    ['an unknown type name', b64(`Widget:${MISSING_UUID}`)],
    ['no type at all', b64(MISSING_UUID)],
  ])('refuses %s with INVALID_ID', async (_name, id) => {
    await expectIdError(NODE, { id }, 'INVALID_ID', 'node');
  });
});

describe('nodes(ids)', () => {
  it('keeps the order given, with null for IDs that do not exist or are not visible', async () => {
    const ids = [
      encodeGlobalID('HealthCheck', checkIds[0]!),
      encodeGlobalID('Integration', MISSING_UUID),
      integration.globalId,
      foreignIntegration.globalId,
      encodeGlobalID('Organization', org.organization.id),
      keyIds.VIEWER!,
      integration.globalId,
    ];
    const res = await gateway.graphql(org.keys.VIEWER, NODES, { ids });
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data.nodes.map((n: { __typename: string } | null) => n?.__typename ?? null)).toEqual([
      'HealthCheck',
      null,
      'Integration',
      null,
      'Organization',
      'ApiKey',
      'Integration',
    ]);
    expect(res.body.data.nodes[2].id).toBe(integration.globalId);
  });

  it('accepts 100 IDs and refuses 101 with TOO_MANY_IDS', async () => {
    const ids = Array.from({ length: 100 }, () => integration.globalId);
    const ok = await gateway.graphql(org.keys.VIEWER, NODES, { ids });
    expect(ok.body.errors).toBeUndefined();
    expect(ok.body.data.nodes).toHaveLength(100);
    const error = await expectIdError(NODES, { ids: [...ids, integration.globalId] }, 'TOO_MANY_IDS', 'nodes');
    expect(error.extensions?.limit).toBe(100);
  });

  it('refuses a list holding a malformed ID with INVALID_ID', async () => {
    await expectIdError(NODES, { ids: [integration.globalId, b64('Integration:not-a-uuid')] }, 'INVALID_ID', 'nodes');
    await expectIdError(NODES, { ids: ['%%%'] }, 'INVALID_ID', 'nodes');
  });
});

const INTEGRATION = `query($id: ID!, $after: String) { integration(id: $id) {
  id provider { key name } displayName health status
  lastHealthCheck { checkedAt ok latencyMs httpStatus message }
  lastSync { status startedAt finishedAt error }
  scopes grantedScopes missingScopes
  webhook { url events enabled secretRotatedAt }
  createdAt
  healthChecks(first: 5, after: $after) { edges { node { id checkedAt ok } } pageInfo { hasNextPage endCursor } }
} }`;

describe('integration(id)', () => {
  it('returns the integration with provider, health, sync, scopes, webhook and ISO timestamps', async () => {
    const res = await gateway.graphql(org.keys.VIEWER, INTEGRATION, { id: integration.globalId });
    expect(res.body.errors).toBeUndefined();
    const { healthChecks, ...fields } = res.body.data.integration;
    expect(fields).toEqual({
      id: integration.globalId,
      provider: { key: 'gitlab', name: 'GitLab' },
      displayName: 'GitLab main',
      health: 'HEALTHY',
      status: 'ACTIVE',
      lastHealthCheck: { checkedAt: checksEndAt.toISOString(), ok: true, latencyMs: 42, httpStatus: 200, message: 'ok' },
      lastSync: { status: 'FAILED', startedAt: '2026-04-30T00:00:00.000Z', finishedAt: '2026-04-30T00:02:00.000Z', error: 'rate limited' },
      scopes: ['read_api', 'read_user', 'api'],
      grantedScopes: ['read_api'],
      missingScopes: ['read_user', 'api'],
      webhook: {
        url: 'https://hooks.example.test/in',
        events: ['push', 'merge_request'],
        enabled: true,
        secretRotatedAt: created.toISOString(),
      },
      createdAt: '2026-04-01T08:30:00.123Z',
    });
    expect(healthChecks.edges).toHaveLength(5);
  });

  it('reports unknown grants as null with no missing scopes, and never-checked as null health summary', async () => {
    const bare = await insertIntegration(gateway.db, org.organization.id, { provider: 'legacy-tool', requestedScopes: ['a'] });
    const res = await gateway.graphql(org.keys.VIEWER, INTEGRATION, { id: bare.globalId });
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data.integration).toMatchObject({
      provider: { key: 'legacy-tool', name: 'legacy-tool' },
      health: 'UNKNOWN',
      lastHealthCheck: null,
      lastSync: null,
      grantedScopes: null,
      missingScopes: [],
      webhook: { url: null, events: [], enabled: false, secretRotatedAt: null },
      healthChecks: { edges: [], pageInfo: { hasNextPage: false, endCursor: null } },
    });
  });

  it('pages health checks newest first with first/after', async () => {
    const seen: string[] = [];
    const more: boolean[] = [];
    let after: string | null = null;
    do {
      const res: GraphQLAnswer = await gateway.graphql(org.keys.VIEWER, INTEGRATION, { id: integration.globalId, after });
      expect(res.body.errors).toBeUndefined();
      const page: { edges: { node: { id: string } }[]; pageInfo: { hasNextPage: boolean; endCursor: string } } =
        res.body.data.integration.healthChecks;
      seen.push(...page.edges.map((e) => e.node.id));
      more.push(page.pageInfo.hasNextPage);
      after = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null;
    } while (after);
    expect(more).toEqual([true, true, false]);
    expect(seen).toEqual([...checkIds].reverse().map((id) => encodeGlobalID('HealthCheck', id)));
  });

  it('refuses bad healthChecks arguments with their codes', async () => {
    const query = (args: string) =>
      `query($id: ID!${args.includes('$c') ? ', $c: String' : ''}) ` +
      `{ integration(id: $id) { healthChecks${args ? `(${args})` : ''} { edges { cursor } } } }`;
    const listCursor = (await gateway.graphql(org.keys.VIEWER, '{ integrations(first: 1) { pageInfo { endCursor } } }')).body.data
      .integrations.pageInfo.endCursor;
    for (const [args, code, c] of [
      ['', 'MISSING_PAGINATION_BOUNDARIES'],
      ['first: 101', 'EXCESSIVE_PAGINATION'],
      ['first: 0', 'INVALID_PAGINATION_ARGUMENTS'],
      ['first: 5, after: $c', 'INVALID_CURSOR', listCursor],
      ['first: 5, after: $c', 'INVALID_CURSOR', b64(JSON.stringify(['healthChecks', 'not a time', MISSING_UUID]))],
    ] as const) {
      const res = await gateway.graphql(
        org.keys.VIEWER,
        query(args),
        c === undefined ? { id: integration.globalId } : { id: integration.globalId, c },
      );
      expect(res.status).toBe(200);
      expect(res.body.errors?.[0]?.extensions?.code).toBe(code);
      expect(res.body.errors?.[0]?.path).toEqual(['integration', 'healthChecks']);
      expect(res.body.data).toEqual({ integration: null });
    }
  });

  it("refuses another type's ID with INVALID_ID and says what was expected", async () => {
    const error = await expectIdError(
      INTEGRATION,
      { id: encodeGlobalID('Organization', org.organization.id) },
      'INVALID_ID',
      'integration',
    );
    expect(error.message).toBe('Invalid ID: expected the ID of an Integration, got the ID of an Organization.');
    const fromCheck = await expectIdError(INTEGRATION, { id: encodeGlobalID('HealthCheck', checkIds[0]!) }, 'INVALID_ID', 'integration');
    expect(fromCheck.message).toContain('got the ID of a HealthCheck');
    await expectIdError(INTEGRATION, { id: 'garbage' }, 'INVALID_ID', 'integration');
  });

  it("answers null for a missing or another organization's integration", async () => {
    for (const id of [encodeGlobalID('Integration', MISSING_UUID), foreignIntegration.globalId]) {
      const res = await gateway.graphql(org.keys.VIEWER, INTEGRATION, { id });
      expect(res.body).toEqual({ data: { integration: null }, extensions: { cost: expect.anything() } });
    }
  });
});
