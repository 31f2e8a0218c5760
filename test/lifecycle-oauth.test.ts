import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/db/connection.js';
import { decodeTypedID } from '../src/graphql/global-id.js';
import { createTestDatabase } from './support/database.js';
import { createTestGateway, type TestGateway } from './support/gateway.js';
import { CONNECTING_GATEWAY, REFRESH, RETURN_URL } from './support/integration-flows.js';

let gw: TestGateway;
beforeAll(async () => {
  gw = await createTestGateway(CONNECTING_GATEWAY);
});
afterAll(() => gw.close());
beforeEach(() => gw.fake.reset());

async function start(provider = 'gitlab') {
  const payload = (await gw.startOAuth(provider)).body.data.connectIntegration;
  expect(payload.userErrors).toEqual([]);
  return { id: payload.integration.id as string, authorizationUrl: payload.authorizationUrl as string };
}

/** The browser lands back on the return URL with `outcome=error` and a reason; no credential is stored, the new integration is ERROR. */
async function expectFailedReturn(id: string, location: URL | null, error: string) {
  expect(`${location?.origin}${location?.pathname}`).toBe(RETURN_URL);
  expect(Object.fromEntries(location?.searchParams ?? [])).toEqual({ integration: id, outcome: 'error', error });
  const row = await gw.row(id);
  expect(row).toMatchObject({ status: 'ERROR', status_reason: `Authorization failed: ${error}.`, secret_ciphertext: null });
  const [event] = (await gw.events(id)).slice(-1);
  expect(event).toMatchObject({ type: 'integration.authorization_failed', outcome: 'FAILED' });
}

describe('the callback completes an authorization once', () => {
  it('stores encrypted tokens, probes, and redirects with outcome=connected', async () => {
    const { id, authorizationUrl } = await start();
    const { response, location } = await gw.authorize(authorizationUrl);
    expect(response.status).toBe(302);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(location?.searchParams.get('outcome')).toBe('connected');
    const row = await gw.row(id);
    const grant = gw.fake.latestGrant('gitlab')!;
    expect(row).toMatchObject({ status: 'ACTIVE', health: 'HEALTHY', auth_kind: 'OAUTH2', granted_scopes: ['read_api', 'read_user'] });
    expect(row.secret_ciphertext).not.toContain(grant.accessToken);
    expect(await gw.secretsOf(id)).toMatchObject({ credential: { accessToken: grant.accessToken, refreshToken: grant.refreshToken } });
    expect((await gw.events(id)).map((event) => event.type)).toEqual(['integration.authorization_started', 'integration.authorized']);
  });

  it('the state is 256 random bits, kept only as a hash, with a PKCE S256 challenge and a 10-minute expiry', async () => {
    const { id, authorizationUrl } = await start();
    const url = new URL(authorizationUrl);
    const state = url.searchParams.get('state') as string;
    expect(Buffer.from(state, 'base64url')).toHaveLength(32);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    const rows = await gw.db
      .selectFrom('oauth_states')
      .selectAll()
      .where('integration_id', '=', decodeTypedID(id, 'Integration'))
      .execute();
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(state);
    expect(JSON.stringify(rows)).not.toContain(url.searchParams.get('code_challenge'));
    const ttl = (rows[0]?.expires_at.getTime() ?? 0) - Date.now();
    expect(ttl).toBeGreaterThan(9 * 60_000);
    expect(ttl).toBeLessThanOrEqual(10 * 60_000);
  });

  it('a reused state is refused without a second code exchange', async () => {
    const { id, authorizationUrl } = await start();
    const { callbackUrl } = await gw.authorize(authorizationUrl);
    const before = await gw.row(id);
    const again = await gw.callback(callbackUrl);
    expect(again.status).toBe(302);
    const location = new URL(again.headers.get('location') as string);
    expect(Object.fromEntries(location.searchParams)).toEqual({ integration: id, outcome: 'error', error: 'state_already_used' });
    expect(gw.fake.calls('gitlab', 'token')).toBe(1);
    expect((await gw.row(id)).secret_version).toBe(before.secret_version);
  });

  it('an unknown or missing state gets a page, not a redirect', async () => {
    for (const query of ['?state=forged&code=x', '?code=x', `?state=${'a'.repeat(600)}`]) {
      const response = await gw.callback(`http://gateway.test/oauth/callback${query}`);
      expect(response.status).toBe(400);
      expect(response.headers.get('location')).toBeNull();
      expect(await response.text()).toMatch(/Start the connection again/);
    }
    expect(gw.fake.calls('gitlab', 'token')).toBe(0);
  });
});

