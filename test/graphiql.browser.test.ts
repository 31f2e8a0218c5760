import type { Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemoOrganization } from '../src/bootstrap.js';
import { chromiumInstalled, guardPage, launchOfflineBrowser, type OfflineBrowser, type PageGuard } from './support/browser.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { createTestGateway, type TestGateway } from './support/gateway.js';

/** The text a Monaco editor shows, line by line. */
function editorText(page: Page, selector: string): Promise<string> {
  return page.$eval(selector, (element) =>
    // biome-ignore lint/performance/useDomNodeTextContent: what the editor shows, as a reader sees it (textContent includes hidden text)
    Array.from(element.querySelectorAll('.view-line'), (line) => (line as HTMLElement).innerText.replace(/\u00a0/g, ' ')).join('\n'),
  );
}

/**
 * Polls `check` in the page until it holds. (Puppeteer's waitForFunction builds its poller from a string,
 * which the page's Content-Security-Policy rightly refuses to run.)
 */
async function until(page: Page, check: (arg: string) => boolean, arg: string, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await page.evaluate(check, arg))) {
    if (Date.now() > deadline) throw new Error(`the page never showed ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe.skipIf(!chromiumInstalled)('GraphiQL in a browser without Internet access', () => {
  let database: TestDatabase;
  let gateway: TestGateway;
  let origin: string;
  let key: string;
  let offline: OfflineBrowser;
  let guard: PageGuard;

  beforeAll(async () => {
    database = await createTestDatabase();
    const demo = await seedDemoOrganization(database.db);
    if (!demo) throw new Error('the demo organization was not created');
    key = demo.secret;
    gateway = await createTestGateway({ database, graphiql: { authorization: `Bearer ${key}` }, listen: true });
    origin = gateway.url;
    offline = await launchOfflineBrowser();
  });
  afterAll(async () => {
    await offline?.close();
    await gateway?.close();
    await database?.drop();
  });

  it('opens with the printed key and an example query, runs a query typed in the editor, and shows its result', async () => {
    const page = await offline.browser.newPage();
    await page.setViewport({ width: 1280, height: 800 });
    guard = await guardPage(page);

    const response = await page.goto(`${origin}/graphql`, { waitUntil: 'networkidle0', timeout: 60_000 });
    expect(response?.status()).toBe(200);
    expect(guard.leaving).toEqual([]);
    await page.waitForSelector('.graphiql-query-editor .view-line', { timeout: 60_000 });
    await until(
      page,
      () => document.querySelector('.graphiql-query-editor')?.textContent?.includes('integrations') === true,
      '',
      'the example query',
    );
    expect(await editorText(page, '.graphiql-query-editor')).toContain('viewer');

    // The Headers tab is open and holds the key the gateway printed.
    await until(
      page,
      (secret) =>
        document
          .querySelector('.graphiql-editor-tool')
          ?.textContent?.replace(/\u00a0/g, ' ')
          .includes(`"Authorization": "Bearer ${secret}"`) === true,
      key,
      'the key in the Headers tab',
    );

    // Replace the example with a query of our own, typed as a user types it.
    await page.focus('.graphiql-query-editor textarea');
    await page.keyboard.down('Control');
    await page.keyboard.press('KeyA');
    await page.keyboard.up('Control');
    await page.keyboard.press('Backspace');
    await page.keyboard.type('query Mine { viewer { role organization { name slug } } }');
    // The editor closes brackets as they are typed and renders lines as it gets to it: compare the
    // document, not its spacing, once the rendering has caught up.
    const compact = (text: string) => text.replace(/\s+/g, '');
    await expect
      .poll(async () => compact(await editorText(page, '.graphiql-query-editor')), { timeout: 10_000 })
      .toBe(compact('query Mine { viewer { role organization { name slug } } }'));

    await page.click('.graphiql-execute-button');
    await until(
      page,
      () =>
        document
          .querySelector('.graphiql-response')
          ?.textContent?.replace(/\u00a0/g, ' ')
          .includes('Demo organization') === true,
      '',
      'the result',
    );
    const result = JSON.parse(await editorText(page, '.graphiql-response'));
    expect(result.data).toEqual({ viewer: { role: 'ADMIN', organization: { name: 'Demo organization', slug: 'demo' } } });
    expect(result.errors).toBeUndefined();

    expect(guard.leaving).toEqual([]);
    expect(guard.violations).toEqual([]);
    await page.close();
  }, 120_000);
});
