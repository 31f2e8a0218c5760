import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumInstalled, guardPage, launchOfflineBrowser, type OfflineBrowser } from './support/browser.js';
import { createRestWorld, type RestWorld } from './support/rest-client.js';

// The REST reference at /docs in a real browser that may reach nothing but the gateway.

describe.skipIf(!chromiumInstalled)('/docs in a browser without Internet access', () => {
  let w: RestWorld;
  let offline: OfflineBrowser;

  beforeAll(async () => {
    w = await createRestWorld();
    offline = await launchOfflineBrowser();
  });
  afterAll(async () => {
    await offline?.close();
    await w?.close();
  });

  it('renders every operation of the document from the gateway alone, within its Content-Security-Policy', async () => {
    const page = await offline.browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
    const { leaving, violations } = await guardPage(page);
    const response = await page.goto(`${w.origin}/docs`, { waitUntil: 'networkidle0', timeout: 60_000 });
    expect(response?.status()).toBe(200);
    const deadline = Date.now() + 20_000;
    const summaries = [
      'Connect a provider',
      'Revoke at the provider and delete the secret',
      'Probe the provider and record a health check',
    ];
    let text = '';
    while (Date.now() < deadline) {
      // biome-ignore lint/performance/useDomNodeTextContent: what the page shows a reader, not its hidden markup
      text = await page.evaluate(() => document.body.innerText);
      if (summaries.every((summary) => text.includes(summary))) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    for (const summary of summaries) expect(text).toContain(summary);
    // Scalar's features that would call its own servers are off.
    expect(text).not.toContain('Ask AI');
    expect(text).not.toContain('Generate MCP');
    expect(leaving).toEqual([]);
    expect(violations).toEqual([]);
  }, 90_000);
});
