import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestGateway, type TestGateway } from './support/gateway.js';
import { CONNECT, CONNECTING_GATEWAY, REFRESH, RETURN_URL, REVOKE, TEST } from './support/integration-flows.js';
import { sendGraphQL } from './support/request.js';

let gw: TestGateway;
let tokenId: string;
let oauthId: string;

beforeAll(async () => {
  gw = await createTestGateway(CONNECTING_GATEWAY);
  tokenId = (await gw.connect('github', 'API_TOKEN')).body.data.connectIntegration.integration.id;
  oauthId = await gw.connectOAuth('gitlab');
  await gw.graphql(gw.world.acme.keys.EDITOR, REFRESH, {
    input: { id: tokenId, webhook: { url: 'https://hooks.example.com/a', enabled: true, rotateSecret: true } },
  });
});
afterAll(() => gw.close());

/** Everything a mutation could change: every row of every table it writes, and the provider's call log. */
async function snapshot() {
  const [integrations, events, checks, states] = await Promise.all([
    gw.db.selectFrom('integrations').selectAll().orderBy('id').execute(),
    gw.db.selectFrom('integration_events').select('id').execute(),
    gw.db.selectFrom('integration_health_checks').select('id').execute(),
    gw.db.selectFrom('oauth_states').selectAll().orderBy('state_hash').execute(),
  ]);
  return { integrations, events: events.length, checks: checks.length, states, providerCalls: gw.fake.store.calls.length };
}

/** Every mutation, with every option, aimed at the given integrations. */
function attempts(ids: { token: string; oauth: string }) {
  const connect = { provider: 'github', authKind: 'API_TOKEN', displayName: 'x', credentials: { token: gw.fake.issueApiToken('github') } };
  return [
    ['connect with a token', CONNECT, connect],
    ['connect with OAuth2', CONNECT, { provider: 'gitlab', authKind: 'OAUTH2', displayName: 'x', oauth2: { returnUrl: RETURN_URL } }],
    ['reconnect', CONNECT, { ...connect, integrationId: ids.token }],
    [
      'reconnect with OAuth2',
      CONNECT,
      { provider: 'gitlab', authKind: 'OAUTH2', displayName: 'x', oauth2: { returnUrl: RETURN_URL }, integrationId: ids.oauth },
    ],
    ['refresh tokens', REFRESH, { id: ids.oauth, refreshTokens: true }],
    ['replace a credential', REFRESH, { id: ids.token, credentials: { token: gw.fake.issueApiToken('github') } }],
    ['rotate the webhook secret', REFRESH, { id: ids.token, webhook: { rotateSecret: true, enabled: false } }],
    ['test', TEST, { id: ids.token }],
    ['test with OAuth2', TEST, { id: ids.oauth }],
    ['revoke', REVOKE, { id: ids.token }],
    ['revoke with OAuth2', REVOKE, { id: ids.oauth }],
  ] as const;
}

