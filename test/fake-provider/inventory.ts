import type { ApiRoute } from './apis.js';
import { json } from './profiles.js';

// The providers' list endpoints that inventory syncs read, over the items a test puts in
// `store.inventories`: GitHub's repositories and GitLab's projects, in pages linked by `Link` headers
// (`rel="next"`, `rel="last"`) as both providers send them, and Slack's channels, in pages linked by a
// cursor in the body, and PagerDuty's services, by offset while `more`. The links are relative references to the
// page's own URL, which RFC 8288 allows and clients resolve.

/** The items a provider lists for any live credential, created on first use; tests add and remove items. */
export function inventoryOf(inventories: Map<string, Record<string, unknown>[]>, provider: string): Record<string, unknown>[] {
  let items = inventories.get(provider);
  if (!items) {
    items = [];
    inventories.set(provider, items);
  }
  return items;
}

/** A page of `items` as the provider answers it, with its Link header. */
function page(items: readonly Record<string, unknown>[], query: URLSearchParams): { body: unknown[]; link: string } {
  const perPage = Math.min(Math.max(Number(query.get('per_page') ?? 30) || 30, 1), 100);
  const number = Math.max(Number(query.get('page') ?? 1) || 1, 1);
  const last = Math.max(Math.ceil(items.length / perPage), 1);
  const href = (n: number) => {
    const next = new URLSearchParams(query);
    next.set('page', String(n));
    return `<?${next.toString()}>`;
  };
  const links = [...(number < last ? [`${href(number + 1)}; rel="next"`] : []), `${href(last)}; rel="last"`, `${href(1)}; rel="first"`];
  return { body: items.slice((number - 1) * perPage, number * perPage), link: links.join(', ') };
}

/** GitHub's `GET /user/repos`. */
export const githubRepositories: ApiRoute = {
  method: 'GET',
  path: '/user/repos',
  endpoint: 'list',
  handle(req) {
    const token = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (!req.store.liveToken('github', token)) return json(401, { message: 'Bad credentials' });
    const { body, link } = page(inventoryOf(req.store.inventories, 'github'), req.query);
    return json(200, body, { link });
  },
};

/** GitLab's `GET /projects?membership=true`. */
export const gitlabProjects: ApiRoute = {
  method: 'GET',
  path: '/projects',
  endpoint: 'list',
  handle(req) {
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const privateToken = req.headers['private-token'];
    const token = bearer ?? (Array.isArray(privateToken) ? privateToken[0] : privateToken);
    if (!req.store.liveToken('gitlab', token)) return json(401, { message: '401 Unauthorized' });
    const { body, link } = page(inventoryOf(req.store.inventories, 'gitlab'), req.query);
    return json(200, body, { link });
  },
};

/** Providers whose fake lists an inventory. */
export type InventoryProvider = 'github' | 'gitlab' | 'slack' | 'pagerduty' | 'jira' | 'datadog' | 'servicenow' | 'http';

/**
 * `count` repositories (GitHub), projects (GitLab, Jira), channels (Slack), services (PagerDuty),
 * monitors (Datadog), the user's group memberships (ServiceNow) or items (the generic HTTP API) as the
 * provider describes them, numbered from `from`.
 */
export function inventoryItems(provider: InventoryProvider, count: number, from = 1): Record<string, unknown>[] {
  return Array.from({ length: count }, (_, index) => {
    const n = from + index;
    if (provider === 'jira')
      return {
        id: String(10_000 + n),
        key: `PRJ${n}`,
        name: `Project ${n}`,
        self: `https://acme.atlassian.net/rest/api/3/project/${10_000 + n}`,
        projectTypeKey: 'software',
        style: 'next-gen',
        isPrivate: false,
      };
    if (provider === 'datadog')
      return { id: 5_000_000 + n, name: `Monitor ${n}`, type: 'metric alert', overall_state: 'OK', priority: null, query: 'avg:cpu > 90' };
    if (provider === 'servicenow') {
      const sysId = n.toString(16).padStart(32, '0');
      return {
        sys_id: `m${sysId.slice(1)}`,
        user: 'current',
        group: { display_value: `Group ${n}`, value: sysId },
      };
    }
    if (provider === 'http') return { id: `item-${n}`, name: `Item ${n}`, url: `https://api.example.com/items/${n}` };
    if (provider === 'pagerduty')
      return {
        id: `PS${String(n).padStart(5, '0')}`,
        name: `Service ${n}`,
        html_url: `https://acme.pagerduty.com/services/PS${n}`,
        status: 'active',
        description: null,
      };
    if (provider === 'slack')
      return { id: `C${String(n).padStart(8, '0')}`, name: `channel-${n}`, is_private: false, is_archived: false, num_members: n };
    return provider === 'github'
      ? {
          id: 100_000 + n,
          full_name: `octocat/repo-${n}`,
          html_url: `https://github.com/octocat/repo-${n}`,
          private: n % 2 === 0,
          archived: false,
          default_branch: 'main',
        }
      : {
          id: 200_000 + n,
          path_with_namespace: `ada/project-${n}`,
          web_url: `https://gitlab.com/ada/project-${n}`,
          visibility: 'private',
          archived: false,
          default_branch: 'main',
        };
  });
}

/** Slack's `GET /conversations.list`: channels in pages linked by `response_metadata.next_cursor`. */
export const slackChannels: ApiRoute = {
  method: 'GET',
  path: '/conversations.list',
  endpoint: 'list',
  handle(req) {
    const token = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (!req.store.liveToken('slack', token)) return json(200, { ok: false, error: 'invalid_auth' });
    const channels = inventoryOf(req.store.inventories, 'slack');
    const limit = Math.min(Math.max(Number(req.query.get('limit') ?? 100) || 100, 1), 1000);
    const start = Number(Buffer.from(req.query.get('cursor') ?? '', 'base64url').toString() || 0);
    const next = start + limit < channels.length ? Buffer.from(String(start + limit)).toString('base64url') : '';
    return json(200, { ok: true, channels: channels.slice(start, start + limit), response_metadata: { next_cursor: next } });
  },
};

/** PagerDuty's `GET /services`: services in pages of `limit` from `offset`, `more` while any are left. */
export const pagerdutyServices: ApiRoute = {
  method: 'GET',
  path: '/services',
  endpoint: 'list',
  handle(req) {
    const token =
      /^Token token=(\S+)$/.exec(req.headers.authorization ?? '')?.[1] ?? /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (!req.store.liveToken('pagerduty', token)) return json(401, { error: { message: 'Unauthorized', code: 2006 } });
    const services = inventoryOf(req.store.inventories, 'pagerduty');
    const limit = Math.min(Math.max(Number(req.query.get('limit') ?? 25) || 25, 1), 100);
    const offset = Math.max(Number(req.query.get('offset') ?? 0) || 0, 0);
    const page = services.slice(offset, offset + limit);
    return json(200, { services: page, limit, offset, more: offset + limit < services.length, total: null });
  },
};
