import type { ConnectorDefinition, InventoryDefinition } from '../types.js';

/** Jira's `GET /rest/api/3/project/search` at `path`. */
const projects = (path: string): InventoryDefinition => ({
  kind: 'project',
  path,
  pagination: { offset: { param: 'startAt', last: 'isLast' } },
  items: 'values',
  fields: { id: 'id', name: 'name', url: '{site}/browse/{.key}' },
  metadata: ['key', 'projectTypeKey', 'style', 'isPrivate'],
});

/** Jira Cloud on an Atlassian site: an API token with the account's email (BASIC), or OAuth 2.0 (3LO). */
export const jira: ConnectorDefinition = {
  key: 'jira',
  name: 'Jira',
  authKinds: ['BASIC', 'OAUTH2'],
  apiUrl: '{site}',
  configFields: [{ name: 'site', kind: 'origin', required: true, description: 'The Atlassian site, e.g. acme.atlassian.net.' }],
  defaultScopes: ['read:jira-work', 'read:jira-user', 'offline_access'],
  requiredScopes: ['read:jira-work'],
  oauth2: {
    authorizeUrl: 'https://auth.atlassian.com/authorize',
    tokenUrl: 'https://auth.atlassian.com/oauth/token',
    scopeSeparator: ' ',
    pkce: false,
    rotatesRefreshTokens: true,
    clientAuth: 'client_secret_post',
    authorizeParams: { audience: 'api.atlassian.com', prompt: 'consent' },
    defaultExpiresInSeconds: 3600,
  },
  credentials: { BASIC: { kind: 'basic' }, OAUTH2: { kind: 'bearer' } },
  probe: {
    method: 'GET',
    path: '/rest/api/3/myself',
    identity: { accountId: { body: 'accountId' }, email: { body: 'emailAddress' }, name: { body: 'displayName' } },
  },
  // Projects the account can browse, 50 a page (Jira's largest) from `startAt` until `isLast`. Site
  // credentials (BASIC) read the site; OAuth tokens read it through Atlassian's gateway, by its cloud id.
  inventory: [
    { ...projects('/rest/api/3/project/search?maxResults=50&startAt=0&orderBy=key'), authKinds: ['BASIC'] },
    {
      ...projects('{oauthApi|https://api.atlassian.com}/ex/jira/{cloudId}/rest/api/3/project/search?maxResults=50&startAt=0&orderBy=key'),
      authKinds: ['OAUTH2'],
      lookup: {
        name: 'cloudId',
        path: '{oauthApi|https://api.atlassian.com}/oauth/token/accessible-resources',
        match: { field: 'url', config: 'site' },
        value: 'id',
      },
    },
  ],
  probeByAuthKind: {
    // OAuth tokens address Atlassian's API gateway, not the site.
    OAUTH2: {
      method: 'GET',
      path: '{oauthApi|https://api.atlassian.com}/me',
      identity: { accountId: { body: 'account_id' }, email: { body: 'email' }, name: { body: 'name' } },
    },
  },
};
