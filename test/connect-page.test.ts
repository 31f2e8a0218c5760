import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { decodeTypedID } from '../src/graphql/global-id.js';
import { issueApiKey, revokeApiKey } from '../src/modules/api-key/api-key.service.js';
import { findApiKeyRow } from './support/fixtures.js';
import { createTestGateway, type TestGateway } from './support/gateway.js';
import { CONNECTING_GATEWAY } from './support/integration-flows.js';
import { createSession, type CreatedSession, csrfIn, expireSession, FormBrowser, textOf } from './support/connect-sessions.js';

// The hosted connect page as a browser without JavaScript uses it: plain GETs and form POSTs, a cookie.

let gw: TestGateway;
beforeAll(async () => {
  gw = await createTestGateway(CONNECTING_GATEWAY);
});
afterAll(() => gw.close());
beforeEach(() => gw.fake.reset());

const base = 'http://gateway.test';

/** Opens the session's link in a fresh cookie-keeping browser, landing on its first page. */
async function opened(session: CreatedSession): Promise<FormBrowser> {
  const browser = new FormBrowser(gw);
  const response = await browser.open(session.connectUrl);
  expect(response.status).toBe(303);
  return browser;
}

async function sessionRow(id: string) {
  return gw.db.selectFrom('connect_sessions').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}

async function integrationsOf(endUserId: string) {
  return gw.db.selectFrom('integrations').selectAll().where('end_user_id', '=', endUserId).execute();
}

