import { describe, expect, it } from 'vitest';
import type { HttpClient } from './credentials.js';
import { fetchInventory, nextLink } from './inventory.js';
import { CredentialOriginError } from './origins.js';
import { credentialOrigins } from './probe.js';
import { findConnector } from './registry.js';
import type { ConnectorTarget } from './settings.js';

const PAGE = 'https://api.github.com/user/repos?per_page=100&page=1';

describe('the next page of a Link header', () => {
  it('is the rel="next" URL, absolute or resolved against the page', () => {
    const github =
      '<https://api.github.com/user/repos?per_page=100&page=2>; rel="next", ' +
      '<https://api.github.com/user/repos?per_page=100&page=25>; rel="last"';
    expect(nextLink(github, PAGE)).toBe('https://api.github.com/user/repos?per_page=100&page=2');
    expect(nextLink('<?per_page=100&page=3>; rel="next"', PAGE)).toBe('https://api.github.com/user/repos?per_page=100&page=3');
    expect(nextLink('</user/repos?page=4>; rel="prev next"', PAGE)).toBe('https://api.github.com/user/repos?page=4');
  });

  it('is null on the last page, without a header, or for other relations', () => {
    expect(nextLink(null, PAGE)).toBeNull();
    expect(nextLink('<https://api.github.com/user/repos?page=1>; rel="first", <https://x.test/?page=9>; rel="last"', PAGE)).toBeNull();
    expect(nextLink('<https://x.test/?page=2>; rel="nextpage"', PAGE)).toBeNull();
  });
});

const target: ConnectorTarget = { definition: findConnector('github') as ConnectorTarget['definition'], settings: {}, config: {} };
const origins = credentialOrigins(target, 'API_TOKEN');
const credential = { kind: 'API_TOKEN', token: 'ghp_secret' } as const;
const repo = (n: number) => ({ id: n, full_name: `octocat/repo-${n}`, html_url: `https://github.com/octocat/repo-${n}` });

/** A provider answering each URL from `pages`, recording every URL it was sent. */
function provider(pages: Record<string, { status?: number; body?: unknown; headers?: Record<string, string> }>) {
  const sent: string[] = [];
  const http: HttpClient = async (url) => {
    sent.push(url);
    const page = pages[url];
    if (!page) return new Response('{}', { status: 404 });
    return new Response(JSON.stringify(page.body ?? []), { status: page.status ?? 200, headers: page.headers ?? {} });
  };
  return { http, sent };
}

describe('an inventory listing', () => {
  const first = 'https://api.github.com/user/repos?per_page=100&sort=full_name';

  it('never sends the credential to a next link off its API origin', async () => {
    const { http, sent } = provider({
      [first]: { body: [repo(1)], headers: { link: '<https://evil.example/user/repos?page=2>; rel="next"' } },
    });
    await expect(fetchInventory(target, credential, http, 1_000, origins, 100)).rejects.toBeInstanceOf(CredentialOriginError);
    expect(sent).toEqual([first]);
  });

  it('stops at the most items it may store, listing an item seen twice once', async () => {
    const second = 'https://api.github.com/user/repos?page=2';
    const { http } = provider({
      [first]: { body: [repo(1), repo(2)], headers: { link: `<${second}>; rel="next"` } },
      [second]: { body: [repo(2), repo(3), repo(4)] },
    });
    const all = await fetchInventory(target, credential, http, 1_000, origins, 100);
    expect(all).toMatchObject({ ok: true, kind: 'repository', pages: 2, truncated: false });
    expect(all.ok && all.items.map((item) => item.name)).toEqual(['octocat/repo-1', 'octocat/repo-2', 'octocat/repo-3', 'octocat/repo-4']);
    const cut = await fetchInventory(target, credential, http, 1_000, origins, 3);
    expect(cut).toMatchObject({ ok: true, truncated: true });
    expect(cut.ok && cut.items).toHaveLength(3);
  });

  it("fails as a whole when a page fails, with the provider's Retry-After", async () => {
    const second = 'https://api.github.com/user/repos?page=2';
    const { http } = provider({
      [first]: { body: [repo(1)], headers: { link: `<${second}>; rel="next"` } },
      [second]: { status: 429, headers: { 'retry-after': '90' } },
    });
    expect(await fetchInventory(target, credential, http, 1_000, origins, 100)).toMatchObject({
      ok: false,
      errorCode: 'PROVIDER_RATE_LIMITED',
      httpStatus: 429,
      retryAfterMs: 90_000,
    });
    const refused = provider({ [first]: { status: 401 } });
    expect(await fetchInventory(target, credential, refused.http, 1_000, origins, 100)).toMatchObject({
      ok: false,
      errorCode: 'PROVIDER_REJECTED_CREDENTIALS',
    });
  });
});
