import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '../src/db/database.js';
import { encodeGlobalID } from '../src/graphql/global-id.js';
import { issueApiKey } from '../src/modules/api-key/api-key.service.js';
import { countApiKeys, findApiKeyRow, insertIntegration, keyPrefix, type OrgFixture } from './support/fixtures.js';
import { createTestGateway, type TestGateway } from './support/gateway.js';

const CREATE = `mutation($input: CreateApiKeyInput!) {
  createApiKey(input: $input) { key apiKey { id name role prefix revokedAt } userErrors { code field message } }
}`;
const REVOKE = `mutation($id: ID!) {
  revokeApiKey(input: { id: $id }) { apiKey { id prefix revokedAt } userErrors { code field message } }
}`;
const API_KEYS = 'query($all: Boolean) { apiKeys(includeRevoked: $all) { id name role prefix revokedAt } }';

let gateway: TestGateway;
let org: OrgFixture;
let other: OrgFixture;

beforeAll(async () => {
  gateway = await createTestGateway({ world: true });
  ({ acme: org, globex: other } = gateway.world);
  await insertIntegration(gateway.db, org.organization.id, { displayName: 'Acme GitHub' });
});
afterAll(() => gateway.close());

const idOf = async (key: string) => encodeGlobalID('ApiKey', (await findApiKeyRow(gateway.db, key)).id);
const whoAmI = async (key: string) => gateway.graphql(key, '{ viewer { role } }');

async function newKey(role: Role = 'VIEWER') {
  const issued = await issueApiKey(gateway.db, { organizationId: org.organization.id, role });
  return { secret: issued.secret, id: encodeGlobalID('ApiKey', issued.apiKey.id) };
}

describe('reading', () => {
  it.each(['VIEWER', 'EDITOR', 'ADMIN'] as Role[])('%s reads integrations and the catalog', async (role) => {
    const res = await gateway.graphql(
      org.keys[role],
      '{ integrations(first: 10) { totalCount edges { node { displayName } } } providers { key } }',
    );
    expect(res.status).toBe(200);
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data.integrations).toEqual({ totalCount: 1, edges: [{ node: { displayName: 'Acme GitHub' } }] });
    expect(res.body.data.providers.length).toBeGreaterThan(0);
  });

  it('a non-admin key sees itself through node(id), but no other key', async () => {
    const own = await idOf(org.keys.VIEWER);
    const admins = await idOf(org.keys.ADMIN);
    const query = 'query($ids: [ID!]!) { nodes(ids: $ids) { id ... on ApiKey { role } } }';
    for (const role of ['VIEWER', 'EDITOR'] as const) {
      const res = await gateway.graphql(org.keys[role], query, { ids: [await idOf(org.keys[role]), admins] });
      expect(res.body.data.nodes).toEqual([{ id: await idOf(org.keys[role]), role }, null]);
    }
    const res = await gateway.graphql(org.keys.ADMIN, query, { ids: [own, admins] });
    expect(res.body.data.nodes).toEqual([
      { id: own, role: 'VIEWER' },
      { id: admins, role: 'ADMIN' },
    ]);
  });
});

