import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { listConnectors } from '../src/connectors/registry.js';
import { connectorSettingsFromEnv } from '../src/connectors/settings.js';
import { decodeTypedID } from '../src/graphql/global-id.js';
import { KeyRing, rotateSecrets, SecretVault } from '../src/secrets/index.js';
import { clientIdOf } from './fake-provider/profiles.js';
import { type FakeProvider, startFakeProvider } from './fake-provider/server.js';
import { createTestGateway, type TestGateway } from './support/gateway.js';
import { CONNECT, CONNECTING_GATEWAY, REFRESH, RETURN_URL, REVOKE, TEST } from './support/integration-flows.js';

/**
 * Two self-managed GitLab instances on two loopback ports, each reached through the connector's own
 * URL templates and the integration's `host` config. The gateway's GitLab OAuth2 client is registered at
 * A (as `CONNECTOR_GITLAB_OAUTH_ORIGIN` says); B is any other server, one an EDITOR might control, which
 * takes API tokens. Two GitHub Enterprise instances likewise, the gateway's GitHub client registered at
 * the first.
 */
const CLIENT_SECRET = `gitlab_client_secret_${randomBytes(8).toString('hex')}`;
const GITHUB_CLIENT_SECRET = `github_client_secret_${randomBytes(8).toString('hex')}`;
const gatewayKey = randomBytes(32);
const rotationKey = randomBytes(32);

let gw: TestGateway;
let hostA: FakeProvider;
let hostB: FakeProvider;
let githubA: FakeProvider;
let githubB: FakeProvider;
beforeAll(async () => {
  hostA = await startFakeProvider({ root: 'gitlab', clientSecret: () => CLIENT_SECRET });
  hostB = await startFakeProvider({ root: 'gitlab', clientSecret: () => CLIENT_SECRET });
  githubA = await startFakeProvider({ root: 'github', clientSecret: () => GITHUB_CLIENT_SECRET });
  githubB = await startFakeProvider({ root: 'github', clientSecret: () => GITHUB_CLIENT_SECRET });
  // The gateway's vault also opens what `secrets rotate` re-encrypts under the rotation key (see the last test).
  gw = await createTestGateway({
    ...CONNECTING_GATEWAY,
    services: {
      connectorSettings: { ...hostA.settings, ...githubA.settings },
      vault: new SecretVault(new KeyRing(gatewayKey, [rotationKey])),
    },
  });
});
afterAll(async () => {
  await gw.close();
  await Promise.all([hostA, hostB, githubA, githubB].map((host) => host.close()));
});
beforeEach(() => {
  for (const host of [hostA, hostB, githubA, githubB]) host.reset();
});

const editor = (query: string, input: Record<string, unknown>) => gw.graphql(gw.world.acme.keys.EDITOR, query, { input });
const oauthInput = (host: FakeProvider, extra: Record<string, unknown> = {}) => ({
  provider: 'gitlab',
  authKind: 'OAUTH2',
  displayName: 'GitLab A',
  environment: 'production',
  config: { host: host.url },
  oauth2: { returnUrl: RETURN_URL },
  ...extra,
});

/**
 * Connects through OAuth2 at `host` (a GitLab, or GitHub with `provider: 'github'`) and returns the integration's ID; the
 * hosts' call logs start afresh.
 */
async function connectOAuthAt(host: FakeProvider, extra: Record<string, unknown> = {}): Promise<string> {
  const started = (await editor(CONNECT, oauthInput(host, extra))).body.data.connectIntegration;
  expect(started.userErrors).toEqual([]);
  const { location } = await gw.authorize(started.authorizationUrl);
  expect(location?.searchParams.get('outcome')).toBe('connected');
  for (const each of [hostA, hostB, githubA, githubB]) each.reset();
  return started.integration.id;
}

