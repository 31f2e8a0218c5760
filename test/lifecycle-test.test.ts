import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { decodeTypedID } from '../src/graphql/global-id.js';
import { createTestGateway, type TestGateway } from './support/gateway.js';
import { CONNECTING_GATEWAY, TEST } from './support/integration-flows.js';

let gw: TestGateway;
beforeAll(async () => {
  gw = await createTestGateway({ ...CONNECTING_GATEWAY, services: { probeTimeoutMs: 400 } });
});
afterAll(() => gw.close());
beforeEach(() => gw.fake.reset());

async function test(id: string) {
  const res = await gw.graphql(gw.world.acme.keys.EDITOR, TEST, { input: { id } });
  expect(res.body.errors).toBeUndefined();
  return res.body.data.testIntegration;
}
const tokenIntegration = async (provider = 'gitlab') =>
  (await gw.connect(provider, 'API_TOKEN')).body.data.connectIntegration.integration.id as string;

describe('the health state machine', () => {
  it('401 -> NEEDS_REAUTH; 503 x3 -> DEGRADED, DEGRADED, UNHEALTHY; then OK -> HEALTHY and ACTIVE', async () => {
    const id = await tokenIntegration();
    gw.fake.fault('gitlab', 'api', { status: 401 });
    const rejected = await test(id);
    expect(rejected.healthCheck).toMatchObject({ ok: false, httpStatus: 401, errorCode: 'PROVIDER_REJECTED_CREDENTIALS' });
    expect(rejected.integration).toMatchObject({
      status: 'NEEDS_REAUTH',
      health: 'UNHEALTHY',
      statusReason: expect.stringContaining('401'),
    });

    const ok = await test(id);
    expect(ok.integration).toMatchObject({ status: 'ACTIVE', health: 'HEALTHY', statusReason: null });

    // Persistent: the outbound client retries a 503 twice within one test.
    gw.fake.fault('gitlab', 'api', { status: 503 }, Infinity);
    const healths = [];
    for (let i = 0; i < 3; i += 1) {
      const failed = await test(id);
      expect(failed.healthCheck).toMatchObject({ ok: false, httpStatus: 503, errorCode: 'PROVIDER_ERROR' });
      expect(failed.integration.status).toBe('ACTIVE');
      healths.push(failed.integration.health);
    }
    expect(healths).toEqual(['DEGRADED', 'DEGRADED', 'UNHEALTHY']);
    gw.fake.reset();
    const recovered = await test(id);
    expect(recovered.healthCheck).toMatchObject({ ok: true, httpStatus: 200, errorCode: null });
    expect(recovered.integration).toMatchObject({ status: 'ACTIVE', health: 'HEALTHY' });
    // The history holds every check, newest first.
    expect(recovered.integration.healthChecks.edges.map((edge: any) => edge.node.httpStatus)).toEqual([200, 503, 503, 503, 200, 401, 200]);
  });

  it.each([
    ['403', { status: 403 }, 'PROVIDER_REJECTED_CREDENTIALS', 'NEEDS_REAUTH', 'UNHEALTHY'],
    ['429 with Retry-After', { status: 429, retryAfter: 60 }, 'PROVIDER_RATE_LIMITED', 'ACTIVE', 'DEGRADED'],
    ['a timeout', { delayMs: 2000 }, 'PROVIDER_TIMEOUT', 'ACTIVE', 'DEGRADED'],
    ['a dropped connection', { drop: true }, 'PROVIDER_UNREACHABLE', 'ACTIVE', 'DEGRADED'],
  ])('%s', async (_name, fault, errorCode, status, health) => {
    const id = await tokenIntegration();
    gw.fake.fault('gitlab', 'api', fault, Infinity);
    const result = await test(id);
    expect(result.userErrors).toEqual([]);
    expect(result.healthCheck).toMatchObject({ ok: false, errorCode });
    expect(result.integration).toMatchObject({ status, health });
  });

  it("Slack's 200 {ok: false, error: token_revoked} is a rejected credential", async () => {
    const id = await tokenIntegration('slack');
    for (const record of gw.fake.store.accessTokens.values()) if (record.provider === 'slack') record.revoked = true;
    const result = await test(id);
    expect(result.healthCheck).toMatchObject({
      ok: false,
      httpStatus: 200,
      errorCode: 'PROVIDER_REJECTED_CREDENTIALS',
      message: expect.stringContaining('token_revoked'),
    });
    expect(result.integration.status).toBe('NEEDS_REAUTH');
  });

  it('a revoked integration, or one still waiting for authorization, is not probed', async () => {
    const pending = (await gw.startOAuth('gitlab')).body.data.connectIntegration.integration.id;
    expect((await test(pending)).userErrors).toEqual([expect.objectContaining({ code: 'CONFLICT' })]);
    const revoked = await tokenIntegration();
    await gw.graphql(gw.world.acme.keys.EDITOR, 'mutation($id: ID!) { revokeIntegration(input: { id: $id }) { userErrors { code } } }', {
      id: revoked,
    });
    gw.fake.reset();
    expect((await test(revoked)).userErrors).toEqual([expect.objectContaining({ code: 'ALREADY_REVOKED' })]);
    expect(gw.fake.store.calls).toHaveLength(0);
  });
});

describe('an expired OAuth2 token is refreshed before the probe', () => {
  const expire = async (provider: string, id: string) => {
    gw.fake.expireAccessTokens(provider);
    await gw.db
      .updateTable('integrations')
      .set({ credential_expires_at: sql<Date>`now() + interval '10 seconds'` })
      .where('id', '=', decodeTypedID(id, 'Integration'))
      .execute();
  };

  it.each(['github', 'gitlab', 'slack', 'jira', 'servicenow', 'pagerduty', 'datadog'])('%s', async (provider) => {
    const id = await gw.connectOAuth(provider);
    await expire(provider, id);
    gw.fake.reset();
    const result = await test(id);
    expect(result.healthCheck).toMatchObject({ ok: true });
    expect(result.integration).toMatchObject({ status: 'ACTIVE', health: 'HEALTHY' });
    expect(gw.fake.calls(provider, 'token', 'refresh_token')).toBe(1);
    expect(Date.parse(result.integration.credentialExpiresAt) - Date.now()).toBeGreaterThan(3500_000);
    // A fresh token is not refreshed again.
    await test(id);
    expect(gw.fake.calls(provider, 'token')).toBe(1);
  });

  it('a refresh the provider refuses is the answer: NEEDS_REAUTH, no probe', async () => {
    const id = await gw.connectOAuth('gitlab');
    await expire('gitlab', id);
    gw.fake.store.revokeGrant(gw.fake.latestGrant('gitlab')!.id);
    gw.fake.reset();
    const result = await test(id);
    expect(result).toMatchObject({ healthCheck: null, userErrors: [{ code: 'PROVIDER_REJECTED_CREDENTIALS' }] });
    expect(await gw.row(id)).toMatchObject({ status: 'NEEDS_REAUTH' });
    expect(gw.fake.calls('gitlab', 'api')).toBe(0);
  });
});
