import type { ApiRoute } from './apis.js';
import { inventoryOf } from './inventory.js';
import { type FakeRequest, json } from './profiles.js';

// More list endpoints of inventory syncs, over `store.inventories`, each with the provider's own
// pagination: Jira's projects by `startAt`/`maxResults` until `isLast` (on the site, and through
// Atlassian's gateway by cloud id for OAuth tokens), Datadog's monitors by `page`/`page_size`,
// ServiceNow's Table API by `sysparm_offset`/`sysparm_limit` with absolute `Link` headers, and the
// generic HTTP API's `/items` in the three shapes the http connector's `inventoryPath` accepts.

const bearer = (req: FakeRequest) => /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
const header = (req: FakeRequest, name: string) => {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
};
const oauthToken = (req: FakeRequest) => req.store.liveToken(req.provider, bearer(req))?.kind === 'oauth';
const bounded = (value: string | null, fallback: number, max: number) => Math.min(Math.max(Number(value ?? fallback) || fallback, 1), max);

/** The cloud id of the fake's Atlassian site, acme.atlassian.net. */
export const FAKE_CLOUD_ID = '11223344-a1b2-3b33-c444-def123456789';

/**
 * Jira's answer to `project/search`: a page of `values` from `startAt`, at most 50 (or the knob's
 * `listPageSize`: Jira may answer fewer than asked), with `isLast`.
 */
function projectSearch(req: FakeRequest) {
  const projects = inventoryOf(req.store.inventories, 'jira');
  const maxResults = bounded(req.query.get('maxResults'), 50, req.store.knobsOf('jira').listPageSize ?? 50);
  const startAt = Math.max(Number(req.query.get('startAt') ?? 0) || 0, 0);
  const values = projects.slice(startAt, startAt + maxResults);
  const isLast = startAt + maxResults >= projects.length;
  return json(200, { maxResults, startAt, total: projects.length, isLast, values });
}

export const jiraProjects: ApiRoute = {
  method: 'GET',
  path: '/rest/api/3/project/search',
  endpoint: 'list',
  handle(req) {
    if (!req.store.checkBasic('jira', req.headers.authorization)) return json(401, { errorMessages: ['You are not authenticated.'] });
    return projectSearch(req);
  },
};

/** The sites an OAuth token reaches, at Atlassian's gateway: the fake's one and another the test never configures. */
export const jiraAccessibleResources: ApiRoute = {
  method: 'GET',
  path: '/oauth/token/accessible-resources',
  base: 'oauthApi',
  endpoint: 'list',
  handle(req) {
    if (!oauthToken(req)) return json(401, { code: 401, message: 'Unauthorized' });
    return json(200, [
      { id: '99999999-0000-0000-0000-000000000000', url: 'https://other.atlassian.net', name: 'other', scopes: ['read:jira-work'] },
      { id: FAKE_CLOUD_ID, url: 'https://acme.atlassian.net', name: 'acme', scopes: ['read:jira-work'] },
    ]);
  },
};

export const jiraGatewayProjects: ApiRoute = {
  method: 'GET',
  path: /^\/ex\/jira\/[^/]+\/rest\/api\/3\/project\/search$/,
  base: 'oauthApi',
  endpoint: 'list',
  handle(req) {
    if (!oauthToken(req)) return json(401, { code: 401, message: 'Unauthorized' });
    if (req.path.split('/')[3] !== FAKE_CLOUD_ID) return json(404, { code: 404, message: 'No such site' });
    return projectSearch(req);
  },
};

/** Datadog's `GET /api/v1/monitor`: all monitors, or a page of `page_size` (at most 1,000) when `page` (from 0) is given. */
export const datadogMonitors: ApiRoute = {
  method: 'GET',
  path: '/api/v1/monitor',
  endpoint: 'list',
  handle(req) {
    // An API key alone cannot read monitors: Datadog wants a user's application key or OAuth token.
    if (!oauthToken(req)) return json(403, { errors: ['Forbidden'] });
    const monitors = inventoryOf(req.store.inventories, 'datadog');
    if (req.query.get('page') === null) return json(200, monitors);
    const size = bounded(req.query.get('page_size'), 100, 1000);
    const page = Math.max(Number(req.query.get('page')) || 0, 0);
    return json(200, monitors.slice(page * size, (page + 1) * size));
  },
};

