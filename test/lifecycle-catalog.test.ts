import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listConnectors } from '../src/connectors/registry.js';
import { connectorSettingsFromEnv } from '../src/connectors/settings.js';
import { API_ROUTES } from './fake-provider/apis.js';
import { PROFILES, settingsAsEnv } from './fake-provider/profiles.js';
import { createTestGateway, type TestGateway } from './support/gateway.js';
import { CONNECTING_GATEWAY, REFRESH, RETURN_URL, REVOKE, TEST } from './support/integration-flows.js';

/** What each provider's fake answers about the account, per auth kind (an empty identity stores none). */
const ACCOUNTS: Record<string, Partial<Record<string, unknown>>> = {
  datadog: {},
  github: {
    OAUTH2: { login: 'octocat', id: 583231, name: 'The Octocat' },
    API_TOKEN: { login: 'octocat', id: 583231, name: 'The Octocat' },
  },
  gitlab: { OAUTH2: { username: 'ada', id: 4242, name: 'Ada Lovelace' }, API_TOKEN: { tokenName: 'gateway', userId: 4242 } },
  http: {},
  jira: { OAUTH2: { accountId: '5b10ac8d82e05b22cc7d4ef5', email: 'ada@example.com', name: 'Ada Lovelace' } },
  pagerduty: { OAUTH2: { id: 'PFAKE01', email: 'ada@example.com', name: 'Ada Lovelace' } },
  servicenow: { OAUTH2: { userName: 'ada.lovelace', userId: '6816f79cc0a8016401c5a33be04be441' } },
  slack: {
    OAUTH2: { team: 'Fake Workspace', user: 'gateway-bot', teamId: 'T0FAKE' },
    API_TOKEN: { team: 'Fake Workspace', user: 'gateway-bot', teamId: 'T0FAKE' },
  },
};
/** Where token and basic credentials report their scopes on the probe. */
const REPORTS_SCOPES = new Set(['github', 'gitlab', 'slack']);
/** Where the provider can revoke, per auth kind: RFC 7009 or its own call; Jira has no revocation API. */
const REVOCABLE: Record<string, string[]> = {
  datadog: ['OAUTH2'],
  github: ['OAUTH2'],
  gitlab: ['OAUTH2'],
  http: [],
  jira: [],
  pagerduty: ['OAUTH2'],
  servicenow: ['OAUTH2'],
  slack: ['OAUTH2', 'API_TOKEN'],
};
/**
 * Providers whose revocation ends the whole grant (the refresh token too): the RFC 7009 ones. GitHub's
 * DELETE /applications/{client_id}/token and Slack's auth.revoke end the access token only; the fake
 * models that, so after revocation their refresh token still works at the provider (the gateway has
 * deleted its copy).
 */
const ENDS_GRANT = new Set(['datadog', 'gitlab', 'pagerduty', 'servicenow']);

let gw: TestGateway;
beforeAll(async () => {
  gw = await createTestGateway(CONNECTING_GATEWAY);
});
afterAll(() => gw.close());

const run = (query: string, input: Record<string, unknown>) => gw.graphql(gw.world.acme.keys.EDITOR, query, { input });
const sorted = (values: readonly string[] | null) => (values ? [...values].sort() : values);

it('the fake provider covers every connector in the catalog', () => {
  for (const definition of listConnectors()) {
    expect(PROFILES[definition.key], definition.key).toBeDefined();
    expect(API_ROUTES[definition.key]?.length, definition.key).toBeGreaterThan(0);
    expect(Boolean(PROFILES[definition.key]?.oauth), definition.key).toBe(Boolean(definition.oauth2));
  }
});

it('the CONNECTOR_* lines `npm run fake-provider` prints configure exactly these settings', () => {
  const env = Object.fromEntries(settingsAsEnv(gw.fake.settings).map((line) => line.split(/=(.*)/s).slice(0, 2)));
  expect(connectorSettingsFromEnv(env, listConnectors())).toEqual(gw.fake.settings);
});

