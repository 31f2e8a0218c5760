import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/db/connection.js';
import { decodeTypedID } from '../src/graphql/global-id.js';
import { createTestGateway, type TestGateway } from './support/gateway.js';
import { CONNECTING_GATEWAY, REFRESH, requestsWaitingForLease, TEST } from './support/integration-flows.js';
import { sendGraphQL } from './support/request.js';

let gw: TestGateway;
beforeAll(async () => {
  gw = await createTestGateway({ ...CONNECTING_GATEWAY, services: { probeTimeoutMs: 400 } });
});
afterAll(() => gw.close());
beforeEach(() => gw.fake.reset());

const refresh = (id: string, input: Record<string, unknown> = { refreshTokens: true }) =>
  gw.graphql(gw.world.acme.keys.EDITOR, REFRESH, { input: { id, ...input } });
const REFRESH_EXPIRY = `mutation($input: RefreshIntegrationInput!) {
  refreshIntegration(input: $input) { integration { credentialExpiresAt } userErrors { code } } }`;
const expireInDatabase = (id: string) =>
  gw.db
    .updateTable('integrations')
    .set({ credential_expires_at: sql<Date>`now() - interval '1 minute'` })
    .where('id', '=', decodeTypedID(id, 'Integration'))
    .execute();

/** Until `count` requests wait for the one calling the provider (each logs its first wait). */
async function waitForLockWaiters(id: string, count: number) {
  for (const started = Date.now(); Date.now() - started < 20_000; ) {
    if (requestsWaitingForLease(gw.logs, id) === count) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`${count} requests never all waited for the provider call`);
}

describe('concurrent refreshes make exactly one token call', () => {
  it('20 concurrent refreshIntegration(refreshTokens: true) share one provider call and its result', async () => {
    const id = await gw.connectOAuth('gitlab');
    const before = await gw.row(id);
    gw.fake.reset();
    // The token endpoint holds the first refresh until the other 19 requests have found its lease and
    // wait for its outcome.
    let release = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    gw.fake.fault('gitlab', 'token', { until: gate });
    // On PostgreSQL the requests go through two gateways with their own pools, as two processes would
    // (pools large enough that every request reads the row while the first refresh is in flight).
    // The held call must outlast the time 19 requests take to arrive on a loaded machine: with this file's
    // 400 ms deadline it would time out first, and the next request would call the provider again.
    const services = { ...gw.services, probeTimeoutMs: 10_000 };
    const url = gw.database.url;
    const pools = url ? await Promise.all([1, 2].map(() => openDatabase({ kind: 'postgres', url, poolSize: 12 }))) : [];
    const gateways = await Promise.all(
      (pools.length > 0 ? pools : [gw.database]).map((database) => createTestGateway({ database, services })),
    );
    const send = async (index: number) => {
      const gateway = gateways[index % gateways.length] ?? gw;
      const answer = await sendGraphQL(gateway, {
        key: gw.world.acme.keys.EDITOR,
        query: REFRESH,
        variables: { input: { id, refreshTokens: true } },
        headers: { accept: null },
      });
      return answer.body;
    };
    const pending = Promise.all(Array.from({ length: 20 }, (_, index) => send(index)));
    await waitForLockWaiters(id, 19);
    release();
    const results = await pending;
    await Promise.all(gateways.map((gateway) => gateway.close()));
    await Promise.all(pools.map((database) => database.close()));
    expect(gw.fake.calls('gitlab', 'token')).toBe(1);
    const after = await gw.row(id);
    expect(after.secret_version).toBe(before.secret_version + 1);
    for (const result of results) {
      expect(result.data.refreshIntegration.userErrors).toEqual([]);
      expect(result.data.refreshIntegration.integration.credentialExpiresAt).toBe(after.credential_expires_at?.toISOString());
    }
    expect((await gw.secretsOf(id)).credential).toMatchObject({ accessToken: gw.fake.latestGrant('gitlab')?.accessToken });
    expect((await gw.events(id)).filter((event) => event.type === 'integration.tokens_refreshed')).toHaveLength(1);
  });
});

