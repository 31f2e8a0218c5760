import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { decodeTypedID } from '../src/graphql/global-id.js';
import { KeyRing, rotateSecrets, SecretVault } from '../src/secrets/index.js';
import { type FakeProvider, startFakeProvider } from './fake-provider/server.js';
import { CONNECT, createProviderGateway, type ProviderGateway, REFRESH, RETURN_URL, REVOKE, TEST } from './support/provider-gateway.js';

/**
 * Two self-managed GitLab instances on two loopback ports, each reached through the connector's own
 * URL templates and the integration's `host` config, with one OAuth2 client registered at both.
 */
const CLIENT_SECRET = `gitlab_client_secret_${randomBytes(8).toString('hex')}`;
const gatewayKey = randomBytes(32);
const rotationKey = randomBytes(32);

let gw: ProviderGateway;
let hostA: FakeProvider;
let hostB: FakeProvider;
beforeAll(async () => {
  hostA = await startFakeProvider({ root: 'gitlab', clientSecret: () => CLIENT_SECRET });
  hostB = await startFakeProvider({ root: 'gitlab', clientSecret: () => CLIENT_SECRET });
  // The gateway's vault also opens what `secrets rotate` re-encrypts under the rotation key (see the last test).
  gw = await createProviderGateway({ connectorSettings: hostA.settings, vault: new SecretVault(new KeyRing(gatewayKey, [rotationKey])) });
});
afterAll(async () => {
  await gw.close();
  await hostA.close();
  await hostB.close();
});
beforeEach(() => {
  hostA.reset();
  hostB.reset();
});

const editor = (query: string, input: Record<string, unknown>) => gw.graphql(gw.org.keys.EDITOR, query, { input });
const oauthInput = (host: FakeProvider, extra: Record<string, unknown> = {}) => ({
  provider: 'gitlab',
  authKind: 'OAUTH2',
  displayName: 'GitLab A',
  environment: 'production',
  config: { host: host.url },
  oauth2: { returnUrl: RETURN_URL },
  ...extra,
});

/** Connects through OAuth2 at `host` and returns the integration's ID; the hosts' call logs start afresh. */
async function connectOAuthAt(host: FakeProvider): Promise<string> {
  const started = (await editor(CONNECT, oauthInput(host))).body.data.connectIntegration;
  expect(started.userErrors).toEqual([]);
  const { location } = await gw.authorize(started.authorizationUrl);
  expect(location?.searchParams.get('outcome')).toBe('connected');
  hostA.reset();
  hostB.reset();
  return started.integration.id;
}

/** Connects with a personal access token issued by `host`; the hosts' call logs start afresh. */
async function connectTokenAt(host: FakeProvider, token = host.issueApiToken('gitlab')): Promise<string> {
  const payload = (await editor(CONNECT, { provider: 'gitlab', authKind: 'API_TOKEN', displayName: 'GitLab token', config: { host: host.url }, credentials: { token } })).body.data
    .connectIntegration;
  expect(payload.userErrors).toEqual([]);
  hostA.reset();
  hostB.reset();
  return payload.integration.id;
}

/** Requests `host` received that carried any of these secrets, anywhere in their headers or body. */
function carrying(host: FakeProvider, secrets: (string | null | undefined)[]) {
  const values = secrets.filter((secret): secret is string => Boolean(secret));
  return host.store.calls.filter((call) => values.some((secret) => JSON.stringify([call.headers, call.body]).includes(secret)));
}

const originsOf = async (id: string) => JSON.parse((await gw.row(id)).secret_origins as string);
const rowId = (id: string) => decodeTypedID(id, 'Integration');