describe('roles', () => {
  it('a VIEWER gets FORBIDDEN from every mutation, and nothing changes anywhere', async () => {
    const before = await snapshot();
    for (const [name, query, input] of attempts({ token: tokenId, oauth: oauthId })) {
      const res = await gw.graphql(gw.world.acme.keys.VIEWER, query, { input });
      expect(res.status, name).toBe(200);
      expect(res.body.data, name).toBeNull();
      expect(
        res.body.errors?.map((error: { extensions?: { code?: string } }) => error.extensions?.code),
        name,
      ).toEqual(['FORBIDDEN']);
    }
    expect(await snapshot()).toEqual(before);
  });

  it('without an API key every mutation is HTTP 401 and changes nothing', async () => {
    const before = await snapshot();
    for (const [name, query, input] of attempts({ token: tokenId, oauth: oauthId })) {
      const response = await sendGraphQL(gw, { key: null, query, variables: { input }, headers: { accept: null } });
      expect(response.status, name).toBe(401);
    }
    expect(await snapshot()).toEqual(before);
  });

  describe('a document with a field the role does not allow', () => {
    const TEST_FIELDS = 'healthCheck { ok } userErrors { code }';
    const KEY_FIELDS = 'key userErrors { code }';
    const TEST_A = `a: testIntegration(input: {id: $id}) { ${TEST_FIELDS} }`;
    const KEY_B = `b: createApiKey(input: {role: VIEWER}) { ${KEY_FIELDS} }`;
    const documents = {
      'fields side by side': `mutation($id: ID!) { ${TEST_A} ${KEY_B} }`,
      'the forbidden field first': `mutation($id: ID!) { ${KEY_B} ${TEST_A} }`,
      'the forbidden field in a fragment': `mutation($id: ID!) { ${TEST_A} ...Keys } fragment Keys on Mutation { ${KEY_B} }`,
      'the forbidden field in an inline fragment': `mutation($id: ID!) { ${TEST_A} ... on Mutation { ... { ${KEY_B} } } }`,
    };

    it.each(Object.entries(documents))('an EDITOR gets FORBIDDEN for the whole operation, and nothing runs: %s', async (_name, query) => {
      const before = await snapshot();
      const keysBefore = await gw.db.selectFrom('api_keys').select('id').orderBy('id').execute();
      const res = await gw.graphql(gw.world.acme.keys.EDITOR, query, { id: tokenId });
      // No health check, no event, no provider call, no key.
      expect(await snapshot()).toEqual(before);
      expect(await gw.db.selectFrom('api_keys').select('id').orderBy('id').execute()).toEqual(keysBefore);
      expect(res.status).toBe(200);
      expect(res.body.data).toBeNull();
      expect(res.body.errors).toEqual([
        { message: "Your API key's role does not allow this operation.", path: ['b'], extensions: { code: 'FORBIDDEN' } },
      ]);
    });

    it('with an Idempotency-Key, the key stays free and stores nothing', async () => {
      const before = await snapshot();
      const key = randomUUID();
      const body = { query: documents['fields side by side'], variables: { id: tokenId } };
      for (let attempt = 0; attempt < 2; attempt += 1) {
        const res = await sendGraphQL(gw, { key: gw.world.acme.keys.EDITOR, ...body, headers: { 'idempotency-key': key } });
        expect(res.body.errors?.map((error: { extensions?: { code?: string } }) => error.extensions?.code)).toEqual(['FORBIDDEN']);
        expect(res.headers.get('idempotent-replayed')).toBeNull();
      }
      expect(await gw.db.selectFrom('idempotency_keys').selectAll().where('key', '=', key).execute()).toEqual([]);
      expect(await snapshot()).toEqual(before);
    });

    it('a field left out by @skip or @include is not refused, and the rest runs', async () => {
      const query =
        `mutation($id: ID!, $admin: Boolean!) { ${TEST_A} ` +
        `b: createApiKey(input: {role: VIEWER}) @include(if: $admin) { ${KEY_FIELDS} } }`;
      const res = await gw.graphql(gw.world.acme.keys.EDITOR, query, { id: tokenId, admin: false });
      expect(res.body.errors).toBeUndefined();
      expect(res.body.data).toEqual({ a: { healthCheck: { ok: true }, userErrors: [] } });
    });

    it('an ADMIN runs the same document whole', async () => {
      const res = await gw.graphql(gw.world.acme.keys.ADMIN, documents['fields side by side'], { id: tokenId });
      expect(res.body.errors).toBeUndefined();
      expect(res.body.data.a).toEqual({ healthCheck: { ok: true }, userErrors: [] });
      expect(res.body.data.b).toEqual({ key: expect.stringMatching(/^igw_/), userErrors: [] });
    });
  });

  it('an ADMIN may do what an EDITOR may', async () => {
    const res = await gw.graphql(gw.world.acme.keys.ADMIN, TEST, { input: { id: tokenId } });
    expect(res.body.data.testIntegration.userErrors).toEqual([]);
    expect(res.body.data.testIntegration.healthCheck.ok).toBe(true);
  });
});

describe('tenant isolation', () => {
  it("another organization's EDITOR gets NOT_FOUND for every mutation on our integrations, and nothing changes", async () => {
    const before = await snapshot();
    for (const [name, query, input] of attempts({ token: tokenId, oauth: oauthId })) {
      if (!('id' in input) && !('integrationId' in input)) continue;
      const res = await gw.graphql(gw.world.globex.keys.EDITOR, query, { input });
      expect(res.body.errors, name).toBeUndefined();
      const payload = Object.values(res.body.data)[0] as { integration: unknown; userErrors: { code: string; field: string[] }[] };
      expect(payload.integration, name).toBeNull();
      expect(
        payload.userErrors.map((error) => error.code),
        name,
      ).toEqual(['NOT_FOUND']);
    }
    expect(await snapshot()).toEqual(before);
  });

  it('our integrations are invisible to them, and theirs to us', async () => {
    const theirs = (
      await gw.graphql(gw.world.globex.keys.EDITOR, CONNECT, {
        input: { provider: 'slack', authKind: 'API_TOKEN', displayName: 'theirs', credentials: { token: gw.fake.issueApiToken('slack') } },
      })
    ).body.data.connectIntegration.integration.id;
    const read = 'query($ids: [ID!]!) { nodes(ids: $ids) { id } integrations(first: 50) { edges { node { id } } } }';
    const ours = await gw.graphql(gw.world.acme.keys.VIEWER, read, { ids: [tokenId, theirs] });
    expect(ours.body.data.nodes).toEqual([{ id: tokenId }, null]);
    expect(ours.body.data.integrations.edges.map((edge: any) => edge.node.id)).not.toContain(theirs);
    const them = await gw.graphql(gw.world.globex.keys.VIEWER, read, { ids: [tokenId, oauthId, theirs] });
    expect(them.body.data.nodes).toEqual([null, null, { id: theirs }]);
    expect(them.body.data.integrations.edges).toEqual([{ node: { id: theirs } }]);
  });

  it('after all that, our integrations still work', async () => {
    for (const id of [tokenId, oauthId]) {
      const res = await gw.graphql(gw.world.acme.keys.EDITOR, TEST, { input: { id } });
      expect(res.body.data.testIntegration.integration).toMatchObject({ status: 'ACTIVE', health: 'HEALTHY' });
    }
  });
});
