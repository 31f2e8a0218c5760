import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import puppeteer, { type Browser } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRestWorld, type RestWorld } from './support/rest-client.js';

// The REST reference at /docs in a real browser that may reach nothing but the gateway.

/** Debian's package; `.ci/run` installs it when it is missing. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

function staysOnThisHost(url: string): boolean {
  const parsed = new URL(url);
  return parsed.protocol === 'data:' || parsed.protocol === 'blob:' || LOOPBACK.has(parsed.hostname);
}

describe.skipIf(!existsSync(CHROMIUM))('/docs in a browser without Internet access', () => {
  let w: RestWorld;
  let browser: Browser;
  let profile: string;

  beforeAll(async () => {
    w = await createRestWorld();
    profile = await mkdtemp(path.join(os.tmpdir(), 'igw-chromium-'));
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      userDataDir: profile,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await w?.close();
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  it('renders every operation of the document from the gateway alone, within its Content-Security-Policy', async () => {
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
    const leaving: string[] = [];
    const violations: string[] = [];
    await page.setRequestInterception(true);
    page.on('request', (request) => {
      if (staysOnThisHost(request.url())) return void request.continue();
      leaving.push(request.url());
      void request.abort('blockedbyclient');
    });
    page.on('console', (message) => {
      if (/Content[- ]Security[- ]Policy/i.test(message.text())) violations.push(message.text());
    });
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