describe('a failed authorization leaves a clear outcome and no credential', () => {
  it('an expired state (older than 10 minutes)', async () => {
    const { id, authorizationUrl } = await start();
    await gw.db
      .updateTable('oauth_states')
      .set({ expires_at: sql<Date>`now() - interval '1 second'` })
      .where('integration_id', '=', decodeTypedID(id, 'Integration'))
      .execute();
    const { location } = await gw.authorize(authorizationUrl);
    await expectFailedReturn(id, location, 'state_expired');
    expect(gw.fake.calls('gitlab', 'token')).toBe(0);
  });

  it('the user denies access at the provider (error=access_denied)', async () => {
    const { id, authorizationUrl } = await start('slack');
    gw.fake.knobs('slack').denyAuthorization = true;
    const { callbackUrl, location } = await gw.authorize(authorizationUrl);
    expect(new URL(callbackUrl).searchParams.get('error')).toBe('access_denied');
    await expectFailedReturn(id, location, 'access_denied');
    expect(gw.fake.calls('slack', 'token')).toBe(0);
  });

  it.each([
    ['the token endpoint fails (HTTP 500)', () => gw.fake.fault('gitlab', 'token', { status: 500 })],
    ['the token endpoint drops the connection', () => gw.fake.fault('gitlab', 'token', { drop: true })],
    ['the code is refused (invalid_grant)', () => gw.fake.store.codes.clear()],
  ])('%s', async (_name, arrange) => {
    const { id, authorizationUrl } = await start();
    const atProvider = await fetch(authorizationUrl, { redirect: 'manual' });
    arrange();
    const response = await gw.callback(atProvider.headers.get('location') as string);
    await expectFailedReturn(id, new URL(response.headers.get('location') as string), 'token_exchange_failed');
  });

  it('the PKCE verifier does not match the challenge (the provider verifies S256)', async () => {
    const { id, authorizationUrl } = await start('datadog');
    await gw.db
      .updateTable('oauth_states')
      .set({ code_verifier: 'x'.repeat(43) })
      .where('integration_id', '=', decodeTypedID(id, 'Integration'))
      .execute();
    const { location } = await gw.authorize(authorizationUrl);
    await expectFailedReturn(id, location, 'token_exchange_failed');
    expect(gw.fake.calls('datadog', 'token')).toBe(1);
    const [event] = (await gw.events(id)).slice(-1);
    expect(event?.detail).toMatchObject({ reason: 'token_exchange_failed', oauthError: 'invalid_grant' });
  });

  it("GitHub's 200-with-error answer is a failed exchange too", async () => {
    const { id, authorizationUrl } = await start('github');
    const atProvider = await fetch(authorizationUrl, { redirect: 'manual' });
    const callback = new URL(atProvider.headers.get('location') as string);
    callback.searchParams.set('code', 'forged-code');
    const response = await gw.callback(callback.toString());
    await expectFailedReturn(id, new URL(response.headers.get('location') as string), 'token_exchange_failed');
  });
});

