import { describe, expect, it } from 'vitest';
import type { HttpClient } from './credentials.js';
import { fetchInventory, inventoryFor, nextLink } from './inventory.js';
import { CredentialOriginError } from './origins.js';
import { credentialOrigins } from './probe.js';
import { findConnector } from './registry.js';
import type { ConnectorTarget } from './settings.js';
import type { ConnectorDefinition } from './types.js';

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

/** A target of `key` under `config`, at the provider's default URLs. */
function targetOf(key: string, config: Record<string, string>, settings: ConnectorTarget['settings'] = {}): ConnectorTarget {
  return { definition: findConnector(key) as ConnectorTarget['definition'], settings, config };
}

describe("each connector's pagination", () => {
  it("Jira's offset: startAt advanced by the page's count until isLast, with a link to each project on the site", async () => {
    const jira = targetOf('jira', { site: 'acme.atlassian.net' });
    const basic = { kind: 'BASIC', username: 'ada@example.com', password: 'token' } as const;
    const project = (n: number) => ({ id: String(n), key: `P${n}`, name: `Project ${n}`, projectTypeKey: 'software', style: 'classic' });
    const base = 'https://acme.atlassian.net/rest/api/3/project/search?maxResults=50';
    const { http, sent } = provider({
      'https://acme.atlassian.net/rest/api/3/project/search?maxResults=50&startAt=0&orderBy=key': {
        body: { startAt: 0, maxResults: 2, isLast: false, values: [project(1), project(2)] },
      },
      [`${base}&startAt=2&orderBy=key`]: { body: { startAt: 2, maxResults: 2, isLast: true, values: [project(3)] } },
    });
    const outcome = await fetchInventory(jira, basic, http, 1_000, credentialOrigins(jira, 'BASIC'), 100);
    expect(sent).toHaveLength(2);
    expect(outcome).toMatchObject({ ok: true, kind: 'project', pages: 2, truncated: false });
    expect(outcome.ok && outcome.items[2]).toEqual({
      externalId: '3',
      name: 'Project 3',
      url: 'https://acme.atlassian.net/browse/P3',
      metadata: { key: 'P3', projectTypeKey: 'software', style: 'classic' },
    });
  });

  it("Jira through Atlassian's gateway: the site's cloud id looked up first; a token for other sites only lists nothing", async () => {
    const jira = targetOf('jira', { site: 'acme.atlassian.net' });
    const oauth = { kind: 'OAUTH2', accessToken: 'at', refreshToken: null, tokenType: 'bearer', expiresAt: null } as const;
    const sites = 'https://api.atlassian.com/oauth/token/accessible-resources';
    const list = 'https://api.atlassian.com/ex/jira/cloud-1/rest/api/3/project/search?maxResults=50&startAt=0&orderBy=key';
    const { http, sent } = provider({
      [sites]: {
        body: [
          { id: 'cloud-9', url: 'https://other.atlassian.net' },
          { id: 'cloud-1', url: 'https://acme.atlassian.net' },
        ],
      },
      [list]: { body: { isLast: true, values: [{ id: '7', key: 'K', name: 'Kay' }] } },
    });
    const outcome = await fetchInventory(jira, oauth, http, 1_000, credentialOrigins(jira, 'OAUTH2'), 100);
    expect(sent).toEqual([sites, list]);
    expect(outcome.ok && outcome.items).toMatchObject([{ externalId: '7', url: 'https://acme.atlassian.net/browse/K' }]);
    const elsewhere = provider({ [sites]: { body: [{ id: 'cloud-9', url: 'https://other.atlassian.net' }] } });
    const refused = await fetchInventory(jira, oauth, elsewhere.http, 1_000, credentialOrigins(jira, 'OAUTH2'), 100);
    expect(refused).toMatchObject({ ok: false, errorCode: 'PROVIDER_ERROR' });
    expect(refused.ok === false && refused.message).toContain('https://acme.atlassian.net');
  });

  it("Datadog's page numbers: the next page while a page is full", async () => {
    const datadog = targetOf('datadog', { site: 'datadoghq.eu' });
    const oauth = { kind: 'OAUTH2', accessToken: 'at', refreshToken: null, tokenType: 'bearer', expiresAt: null } as const;
    const page = (n: number) => `https://api.datadoghq.eu/api/v1/monitor?page=${n}&page_size=1000`;
    const monitors = (from: number, count: number) => Array.from({ length: count }, (_, i) => ({ id: from + i, name: `m${from + i}` }));
    const { http, sent } = provider({ [page(0)]: { body: monitors(0, 1000) }, [page(1)]: { body: monitors(1000, 3) } });
    const outcome = await fetchInventory(datadog, oauth, http, 1_000, credentialOrigins(datadog, 'OAUTH2'), 10_000);
    expect(sent).toEqual([page(0), page(1)]);
    expect(outcome.ok && outcome.items.length).toBe(1003);
    expect(outcome.ok && outcome.items[0]?.url).toBe('https://app.datadoghq.eu/monitors/0');
  });

  it("ServiceNow: the named table by its name column, or else the user's groups, along absolute Link headers", async () => {
    const config = { instance: 'acme.service-now.com', inventoryTable: 'cmdb_ci_server', inventoryNameField: 'host_name' };
    const table = targetOf('servicenow', config);
    const basic = { kind: 'BASIC', username: 'admin', password: 'pw' } as const;
    const first =
      'https://acme.service-now.com/api/now/table/cmdb_ci_server?sysparm_fields=sys_id,host_name,sys_class_name' +
      '&sysparm_display_value=all&sysparm_exclude_reference_link=true&sysparm_query=ORDERBYsys_id&sysparm_limit=1000&sysparm_offset=0';
    const second = first.replace('sysparm_offset=0', 'sysparm_offset=1000');
    const record = (id: string) => ({
      sys_id: { value: id, display_value: id },
      host_name: { value: `h-${id}`, display_value: `host ${id}` },
      sys_class_name: { value: 'cmdb_ci_server', display_value: 'Server' },
    });
    const { http } = provider({
      [first]: { body: { result: [record('a1')] }, headers: { link: `<${first}>;rel="first",<${second}>;rel="next"` } },
      [second]: { body: { result: [record('b2')] }, headers: { link: `<${first}>;rel="first",<${first}>;rel="prev"` } },
    });
    const outcome = await fetchInventory(table, basic, http, 1_000, credentialOrigins(table, 'BASIC'), 100);
    expect(outcome).toMatchObject({ ok: true, kind: 'record', pages: 2 });
    expect(outcome.ok && outcome.items[1]).toEqual({
      externalId: 'b2',
      name: 'host b2',
      url: 'https://acme.service-now.com/nav_to.do?uri=cmdb_ci_server.do%3Fsys_id%3Db2',
      metadata: { 'sys_class_name.value': 'cmdb_ci_server' },
    });
    const groups = targetOf('servicenow', { instance: 'acme.service-now.com' });
    const memberships = provider({});
    await fetchInventory(groups, basic, memberships.http, 1_000, credentialOrigins(groups, 'BASIC'), 100);
    expect(memberships.sent[0]).toContain('/api/now/table/sys_user_grmember?sysparm_fields=group&');
    expect(memberships.sent[0]).toContain('sysparm_query=user%3Djavascript:gs.getUserID()');
  });

  it('the generic connector: an array or {items, next}, next a cursor, a path or a Link; links only when they are web links', async () => {
    const base = 'https://api.example.com/v2';
    const target = (inventoryPath: string) => targetOf('http', { baseUrl: base, inventoryPath });
    const token = { kind: 'API_TOKEN', token: 'secret' } as const;
    const item = (id: string | number, url?: string) => ({ id, name: `n${id}`, ...(url ? { url } : {}) });
    const { http, sent } = provider({
      [`${base}/things`]: { body: { items: [item(1, 'javascript:alert(1)')], next: 'c2' } },
      [`${base}/things?cursor=c2`]: { body: { items: [item(2, 'https://x.example/2')], next: '/v2/more?page=3' } },
      'https://api.example.com/v2/more?page=3': { body: [item('3')], headers: { link: '</v2/more?page=4>; rel="next"' } },
      'https://api.example.com/v2/more?page=4': { body: { items: [item(4), { name: 'no id' }], next: null } },
    });
    const outcome = await fetchInventory(target('/things'), token, http, 1_000, credentialOrigins(target('/things'), 'API_TOKEN'), 100);
    expect(sent).toHaveLength(4);
    expect(outcome.ok && outcome.items.map((found) => [found.externalId, found.url])).toEqual([
      ['1', null],
      ['2', 'https://x.example/2'],
      ['3', null],
      ['4', null],
    ]);
    const offOrigin = provider({ [`${base}/things`]: { body: { items: [], next: 'https://evil.example/steal' } } });
    await expect(
      fetchInventory(target('/things'), token, offOrigin.http, 1_000, credentialOrigins(target('/things'), 'API_TOKEN'), 100),
    ).rejects.toBeInstanceOf(CredentialOriginError);
    expect(offOrigin.sent).toEqual([`${base}/things`]);
  });

  it('applies per auth kind and config: no inventory for a Datadog API key, nor an http API without inventoryPath', () => {
    expect(inventoryFor(findConnector('datadog') as ConnectorDefinition, 'API_TOKEN', {})).toBeNull();
    expect(inventoryFor(findConnector('datadog') as ConnectorDefinition, 'OAUTH2', {})?.kind).toBe('monitor');
    expect(inventoryFor(findConnector('http') as ConnectorDefinition, 'API_TOKEN', { baseUrl: 'https://x.example' })).toBeNull();
    expect(inventoryFor(findConnector('http') as ConnectorDefinition, 'BASIC', { inventoryPath: '/items' })?.kind).toBe('item');
    expect(inventoryFor(findConnector('servicenow') as ConnectorDefinition, 'OAUTH2', {})?.kind).toBe('group');
    expect(inventoryFor(findConnector('jira') as ConnectorDefinition, 'OAUTH2', {})?.lookup?.name).toBe('cloudId');
  });
});