describe('opening a connect link', () => {
  it('moves the token into an HttpOnly SameSite cookie of the session pages and redirects to a token-free URL', async () => {
    const session = await createSession(gw, { allowedProviders: ['github', 'gitlab'] });
    const response = await new FormBrowser(gw).open(session.connectUrl);
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe(`/connect/${session.id}`);
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    const cookie = response.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(
      new RegExp(`^igw_connect=${session.token}; Path=/connect/${session.id}; Max-Age=\\d+; HttpOnly; SameSite=Lax$`),
    );
    const maxAge = Number(/Max-Age=(\d+)/.exec(cookie)?.[1]);
    expect(maxAge).toBeGreaterThan(29 * 60);
    expect(maxAge).toBeLessThanOrEqual(30 * 60);
  });

  it('lists the allowed providers with their ways of connecting, on a page with a strict policy and no token', async () => {
    const session = await createSession(gw, { allowedProviders: ['github', 'gitlab'], allowedAuthKinds: ['API_TOKEN'] });
    const browser = await opened(session);
    const page = await browser.get(`/connect/${session.id}`);
    expect(page.status).toBe(200);
    const policy = page.headers.get('content-security-policy') ?? '';
    expect(policy).toContain("default-src 'none'");
    expect(policy).toContain("script-src 'self'");
    expect(policy).toContain("form-action 'self'");
    expect(policy).toContain("frame-ancestors 'none'");
    expect(policy).not.toContain('unsafe-inline');
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    expect(page.headers.get('cache-control')).toBe('no-store');
    const html = await page.text();
    expect(textOf(html)).toContain('Connect an account For Ada Lovelace');
    expect(html).toContain(`href="/connect/${session.id}/providers/github"`);
    expect(html).toContain(`href="/connect/${session.id}/providers/gitlab"`);
    expect(html).not.toContain('/providers/slack');
    expect(textOf(html)).not.toContain('Sign in');
    expect(html).not.toContain(session.token);
    // Nothing from anywhere else: no absolute URL at all on the page.
    expect(html).not.toMatch(/(src|href|action)="(https?:)?\/\//);
  });

  it('goes straight to the only provider a session offers', async () => {
    const session = await createSession(gw, { allowedProviders: ['github'] });
    const browser = await opened(session);
    const page = await browser.get(`/connect/${session.id}`);
    expect(page.status).toBe(303);
    expect(page.headers.get('location')).toBe(`/connect/${session.id}/providers/github`);
  });

  it('opens nothing without its cookie, or with the cookie of another session', async () => {
    const mine = await createSession(gw);
    const other = await createSession(gw);
    const browser = await opened(mine);
    for (const path of [`/connect/${other.id}`, `/connect/${other.id}/providers/github`, `/connect/${other.id}/done`]) {
      const response = await browser.get(path);
      expect(response.status).toBe(401);
      expect(textOf(await response.text())).toContain('Open your connect link again');
    }
    const stranger = await new FormBrowser(gw).get(`/connect/${mine.id}`);
    expect(stranger.status).toBe(401);
  });

  it('says clearly when a link is unknown, expired or withdrawn', async () => {
    const unknown = await new FormBrowser(gw).open(`${base}/connect?token=igcs_${'A'.repeat(43)}`);
    expect(unknown.status).toBe(404);
    expect(textOf(await unknown.text())).toContain('This connect link is not valid');
    const malformed = await new FormBrowser(gw).open(`${base}/connect?token=<script>`);
    expect(malformed.status).toBe(404);

    const expiring = await createSession(gw);
    const browser = await opened(expiring);
    await expireSession(gw, expiring.id);
    const expired = await new FormBrowser(gw).open(expiring.connectUrl);
    expect(expired.status).toBe(410);
    expect(textOf(await expired.text())).toContain('This connect link has expired');
    const page = await browser.get(`/connect/${expiring.id}/providers/github`);
    expect(page.status).toBe(410);

    const { acme } = gw.world;
    const key = await issueApiKey(gw.db, { organizationId: acme.organization.id, role: 'EDITOR' });
    const withdrawn = await createSession(gw, {}, key.secret);
    await revokeApiKey(gw.db, acme.organization.id, key.apiKey.id);
    const refused = await new FormBrowser(gw).open(withdrawn.connectUrl);
    expect(refused.status).toBe(410);
    expect(textOf(await refused.text())).toContain('This connect link was withdrawn');
  });
});

describe('connecting with a token, without JavaScript', () => {
  it('probes before saving, shows the refusal in words, then connects, spends the link and shows the result', async () => {
    const endUser = { id: 'token-user', displayName: 'Token User' };
    const session = await createSession(gw, { endUser, allowedProviders: ['github'], environment: 'staging' });
    const browser = await opened(session);
    const formPage = await browser.get(`/connect/${session.id}/providers/github`);
    const html = await formPage.text();
    expect(formPage.status).toBe(200);
    // Each input has its label, the token is a password field, and each form carries the session's form token.
    expect(html).toContain('<label for="api_token-token">GitHub API token</label>');
    expect(html).toMatch(/<input id="api_token-token" name="token" type="password"[^>]* required/);
    expect(html).toContain('<label for="api_token-config-host">Host <span class="optional">(optional)</span></label>');
    expect(html).toContain('<h2 id="oauth2-heading">Sign in with GitHub</h2>');
    const csrf = csrfIn(html);
    const action = `/connect/${session.id}/providers/github`;

    const wrong = 'ghp_wrong_token_0123456789';
    const refused = await browser.post(action, { csrf, authKind: 'API_TOKEN', token: wrong, 'config.host': '' });
    expect(refused.status).toBe(422);
    const refusedHtml = await refused.text();
    expect(textOf(refusedHtml)).toMatch(/GitHub refused these credentials: .+/);
    expect(refusedHtml).toContain('role="alert"');
    expect(refusedHtml).toMatch(
      /<input id="api_token-token"[^>]*aria-describedby="api_token-token-hint api_token-error" aria-invalid="true"/,
    );
    expect(refusedHtml).not.toContain(wrong);
    expect(await integrationsOf('token-user')).toEqual([]);

    const forged = await browser.post(action, { csrf: 'forged', authKind: 'API_TOKEN', token: gw.fake.issueApiToken('github') });
    expect(forged.status).toBe(403);
    const foreign = await browser.post(
      action,
      { csrf, authKind: 'API_TOKEN', token: gw.fake.issueApiToken('github') },
      { origin: 'https://evil.example' },
    );
    expect(foreign.status).toBe(403);
    expect(await integrationsOf('token-user')).toEqual([]);

    const token = gw.fake.issueApiToken('github');
    const connected = await browser.post(action, { csrf, authKind: 'API_TOKEN', token, 'config.host': '' });
    expect(connected.status).toBe(303);
    expect(connected.headers.get('location')).toBe(`/connect/${session.id}/done`);
    const [integration] = await integrationsOf('token-user');
    expect(integration).toMatchObject({
      provider: 'github',
      auth_kind: 'API_TOKEN',
      status: 'ACTIVE',
      health: 'HEALTHY',
      environment: 'staging',
      display_name: 'GitHub (Token User)',
      end_user_display_name: 'Token User',
    });
    expect(await sessionRow(session.id)).toMatchObject({ integration_id: integration?.id, attempts: 2 });
    expect((await sessionRow(session.id)).spent_at).not.toBeNull();

    const done = await browser.get(`/connect/${session.id}/done`);
    expect(done.status).toBe(200);
    const doneHtml = await done.text();
    expect(textOf(doneHtml)).toContain('Connected GitHub is connected as octocat .');
    expect(doneHtml).toContain('<script src="/connect/assets/connect.js"></script>');
    expect(doneHtml).not.toContain(token);

    // The audit names the session and its end user; the key is the one that issued the session.
    const editor = await findApiKeyRow(gw.db, gw.world.acme.keys.EDITOR);
    const events = await gw.db
      .selectFrom('integration_events')
      .selectAll()
      .where('type', 'in', ['integration.connect_failed', 'integration.connected'])
      .where('request_id', 'is not', null)
      .orderBy('created_at')
      .execute();
    const ours = events.filter((event) => event.detail.connectSessionId === session.id);
    expect(ours.map((event) => [event.type, event.actor_key_id, event.detail.endUserId])).toEqual([
      ['integration.connect_failed', editor.id, 'token-user'],
      ['integration.connected', editor.id, 'token-user'],
    ]);
  });

  it('a spent link opens nothing more: the link says so, the pages show the result, a second form post connects nothing', async () => {
    const session = await createSession(gw, { endUser: { id: 'spent-user' }, allowedProviders: ['github'] });
    const browser = await opened(session);
    const csrf = csrfIn(await (await browser.get(`/connect/${session.id}/providers/github`)).text());
    const action = `/connect/${session.id}/providers/github`;
    expect((await browser.post(action, { csrf, authKind: 'API_TOKEN', token: gw.fake.issueApiToken('github') })).status).toBe(303);
    const again = await browser.post(action, { csrf, authKind: 'API_TOKEN', token: gw.fake.issueApiToken('github') });
    expect(again.status).toBe(303);
    expect(again.headers.get('location')).toBe(`/connect/${session.id}/done`);
    expect(await integrationsOf('spent-user')).toHaveLength(1);
    const reopened = await new FormBrowser(gw).open(session.connectUrl);
    expect(reopened.status).toBe(410);
    expect(textOf(await reopened.text())).toContain('This connect link was already used');
    expect((await browser.get(`/connect/${session.id}`)).headers.get('location')).toBe(`/connect/${session.id}/done`);
  });

  it('offers only what the session allows, and stops after too many attempts', async () => {
    const session = await createSession(gw, {
      endUser: { id: 'limited-user' },
      allowedProviders: ['github'],
      allowedAuthKinds: ['API_TOKEN'],
    });
    const browser = await opened(session);
    const html = await (await browser.get(`/connect/${session.id}/providers/github`)).text();
    expect(html).not.toContain('Sign in with GitHub');
    const csrf = csrfIn(html);
    expect((await browser.get(`/connect/${session.id}/providers/gitlab`)).status).toBe(404);
    const gitlab = await browser.post(`/connect/${session.id}/providers/gitlab`, { csrf, authKind: 'API_TOKEN', token: 'x' });
    expect(gitlab.status).toBe(404);
    const oauth = await browser.post(`/connect/${session.id}/providers/github`, { csrf, authKind: 'OAUTH2' });
    expect(oauth.status).toBe(400);
    const huge = await browser.post(`/connect/${session.id}/providers/github`, { csrf, authKind: 'API_TOKEN', token: 'x'.repeat(40_000) });
    expect(huge.status).toBe(400);

    await gw.db.updateTable('connect_sessions').set({ attempts: 20 }).where('id', '=', session.id).execute();
    const tooMany = await browser.post(`/connect/${session.id}/providers/github`, {
      csrf,
      authKind: 'API_TOKEN',
      token: gw.fake.issueApiToken('github'),
    });
    expect(tooMany.status).toBe(403);
    expect(textOf(await tooMany.text())).toContain('too many attempts');
    expect(await integrationsOf('limited-user')).toEqual([]);
  });

  it('reconnects the integration it was issued for, which keeps its id and records the end user', async () => {
    const connected = (await gw.connect('github', 'API_TOKEN')).body.data.connectIntegration.integration;
    const session = await createSession(gw, { endUser: { id: 'reconnect-user' }, integrationId: connected.id });
    const browser = await opened(session);
    const first = await browser.get(`/connect/${session.id}`);
    expect(first.headers.get('location')).toBe(`/connect/${session.id}/providers/github`);
    const html = await (await browser.get(`/connect/${session.id}/providers/github`)).text();
    expect(textOf(html)).toContain('Reconnect GitHub');
    const posted = await browser.post(`/connect/${session.id}/providers/github`, {
      csrf: csrfIn(html),
      authKind: 'API_TOKEN',
      token: gw.fake.issueApiToken('github'),
    });
    expect(posted.status).toBe(303);
    const [row] = await integrationsOf('reconnect-user');
    expect(row?.id).toBe(decodeTypedID(connected.id, 'Integration'));
    expect(row).toMatchObject({ status: 'ACTIVE', display_name: connected.displayName });
  });
});

describe('connecting with OAuth2, without JavaScript', () => {
  /** Posts the OAuth2 form and follows the page's refresh to the fake provider and back to the gateway. */
  async function authorize(browser: FormBrowser, session: CreatedSession): Promise<URL> {
    const csrf = csrfIn(await (await browser.get(`/connect/${session.id}/providers/github`)).text());
    const started = await browser.post(`/connect/${session.id}/providers/github`, { csrf, authKind: 'OAUTH2' });
    expect(started.status).toBe(200);
    const html = await started.text();
    const refresh = /<meta http-equiv="refresh" content="0;url=([^"]+)">/.exec(html)?.[1]?.replace(/&#38;/g, '&');
    expect(refresh).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/github\//);
    expect(html).toContain('>Continue to GitHub</a>');
    const { location } = await gw.authorize(refresh as string);
    expect(location?.pathname).toBe(`/connect/${session.id}/done`);
    return location as URL;
  }

  it('goes to the provider, comes back to the result, and spends the link', async () => {
    const session = await createSession(gw, {
      endUser: { id: 'oauth-user', email: 'oauth@example.com' },
      allowedProviders: ['github'],
      returnUrl: 'https://app.example.com/settings',
    });
    const browser = await opened(session);
    const back = await authorize(browser, session);
    expect(back.searchParams.get('outcome')).toBe('connected');
    const [integration] = await integrationsOf('oauth-user');
    expect(integration).toMatchObject({ auth_kind: 'OAUTH2', status: 'ACTIVE', end_user_email: 'oauth@example.com' });
    expect((await sessionRow(session.id)).spent_at).not.toBeNull();
    const done = await browser.get(`${back.pathname}${back.search}`);
    const html = await done.text();
    expect(textOf(html)).toContain('GitHub is connected');
    // Without script, a refresh returns to the product with the outcome.
    const integrationParam = encodeURIComponent(back.searchParams.get('integration') ?? '');
    const returnTo = `https://app.example.com/settings?integration=${integrationParam}&amp;outcome=connected`;
    expect(html).toContain(`<noscript><meta http-equiv="refresh" content="0;url=${returnTo.replace(/&amp;/g, '&#38;')}"></noscript>`);
    const events = await gw.events(back.searchParams.get('integration') ?? '');
    expect(events.map((event) => [event.type, event.detail.endUserId])).toEqual([
      ['integration.authorization_started', 'oauth-user'],
      ['integration.authorized', 'oauth-user'],
    ]);
  });

  it('a refusal at the provider shows why and lets the user try again on the same integration', async () => {
    const session = await createSession(gw, { endUser: { id: 'denied-user' }, allowedProviders: ['github'] });
    const browser = await opened(session);
    gw.fake.knobs('github').denyAuthorization = true;
    const back = await authorize(browser, session);
    expect(back.searchParams.get('error')).toBe('access_denied');
    const page = await browser.get(`${back.pathname}${back.search}`);
    expect(textOf(await page.text())).toContain(
      'Not connected The connection was not made: the authorization was refused at the provider.',
    );
    expect((await sessionRow(session.id)).spent_at).toBeNull();

    gw.fake.knobs('github').denyAuthorization = false;
    const retried = await authorize(browser, session);
    expect(retried.searchParams.get('outcome')).toBe('connected');
    const integrations = await integrationsOf('denied-user');
    expect(integrations.map((row) => row.status)).toEqual(['ACTIVE']);
  });

  it('an authorization that returns after the link connected something else commits nothing', async () => {
    const session = await createSession(gw, { endUser: { id: 'twice-user' }, allowedProviders: ['github', 'gitlab'] });
    const browser = await opened(session);
    const start = async (provider: string) => {
      const csrf = csrfIn(await (await browser.get(`/connect/${session.id}/providers/${provider}`)).text());
      const html = await (await browser.post(`/connect/${session.id}/providers/${provider}`, { csrf, authKind: 'OAUTH2' })).text();
      return (/content="0;url=([^"]+)"/.exec(html)?.[1] ?? '').replace(/&#38;/g, '&');
    };
    const github = await start('github');
    const gitlab = await start('gitlab');
    expect((await gw.authorize(gitlab)).location?.searchParams.get('outcome')).toBe('connected');
    const late = await gw.authorize(github);
    expect(late.location?.searchParams.get('error')).toBe('connect_session_spent');
    const rows = await integrationsOf('twice-user');
    expect(Object.fromEntries(rows.map((row) => [row.provider, [row.status, row.secret_ciphertext === null]]))).toEqual({
      github: ['ERROR', true],
      gitlab: ['ACTIVE', false],
    });
  });
});
