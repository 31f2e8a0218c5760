import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '../src/db/database.js';
import { encodeGlobalID, type NodeTypeName } from '../src/graphql/global-id.js';
import { findApiKeyRow, insertHealthChecks, insertIntegration, type OrgFixture } from './support/fixtures.js';
import { createTestGateway, type TestGateway } from './support/gateway.js';

const ROLES: Role[] = ['VIEWER', 'EDITOR', 'ADMIN'];

interface Tenant {
  fixture: OrgFixture;
  integrations: string[];
  checks: string[];
  /** Global IDs of one object of each node type, all belonging to this tenant. */
  nodes: Record<NodeTypeName, string>;
}

let gateway: TestGateway;
let a: Tenant;
let b: Tenant;

async function tenant(fixture: OrgFixture, provider: string, names: string[]): Promise<Tenant> {
  const orgId = fixture.organization.id;
  const integrations: string[] = [];
  const checks: string[] = [];
  for (const [i, displayName] of names.entries()) {
    const { id } = await insertIntegration(gateway.db, orgId, { provider, displayName, lastCheckAt: new Date(), health: 'HEALTHY' });
    integrations.push(id);
    checks.push(...(await insertHealthChecks(gateway.db, orgId, id, 3 + i)));
  }
  const adminKey = await findApiKeyRow(gateway.db, fixture.keys.ADMIN);
  const endpoint = await gateway.db
    .insertInto('webhook_endpoints')
    .values({ organization_id: orgId, url: 'https://hooks.example.com/in' })
    .returning('id')
    .executeTakeFirstOrThrow();
  const delivery = await gateway.db
    .insertInto('webhook_deliveries')
    .values({
      organization_id: orgId,
      endpoint_id: endpoint.id,
      message_id: 'msg_test_tenancy',
      event_type: 'webhook_endpoint.test',
      kind: 'TEST',
      subject_key: 'msg_test_tenancy',
      position: 0,
      payload: '{}',
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return {
    fixture,
    integrations,
    checks,
    nodes: {
      Integration: encodeGlobalID('Integration', integrations[0] as string),
      HealthCheck: encodeGlobalID('HealthCheck', checks[0] as string),
      Organization: encodeGlobalID('Organization', orgId),
      ApiKey: encodeGlobalID('ApiKey', adminKey.id),
      WebhookEndpoint: encodeGlobalID('WebhookEndpoint', endpoint.id),
      WebhookDelivery: encodeGlobalID('WebhookDelivery', delivery.id),
    },
  };
}

beforeAll(async () => {
  gateway = await createTestGateway({ world: true });
  const { acme, globex } = gateway.world;
  a = await tenant(acme, 'github', ['Acme GitHub', 'Acme GitLab']);
  b = await tenant(globex, 'jira', ['Globex Jira', 'Globex Jira staging', 'Globex Secret']);
});
afterAll(() => gateway.close());

const TYPES: NodeTypeName[] = ['Integration', 'HealthCheck', 'Organization', 'ApiKey', 'WebhookEndpoint', 'WebhookDelivery'];
/** Types only ADMIN keys see (apart from a key's own ApiKey). */
const ADMIN_ONLY: NodeTypeName[] = ['ApiKey', 'WebhookEndpoint', 'WebhookDelivery'];
const missing = (type: NodeTypeName) => encodeGlobalID(type, randomUUID());
const global = (type: NodeTypeName, ids: string[]) => ids.map((id) => encodeGlobalID(type, id));

describe.each(ROLES)("organization A's %s key", (role) => {
  const ask = (query: string, variables?: Record<string, unknown>) => gateway.graphql(a.fixture.keys[role], query, variables);

  it("lists and counts only A's integrations, whatever the filter or direction", async () => {
    const queries = [
      '{ integrations(first: 100) { totalCount edges { node { id } } } }',
      '{ integrations(last: 100, orderBy: { field: DISPLAY_NAME, direction: DESC }) { totalCount edges { node { id } } } }',
      '{ integrations(first: 100, filter: { statuses: [ACTIVE, REVOKED, ERROR, NEEDS_REAUTH, PENDING_AUTHORIZATION] }) ' +
        '{ totalCount edges { node { id } } } }',
    ];
    for (const query of queries) {
      const res = await ask(query);
      expect(res.body.errors, query).toBeUndefined();
      const ids = res.body.data.integrations.edges.map((edge: { node: { id: string } }) => edge.node.id);
      expect(ids.sort(), query).toEqual(global('Integration', a.integrations).sort());
      expect(res.body.data.integrations.totalCount).toBe(a.integrations.length);
    }
    for (const filter of [{ search: 'Globex' }, { providers: ['jira'] }, { search: 'Secret' }]) {
      const res = await ask('query($f: IntegrationFilter) { integrations(first: 100, filter: $f) { totalCount edges { node { id } } } }', {
        f: filter,
      });
      expect(res.body.data.integrations, JSON.stringify(filter)).toEqual({ totalCount: 0, edges: [] });
    }
  });

  it("answers integration(id) for B's integration exactly as for a missing one", async () => {
    const query = 'query($id: ID!) { integration(id: $id) { id displayName } }';
    const foreign = await ask(query, { id: b.nodes.Integration });
    expect(foreign.body).toEqual({ data: { integration: null }, extensions: { cost: expect.anything() } });
    expect(foreign.body).toEqual((await ask(query, { id: missing('Integration') })).body);
    const own = await ask(query, { id: a.nodes.Integration });
    expect(own.body.data.integration).toEqual({ id: a.nodes.Integration, displayName: 'Acme GitHub' });
  });

  it.each(TYPES)("answers node(id) for B's %s exactly as for a missing one", async (type) => {
    const query = 'query($id: ID!) { node(id: $id) { __typename id } }';
    const foreign = await ask(query, { id: b.nodes[type] });
    expect(foreign.status).toBe(200);
    expect(foreign.body).toEqual({ data: { node: null }, extensions: { cost: expect.anything() } });
    expect(foreign.body).toEqual((await ask(query, { id: missing(type) })).body);
    if (!ADMIN_ONLY.includes(type) || role === 'ADMIN') {
      expect((await ask(query, { id: a.nodes[type] })).body.data.node).toEqual({ __typename: type, id: a.nodes[type] });
    }
  });

  it("answers nodes(ids) with null in B's positions and A's objects in A's", async () => {
    const ids = TYPES.flatMap((type) => [a.nodes[type], b.nodes[type]]);
    const res = await ask('query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }', { ids });
    expect(res.body.errors).toBeUndefined();
    const expected = TYPES.flatMap((type) => [
      ADMIN_ONLY.includes(type) && role !== 'ADMIN' ? null : { __typename: type, id: a.nodes[type] },
      null,
    ]);
    expect(res.body.data.nodes).toEqual(expected);
    const foreignOnly = await ask('query($ids: [ID!]!) { nodes(ids: $ids) { id } }', { ids: TYPES.map((type) => b.nodes[type]) });
    const missingOnly = await ask('query($ids: [ID!]!) { nodes(ids: $ids) { id } }', { ids: TYPES.map(missing) });
    expect(foreignOnly.body).toEqual(missingOnly.body);
  });

  it("shows only A's health checks, on every path to an integration", async () => {
    const history = 'healthChecks(first: 100) { edges { node { id } } }';
    const list = await ask(`{ integrations(first: 100) { edges { node { ${history} } } } }`);
    const byNode = await ask(`query($ids: [ID!]!) { nodes(ids: $ids) { ... on Integration { ${history} } } }`, {
      ids: global('Integration', a.integrations),
    });
    const single = await ask(`query($id: ID!) { integration(id: $id) { ${history} } }`, { id: a.nodes.Integration });
    const checkIds = (integration: { healthChecks: { edges: { node: { id: string } }[] } }) =>
      integration.healthChecks.edges.map((edge) => edge.node.id);
    const listed = list.body.data.integrations.edges.flatMap((edge: any) => checkIds(edge.node));
    const noded = byNode.body.data.nodes.flatMap(checkIds);
    expect(listed.sort()).toEqual(global('HealthCheck', a.checks).sort());
    expect(noded.sort()).toEqual(listed);
    expect(checkIds(single.body.data.integration).length).toBe(3);
    for (const id of global('HealthCheck', b.checks)) expect([...listed, ...checkIds(single.body.data.integration)]).not.toContain(id);
  });

  it('sees its own organization as the viewer', async () => {
    const res = await ask('{ viewer { organization { id slug } } }');
    expect(res.body.data.viewer.organization).toEqual({ id: a.nodes.Organization, slug: 'acme' });
  });
});

describe('API keys across organizations', () => {
  it("apiKeys lists only A's keys", async () => {
    const res = await gateway.graphql(a.fixture.keys.ADMIN, '{ apiKeys(includeRevoked: true) { id } }');
    const rows = await gateway.db.selectFrom('api_keys').select('id').where('organization_id', '=', a.fixture.organization.id).execute();
    expect(res.body.data.apiKeys.map((key: { id: string }) => key.id).sort()).toEqual(
      global(
        'ApiKey',
        rows.map((row) => row.id),
      ).sort(),
    );
    expect(rows.length).toBe(3);
    const everything = await gateway.db.selectFrom('api_keys').select('id').execute();
    expect(everything.length).toBeGreaterThan(rows.length);
  });

  it("revokeApiKey on B's key is NOT_FOUND, indistinguishable from a missing key, and B's key keeps working", async () => {
    const revoke = 'mutation($id: ID!) { revokeApiKey(input: { id: $id }) { apiKey { id } userErrors { code field message } } }';
    for (const key of ROLES.map((role) => b.fixture.keys[role])) {
      const id = encodeGlobalID('ApiKey', (await findApiKeyRow(gateway.db, key)).id);
      const foreign = await gateway.graphql(a.fixture.keys.ADMIN, revoke, { id });
      expect(foreign.body.data.revokeApiKey).toEqual({
        apiKey: null,
        userErrors: [{ code: 'NOT_FOUND', field: ['input', 'id'], message: expect.any(String) }],
      });
      expect(foreign.body).toEqual((await gateway.graphql(a.fixture.keys.ADMIN, revoke, { id: missing('ApiKey') })).body);
      expect((await findApiKeyRow(gateway.db, key)).revoked_at).toBeNull();
      const stillWorks = await gateway.graphql(key, '{ viewer { organization { slug } } }');
      expect(stillWorks.status).toBe(200);
      expect(stillWorks.body.data.viewer.organization.slug).toBe('globex');
    }
  });

  it("B's keys see B's world, not A's", async () => {
    const res = await gateway.graphql(
      b.fixture.keys.ADMIN,
      'query($ids: [ID!]!) { integrations(first: 100) { totalCount } nodes(ids: $ids) { id } }',
      { ids: TYPES.map((type) => a.nodes[type]) },
    );
    expect(res.body.data).toEqual({ integrations: { totalCount: b.integrations.length }, nodes: TYPES.map(() => null) });
  });
});