describe('what the provider grants is recorded', () => {
  it('scopes granted short of the required ones: ACTIVE but DEGRADED, missing scopes listed', async () => {
    gw.fake.knobs('github').grantScopes = ['read:org'];
    const { id, authorizationUrl } = await start('github');
    await gw.authorize(authorizationUrl);
    const read = await gw.graphql(
      gw.world.acme.keys.VIEWER,
      'query($id: ID!) { integration(id: $id) { status statusReason health grantedScopes missingScopes } }',
      { id },
    );
    expect(read.body.data.integration).toEqual({
      status: 'ACTIVE',
      statusReason: 'Missing required scopes: repo',
      health: 'DEGRADED',
      grantedScopes: ['read:org'],
      missingScopes: ['repo'],
    });
  });

  it("without expires_in, a connector documenting its tokens' lifetime (GitLab: 2 hours) expires them then", async () => {
    gw.fake.knobs('gitlab').omitExpiresIn = true;
    const { id, authorizationUrl } = await start('gitlab');
    await gw.authorize(authorizationUrl);
    const expiresIn = ((await gw.row(id)).credential_expires_at!.getTime() - Date.now()) / 1000;
    expect(expiresIn).toBeGreaterThan(7200 - 30);
    expect(expiresIn).toBeLessThanOrEqual(7200);
  });

  it('without expires_in and no documented lifetime (GitHub), the expiry is unknown: null, refreshed by age', async () => {
    gw.fake.knobs('github').omitExpiresIn = true;
    const { id, authorizationUrl } = await start('github');
    const before = Date.now();
    await gw.authorize(authorizationUrl);
    const row = await gw.row(id);
    expect(row).toMatchObject({ status: 'ACTIVE', credential_expires_at: null, credential_refreshable: true });
    expect(row.credential_obtained_at!.getTime()).toBeGreaterThanOrEqual(before - 1_000);
    const read = await gw.graphql(gw.world.acme.keys.VIEWER, 'query($id: ID!) { integration(id: $id) { credentialExpiresAt } }', {
      id,
    });
    expect(read.body.data.integration).toEqual({ credentialExpiresAt: null });
  });

  it('tokens are committed before the probe: a failing probe keeps them, and they refresh later', async () => {
    const { id, authorizationUrl } = await start();
    gw.fake.fault('gitlab', 'api', { status: 503 }, Infinity);
    const { location } = await gw.authorize(authorizationUrl);
    gw.fake.reset();
    expect(Object.fromEntries(location?.searchParams ?? [])).toEqual({
      integration: id,
      outcome: 'connected',
      error: 'probe_provider_error',
    });
    expect(await gw.row(id)).toMatchObject({ status: 'ACTIVE', health: 'DEGRADED' });
    const refreshed = await gw.graphql(gw.world.acme.keys.EDITOR, REFRESH, { input: { id, refreshTokens: true } });
    expect(refreshed.body.data.refreshIntegration.userErrors).toEqual([]);
    expect(gw.fake.calls('gitlab', 'token', 'refresh_token')).toBe(1);
  });

  it('an integration revoked while its authorization is pending cannot be completed', async () => {
    const { id, authorizationUrl } = await start();
    await gw.graphql(gw.world.acme.keys.EDITOR, 'mutation($id: ID!) { revokeIntegration(input: { id: $id }) { userErrors { code } } }', {
      id,
    });
    const { location } = await gw.authorize(authorizationUrl);
    expect(location?.searchParams.get('outcome')).toBe('error');
    expect(gw.fake.calls('gitlab', 'token')).toBe(0);
    expect(await gw.row(id)).toMatchObject({ status: 'REVOKED', secret_ciphertext: null });
  });
});

describe("without a returnUrl the browser lands on the gateway's own /oauth/done page", () => {
  async function land(location: URL | null) {
    expect(`${location?.origin}${location?.pathname}`).toBe('http://gateway.test/oauth/done');
    const response = await gw.fetch(location!.toString(), { headers: { accept: 'text/html' } });
    return { response, html: await response.text() };
  }

  it('says the integration is connected, under a strict Content-Security-Policy and with no script', async () => {
    const started = await gw.startOAuth('gitlab', { oauth2: undefined });
    const { integration, authorizationUrl, userErrors } = started.body.data.connectIntegration;
    expect(userErrors).toEqual([]);
    const { location } = await gw.authorize(authorizationUrl);
    expect(Object.fromEntries(location?.searchParams ?? [])).toEqual({ integration: integration.id, outcome: 'connected' });
    const { response, html } = await land(location);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('content-security-policy')).toMatch(
      /^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/=]+'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'$/,
    );
    expect(html).toContain('<h1>Connected</h1>');
    expect(html).toContain(`The integration <code>${integration.id}</code> is connected`);
    expect(html).not.toMatch(/<script|https?:\/\//i);
    expect((await gw.row(integration.id)).status).toBe('ACTIVE');
  });

  it('says in words why a connection failed', async () => {
    const started = await gw.startOAuth('slack', { oauth2: {} });
    const { integration, authorizationUrl } = started.body.data.connectIntegration;
    gw.fake.knobs('slack').denyAuthorization = true;
    const { location } = await gw.authorize(authorizationUrl);
    const { response, html } = await land(location);
    expect(response.status).toBe(200);
    expect(html).toContain('<h1>Not connected</h1>');
    expect(html).toContain(
      `The integration <code>${integration.id}</code> was not connected: the authorization was refused at the provider.`,
    );
  });

  it('escapes whatever the query string holds, and answers 400 when it says nothing', async () => {
    const hostile = new URLSearchParams({
      integration: '<script>alert(1)</script>',
      outcome: 'error',
      error: '"><img src=x onerror=alert(1)>',
    });
    const response = await gw.fetch(`http://gateway.test/oauth/done?${hostile}`);
    const html = await response.text();
    expect(response.status).toBe(200);
    expect(html).not.toMatch(/<script|<img/);
    expect(html).toContain('&#60;script&#62;alert(1)&#60;/script&#62;');
    for (const query of ['', '?outcome=connected', '?integration=x&outcome=maybe']) {
      const empty = await gw.fetch(`http://gateway.test/oauth/done${query}`);
      expect(empty.status).toBe(400);
      expect(await empty.text()).toContain('Nothing to show');
    }
    expect((await gw.fetch('http://gateway.test/oauth/done', { method: 'POST' })).status).toBe(405);
  });

  it('a returnUrl that is given must still be an absolute http(s) URL', async () => {
    const started = await gw.startOAuth('gitlab', { oauth2: { returnUrl: '' } });
    expect(started.body.data.connectIntegration.userErrors).toEqual([
      expect.objectContaining({ code: 'VALIDATION', field: ['input', 'oauth2', 'returnUrl'] }),
    ]);
  });
});