/** Connects with a personal access token issued by `host`; the hosts' call logs start afresh. */
async function connectTokenAt(host: FakeProvider, token = host.issueApiToken('gitlab')): Promise<string> {
  const payload = (
    await editor(CONNECT, {
      provider: 'gitlab',
      authKind: 'API_TOKEN',
      displayName: 'GitLab token',
      config: { host: host.url },
      credentials: { token },
    })
  ).body.data.connectIntegration;
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

/** Re-stores the integration's secrets as an earlier version did: no origins, none in the associated data. */
async function sealWithoutOrigins(id: string): Promise<void> {
  const row = await gw.row(id);
  const legacy = gw.services.vault.seal(await gw.secretsOf(id), {
    organizationId: row.organization_id,
    integrationId: row.id,
    version: row.secret_version,
  });
  await gw.db
    .updateTable('integrations')
    .set({ secret_ciphertext: legacy.ciphertext, secret_key_id: legacy.keyId, secret_origins: null })
    .where('id', '=', row.id)
    .execute();
}

/** What an attacker with write access to the database, or any path that changes config alone, would do. */
const pointAt = (id: string, host: FakeProvider) =>
  gw.db
    .updateTable('integrations')
    .set({ config: JSON.stringify({ host: host.url }) })
    .where('id', '=', rowId(id))
    .execute();

describe('an OAuth2 reconnection changes nothing until its callback succeeds', () => {
  it(
    'with new settings: the integration keeps working with its tokens ' + 'until the callback applies the settings with new ones',
    async () => {
      const id = await connectOAuthAt(hostA);
      const grantA = { ...hostA.latestGrant('gitlab')! };
      const before = await gw.row(id);

      const started = (
        await editor(
          CONNECT,
          oauthInput(hostA, { integrationId: id, displayName: 'GitLab renamed', environment: 'staging', scopes: ['read_api'] }),
        )
      ).body.data.connectIntegration;
      expect(started.userErrors).toEqual([]);
      expect(started.integration).toMatchObject({ id, displayName: 'GitLab A', status: 'ACTIVE', scopes: ['read_api', 'read_user'] });
      expect(await gw.row(id)).toEqual(before);

      // The pending reconnection is not completed yet; the integration keeps working with the tokens it has.
      expect((await editor(TEST, { id })).body.data.testIntegration).toMatchObject({ userErrors: [], healthCheck: { ok: true } });
      expect((await editor(REFRESH, { id, refreshTokens: true })).body.data.refreshIntegration.userErrors).toEqual([]);
      expect(hostA.calls('gitlab', 'token', 'refresh_token')).toBe(1);
      const refreshed = (await gw.secretsOf(id)).credential;
      expect(refreshed).not.toMatchObject({ accessToken: grantA.accessToken });

      const { location } = await gw.authorize(started.authorizationUrl);
      expect(Object.fromEntries(location?.searchParams ?? [])).toEqual({ integration: id, outcome: 'connected' });
      const grant = hostA.latestGrant('gitlab')!;
      expect(await gw.row(id)).toMatchObject({
        display_name: 'GitLab renamed',
        environment: 'staging',
        requested_scopes: ['read_api'],
        status: 'ACTIVE',
        health: 'HEALTHY',
      });
      expect((await gw.secretsOf(id)).credential).toMatchObject({ accessToken: grant.accessToken, refreshToken: grant.refreshToken });
      expect(await originsOf(id)).toEqual({ api: hostA.url, token: hostA.url, revoke: hostA.url });
    },
  );

  it('to another host: the stored token never goes there; the callback applies the new config with the new tokens', async () => {
    const tokenB = hostB.issueApiToken('gitlab');
    const id = await connectTokenAt(hostB, tokenB);
    const before = await gw.row(id);

    const started = (await editor(CONNECT, oauthInput(hostA, { integrationId: id }))).body.data.connectIntegration;
    expect(started.userErrors).toEqual([]);
    expect(new URL(started.authorizationUrl).origin).toBe(hostA.url);
    expect(started.integration).toMatchObject({ id, authKind: 'API_TOKEN', config: { host: hostB.url }, status: 'ACTIVE' });
    expect(await gw.row(id)).toEqual(before);
    expect((await editor(TEST, { id })).body.data.testIntegration.healthCheck.ok).toBe(true);
    expect(hostB.calls('gitlab', 'api')).toBe(1);

    const { location } = await gw.authorize(started.authorizationUrl);
    expect(Object.fromEntries(location?.searchParams ?? [])).toEqual({ integration: id, outcome: 'connected' });
    const grantA = hostA.latestGrant('gitlab')!;
    expect(await gw.row(id)).toMatchObject({
      display_name: 'GitLab A',
      auth_kind: 'OAUTH2',
      config: { host: hostA.url },
      status: 'ACTIVE',
      health: 'HEALTHY',
    });
    expect(await originsOf(id)).toEqual({ api: hostA.url, token: hostA.url, revoke: hostA.url });
    hostB.reset();
    expect((await editor(TEST, { id })).body.data.testIntegration).toMatchObject({ userErrors: [], healthCheck: { ok: true } });
    expect(hostB.store.calls).toEqual([]);
    expect(carrying(hostA, [tokenB])).toEqual([]);
    expect(carrying(hostA, [grantA.accessToken]).length).toBeGreaterThan(0);
  });

  it.each([
    [
      'the user denies access',
      () => {
        hostA.knobs('gitlab').denyAuthorization = true;
      },
      'access_denied',
    ],
    ['the token exchange fails', () => hostA.fault('gitlab', 'token', { status: 500 }), 'token_exchange_failed'],
  ])('a failed reconnection (%s) leaves the integration exactly as it was', async (_name, arrange, error) => {
    const tokenB = hostB.issueApiToken('gitlab');
    const id = await connectTokenAt(hostB, tokenB);
    const before = await gw.row(id);
    const started = (await editor(CONNECT, oauthInput(hostA, { integrationId: id, displayName: 'GitLab A' }))).body.data
      .connectIntegration;
    arrange();
    const { location } = await gw.authorize(started.authorizationUrl);
    expect(Object.fromEntries(location?.searchParams ?? [])).toEqual({ integration: id, outcome: 'error', error });
    expect(await gw.row(id)).toEqual(before);
    expect((await editor(TEST, { id })).body.data.testIntegration.healthCheck.ok).toBe(true);
    expect(hostB.calls('gitlab', 'api')).toBe(1);
    expect(carrying(hostA, [tokenB])).toEqual([]);
  });

  it('revoking during a pending reconnection revokes the stored tokens where they came from', async () => {
    const id = await connectOAuthAt(hostA);
    const grantA = { ...hostA.latestGrant('gitlab')! };
    expect(
      (await editor(CONNECT, oauthInput(hostA, { integrationId: id, displayName: 'GitLab renamed' }))).body.data.connectIntegration
        .userErrors,
    ).toEqual([]);
    const revoked = (await editor(REVOKE, { id })).body.data.revokeIntegration;
    expect(revoked).toMatchObject({
      userErrors: [],
      revokedAtProvider: true,
      integration: { displayName: 'GitLab A', status: 'REVOKED' },
    });
    expect(hostA.calls('gitlab', 'revoke')).toBe(2);
    expect(hostA.tokenIsLive('gitlab', grantA.accessToken)).toBe(false);
    expect(hostB.store.calls).toEqual([]);
  });
});

describe('a stored credential goes only to the origins it is bound to', () => {
  it('a config changed without a new credential: test, refresh and revocation send nothing there', async () => {
    const id = await connectOAuthAt(hostA);
    await pointAt(id, hostB);
    const before = await gw.row(id);
    const tested = (await editor(TEST, { id })).body.data.testIntegration;
    expect(tested.userErrors).toEqual([
      { code: 'CREDENTIAL_ORIGIN_MISMATCH', field: ['input', 'id'], message: expect.stringContaining(hostA.url) },
    ]);
    const refreshed = (await editor(REFRESH, { id, refreshTokens: true })).body.data.refreshIntegration;
    expect(refreshed.userErrors).toEqual([expect.objectContaining({ code: 'CREDENTIAL_ORIGIN_MISMATCH' })]);
    // An expired token is refreshed before a test: at the bound token endpoint or not at all.
    await gw.db
      .updateTable('integrations')
      .set({ credential_expires_at: new Date(Date.now() - 1000) })
      .where('id', '=', rowId(id))
      .execute();
    expect((await editor(TEST, { id })).body.data.testIntegration.userErrors).toEqual([
      expect.objectContaining({ code: 'CREDENTIAL_ORIGIN_MISMATCH' }),
    ]);
    expect(await gw.row(id)).toMatchObject({
      secret_version: before.secret_version,
      status: 'ACTIVE',
      last_check_at: before.last_check_at,
    });
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
    await sql`update integrations set secret_origins = replace(secret_origins, ${hostA.url}, ${hostB.url})
      where id = ${rowId(id)}`.execute(gw.db);
    for (const [query, input] of [
      [TEST, { id }],
      [REFRESH, { id, refreshTokens: true }],
    ] as const) {
      const answer = await editor(query, input);
      expect(answer.status).toBe(200);
      expect(Object.values(answer.body.data)[0]).toMatchObject({
        integration: null,
        userErrors: [{ code: 'CREDENTIAL_UNREADABLE', field: ['input', 'id'] }],
      });
    }
    // Removing the origins does not open it either.
    await gw.db.updateTable('integrations').set({ secret_origins: null }).where('id', '=', rowId(id)).execute();
    expect((await editor(TEST, { id })).body.data.testIntegration.userErrors).toEqual([
      expect.objectContaining({ code: 'CREDENTIAL_UNREADABLE' }),
    ]);
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
    expect(await gw.row(id)).toMatchObject({
      secret_origins: origins,
      secret_key_id: new SecretVault(new KeyRing(rotationKey)).currentKeyId,
    });
    expect((await editor(TEST, { id })).body.data.testIntegration.healthCheck.ok).toBe(true);
    await pointAt(id, hostB);
    expect((await editor(TEST, { id })).body.data.testIntegration.userErrors).toEqual([
      expect.objectContaining({ code: 'CREDENTIAL_ORIGIN_MISMATCH' }),
    ]);
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
    const refused = (
      await editor(CONNECT, {
        provider: 'gitlab',
        authKind: 'API_TOKEN',
        displayName: 'moved',
        config: { host: hostB.url },
        credentials: { token: 'glpat-unknown' },
        integrationId: id,
      })
    ).body.data.connectIntegration;
    expect(refused.userErrors).toEqual([expect.objectContaining({ code: 'PROVIDER_REJECTED_CREDENTIALS' })]);
    expect(await gw.row(id)).toEqual(before);

    const newToken = hostB.issueApiToken('gitlab');
    const moved = (
      await editor(CONNECT, {
        provider: 'gitlab',
        authKind: 'API_TOKEN',
        displayName: 'moved',
        config: { host: hostB.url },
        credentials: { token: newToken },
        integrationId: id,
      })
    ).body.data.connectIntegration;
    expect(moved).toMatchObject({
      userErrors: [],
      integration: { id, displayName: 'moved', config: { host: hostB.url }, status: 'ACTIVE' },
    });
    expect(await originsOf(id)).toEqual({ api: hostB.url, token: null, revoke: null });
    expect((await editor(TEST, { id })).body.data.testIntegration.healthCheck.ok).toBe(true);
    expect(carrying(hostB, [oldToken])).toEqual([]);
    expect(hostB.store.calls.map((call) => call.headers['private-token'])).toEqual(['glpat-unknown', newToken, newToken]);
    expect(hostA.store.calls).toEqual([]);
  });

  it(
    'refreshIntegration binds a replacement credential to the integration’s origin ' + 'and keeps a carried-over one where it was',
    async () => {
      const id = await connectTokenAt(hostA);
      const replacement = hostA.issueApiToken('gitlab');
      const replaced = (await editor(REFRESH, { id, credentials: { token: replacement } })).body.data.refreshIntegration;
      expect(replaced.userErrors).toEqual([]);
      expect(await originsOf(id)).toEqual({ api: hostA.url, token: null, revoke: null });
      // A webhook change re-seals the bundle: the credential keeps its origins, even when the config now says otherwise.
      await gw.db
        .updateTable('integrations')
        .set({ config: JSON.stringify({ host: hostB.url }) })
        .where('id', '=', rowId(id))
        .execute();
      const rotated = (await editor(REFRESH, { id, webhook: { url: 'https://hooks.example.com/x', enabled: true, rotateSecret: true } }))
        .body.data.refreshIntegration;
      expect(rotated.userErrors).toEqual([]);
      expect(await originsOf(id)).toEqual({ api: hostA.url, token: null, revoke: null });
      expect((await gw.secretsOf(id)).credential).toEqual({ kind: 'API_TOKEN', token: replacement });
      expect((await editor(TEST, { id })).body.data.testIntegration.userErrors).toEqual([
        expect.objectContaining({ code: 'CREDENTIAL_ORIGIN_MISMATCH' }),
      ]);
      expect(hostB.store.calls).toEqual([]);
    },
  );

  it('a credential sealed before origins were bound goes to its current config only, and is bound at its next seal', async () => {
    const id = await connectTokenAt(hostA);
    await sealWithoutOrigins(id);
    expect((await editor(TEST, { id })).body.data.testIntegration.healthCheck.ok).toBe(true);
    expect((await gw.row(id)).secret_origins).toBeNull();
    expect((await editor(REFRESH, { id, webhook: { rotateSecret: true } })).body.data.refreshIntegration.userErrors).toEqual([]);
    expect(await originsOf(id)).toEqual({ api: hostA.url, token: null, revoke: null });
    await pointAt(id, hostB);
    expect((await editor(TEST, { id })).body.data.testIntegration.userErrors).toEqual([
      expect.objectContaining({ code: 'CREDENTIAL_ORIGIN_MISMATCH' }),
    ]);
    expect(hostB.store.calls).toEqual([]);
  });
});

describe('the OAuth2 client secret goes only where the client is registered', () => {
  const countRows = async () => {
    const count = (table: 'integrations' | 'oauth_states' | 'integration_events') =>
      gw.db
        .selectFrom(table)
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .executeTakeFirstOrThrow()
        .then((row) => Number(row.n));
    return { integrations: await count('integrations'), states: await count('oauth_states'), events: await count('integration_events') };
  };
  const secretsSeen = () =>
    [CLIENT_SECRET, GITHUB_CLIENT_SECRET].filter((secret) => [...gw.logs, ...gw.responses].some((text) => text.includes(secret)));

  it(
    'an OAuth2 connection or reconnection to a host the client is not registered at ' + 'is refused before anything is stored or sent',
    async () => {
      const before = await countRows();
      const refused = (await editor(CONNECT, oauthInput(hostB))).body.data.connectIntegration;
      expect(refused).toMatchObject({
        authorizationUrl: null,
        integration: null,
        userErrors: [
          {
            code: 'VALIDATION',
            field: ['input', 'config', 'host'],
            message: expect.stringContaining(`registered at https://gitlab.com, ${hostA.url}, not at ${hostB.url}`),
          },
        ],
      });
      expect(refused.userErrors[0].message).toMatch(/API_TOKEN.*CONNECTOR_GITLAB_OAUTH_ORIGIN/);
      expect(await countRows()).toEqual(before);

      const id = await connectOAuthAt(hostA);
      const row = await gw.row(id);
      const connected = await countRows();
      const reconnect = (await editor(CONNECT, oauthInput(hostB, { integrationId: id }))).body.data.connectIntegration;
      expect(reconnect.userErrors).toEqual([expect.objectContaining({ code: 'VALIDATION', field: ['input', 'config', 'host'] })]);
      expect(await gw.row(id)).toEqual(row);
      expect(await countRows()).toEqual(connected);

      // GitHub Enterprise: its token endpoint and its API, where GitHub's revocation sends the client id and secret.
      const github = (await editor(CONNECT, { ...oauthInput(githubB), provider: 'github' })).body.data.connectIntegration;
      expect(github.userErrors).toEqual([
        expect.objectContaining({
          code: 'VALIDATION',
          field: ['input', 'config', 'host'],
          message: expect.stringContaining(
            `registered at https://github.com, https://api.github.com, ${githubA.url}, not at ${githubB.url}`,
          ),
        }),
      ]);
      expect(await countRows()).toEqual(connected);
      expect(hostB.store.calls).toEqual([]);
      expect(githubB.store.calls).toEqual([]);
    },
  );

  it.each([
    ['GitLab', 'gitlab', () => [hostA, hostB] as const],
    ['GitHub', 'github', () => [githubA, githubB] as const],
  ])(
    '%s: a row altered to point at another host sends no client secret there on refresh or revocation',
    async (_name, provider, hosts) => {
      const [registered, other] = hosts();
      const id = await connectOAuthAt(registered, { provider });
      // As an earlier version stored it, the credential goes wherever the row's config points; the client secret does not.
      await sealWithoutOrigins(id);
      await pointAt(id, other);
      const before = await gw.row(id);

      const refreshed = (await editor(REFRESH, { id, refreshTokens: true })).body.data.refreshIntegration;
      expect(refreshed.userErrors).toEqual([
        {
          code: 'CREDENTIAL_ORIGIN_MISMATCH',
          field: ['input', 'id'],
          message: expect.stringContaining(`not at ${other.url}; its secret was not sent`),
        },
      ]);
      // A test refreshes an expired token first: not there either.
      await gw.db
        .updateTable('integrations')
        .set({ credential_expires_at: new Date(Date.now() - 1000) })
        .where('id', '=', rowId(id))
        .execute();
      expect((await editor(TEST, { id })).body.data.testIntegration.userErrors).toEqual([
        expect.objectContaining({ code: 'CREDENTIAL_ORIGIN_MISMATCH' }),
      ]);
      expect(await gw.row(id)).toMatchObject({
        secret_version: before.secret_version,
        status: 'ACTIVE',
        last_check_at: before.last_check_at,
      });

      const revoked = (await editor(REVOKE, { id })).body.data.revokeIntegration;
      expect(revoked).toMatchObject({
        userErrors: [],
        revokedAtProvider: false,
        integration: { status: 'REVOKED', hasCredentials: false },
      });
      expect(revoked.providerMessage).toContain(`not at ${other.url}`);
      expect(other.store.calls).toEqual([]);
      expect(registered.store.calls).toEqual([]);
      expect(secretsSeen()).toEqual([]);
    },
  );

  it(
    'a callback whose pending authorization was altered to point at another host ' + 'sends neither the code nor the client secret there',
    async () => {
      const started = (await editor(CONNECT, oauthInput(hostA))).body.data.connectIntegration;
      const id = started.integration.id;
      await gw.db
        .updateTable('oauth_states')
        .set({ config: JSON.stringify({ host: hostB.url }) })
        .where('integration_id', '=', rowId(id))
        .execute();
      const { location, callbackUrl } = await gw.authorize(started.authorizationUrl);
      expect(Object.fromEntries(location?.searchParams ?? [])).toEqual({
        integration: id,
        outcome: 'error',
        error: 'client_origin_mismatch',
      });
      expect(await gw.row(id)).toMatchObject({ status: 'ERROR', secret_ciphertext: null, config: { host: hostA.url } });
      expect((await gw.events(id)).at(-1)).toMatchObject({
        type: 'integration.authorization_failed',
        detail: { reason: 'client_origin_mismatch' },
      });
      const code = new URL(callbackUrl).searchParams.get('code') as string;
      expect(hostB.store.calls).toEqual([]);
      expect(carrying(hostA, [code])).toEqual([]);
      expect(secretsSeen()).toEqual([]);
    },
  );

  it('with CONNECTOR_GITLAB_OAUTH_ORIGIN naming another instance, OAuth2 works end to end there, and only there', async () => {
    const settings = connectorSettingsFromEnv(
      {
        CONNECTOR_GITLAB_CLIENT_ID: clientIdOf('gitlab'),
        CONNECTOR_GITLAB_CLIENT_SECRET: CLIENT_SECRET,
        CONNECTOR_GITLAB_OAUTH_ORIGIN: `${hostB.url}/`,
      },
      listConnectors(),
    );
    expect(settings.gitlab?.oauthOrigin).toBe(hostB.url);
    const other = await createTestGateway({ ...CONNECTING_GATEWAY, services: { connectorSettings: settings } });
    try {
      const asEditor = (query: string, input: Record<string, unknown>) => other.graphql(other.world.acme.keys.EDITOR, query, { input });
      const started = (await asEditor(CONNECT, oauthInput(hostB))).body.data.connectIntegration;
      expect(started.userErrors).toEqual([]);
      const { location } = await other.authorize(started.authorizationUrl);
      expect(location?.searchParams.get('outcome')).toBe('connected');
      const id = started.integration.id;
      expect((await asEditor(TEST, { id })).body.data.testIntegration).toMatchObject({ userErrors: [], healthCheck: { ok: true } });
      expect((await asEditor(REFRESH, { id, refreshTokens: true })).body.data.refreshIntegration.userErrors).toEqual([]);
      expect((await asEditor(REVOKE, { id })).body.data.revokeIntegration).toMatchObject({ userErrors: [], revokedAtProvider: true });
      expect(hostB.calls('gitlab', 'token', 'authorization_code')).toBe(1);
      expect(hostB.calls('gitlab', 'token', 'refresh_token')).toBe(1);
      expect(hostB.calls('gitlab', 'revoke')).toBe(2);
      expect(carrying(hostB, [CLIENT_SECRET])).toHaveLength(4);

      // The same client is not registered at the first instance.
      const refused = (await asEditor(CONNECT, oauthInput(hostA))).body.data.connectIntegration;
      expect(refused.userErrors).toEqual([
        expect.objectContaining({
          code: 'VALIDATION',
          field: ['input', 'config', 'host'],
          message: expect.stringContaining(`not at ${hostA.url}`),
        }),
      ]);
      expect(hostA.store.calls).toEqual([]);
    } finally {
      await other.close();
    }
  });
});