describe('an OAuth2 reconnection changes nothing until its callback succeeds', () => {
  it('to another host: the stored tokens never go there; the callback applies the new config with the new tokens', async () => {
    const id = await connectOAuthAt(hostA);
    const grantA = { ...hostA.latestGrant('gitlab')! };
    const before = await gw.row(id);

    const started = (await editor(CONNECT, oauthInput(hostB, { integrationId: id, displayName: 'GitLab B', environment: 'staging', scopes: ['read_api'] }))).body.data
      .connectIntegration;
    expect(started.userErrors).toEqual([]);
    expect(new URL(started.authorizationUrl).origin).toBe(hostB.url);
    expect(started.integration).toMatchObject({ id, displayName: 'GitLab A', config: { host: hostA.url }, status: 'ACTIVE', scopes: ['read_api', 'read_user'] });
    expect(await gw.row(id)).toEqual(before);

    // The pending reconnection is never completed; the integration keeps working where its tokens came from.
    const tested = (await editor(TEST, { id })).body.data.testIntegration;
    expect(tested).toMatchObject({ userErrors: [], healthCheck: { ok: true } });
    const refreshed = (await editor(REFRESH, { id, refreshTokens: true })).body.data.refreshIntegration;
    expect(refreshed.userErrors).toEqual([]);
    expect(hostA.calls('gitlab', 'api')).toBe(1);
    expect(hostA.calls('gitlab', 'token', 'refresh_token')).toBe(1);
    expect(hostB.store.calls).toEqual([]);
    expect(await originsOf(id)).toEqual({ api: hostA.url, token: hostA.url, revoke: hostA.url });
    const refreshedA = { ...hostA.latestGrant('gitlab')! };

    // The user authorizes at the new host: the new config, name, environment and scopes arrive with its tokens.
    const { location } = await gw.authorize(started.authorizationUrl);
    expect(Object.fromEntries(location?.searchParams ?? [])).toEqual({ integration: id, outcome: 'connected' });
    const grantB = hostB.latestGrant('gitlab')!;
    expect(await gw.row(id)).toMatchObject({
      display_name: 'GitLab B',
      environment: 'staging',
      config: { host: hostB.url },
      requested_scopes: ['read_api'],
      status: 'ACTIVE',
      health: 'HEALTHY',
    });
    expect((await gw.secretsOf(id)).credential).toMatchObject({ accessToken: grantB.accessToken, refreshToken: grantB.refreshToken });
    expect(await originsOf(id)).toEqual({ api: hostB.url, token: hostB.url, revoke: hostB.url });
    hostA.reset();
    expect((await editor(TEST, { id })).body.data.testIntegration).toMatchObject({ userErrors: [], healthCheck: { ok: true } });
    expect(hostA.store.calls).toEqual([]);
    expect(carrying(hostB, [grantA.accessToken, grantA.refreshToken, refreshedA.accessToken, refreshedA.refreshToken])).toEqual([]);
    expect(carrying(hostB, [grantB.accessToken]).length).toBeGreaterThan(0);
  });

  it.each([
    ['the user denies access', () => void (hostB.knobs('gitlab').denyAuthorization = true), 'access_denied'],
    ['the token exchange fails', () => hostB.fault('gitlab', 'token', { status: 500 }), 'token_exchange_failed'],
  ])('a failed reconnection (%s) leaves the integration exactly as it was', async (_name, arrange, error) => {
    const id = await connectOAuthAt(hostA);
    const before = await gw.row(id);
    const started = (await editor(CONNECT, oauthInput(hostB, { integrationId: id, displayName: 'GitLab B' }))).body.data.connectIntegration;
    arrange();
    const { location } = await gw.authorize(started.authorizationUrl);
    expect(Object.fromEntries(location?.searchParams ?? [])).toEqual({ integration: id, outcome: 'error', error });
    expect(await gw.row(id)).toEqual(before);
    expect((await editor(TEST, { id })).body.data.testIntegration.healthCheck.ok).toBe(true);
    expect(hostA.calls('gitlab', 'api')).toBe(1);
    expect(carrying(hostB, [hostA.latestGrant('gitlab')?.accessToken, hostA.latestGrant('gitlab')?.refreshToken])).toEqual([]);
  });

  it('revoking during a pending reconnection revokes at the host the tokens came from', async () => {
    const id = await connectOAuthAt(hostA);
    const grantA = { ...hostA.latestGrant('gitlab')! };
    await editor(CONNECT, oauthInput(hostB, { integrationId: id }));
    const revoked = (await editor(REVOKE, { id })).body.data.revokeIntegration;
    expect(revoked).toMatchObject({ userErrors: [], revokedAtProvider: true });
    expect(hostA.calls('gitlab', 'revoke')).toBe(2);
    expect(hostA.tokenIsLive('gitlab', grantA.accessToken)).toBe(false);
    expect(hostB.store.calls).toEqual([]);
  });
});