describe('key management requires ADMIN', () => {
  it.each(['VIEWER', 'EDITOR'] as Role[])(
    '%s gets FORBIDDEN from apiKeys, createApiKey and revokeApiKey, and nothing changes',
    async (role) => {
      const target = await newKey();
      const before = await countApiKeys(gateway.db);
      const attempts = [
        await gateway.graphql(org.keys[role], API_KEYS),
        await gateway.graphql(org.keys[role], CREATE, { input: { role: 'ADMIN', name: 'escalation' } }),
        await gateway.graphql(org.keys[role], REVOKE, { id: target.id }),
        await gateway.graphql(org.keys[role], REVOKE, { id: await idOf(org.keys.ADMIN) }),
      ];
      for (const res of attempts) {
        expect(res.status).toBe(200);
        expect(res.body.data).toBeNull();
        expect(res.body.errors).toHaveLength(1);
        expect(res.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
        expect(JSON.stringify(res.body)).not.toMatch(/igw_/);
      }
      expect(await countApiKeys(gateway.db)).toBe(before);
      expect((await findApiKeyRow(gateway.db, target.secret)).revoked_at).toBeNull();
      expect((await findApiKeyRow(gateway.db, org.keys.ADMIN)).revoked_at).toBeNull();
      expect((await whoAmI(target.secret)).status).toBe(200);
      expect((await whoAmI(org.keys.ADMIN)).status).toBe(200);
    },
  );
});

describe('ADMIN manages keys', () => {
  it.each(['VIEWER', 'EDITOR', 'ADMIN'] as Role[])('createApiKey returns a working %s key once', async (role) => {
    const before = await countApiKeys(gateway.db, org.organization.id);
    const res = await gateway.graphql(org.keys.ADMIN, CREATE, { input: { role, name: `  ci ${role}  ` } });
    expect(res.body.errors).toBeUndefined();
    const { key, apiKey, userErrors } = res.body.data.createApiKey;
    expect(userErrors).toEqual([]);
    expect(key).toMatch(/^igw_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    expect(apiKey).toEqual({ id: expect.any(String), name: `ci ${role}`, role, prefix: keyPrefix(key), revokedAt: null });
    expect(await countApiKeys(gateway.db, org.organization.id)).toBe(before + 1);

    const me = await gateway.graphql(key, '{ viewer { role organization { slug } apiKey { id } } }');
    expect(me.body.data.viewer).toEqual({ role, organization: { slug: 'acme' }, apiKey: { id: apiKey.id } });

    const listed = await gateway.graphql(org.keys.ADMIN, API_KEYS);
    expect(listed.body.data.apiKeys).toContainEqual({ id: apiKey.id, name: `ci ${role}`, role, prefix: keyPrefix(key), revokedAt: null });
    expect(JSON.stringify(listed.body)).not.toContain(key);
    const row = await findApiKeyRow(gateway.db, key);
    expect(JSON.stringify(row)).not.toContain(key.slice(17));
  });

  it('names a key after its role when no name is given', async () => {
    const res = await gateway.graphql(org.keys.ADMIN, CREATE, { input: { role: 'EDITOR' } });
    expect(res.body.data.createApiKey.apiKey.name).toBe('editor key');
  });

  it('refuses a name over 200 characters with a VALIDATION userError and creates nothing', async () => {
    const before = await countApiKeys(gateway.db);
    const res = await gateway.graphql(org.keys.ADMIN, CREATE, { input: { role: 'ADMIN', name: 'n'.repeat(201) } });
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data.createApiKey).toEqual({
      key: null,
      apiKey: null,
      userErrors: [{ code: 'VALIDATION', field: ['input', 'name'], message: expect.any(String) }],
    });
    expect(await countApiKeys(gateway.db)).toBe(before);
    const exact = await gateway.graphql(org.keys.ADMIN, CREATE, { input: { role: 'VIEWER', name: 'n'.repeat(200) } });
    expect(exact.body.data.createApiKey.userErrors).toEqual([]);
  });

  it('refuses an unknown role as a GraphQL validation error', async () => {
    const before = await countApiKeys(gateway.db);
    const res = await gateway.graphql(org.keys.ADMIN, CREATE, { input: { role: 'OWNER' } });
    expect(res.body.data).toBeUndefined();
    expect(res.body.errors?.length).toBeGreaterThan(0);
    expect(await countApiKeys(gateway.db)).toBe(before);
  });

  it('revokeApiKey shuts the key out at once, and a second revocation is ALREADY_REVOKED', async () => {
    const target = await newKey('EDITOR');
    expect((await whoAmI(target.secret)).status).toBe(200);
    const res = await gateway.graphql(org.keys.ADMIN, REVOKE, { id: target.id });
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data.revokeApiKey).toEqual({
      apiKey: { id: target.id, prefix: keyPrefix(target.secret), revokedAt: expect.any(String) },
      userErrors: [],
    });
    const refused = await whoAmI(target.secret);
    expect(refused.status).toBe(401);
    expect(refused.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');

    const again = await gateway.graphql(org.keys.ADMIN, REVOKE, { id: target.id });
    expect(again.body.data.revokeApiKey).toEqual({
      apiKey: null,
      userErrors: [{ code: 'ALREADY_REVOKED', field: ['input', 'id'], message: expect.any(String) }],
    });
    const active = await gateway.graphql(org.keys.ADMIN, API_KEYS);
    expect(active.body.data.apiKeys.map((key: { id: string }) => key.id)).not.toContain(target.id);
    const all = await gateway.graphql(org.keys.ADMIN, API_KEYS, { all: true });
    expect(all.body.data.apiKeys).toContainEqual(expect.objectContaining({ id: target.id, revokedAt: expect.any(String) }));
  });

  it("an unknown key id or another organization's key is NOT_FOUND and changes nothing", async () => {
    const foreign = await idOf(other.keys.ADMIN);
    for (const id of [encodeGlobalID('ApiKey', randomUUID()), foreign]) {
      const res = await gateway.graphql(org.keys.ADMIN, REVOKE, { id });
      expect(res.body.data.revokeApiKey).toEqual({
        apiKey: null,
        userErrors: [{ code: 'NOT_FOUND', field: ['input', 'id'], message: expect.any(String) }],
      });
    }
    expect((await findApiKeyRow(gateway.db, other.keys.ADMIN)).revoked_at).toBeNull();
    expect((await whoAmI(other.keys.ADMIN)).status).toBe(200);
  });

  it('a malformed id, or the id of another type, is an INVALID_ID error', async () => {
    const before = await countApiKeys(gateway.db);
    const integration = encodeGlobalID('Integration', randomUUID());
    for (const id of ['nope', 'QXBpS2V5Om5vdC1hLXV1aWQ', integration, (await findApiKeyRow(gateway.db, org.keys.VIEWER)).id]) {
      const res = await gateway.graphql(org.keys.ADMIN, REVOKE, { id });
      expect(res.body.data, id).toBeNull();
      expect(res.body.errors?.[0]?.extensions?.code, id).toBe('INVALID_ID');
      expect(res.body.errors?.[0]?.path).toEqual(['revokeApiKey']);
    }
    expect(await countApiKeys(gateway.db)).toBe(before);
    expect((await whoAmI(org.keys.VIEWER)).status).toBe(200);
  });

  it('an ADMIN may revoke its own key, after which it is refused', async () => {
    const self = await newKey('ADMIN');
    const res = await gateway.graphql(self.secret, REVOKE, { id: self.id });
    expect(res.body.data.revokeApiKey.userErrors).toEqual([]);
    expect((await whoAmI(self.secret)).status).toBe(401);
  });
});