describe('a rotated refresh token is never lost', () => {
  it('the refresh before a test succeeds, the probe then times out, and the next refresh uses the new token', async () => {
    const id = await gw.connectOAuth('datadog');
    const grant = gw.fake.latestGrant('datadog')!;
    const first = grant.refreshToken as string;
    await expireInDatabase(id);
    gw.fake.expireAccessTokens('datadog');
    gw.fake.fault('datadog', 'api', { delayMs: 2000 });
    const tested = (await gw.graphql(gw.world.acme.keys.EDITOR, TEST, { input: { id } })).body.data.testIntegration;
    expect(tested.healthCheck).toMatchObject({ ok: false, errorCode: 'PROVIDER_TIMEOUT' });
    expect(tested.integration).toMatchObject({ status: 'ACTIVE', health: 'DEGRADED' });
    expect(gw.fake.calls('datadog', 'token', 'refresh_token')).toBe(1);
    expect(gw.fake.refreshTokenIsLive(first)).toBe(false);
    expect((await gw.secretsOf(id)).credential).toMatchObject({ refreshToken: grant.refreshToken });

    const again = (await refresh(id)).body.data.refreshIntegration;
    expect(again.userErrors).toEqual([]);
    expect(gw.fake.calls('datadog', 'token', 'refresh_token')).toBe(2);
    expect((await gw.graphql(gw.world.acme.keys.EDITOR, TEST, { input: { id } })).body.data.testIntegration.integration.health).toBe(
      'HEALTHY',
    );
  });

  it('an answer without a refresh token keeps the old one, which keeps working', async () => {
    const id = await gw.connectOAuth('gitlab');
    const old = gw.fake.latestGrant('gitlab')?.refreshToken;
    gw.fake.knobs('gitlab').omitRefreshTokenOnRefresh = true;
    expect((await refresh(id)).body.data.refreshIntegration.userErrors).toEqual([]);
    expect((await gw.secretsOf(id)).credential).toMatchObject({ refreshToken: old });
    expect((await refresh(id)).body.data.refreshIntegration.userErrors).toEqual([]);
    expect(gw.fake.calls('gitlab', 'token', 'refresh_token')).toBe(2);
  });

  it('a non-rotating provider (PagerDuty) keeps its refresh token', async () => {
    const id = await gw.connectOAuth('pagerduty');
    const old = gw.fake.latestGrant('pagerduty')?.refreshToken;
    for (let i = 0; i < 2; i += 1) expect((await refresh(id)).body.data.refreshIntegration.userErrors).toEqual([]);
    expect((await gw.secretsOf(id)).credential).toMatchObject({ refreshToken: old });
  });

  it("an answer without expires_in has no expiry made up: credentialExpiresAt is null, and the tokens' age is recorded", async () => {
    const id = await gw.connectOAuth('github');
    gw.fake.knobs('github').omitExpiresIn = true;
    const before = Date.now();
    const answer = await gw.graphql(gw.world.acme.keys.EDITOR, REFRESH_EXPIRY, { input: { id, refreshTokens: true } });
    expect(answer.body.data.refreshIntegration).toEqual({ integration: { credentialExpiresAt: null }, userErrors: [] });
    const row = await gw.row(id);
    expect(row.credential_expires_at).toBeNull();
    expect(row.credential_refreshable).toBe(true);
    expect(row.credential_obtained_at!.getTime()).toBeGreaterThanOrEqual(before - 1_000);
    expect(row.credential_obtained_at!.getTime()).toBeLessThanOrEqual(Date.now());
  });
});

describe('a refused refresh needs re-authorization', () => {
  it.each([
    ['gitlab', 'invalid_grant'],
    ['github', 'bad_refresh_token'],
    ['slack', 'invalid_refresh_token'],
    ['servicenow', 'invalid_grant'],
  ])('%s answering %s: NEEDS_REAUTH with a reason', async (provider, oauthError) => {
    const id = await gw.connectOAuth(provider);
    gw.fake.store.revokeGrant(gw.fake.latestGrant(provider)!.id);
    const before = await gw.row(id);
    const payload = (await refresh(id)).body.data.refreshIntegration;
    expect(payload).toMatchObject({ integration: null, userErrors: [{ code: 'PROVIDER_REJECTED_CREDENTIALS', field: ['input', 'id'] }] });
    const row = await gw.row(id);
    expect(row).toMatchObject({ status: 'NEEDS_REAUTH', health: 'UNHEALTHY', secret_version: before.secret_version });
    expect(row.status_reason).toContain(oauthError);
    const [event] = (await gw.events(id)).slice(-1);
    expect(event).toMatchObject({ type: 'integration.refresh_failed', outcome: 'FAILED', detail: { oauthError } });
  });
});

