import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueApiKey, revokeApiKey } from '../src/modules/api-key/api-key.service.js';
import { keyPrefix, type OrgFixture } from './support/fixtures.js';
import { createTestGateway, type TestGateway } from './support/gateway.js';
import { sendGraphQL } from './support/request.js';

const CREATE = 'mutation Create($input: CreateApiKeyInput!) { createApiKey(input: $input) { apiKey { id name } userErrors { code } } }';
const _REVOKE = 'mutation Revoke($id: ID!) { revokeApiKey(input: { id: $id }) { apiKey { id } userErrors { code } } }';
const create = (name: string) => ({ input: { role: 'VIEWER', name } });

/** The authentication statement, with a claim riding in it. */
const claimsWithAuthentication = (text: string) => /from "?api_keys"?/i.test(text) && /insert into "?idempotency_keys"?/i.test(text);
const claimsAlone = (text: string) => !/api_keys/i.test(text) && /insert into "?idempotency_keys"?/i.test(text);
const releases = (text: string) => /delete from "?idempotency_keys"?/i.test(text);

describe('an Idempotency-Key claimed with authentication', () => {
  let gateway: TestGateway;
  let acme: OrgFixture;
  // A budget of 1,000 points a minute per API key, which the test spends.
  let limited: TestGateway;
  let limitedOrg: OrgFixture;

  beforeAll(async () => {
    gateway = await createTestGateway({ world: true });
    acme = gateway.world.acme;
    limited = await createTestGateway({ world: true, rateLimit: { apiKeyPoints: 1000 } });
    limitedOrg = limited.world.acme;
  });
  afterAll(async () => {
    await gateway.close();
    await limited.close();
  });

  const send = (target: TestGateway, apiKey: string, key: string | null, query: string, variables: Record<string, unknown>) =>
    sendGraphQL(target, { key: apiKey, query, variables, headers: key === null ? {} : { 'idempotency-key': key } });
  const keyRows = (target: TestGateway, key: string) =>
    target.db.selectFrom('idempotency_keys').selectAll().where('key', '=', key).execute();

  it('is claimed when the mutation runs the first time its document is seen, and with authentication after that', async () => {
    const query = `${CREATE} # ${randomUUID()}`;
    gateway.statements.reset();
    const first = await send(gateway, acme.keys.ADMIN, randomUUID(), query, create('first sight'));
    expect(first.body.data.createApiKey.apiKey.name).toBe('first sight');
    expect(gateway.statements.sql.filter(claimsAlone)).toHaveLength(1);
    expect(gateway.statements.sql.filter(claimsWithAuthentication)).toHaveLength(0);

    const key = randomUUID();
    gateway.statements.reset();
    const known = await send(gateway, acme.keys.ADMIN, key, query, create('known'));
    expect(known.body.data.createApiKey.apiKey.name).toBe('known');
    expect(gateway.statements.sql.filter(claimsWithAuthentication)).toHaveLength(1);
    expect(gateway.statements.sql.filter(claimsAlone)).toHaveLength(0);
    expect(await keyRows(gateway, key)).toEqual([expect.objectContaining({ state: 'COMPLETED', response_status: 200 })]);

    // Replayed and refused outcomes come from the same statement.
    gateway.statements.reset();
    const replay = await send(gateway, acme.keys.ADMIN, key, query, create('known'));
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body).toEqual(known.body);
    const reused = await send(gateway, acme.keys.ADMIN, key, query, create('something else'));
    expect(reused.status).toBe(422);
    expect(reused.body.errors[0].extensions.code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(gateway.statements.sql.filter(claimsAlone)).toHaveLength(0);
  });

  it('is never made for a wrong secret behind a real prefix, nor for a revoked key', async () => {
    await send(gateway, acme.keys.ADMIN, null, CREATE, create('warm'));
    const wrongSecret = `${keyPrefix(acme.keys.ADMIN)}_${'A'.repeat(43)}`;
    const key = randomUUID();
    const forged = await send(gateway, wrongSecret, key, CREATE, create('forged'));
    expect(forged.status).toBe(401);
    expect(await keyRows(gateway, key)).toEqual([]);

    const doomed = await issueApiKey(gateway.db, { organizationId: acme.organization.id, role: 'ADMIN' });
    await revokeApiKey(gateway.db, acme.organization.id, doomed.apiKey.id);
    const revoked = await send(gateway, doomed.secret, key, CREATE, create('revoked'));
    expect(revoked.status).toBe(401);
    expect(revoked.body.errors[0].message).toContain('revoked');
    expect(await keyRows(gateway, key)).toEqual([]);
  });

  it('is given up before the answer when the request is then refused, so that the key works once the request is fixed', async () => {
    await send(gateway, acme.keys.ADMIN, null, CREATE, create('warm'));
    const key = randomUUID();
    gateway.statements.reset();
    const invalid = await send(gateway, acme.keys.ADMIN, key, CREATE, { input: { role: 'SUPERUSER' } });
    expect(invalid.body.data).toBeUndefined();
    expect(gateway.statements.sql.filter(claimsWithAuthentication)).toHaveLength(1);
    expect(gateway.statements.sql.filter(releases)).toHaveLength(1);
    expect(await keyRows(gateway, key)).toEqual([]);

    const fixed = await send(gateway, acme.keys.ADMIN, key, CREATE, create('fixed'));
    expect(fixed.status).toBe(200);
    expect(fixed.headers.get('idempotent-replayed')).toBeNull();
    expect(fixed.body.data.createApiKey.apiKey.name).toBe('fixed');
  });

  it('is given up when the rate limit refuses the mutation, and the key runs once the budget allows', async () => {
    const apiKey = limitedOrg.keys.ADMIN;
    // The document is known after the first; then the key's budget for the minute is spent.
    expect((await send(limited, apiKey, null, CREATE, create('one'))).status).toBe(200);
    await limited.db.updateTable('rate_limit_buckets').set({ points: 1000 }).where('key', 'like', 'apikey:%').execute();
    const key = randomUUID();
    limited.statements.reset();
    const refused = await send(limited, apiKey, key, CREATE, create('three'));
    expect(refused.status).toBe(429);
    expect(limited.statements.sql.filter(claimsWithAuthentication)).toHaveLength(1);
    expect(limited.statements.sql.filter(releases)).toHaveLength(1);
    expect(await keyRows(limited, key)).toEqual([]);

    await limited.db.deleteFrom('rate_limit_buckets').execute();
    const later = await send(limited, apiKey, key, CREATE, create('three'));
    expect(later.status).toBe(200);
    expect(later.headers.get('idempotent-replayed')).toBeNull();
    expect(later.body.data.createApiKey.apiKey.name).toBe('three');
  });
});
