import { type Answer, clientIdOf, type FakeRequest, json } from './profiles.js';
import { githubRepositories, gitlabProjects, pagerdutyServices, slackChannels } from './inventory.js';
import {
  datadogMonitors,
  httpItems,
  jiraAccessibleResources,
  jiraGatewayProjects,
  jiraProjects,
  servicenowTable,
} from './inventory-lists.js';
import type { AccessToken } from './store.js';

/** An API route of a provider, below its API base (or Atlassian's API gateway for `oauthApi`). */
export interface ApiRoute {
  method: string;
  path: string | RegExp;
  base?: 'api' | 'oauthApi';
  /** What the route counts as: a probe-like API call, or a provider's own revocation call. */
  endpoint: 'api' | 'revoke' | 'list';
  handle(req: FakeRequest): Answer;
}

const bearer = (req: FakeRequest) => /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
const header = (req: FakeRequest, name: string) => {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
};

/** A live token of the provider presented as `token`, optionally of one kind (OAuth2 access token or API token). */
function live(req: FakeRequest, token: string | undefined, kind?: AccessToken['kind']): AccessToken | undefined {
  const record = req.store.liveToken(req.provider, token);
  return record && (!kind || record.kind === kind) ? record : undefined;
}

const scopesHeader = (record: AccessToken) => ({ 'x-oauth-scopes': record.scopes.join(', ') });

const ADA = { name: 'Ada Lovelace', email: 'ada@example.com' };