describe('a callback that fails itself answers 503 with the request id, never a 500', () => {
  /** Expects the retryable page: HTML, 503, no redirect, the request id in the page and the header, and a logged error. */
  async function expectFailurePage(response: Response, requestId: string) {
    expect(response.status).toBe(503);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('location')).toBeNull();
    expect(response.headers.get('x-request-id')).toBe(requestId);
    const page = await response.text();
    expect(page).toContain(requestId);
    expect(page).toMatch(/Try again/);
    expect(page).not.toMatch(/stack|at [\w.]+ \(|Error:/);
    const logged = gw.logs.filter((line) => line.includes('OAuth2 callback failed')).map((line) => JSON.parse(line));
    expect(logged.at(-1)).toMatchObject({ requestId });
  }

  it('the database is closed or unreachable', async () => {
    const { authorizationUrl } = await start();
    const atProvider = await fetch(authorizationUrl, { redirect: 'manual' });
    const callbackUrl = atProvider.headers.get('location') as string;
    // PGlite: a handle of its own (the embedded database is one per handle), closed before the callback
    // arrives. PostgreSQL: a server that does not answer (a closed pool handle would reconnect).
    const closed = gw.database.url
      ? await openDatabase({ kind: 'postgres', url: 'postgres://postgres@127.0.0.1:9/gone', poolSize: 1 })
      : await createTestDatabase();
    if (!gw.database.url) await closed.close();
    const broken = await createTestGateway({ database: closed, services: gw.services });
    try {
      const requestId = `callback-${Date.now()}`;
      const response = await broken.fetch(callbackUrl, { headers: { 'x-request-id': requestId }, redirect: 'manual' });
      await expectFailurePage(response, requestId);
      // Neither the state nor the code reached a log line.
      const params = new URL(callbackUrl).searchParams;
      for (const secret of [params.get('state'), params.get('code')])
        expect(gw.logs.some((line) => line.includes(secret as string))).toBe(false);
    } finally {
      await broken.close();
      await closed.close();
    }
  });

  it('the database fails after the code was exchanged: no credential is stored, and a new authorization works', async () => {
    const { id, authorizationUrl } = await start();
    await sql`create function igw_test_refuse() returns trigger language plpgsql as $$ begin raise exception 'disk full'; end $$`.execute(
      gw.db,
    );
    await sql`create trigger igw_test_refuse before insert on integration_events
      for each row when (new.type = 'integration.authorized') execute function igw_test_refuse()`.execute(gw.db);
    const requestId = `callback-${Date.now()}`;
    try {
      const atProvider = await fetch(authorizationUrl, { redirect: 'manual' });
      const response = await gw.fetch(atProvider.headers.get('location') as string, {
        headers: { 'x-request-id': requestId },
        redirect: 'manual',
      });
      await expectFailurePage(response, requestId);
    } finally {
      await sql`drop trigger igw_test_refuse on integration_events`.execute(gw.db);
      await sql`drop function igw_test_refuse()`.execute(gw.db);
    }
    expect(gw.fake.calls('gitlab', 'token')).toBe(1);
    expect(await gw.row(id)).toMatchObject({ status: 'PENDING_AUTHORIZATION', secret_ciphertext: null });
    const again = (await gw.startOAuth('gitlab', { integrationId: id })).body.data.connectIntegration;
    expect((await gw.authorize(again.authorizationUrl)).location?.searchParams.get('outcome')).toBe('connected');
    expect(await gw.row(id)).toMatchObject({ status: 'ACTIVE', health: 'HEALTHY' });
  });
});