describe('a stored credential goes only to the origins it is bound to', () => {
  /** What an attacker with write access to the database, or any path that changes config alone, would do. */
  const pointAt = (id: string, host: FakeProvider) =>
    gw.db.updateTable('integrations').set({ config: JSON.stringify({ host: host.url }) }).where('id', '=', rowId(id)).execute();

  it('a config changed without a new credential: test, refresh and revocation send nothing there', async () => {
    const id = await connectOAuthAt(hostA);
    await pointAt(id, hostB);
    const before = await gw.row(id);
    const tested = (await editor(TEST, { id })).body.data.testIntegration;
    expect(tested.userErrors).toEqual([{ code: 'CREDENTIAL_ORIGIN_MISMATCH', field: ['input', 'id'], message: expect.stringContaining(hostA.url) }]);
    const refreshed = (await editor(REFRESH, { id, refreshTokens: true })).body.data.refreshIntegration;
    expect(refreshed.userErrors).toEqual([expect.objectContaining({ code: 'CREDENTIAL_ORIGIN_MISMATCH' })]);
    // An expired token is refreshed before a test: at the bound token endpoint or not at all.
    await gw.db.updateTable('integrations').set({ credential_expires_at: new Date(Date.now() - 1000) }).where('id', '=', rowId(id)).execute();
    expect((await editor(TEST, { id })).body.data.testIntegration.userErrors).toEqual([expect.objectContaining({ code: 'CREDENTIAL_ORIGIN_MISMATCH' })]);
    expect(await gw.row(id)).toMatchObject({ secret_version: before.secret_version, status: 'ACTIVE', last_check_at: before.last_check_at });
    const revoked = (await editor(REVOKE, { id })).body.data.revokeIntegration;
    expect(revoked).toMatchObject({ userErrors: [], revokedAtProvider: false, integration: { status: 'REVOKED', hasCredentials: false } });
    expect(revoked.providerMessage).toContain(hostA.url);
    expect(hostB.store.calls).toEqual([]);
    expect(hostA.store.calls).toEqual([]);
  });

  it('an altered origins column fails to decrypt: nothing is sent, the answer is a user error', async () => {
    const id = await connectOAuthAt(hostA);
    const grant = hostA.latestGrant('gitlab')!;
    await pointAt(id, hostB);
    await sql`update integrations set secret_origins = replace(secret_origins, ${hostA.url}, ${hostB.url}) where id = ${rowId(id)}`.execute(gw.db);
    for (const [query, input] of [
      [TEST, { id }],
      [REFRESH, { id, refreshTokens: true }],
    ] as const) {
      const answer = await editor(query, input);
      expect(answer.status).toBe(200);
      expect(Object.values(answer.body.data)[0]).toMatchObject({ integration: null, userErrors: [{ code: 'CREDENTIAL_UNREADABLE', field: ['input', 'id'] }] });
    }
    // Removing the origins does not open it either.
    await gw.db.updateTable('integrations').set({ secret_origins: null }).where('id', '=', rowId(id)).execute();
    expect((await editor(TEST, { id })).body.data.testIntegration.userErrors).toEqual([expect.objectContaining({ code: 'CREDENTIAL_UNREADABLE' })]);
    const revoked = (await editor(REVOKE, { id })).body.data.revokeIntegration;
    expect(revoked).toMatchObject({ userErrors: [], revokedAtProvider: false, integration: { status: 'REVOKED' } });
    expect(revoked.providerMessage).toMatch(/could not be decrypted/);
    expect(hostB.store.calls).toEqual([]);
    expect(hostA.store.calls).toEqual([]);
    expect(gw.logs.some((line) => line.includes(grant.accessToken))).toBe(false);
  });

  it('secrets rotate re-encrypts a bound credential with its origins, which still bind it', async () => {
    const id = await connectTokenAt(hostA);
    const origins = (await gw.row(id)).secret_origins;
    const report = await rotateSecrets(gw.db, new SecretVault(new KeyRing(rotationKey, [gatewayKey])));
    expect(report.failed).toEqual([]);
    expect(await gw.row(id)).toMatchObject({ secret_origins: origins, secret_key_id: new SecretVault(new KeyRing(rotationKey)).currentKeyId });
    expect((await editor(TEST, { id })).body.data.testIntegration.healthCheck.ok).toBe(true);
    await pointAt(id, hostB);
    expect((await editor(TEST, { id })).body.data.testIntegration.userErrors).toEqual([expect.objectContaining({ code: 'CREDENTIAL_ORIGIN_MISMATCH' })]);
    expect(hostB.store.calls).toEqual([]);
  });
});