describe('a token endpoint answering 401 or 403 to a refresh needs re-authorization', () => {
  it.each([401, 403])('HTTP %i: NEEDS_REAUTH with a reason, the stored tokens unchanged', async (status) => {
    const id = await gw.connectOAuth('gitlab');
    const before = await gw.row(id);
    gw.fake.fault('gitlab', 'token', { status, body: { error: 'unauthorized_client' } });
    const payload = (await refresh(id)).body.data.refreshIntegration;
    expect(payload).toMatchObject({ integration: null, userErrors: [{ code: 'PROVIDER_REJECTED_CREDENTIALS', field: ['input', 'id'] }] });
    const row = await gw.row(id);
    expect(row).toMatchObject({ status: 'NEEDS_REAUTH', health: 'UNHEALTHY', secret_version: before.secret_version });
    expect(row.status_reason).toMatch(/refused/);
  });
});

describe('a provider failing a refresh degrades health and changes nothing else', () => {
  it.each([
    ['HTTP 503', { status: 503 }],
    ['HTTP 500', { status: 500 }],
    ['HTTP 429', { status: 429, retryAfter: 5 }],
    ['a timeout', { delayMs: 2000 }],
    ['a dropped connection', { drop: true }],
  ])('%s: PROVIDER_UNREACHABLE, health DEGRADED, status unchanged', async (_name, fault) => {
    const id = await gw.connectOAuth('gitlab');
    const before = await gw.row(id);
    gw.fake.fault('gitlab', 'token', fault);
    const payload = (await refresh(id)).body.data.refreshIntegration;
    expect(payload).toMatchObject({ integration: null, userErrors: [{ code: 'PROVIDER_UNREACHABLE', field: ['input'] }] });
    const row = await gw.row(id);
    expect(row).toMatchObject({ status: 'ACTIVE', health: 'DEGRADED', secret_version: before.secret_version });
    expect(gw.fake.refreshTokenIsLive(gw.fake.latestGrant('gitlab')?.refreshToken as string)).toBe(true);
    expect((await refresh(id)).body.data.refreshIntegration.userErrors).toEqual([]);
  });
});

describe('refreshing the wrong thing is refused before any provider call', () => {
  it('tokens of a token integration, or tokens and credentials at once, or nothing', async () => {
    const token = (await gw.connect('github', 'API_TOKEN')).body.data.connectIntegration.integration.id;
    const oauth = await gw.connectOAuth('github');
    gw.fake.reset();
    for (const [id, input, field] of [
      [token, { refreshTokens: true }, ['input', 'refreshTokens']],
      [oauth, { refreshTokens: true, credentials: { token: 'x' } }, ['input', 'credentials']],
      [oauth, {}, ['input']],
    ] as const) {
      expect((await refresh(id, input)).body.data.refreshIntegration.userErrors).toEqual([
        expect.objectContaining({ code: 'VALIDATION', field }),
      ]);
    }
    expect(gw.fake.store.calls).toHaveLength(0);
  });

  it('a replacement token the provider rejects keeps the old credential and records the failure', async () => {
    const id = (await gw.connect('pagerduty', 'API_TOKEN')).body.data.connectIntegration.integration.id;
    const before = await gw.row(id);
    const payload = (await refresh(id, { credentials: { token: 'wrong' } })).body.data.refreshIntegration;
    expect(payload.userErrors).toEqual([
      expect.objectContaining({ code: 'PROVIDER_REJECTED_CREDENTIALS', field: ['input', 'credentials'] }),
    ]);
    expect(await gw.row(id)).toMatchObject({ secret_version: before.secret_version, status: 'ACTIVE' });
    expect((await gw.events(id)).at(-1)).toMatchObject({ type: 'integration.credentials_replace_failed', outcome: 'FAILED' });
  });
});
