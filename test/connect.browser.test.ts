import { mkdtemp } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumInstalled, guardPage, launchOfflineBrowser, type OfflineBrowser } from './support/browser.js';
import { createSession, type CreatedSession, expireSession } from './support/connect-sessions.js';
import { createTestGateway, type TestGateway } from './support/gateway.js';
import { CONNECTING_GATEWAY } from './support/integration-flows.js';

// The hosted connect page in a real browser, opened as a popup by a product's page on another loopback
// origin through the gateway's embeddable script. The product's page creates nothing itself: the test
// creates each session through the API, as the product's server would, and hands the page its link.

/** Where the screenshots go: the README's, with CONNECT_SCREENSHOTS=1 (`npm run docs:screenshots`); else a temporary folder. */
const SCREENSHOTS = process.env.CONNECT_SCREENSHOTS === '1' ? path.resolve('docs') : null;

/** The product's page: a "Connect GitHub" button that opens a connect link with the embeddable script. */
function appPage(gatewayUrl: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Product</title>
<script src="${gatewayUrl}/connect/embed.js"></script></head>
<body><button id="connect" type="button">Connect GitHub</button>
<script>
  window.received = [];
  window.addEventListener('message', function (event) { window.received.push({ origin: event.origin, data: event.data }); });
  document.getElementById('connect').addEventListener('click', function (event) {
    IntegrationsGatewayConnect.open(event.target.dataset.url, {
      onConnected: function (integrationId) { window.connected = integrationId; },
      onClosed: function () { window.closedWithout = true; }
    });
  });
</script></body></html>`;
}

/** Polls `check` until it holds (no in-page polling: the connect page's policy refuses evaluated strings). */
async function until<T>(check: () => Promise<T | undefined | null | false>, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`never saw ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

// biome-ignore lint/performance/useDomNodeTextContent: what the page shows, as a reader sees it
const text = (page: Page, selector: string) => page.$eval(selector, (element) => (element as HTMLElement).innerText);

describe.skipIf(!chromiumInstalled)('the hosted connect page in a browser', () => {
  let gw: TestGateway;
  let app: Server;
  let appOrigin: string;
  let offline: OfflineBrowser;
  let shots: string;

  beforeAll(async () => {
    gw = await createTestGateway({ ...CONNECTING_GATEWAY, listen: true, publicUrlIsListening: true });
    const html = appPage(gw.url);
    app = createServer((_request, response) => response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html));
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    appOrigin = `http://127.0.0.1:${(app.address() as { port: number }).port}`;
    offline = await launchOfflineBrowser();
    shots = SCREENSHOTS ?? (await mkdtemp(path.join(os.tmpdir(), 'igw-connect-shots-')));
  });
  afterAll(async () => {
    await offline?.close();
    await new Promise((resolve) => app?.close(resolve));
    await gw?.close();
  });

  /** Opens the product's page at `origin`, puts the session's link on its button and clicks it: the popup. */
  async function clickConnect(session: CreatedSession, origin = appOrigin): Promise<{ product: Page; popup: Page }> {
    const product = await offline.browser.newPage();
    await product.goto(`${origin}/`, { waitUntil: 'load' });
    await product.$eval('#connect', (button, url) => ((button as HTMLElement).dataset.url = url), session.connectUrl);
    const opened = new Promise<Page>((resolve) => product.once('popup', (popup) => resolve(popup as Page)));
    await product.click('#connect');
    const popup = await opened;
    return { product, popup };
  }

  async function integrationStatus(globalId: string): Promise<string> {
    const answer = await gw.graphql(gw.world.acme.keys.VIEWER, 'query($id: ID!) { integration(id: $id) { status endUser { id } } }', {
      id: globalId,
    });
    return answer.body.data.integration.status;
  }

  it('connects a token provider in a popup: a wrong token first, then the message to the opener, the integration ACTIVE', async () => {
    const session = await createSession(gw, {
      endUser: { id: 'browser-user' },
      allowedProviders: ['github'],
      allowedOrigins: [appOrigin],
    });
    const { product, popup } = await clickConnect(session);
    await popup.waitForSelector('#api_token-token', { timeout: 20_000 });
    // The token left the address bar for a cookie before anything rendered.
    expect(popup.url()).toBe(`${gw.url}/connect/${session.id}/providers/github`);

    await popup.type('#api_token-token', 'ghp_not_a_token_the_provider_knows');
    await Promise.all([popup.waitForNavigation(), popup.click('section[aria-labelledby="api_token-heading"] button')]);
    expect(await text(popup, '#api_token-error')).toMatch(/^GitHub refused these credentials: /);
    expect(await popup.$eval('#api_token-token', (input) => input.getAttribute('aria-invalid'))).toBe('true');

    await popup.type('#api_token-token', gw.fake.issueApiToken('github'));
    await popup.click('section[aria-labelledby="api_token-heading"] button');
    const integrationId = await until(
      () => product.evaluate(() => (window as unknown as { connected?: string }).connected),
      'the message',
    );
    const received = await product.evaluate(() => (window as unknown as { received: unknown[] }).received);
    expect(received).toEqual([{ origin: gw.url, data: { type: 'integration.connected', integrationId } }]);
    await until(async () => popup.isClosed(), 'the popup closed by the embeddable script');
    expect(await integrationStatus(integrationId)).toBe('ACTIVE');

    // The spent link opens nothing more.
    const again = await offline.browser.newPage();
    const response = await again.goto(session.connectUrl);
    expect(response?.status()).toBe(410);
    expect(await text(again, 'h1')).toBe('This connect link was already used');
    await Promise.all([product.close(), again.close()]);
  }, 120_000);

  it('connects OAuth2 through the provider in the popup and posts the result to the opener', async () => {
    const session = await createSession(gw, {
      endUser: { id: 'browser-oauth-user' },
      allowedProviders: ['github'],
      allowedAuthKinds: ['OAUTH2'],
      allowedOrigins: [appOrigin],
    });
    const { product, popup } = await clickConnect(session);
    await popup.waitForSelector('section[aria-labelledby="oauth2-heading"] button', { timeout: 20_000 });
    expect(await text(popup, 'section[aria-labelledby="oauth2-heading"] button')).toBe('Continue to GitHub');
    await popup.click('section[aria-labelledby="oauth2-heading"] button');
    const integrationId = await until(
      () => product.evaluate(() => (window as unknown as { connected?: string }).connected),
      'the message',
    );
    expect(gw.fake.calls('github', 'authorize')).toBeGreaterThanOrEqual(1);
    expect(await integrationStatus(integrationId)).toBe('ACTIVE');
    const row = await gw.row(integrationId);
    expect(row).toMatchObject({ auth_kind: 'OAUTH2', end_user_id: 'browser-oauth-user' });
    await product.close();
  }, 120_000);

  it('an expired link shows a clear page in the popup, not a stack trace', async () => {
    const session = await createSession(gw, { allowedOrigins: [appOrigin] });
    await expireSession(gw, session.id);
    const { product, popup } = await clickConnect(session);
    await until(async () => (await popup.$('h1')) !== null && popup.url().includes('/connect'), 'the page');
    expect(await text(popup, 'h1')).toBe('This connect link has expired');
    expect(await text(popup, 'main')).toMatch(/Ask the app for a new link\./);
    await Promise.all([popup.close(), product.close()]);
  }, 60_000);

  it('never posts the result to an origin the session does not allow', async () => {
    // The product's page on another origin of the same machine: localhost instead of 127.0.0.1.
    const otherOrigin = appOrigin.replace('127.0.0.1', 'localhost');
    const session = await createSession(gw, {
      endUser: { id: 'browser-other-origin' },
      allowedProviders: ['github'],
      allowedOrigins: [appOrigin],
    });
    const { product, popup } = await clickConnect(session, otherOrigin);
    await popup.waitForSelector('#api_token-token', { timeout: 20_000 });
    await popup.type('#api_token-token', gw.fake.issueApiToken('github'));
    await Promise.all([popup.waitForNavigation(), popup.click('section[aria-labelledby="api_token-heading"] button')]);
    await popup.waitForSelector('#connect-result');
    expect(await text(popup, 'h1')).toBe('Connected');
    // The page's script has run (it posts as soon as it loads); give a message every chance to arrive.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const seen = await product.evaluate(() => {
      const state = window as unknown as { received: unknown[]; connected?: string };
      return { received: state.received, connected: state.connected ?? null };
    });
    expect(seen).toEqual({ received: [], connected: null });
    await Promise.all([popup.close(), product.close()]);
  }, 120_000);

  it('shows the provider list, a refused token and the result in a tab, loading nothing from elsewhere', async () => {
    const listed = await createSession(gw, { endUser: { id: 'shots', displayName: 'Ada Lovelace' } });
    const page = await offline.browser.newPage();
    await page.setViewport({ width: 640, height: 400 });
    const guard = await guardPage(page);
    await page.goto(listed.connectUrl, { waitUntil: 'load' });
    expect(await text(page, 'h1')).toBe('Connect an account');
    expect(await page.$$eval('ul.providers a', (links) => links.length)).toBeGreaterThanOrEqual(6);
    await page.screenshot({ path: path.join(shots, 'connect-providers.png'), fullPage: true });

    await Promise.all([page.waitForNavigation(), page.click('a[href$="/providers/github"]')]);
    await page.type('#api_token-token', 'ghp_expired_or_mistyped_token');
    await Promise.all([page.waitForNavigation(), page.click('section[aria-labelledby="api_token-heading"] button')]);
    expect(await text(page, '#api_token-error')).toMatch(/GitHub refused these credentials/);
    await page.screenshot({ path: path.join(shots, 'connect-token-error.png'), fullPage: true });

    await page.type('#api_token-token', gw.fake.issueApiToken('github'));
    await Promise.all([page.waitForNavigation(), page.click('section[aria-labelledby="api_token-heading"] button')]);
    expect(await text(page, 'h1')).toBe('Connected');
    expect(await text(page, '[role=status]')).toBe('GitHub is connected as octocat.');
    await page.screenshot({ path: path.join(shots, 'connect-result.png'), fullPage: true });

    expect(guard.leaving).toEqual([]);
    expect(guard.violations).toEqual([]);
    await page.close();
  }, 120_000);
});