const github: ApiRoute[] = [
  {
    method: 'GET',
    path: '/user',
    endpoint: 'api',
    handle(req) {
      const record = live(req, bearer(req));
      if (!record) return json(401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' });
      return json(200, { login: 'octocat', id: 583231, name: 'The Octocat' }, scopesHeader(record));
    },
  },
  {
    // DELETE /applications/{client_id}/token (one token) and /grant (the whole authorization).
    method: 'DELETE',
    path: /^\/applications\/([^/]+)\/(token|grant)$/,
    endpoint: 'revoke',
    handle(req) {
      const match = /^\/applications\/([^/]+)\/(token|grant)$/.exec(req.path) as RegExpExecArray;
      const clientId = decodeURIComponent(match[1] as string);
      const secret = req.store.clients.get(clientId)?.secret;
      const expected = `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`;
      if (clientId !== clientIdOf('github') || req.headers.authorization !== expected)
        return json(401, { message: 'Requires authentication' });
      const record = live(req, String(req.json?.access_token ?? ''), 'oauth');
      if (!record) return json(404, { message: 'Not Found' });
      if (match[2] === 'grant' && record.grantId) req.store.revokeGrant(record.grantId);
      record.revoked = true;
      return { status: 204 };
    },
  },
];

const gitlabUser = { id: 4242, username: 'ada', name: ADA.name };
const gitlab: ApiRoute[] = [
  {
    method: 'GET',
    path: '/user',
    endpoint: 'api',
    handle(req) {
      const record = live(req, bearer(req), 'oauth') ?? live(req, header(req, 'private-token'), 'api');
      return record ? json(200, gitlabUser) : json(401, { message: '401 Unauthorized' });
    },
  },
  {
    method: 'GET',
    path: '/personal_access_tokens/self',
    endpoint: 'api',
    handle(req) {
      const record = live(req, header(req, 'private-token'), 'api');
      if (!record) return json(401, { message: '401 Unauthorized' });
      return json(200, {
        id: 7,
        name: 'gateway',
        revoked: false,
        active: true,
        user_id: gitlabUser.id,
        scopes: record.scopes,
        expires_at: null,
      });
    },
  },
];

/** Slack answers 200 with `{ok: false}` on failure, telling a revoked or expired token from an unknown one. */
function slackAuth(req: FakeRequest, token: string | undefined): AccessToken | Answer {
  const record = live(req, token);
  if (record) return record;
  if (!token) return json(200, { ok: false, error: 'not_authed' });
  const known = req.store.accessTokens.get(token);
  if (known?.provider === 'slack' && known.expiresAt !== null && known.expiresAt <= Date.now() && !known.revoked)
    return json(200, { ok: false, error: 'token_expired' });
  return json(200, { ok: false, error: known?.provider === 'slack' ? 'token_revoked' : 'invalid_auth' });
}

const slack: ApiRoute[] = [
  {
    method: 'POST',
    path: '/auth.test',
    endpoint: 'api',
    handle(req) {
      const auth = slackAuth(req, bearer(req));
      if ('status' in auth) return auth;
      return json(
        200,
        { ok: true, url: 'https://fake.slack.com/', team: 'Fake Workspace', user: 'gateway-bot', team_id: 'T0FAKE', user_id: 'U0FAKE' },
        scopesHeader(auth),
      );
    },
  },
  {
    method: 'POST',
    path: '/auth.revoke',
    endpoint: 'revoke',
    handle(req) {
      const auth = slackAuth(req, bearer(req) ?? req.form.get('token') ?? undefined);
      if ('status' in auth) return auth;
      auth.revoked = true;
      return json(200, { ok: true, revoked: true });
    },
  },
];

const jira: ApiRoute[] = [
  {
    method: 'GET',
    path: '/rest/api/3/myself',
    endpoint: 'api',
    handle(req) {
      if (!req.store.checkBasic('jira', req.headers.authorization)) return json(401, { errorMessages: ['You are not authenticated.'] });
      const email = Buffer.from((req.headers.authorization as string).slice(6), 'base64')
        .toString()
        .split(':')[0];
      return json(200, { accountId: '5b10ac8d82e05b22cc7d4ef5', emailAddress: email, displayName: ADA.name });
    },
  },
  {
    method: 'GET',
    path: '/me',
    base: 'oauthApi',
    endpoint: 'api',
    handle(req) {
      if (!live(req, bearer(req), 'oauth')) return json(401, { code: 401, message: 'Unauthorized' });
      return json(200, { account_id: '5b10ac8d82e05b22cc7d4ef5', email: ADA.email, name: ADA.name });
    },
  },
];

const servicenow: ApiRoute[] = [
  {
    method: 'GET',
    path: '/api/now/ui/user/current_user',
    endpoint: 'api',
    handle(req) {
      const basic = req.store.checkBasic('servicenow', req.headers.authorization);
      if (!basic && !live(req, bearer(req), 'oauth')) {
        return json(401, {
          error: { message: 'User Not Authenticated', detail: 'Required to provide Auth information' },
          status: 'failure',
        });
      }
      const userName = basic
        ? Buffer.from((req.headers.authorization as string).slice(6), 'base64')
            .toString()
            .split(':')[0]
        : 'ada.lovelace';
      return json(200, { result: { user_name: userName, user_sys_id: '6816f79cc0a8016401c5a33be04be441' } });
    },
  },
];

const pagerdutyKey = (req: FakeRequest) => /^Token token=(\S+)$/.exec(req.headers.authorization ?? '')?.[1];
const pdUnauthorized = () => json(401, { error: { message: 'Unauthorized', code: 2006 } });
const pagerduty: ApiRoute[] = [
  {
    method: 'GET',
    path: '/users/me',
    endpoint: 'api',
    handle(req) {
      if (live(req, pagerdutyKey(req), 'api'))
        return json(400, { error: { message: 'Invalid Input Provided', code: 2001, errors: ['Requires a user-level token'] } });
      if (!live(req, bearer(req), 'oauth')) return pdUnauthorized();
      return json(200, { user: { id: 'PFAKE01', email: ADA.email, name: ADA.name } });
    },
  },
  {
    method: 'GET',
    path: '/abilities',
    endpoint: 'api',
    handle(req) {
      if (!live(req, pagerdutyKey(req), 'api') && !live(req, bearer(req), 'oauth')) return pdUnauthorized();
      return json(200, { abilities: ['teams', 'urgencies', 'read_only_users'] });
    },
  },
];

const datadog: ApiRoute[] = [
  {
    method: 'GET',
    path: '/api/v1/validate',
    endpoint: 'api',
    handle(req) {
      const ok = live(req, header(req, 'dd-api-key'), 'api') ?? live(req, bearer(req), 'oauth');
      return ok ? json(200, { valid: true }) : json(403, { errors: ['Forbidden'] });
    },
  },
];

/** The generic HTTP API: a bearer token, a token in any custom header, or basic auth, on any path. */
const http: ApiRoute[] = [
  {
    method: 'GET',
    path: /^\/.*/,
    endpoint: 'api',
    handle(req) {
      const custom = Object.entries(req.headers).some(
        ([name, value]) => name !== 'authorization' && typeof value === 'string' && live(req, value, 'api'),
      );
      const ok = custom || live(req, bearer(req), 'api') || req.store.checkBasic('http', req.headers.authorization);
      return ok ? json(200, { ok: true, path: req.path }) : json(401, { error: 'unauthorized' });
    },
  },
];

export const API_ROUTES: Readonly<Record<string, readonly ApiRoute[]>> = {
  datadog: [...datadog, datadogMonitors],
  github: [...github, githubRepositories],
  gitlab: [...gitlab, gitlabProjects],
  // Before the catch-all route of any path.
  http: [httpItems, ...http],
  jira: [...jira, jiraProjects, jiraAccessibleResources, jiraGatewayProjects],
  pagerduty: [...pagerduty, pagerdutyServices],
  servicenow: [...servicenow, servicenowTable],
  slack: [...slack, slackChannels],
};