describe('token reconnections and refreshes bind the credential they store', () => {
  it('a token reconnection to another host sends only the new token there, and binds it there', async () => {
    const oldToken = hostA.issueApiToken('gitlab');
    const id = await connectTokenAt(hostA, oldToken);
    expect(await originsOf(id)).toEqual({ api: hostA.url, token: null, revoke: null });
    const before = await gw.row(id);

    // A token the new host refuses: nothing changes, and the stored token was not sent to try.
    const refused = (await editor(CONNECT, { provider: 'gitlab', authKind: 'API_TOKEN', displayName: 'moved', config: { host: hostB.url }, credentials: { token: 'glpat-unknown' }, integrationId: id }))
      .body.data.connectIntegration;
    expect(refused.userErrors).toEqual([expect.objectContaining({ code: 'PROVIDER_REJECTED_CREDENTIALS' })]);
    expect(await gw.row(id)).toEqual(before);

    const newToken = hostB.issueApiToken('gitlab');
    const moved = (await editor(CONNECT, { provider: 'gitlab', authKind: 'API_TOKEN', displayName: 'moved', config: { host: hostB.url }, credentials: { token: newToken }, integrationId: id }))
      .body.data.connectIntegration;
    expect(moved).toMatchObject({ userErrors: [], integration: { id, displayName: 'moved', config: { host: hostB.url }, status: 'ACTIVE' } });
    expect(await originsOf(id)).toEqual({ api: hostB.url, token: null, revoke: null });
    expect((await editor(TEST, { id })).body.data.testIntegration.healthCheck.ok).toBe(true);
    expect(carrying(hostB, [oldToken])).toEqual([]);
    expect(hostB.store.calls.map((call) => call.headers['private-token'])).toEqual(['glpat-unknown', newToken, newToken]);
    expect(hostA.store.calls).toEqual([]);
  });

  it('refreshIntegration binds a replacement credential to the integration’s origin and keeps a carried-over one where it was', async () => {
    const id = await connectTokenAt(hostA);
    const replacement = hostA.issueApiToken('gitlab');
    const replaced = (await editor(REFRESH, { id, credentials: { token: replacement } })).body.data.refreshIntegration;
    expect(replaced.userErrors).toEqual([]);
    expect(await originsOf(id)).toEqual({ api: hostA.url, token: null, revoke: null });
    // A webhook change re-seals the bundle: the credential keeps its origins, even when the config now says otherwise.
    await gw.db.updateTable('integrations').set({ config: JSON.stringify({ host: hostB.url }) }).where('id', '=', rowId(id)).execute();
    const rotated = (await editor(REFRESH, { id, webhook: { url: 'https://hooks.example.com/x', enabled: true, rotateSecret: true } })).body.data.refreshIntegration;
    expect(rotated.userErrors).toEqual([]);
    expect(await originsOf(id)).toEqual({ api: hostA.url, token: null, revoke: null });
    expect((await gw.secretsOf(id)).credential).toEqual({ kind: 'API_TOKEN', token: replacement });
    expect((await editor(TEST, { id })).body.data.testIntegration.userErrors).toEqual([expect.objectContaining({ code: 'CREDENTIAL_ORIGIN_MISMATCH' })]);
    expect(hostB.store.calls).toEqual([]);
  });

  it('a credential sealed before origins were bound goes to its current config only, and is bound at its next seal', async () => {
    const id = await connectTokenAt(hostA);
    const row = await gw.row(id);
    // As an earlier version stored it: no origins, none in the associated data.
    const legacy = gw.services.vault.seal(await gw.secretsOf(id), { organizationId: row.organization_id, integrationId: row.id, version: row.secret_version });
    await gw.db.updateTable('integrations').set({ secret_ciphertext: legacy.ciphertext, secret_key_id: legacy.keyId, secret_origins: null }).where('id', '=', row.id).execute();
    expect((await editor(TEST, { id })).body.data.testIntegration.healthCheck.ok).toBe(true);
    expect((await gw.row(id)).secret_origins).toBeNull();
    expect((await editor(REFRESH, { id, webhook: { rotateSecret: true } })).body.data.refreshIntegration.userErrors).toEqual([]);
    expect(await originsOf(id)).toEqual({ api: hostA.url, token: null, revoke: null });
    await gw.db.updateTable('integrations').set({ config: JSON.stringify({ host: hostB.url }) }).where('id', '=', row.id).execute();
    expect((await editor(TEST, { id })).body.data.testIntegration.userErrors).toEqual([expect.objectContaining({ code: 'CREDENTIAL_ORIGIN_MISMATCH' })]);
    expect(hostB.store.calls).toEqual([]);
  });
});