/** Revokes, checks the payload and that a second revocation is refused without calling the provider. */
async function revokeTwice(id: string, provider: string, expectConfirmed: boolean) {
  const revoked = (await run(REVOKE, { id })).body.data.revokeIntegration;
  expect(revoked.userErrors).toEqual([]);
  expect(revoked.revokedAtProvider).toBe(expectConfirmed);
  expect(revoked.providerMessage === null).toBe(expectConfirmed);
  expect(revoked.integration).toMatchObject({ status: 'REVOKED', hasCredentials: false, revokedAt: expect.any(String) });
  expect((await gw.row(id)).secret_ciphertext).toBeNull();
  const calls = gw.fake.store.calls.length;
  const again = (await run(REVOKE, { id })).body.data.revokeIntegration;
  expect(again).toMatchObject({
    integration: null,
    revokedAtProvider: false,
    userErrors: [{ code: 'ALREADY_REVOKED', field: ['input', 'id'] }],
  });
  expect(gw.fake.store.calls.length).toBe(calls);
  expect(gw.fake.calls(provider, 'revoke')).toBe(expectConfirmed ? (ENDS_GRANT.has(provider) ? 2 : 1) : 0);
}

/** Webhook configuration: the signing secret comes back once, and never again. */
async function webhookRoundTrip(id: string) {
  const webhook = { url: 'https://hooks.example.com/in', events: ['push', 'issues'], enabled: true, rotateSecret: true };
  const rotated = (await run(REFRESH, { id, webhook })).body.data.refreshIntegration;
  expect(rotated.userErrors).toEqual([]);
  expect(rotated.webhookSigningSecret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
  expect(rotated.integration.webhook).toEqual({
    url: webhook.url,
    events: webhook.events,
    enabled: true,
    secretRotatedAt: expect.any(String),
  });
  const later = (await run(REFRESH, { id, webhook: { enabled: false } })).body.data.refreshIntegration;
  expect(later.webhookSigningSecret).toBeNull();
  expect(later.integration.webhook.enabled).toBe(false);
  const read = await gw.graphql(
    gw.world.acme.keys.VIEWER,
    'query($id: ID!) { node(id: $id) { id ... on Integration { webhook { url enabled } } } }',
    { id },
  );
  expect(JSON.stringify(read.body)).not.toContain(rotated.webhookSigningSecret);
  expect(gw.responses.filter((body) => body.includes(rotated.webhookSigningSecret))).toHaveLength(1);
}

const tokenCases = listConnectors().flatMap((definition) =>
  definition.authKinds
    .filter((kind) => kind !== 'OAUTH2')
    .map((kind) => ({ provider: definition.key, kind: kind as 'API_TOKEN' | 'BASIC', definition })),
);

describe.each(tokenCases)('$provider with $kind', ({ provider, kind, definition }) => {
  it('connects (probed first), tests, replaces the credential, updates the webhook and revokes', async () => {
    gw.fake.reset();
    const credential = () => (kind === 'API_TOKEN' ? { token: gw.fake.issueApiToken(provider) } : gw.fake.addBasicUser(provider));
    const first = credential();
    const connected = await gw.connect(provider, kind, { credentials: first });
    const payload = connected.body.data.connectIntegration;
    expect(payload.userErrors).toEqual([]);
    expect(payload.authorizationUrl).toBeNull();
    const integration = payload.integration;
    const scopes = REPORTS_SCOPES.has(provider) && kind === 'API_TOKEN' ? sorted(definition.defaultScopes) : null;
    expect(integration).toMatchObject({
      status: 'ACTIVE',
      health: 'HEALTHY',
      authKind: kind,
      hasCredentials: true,
      lastHealthCheck: { ok: true, httpStatus: 200 },
    });
    expect(integration.account).toEqual(
      ACCOUNTS[provider]?.[kind] ?? (kind === 'BASIC' && provider !== 'http' ? expect.any(Object) : null),
    );
    expect(sorted(integration.grantedScopes)).toEqual(scopes);
    expect(integration.healthChecks.edges).toHaveLength(1);
    expect(gw.fake.calls(provider, 'api')).toBe(1);

    const tested = (await run(TEST, { id: integration.id })).body.data.testIntegration;
    expect(tested.userErrors).toEqual([]);
    expect(tested.healthCheck).toMatchObject({ ok: true, httpStatus: 200, errorCode: null });
    expect(tested.integration.healthChecks.edges).toHaveLength(2);

    // Replace the credential; the old one then stops working at the provider, and tests still pass.
    const second = credential();
    const replaced = (await run(REFRESH, { id: integration.id, credentials: second })).body.data.refreshIntegration;
    expect(replaced.userErrors).toEqual([]);
    expect(replaced.integration).toMatchObject({ id: integration.id, status: 'ACTIVE', health: 'HEALTHY' });
    gw.fake.revokeCredential(provider, first);
    expect((await run(TEST, { id: integration.id })).body.data.testIntegration.healthCheck.ok).toBe(true);
    expect((await gw.secretsOf(integration.id)).credential).toEqual({ kind, ...second });

    await webhookRoundTrip(integration.id);
    const confirmed = REVOCABLE[provider]?.includes(kind) ?? false;
    await revokeTwice(integration.id, provider, confirmed);
    if ('token' in second) expect(gw.fake.tokenIsLive(provider, second.token)).toBe(!confirmed);
  });
});

const oauthCases = listConnectors()
  .filter((definition) => definition.oauth2)
  .map((definition) => ({ provider: definition.key, definition }));

describe.each(oauthCases)('$provider with OAUTH2', ({ provider, definition }) => {
  it('authorizes through the callback, tests, refreshes tokens and revokes them at the provider', async () => {
    gw.fake.reset();
    const started = (await gw.startOAuth(provider)).body.data.connectIntegration;
    expect(started.userErrors).toEqual([]);
    expect(started.integration).toMatchObject({ status: 'PENDING_AUTHORIZATION', hasCredentials: false });
    const url = new URL(started.authorizationUrl);
    expect(url.origin).toBe(gw.fake.url);
    expect(url.searchParams.get('scope')).toBe(definition.defaultScopes.join(definition.oauth2?.scopeSeparator));
    expect(url.searchParams.get('code_challenge_method')).toBe(definition.oauth2?.pkce ? 'S256' : null);
    expect(url.searchParams.get('state')).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const { response, location } = await gw.authorize(started.authorizationUrl);
    expect(response.status).toBe(302);
    expect(`${location?.origin}${location?.pathname}`).toBe(RETURN_URL);
    expect(Object.fromEntries(location?.searchParams ?? [])).toEqual({ integration: started.integration.id, outcome: 'connected' });
    expect(gw.fake.calls(provider, 'token', 'authorization_code')).toBe(1);

    const id = started.integration.id;
    const grant = gw.fake.latestGrant(provider)!;
    const read = await gw.graphql(
      gw.world.acme.keys.VIEWER,
      `query($id: ID!) { integration(id: $id) { status health grantedScopes missingScopes account credentialExpiresAt } }`,
      { id },
    );
    const integration = read.body.data.integration;
    expect(integration).toMatchObject({ status: 'ACTIVE', health: 'HEALTHY', missingScopes: [] });
    expect(sorted(integration.grantedScopes)).toEqual(sorted(definition.defaultScopes));
    expect(integration.account).toEqual(ACCOUNTS[provider]?.OAUTH2 ?? null);
    expect(Date.parse(integration.credentialExpiresAt) - Date.now()).toBeGreaterThan(3500_000);
    expect((await run(TEST, { id })).body.data.testIntegration.healthCheck.ok).toBe(true);

    const oldAccess = grant.accessToken;
    const oldRefresh = grant.refreshToken as string;
    const refreshed = (await run(REFRESH, { id, refreshTokens: true })).body.data.refreshIntegration;
    expect(refreshed.userErrors).toEqual([]);
    expect(gw.fake.calls(provider, 'token', 'refresh_token')).toBe(1);
    expect(grant.accessToken).not.toBe(oldAccess);
    expect(gw.fake.refreshTokenIsLive(oldRefresh)).toBe(!definition.oauth2?.rotatesRefreshTokens);
    gw.fake.store.accessTokens.get(oldAccess)!.revoked = true;
    expect((await run(TEST, { id })).body.data.testIntegration.healthCheck).toMatchObject({ ok: true });

    const confirmed = REVOCABLE[provider]?.includes('OAUTH2') ?? false;
    const current = { access: grant.accessToken, refresh: grant.refreshToken as string };
    await revokeTwice(id, provider, confirmed);
    expect(gw.fake.tokenIsLive(provider, current.access)).toBe(!confirmed);
    if (ENDS_GRANT.has(provider)) expect(gw.fake.refreshTokenIsLive(current.refresh)).toBe(false);
  });
});
