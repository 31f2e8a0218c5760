import type { Kysely } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { listConnectors } from '../src/connectors/registry.js';
import type { Database } from '../src/db/database.js';
import { findApiKeyRow } from './support/fixtures.js';
import { createTestGateway, type TestGateway } from './support/gateway.js';
import { configFor, CONNECT, CONNECTING_GATEWAY, REFRESH, TEST } from './support/integration-flows.js';

let gw: TestGateway;
beforeAll(async () => {
  gw = await createTestGateway({ ...CONNECTING_GATEWAY, services: { probeTimeoutMs: 400 } });
});
afterAll(() => gw.close());
beforeEach(() => gw.fake.reset());

async function counts(db: Kysely<Database>) {
  const count = async (table: 'integrations' | 'integration_health_checks' | 'integration_events') =>
    Number(
      (
        await db
          .selectFrom(table)
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
  return {
    integrations: await count('integrations'),
    checks: await count('integration_health_checks'),
    events: await count('integration_events'),
  };
}

/** Connects with the given credential and expects a userError, nothing stored, and one failure event. */
async function expectRefused(
  provider: string,
  authKind: 'API_TOKEN' | 'BASIC',
  credentials: Record<string, string>,
  code: string,
  extra = {},
) {
  const before = await counts(gw.db);
  const res = await gw.connect(provider, authKind, { credentials, ...extra });
  expect(res.body.errors).toBeUndefined();
  const payload = res.body.data.connectIntegration;
  expect(payload.integration).toBeNull();
  expect(payload.userErrors).toEqual([expect.objectContaining({ code })]);
  expect(await counts(gw.db)).toEqual({ ...before, events: before.events + 1 });
  const [event] = (await gw.events()).slice(-1);
  expect(event).toMatchObject({ type: 'integration.connect_failed', outcome: 'FAILED', request_id: res.requestId });
  expect(event?.actor_key_id).toBe((await findApiKeyRow(gw.db, gw.world.acme.keys.EDITOR)).id);
  return payload.userErrors[0];
}

const tokenCases = listConnectors().flatMap((definition) =>
  definition.authKinds
    .filter((kind) => kind !== 'OAUTH2')
    .map((kind) => ({ provider: definition.key, kind: kind as 'API_TOKEN' | 'BASIC' })),
);

describe('a credential the provider rejects stores nothing but the failure event', () => {
  it.each(tokenCases)('$provider $kind', async ({ provider, kind }) => {
    const wrong: Record<string, string> =
      kind === 'API_TOKEN' ? { token: 'not-a-token-the-provider-issued' } : { username: 'ada@example.com', password: 'wrong password' };
    const error = await expectRefused(provider, kind, wrong, 'PROVIDER_REJECTED_CREDENTIALS');
    expect(error.field).toEqual(['input', 'credentials']);
    expect(gw.fake.calls(provider, 'api')).toBe(1);
  });

  it('a token of another provider, or in the wrong place, is rejected too', async () => {
    await expectRefused('github', 'API_TOKEN', { token: gw.fake.issueApiToken('gitlab') }, 'PROVIDER_REJECTED_CREDENTIALS');
    // The http connector presents the token in the header the user names; the fake wants it exactly there.
    const token = gw.fake.issueApiToken('http');
    const config = { ...configFor('http', gw.fake), headerName: 'x-api-key' };
    const ok = (await gw.connect('http', 'API_TOKEN', { credentials: { token }, config })).body.data.connectIntegration;
    expect(ok.integration).toMatchObject({ status: 'ACTIVE', config });
    gw.fake.store.accessTokens.get(token)!.revoked = true;
    await expectRefused('http', 'API_TOKEN', { token }, 'PROVIDER_REJECTED_CREDENTIALS', { config });
  });
});

describe('an unreachable or failing provider stores nothing', () => {
  it.each([
    ['a dropped connection', { drop: true }],
    ['a timeout', { delayMs: 5000 }],
    ['HTTP 503', { status: 503 }],
    ['HTTP 500', { status: 500 }],
    ['HTTP 429 with Retry-After', { status: 429, retryAfter: 30 }],
  ])('%s is PROVIDER_UNREACHABLE', async (_name, fault) => {
    // Persistent: the outbound client retries idempotent calls after drops, 429, 502-504.
    gw.fake.fault('gitlab', 'api', fault, Infinity);
    const started = Date.now();
    await expectRefused('gitlab', 'API_TOKEN', { token: gw.fake.issueApiToken('gitlab') }, 'PROVIDER_UNREACHABLE');
    expect(Date.now() - started).toBeLessThan(4000);
  });

  it('a single 503 or dropped connection is retried, and the connection succeeds', async () => {
    gw.fake.fault('gitlab', 'api', { status: 503 });
    gw.fake.fault('gitlab', 'api', { drop: true });
    const res = await gw.connect('gitlab', 'API_TOKEN');
    expect(res.body.data.connectIntegration.integration).toMatchObject({ status: 'ACTIVE', health: 'HEALTHY' });
    expect(gw.fake.calls('gitlab', 'api')).toBe(3);
  });

  it('a closed port is PROVIDER_UNREACHABLE', async () => {
    const config = { baseUrl: 'http://127.0.0.1:9/nothing' };
    await expectRefused('http', 'API_TOKEN', { token: gw.fake.issueApiToken('http') }, 'PROVIDER_UNREACHABLE', { config });
  });
});

describe('invalid input is refused before any provider call', () => {
  it.each([
    ['an unknown provider', { provider: 'myspace' }, ['input', 'provider']],
    ['an auth kind the provider lacks', { provider: 'jira', authKind: 'API_TOKEN' }, ['input', 'authKind']],
    ['a missing required config value', { provider: 'jira', authKind: 'BASIC', config: {} }, ['input', 'config', 'site']],
    ['an unknown config value', { provider: 'github', config: { nope: 'x' } }, ['input', 'config', 'nope']],
    ['a missing token', { provider: 'github', credentials: {} }, ['input', 'credentials', 'token']],
    ['an empty display name', { provider: 'github', displayName: '  ' }, ['input', 'displayName']],
  ])('%s', async (_name, input, field) => {
    const before = await counts(gw.db);
    const base = { authKind: 'API_TOKEN', displayName: 'x', credentials: { token: 'whatever' } };
    const res = await gw.graphql(gw.world.acme.keys.EDITOR, CONNECT, { input: { ...base, ...input } });
    expect(res.body.data.connectIntegration).toMatchObject({ integration: null, userErrors: [{ code: 'VALIDATION', field }] });
    expect(gw.fake.store.calls).toHaveLength(0);
    expect((await counts(gw.db)).integrations).toBe(before.integrations);
  });
});

describe('reconnecting keeps the integration id', () => {
  it('with a new token after the old one was rejected (NEEDS_REAUTH -> ACTIVE)', async () => {
    const first = (await gw.connect('github', 'API_TOKEN')).body.data.connectIntegration.integration;
    for (const record of gw.fake.store.accessTokens.values()) record.revoked = true;
    const failed = (await gw.graphql(gw.world.acme.keys.EDITOR, TEST, { input: { id: first.id } })).body.data.testIntegration;
    expect(failed.integration.status).toBe('NEEDS_REAUTH');
    const before = await counts(gw.db);
    const again = (await gw.connect('github', 'API_TOKEN', { integrationId: first.id, displayName: 'renamed' })).body.data
      .connectIntegration;
    expect(again.userErrors).toEqual([]);
    expect(again.integration).toMatchObject({ id: first.id, displayName: 'renamed', status: 'ACTIVE', health: 'HEALTHY' });
    expect((await counts(gw.db)).integrations).toBe(before.integrations);
  });

  it('through OAuth2, replacing a token integration and keeping its webhook secret', async () => {
    const first = (await gw.connect('gitlab', 'API_TOKEN')).body.data.connectIntegration.integration;
    const webhook = { url: 'https://hooks.example.com/x', enabled: true, rotateSecret: true };
    await gw.graphql(gw.world.acme.keys.EDITOR, REFRESH, { input: { id: first.id, webhook } });
    const before = await counts(gw.db);
    const id = await gw.connectOAuth('gitlab', { integrationId: first.id });
    expect(id).toBe(first.id);
    expect((await counts(gw.db)).integrations).toBe(before.integrations);
    const row = await gw.row(id);
    expect(row).toMatchObject({ auth_kind: 'OAUTH2', status: 'ACTIVE', webhook_enabled: true });
    const bundle = await gw.secretsOf(id);
    expect(bundle.webhookSecret).toMatch(/^whsec_/);
    expect(bundle.credential).toMatchObject({ kind: 'OAUTH2', accessToken: gw.fake.latestGrant('gitlab')?.accessToken });
  });

  it('an OAuth2 reconnection not completed (yet) leaves the token credential, and its auth kind, in use', async () => {
    const first = (await gw.connect('gitlab', 'API_TOKEN')).body.data.connectIntegration.integration;
    const started = (await gw.startOAuth('gitlab', { integrationId: first.id })).body.data.connectIntegration;
    expect(started.integration).toMatchObject({ id: first.id, authKind: 'API_TOKEN', status: 'ACTIVE', hasCredentials: true });
    const tested = (await gw.graphql(gw.world.acme.keys.EDITOR, TEST, { input: { id: first.id } })).body.data.testIntegration;
    expect(tested.healthCheck.ok).toBe(true);
    expect((await gw.authorize(started.authorizationUrl)).location?.searchParams.get('outcome')).toBe('connected');
    expect(await gw.row(first.id)).toMatchObject({ auth_kind: 'OAUTH2', status: 'ACTIVE' });
    expect((await gw.secretsOf(first.id)).credential).toMatchObject({ kind: 'OAUTH2' });
  });

  it('a pending authorization is withdrawn when the integration is reconnected again', async () => {
    const started = (await gw.startOAuth('pagerduty')).body.data.connectIntegration;
    const restarted = (await gw.startOAuth('pagerduty', { integrationId: started.integration.id })).body.data.connectIntegration;
    expect(restarted.integration.id).toBe(started.integration.id);
    const stale = await gw.authorize(started.authorizationUrl);
    expect(stale.location?.searchParams.get('outcome')).toBe('error');
    const fresh = await gw.authorize(restarted.authorizationUrl);
    expect(fresh.location?.searchParams.get('outcome')).toBe('connected');
    expect(gw.fake.calls('pagerduty', 'token')).toBe(1);
  });

  it("another organization's integration cannot be reconnected (NOT_FOUND)", async () => {
    const theirs = (
      await gw.graphql(gw.world.globex.keys.EDITOR, CONNECT, {
        input: {
          provider: 'github',
          authKind: 'API_TOKEN',
          displayName: 'theirs',
          credentials: { token: gw.fake.issueApiToken('github') },
        },
      })
    ).body.data.connectIntegration.integration;
    gw.fake.reset();
    const res = await gw.connect('github', 'API_TOKEN', { integrationId: theirs.id });
    expect(res.body.data.connectIntegration).toMatchObject({
      integration: null,
      userErrors: [{ code: 'NOT_FOUND', field: ['input', 'integrationId'] }],
    });
    expect(gw.fake.calls('github')).toBe(0);
    expect((await gw.row(theirs.id)).display_name).toBe('theirs');
  });
});