/** A record as the Table API shows it with `sysparm_display_value=all`: every field a value and its display value. */
function displayed(record: Record<string, unknown>, fields: string[] | null): Record<string, unknown> {
  const shown: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(record)) {
    if (fields && !fields.includes(name)) continue;
    shown[name] = value && typeof value === 'object' ? value : { display_value: String(value ?? ''), value: String(value ?? '') };
  }
  return shown;
}

/**
 * ServiceNow's Table API, `GET /api/now/table/{table}`: `sys_user_grmember` holds the memberships under
 * `servicenow` (those of `user: 'current'` are the caller's, listed for `user=javascript:gs.getUserID()`),
 * any other table its records under `servicenow:<table>`. Pages of `sysparm_limit` from `sysparm_offset`,
 * linked by absolute `Link` URLs (first, prev, next, last) and counted in `X-Total-Count`.
 */
export const servicenowTable: ApiRoute = {
  method: 'GET',
  path: /^\/api\/now\/table\/[a-z0-9_]+$/,
  endpoint: 'list',
  handle(req) {
    if (!req.store.checkBasic('servicenow', req.headers.authorization) && !oauthToken(req))
      return json(401, {
        error: { message: 'User Not Authenticated', detail: 'Required to provide Auth information' },
        status: 'failure',
      });
    const table = req.path.split('/').at(-1) as string;
    let records = inventoryOf(req.store.inventories, table === 'sys_user_grmember' ? 'servicenow' : `servicenow:${table}`);
    const query = req.query.get('sysparm_query') ?? '';
    if (table === 'sys_user_grmember' && query.includes('user=javascript:gs.getUserID()'))
      records = records.filter((record) => record.user === 'current');
    const limit = bounded(req.query.get('sysparm_limit'), 10_000, 10_000);
    const offset = Math.max(Number(req.query.get('sysparm_offset') ?? 0) || 0, 0);
    const fields = req.query.get('sysparm_fields')?.split(',') ?? null;
    const all = req.query.get('sysparm_display_value') === 'all';
    const result = records.slice(offset, offset + limit).map((record) => (all ? displayed(record, fields) : record));
    const href = (at: number) => {
      const next = new URLSearchParams(req.query);
      next.set('sysparm_offset', String(at));
      return `<http://${header(req, 'host')}/${req.provider}${req.path}?${next.toString()}>`;
    };
    const last = Math.max(0, Math.floor((records.length - 1) / limit) * limit);
    const links = [
      `${href(0)};rel="first"`,
      ...(offset > 0 ? [`${href(Math.max(0, offset - limit))};rel="prev"`] : []),
      ...(offset + limit < records.length ? [`${href(offset + limit)};rel="next"`] : []),
      `${href(last)};rel="last"`,
    ];
    return json(200, { result }, { link: links.join(','), 'x-total-count': String(records.length) });
  },
};

/**
 * The generic HTTP API's `GET /items`, 100 a page, shaped by `style`: `link`, a bare array with a
 * `Link` header; `cursor`, `{items, next}` with an opaque cursor sent back as `cursor`; `url`,
 * `{items, next}` with the next page's path.
 */
export const httpItems: ApiRoute = {
  method: 'GET',
  path: '/items',
  endpoint: 'list',
  handle(req) {
    const custom = Object.entries(req.headers).some(
      ([name, value]) => name !== 'authorization' && typeof value === 'string' && req.store.liveToken('http', value),
    );
    if (!custom && !req.store.liveToken('http', bearer(req)) && !req.store.checkBasic('http', req.headers.authorization))
      return json(401, { error: 'unauthorized' });
    const items = inventoryOf(req.store.inventories, 'http');
    const style = req.query.get('style') ?? 'link';
    const cursor = req.query.get('cursor');
    const start = cursor ? Number(Buffer.from(cursor, 'base64url').toString()) : Math.max(Number(req.query.get('offset') ?? 0) || 0, 0);
    const page = items.slice(start, start + 100);
    const more = start + 100 < items.length;
    if (style === 'link') {
      const next = new URLSearchParams(req.query);
      next.set('offset', String(start + 100));
      return json(200, page, more ? { link: `<?${next.toString()}>; rel="next"` } : {});
    }
    if (style === 'cursor') return json(200, { items: page, next: more ? Buffer.from(String(start + 100)).toString('base64url') : null });
    return json(200, { items: page, next: more ? `/http/items?style=url&offset=${start + 100}` : null });
  },
};
