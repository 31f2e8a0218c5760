import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';

/** Debian's package; `.ci/run` installs it when it is missing. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Whether the browser suites can run here (they are skipped, saying so, when it cannot). */
export const chromiumInstalled = existsSync(CHROMIUM);

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** Everything a page may load comes from the gateway (or is made by the page itself). */
export function staysOnThisHost(url: string): boolean {
  const parsed = new URL(url);
  return parsed.protocol === 'data:' || parsed.protocol === 'blob:' || LOOPBACK.has(parsed.hostname);
}

/** Headless Chromium with a profile of its own, started as the machine allows (no sandbox as root, no background calls home). */
export interface OfflineBrowser {
  browser: Browser;
  close(): Promise<void>;
}

export async function launchOfflineBrowser(): Promise<OfflineBrowser> {
  const profile = await mkdtemp(path.join(os.tmpdir(), 'igw-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    userDataDir: profile,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    browser,
    async close() {
      await browser.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** What a page tried to load from elsewhere (refused), and the Content-Security-Policy violations it reported. */
export interface PageGuard {
  leaving: string[];
  violations: string[];
}

/** Refuses every request of `page` that would leave this host, and records it and any policy violation. */
export async function guardPage(page: Page): Promise<PageGuard> {
  const guard: PageGuard = { leaving: [], violations: [] };
  await page.setRequestInterception(true);
  page.on('request', (request) => {
    if (staysOnThisHost(request.url())) return void request.continue();
    guard.leaving.push(request.url());
    void request.abort('blockedbyclient');
  });
  page.on('console', (message) => {
    if (/Content[- ]Security[- ]Policy/i.test(message.text())) guard.violations.push(message.text());
  });
  return guard;
}
