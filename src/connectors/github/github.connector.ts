import type { ConnectorDefinition } from '../types.js';

/** GitHub.com, or GitHub Enterprise Server when `host` is given. */
export const github: ConnectorDefinition = {
  key: 'github',
  name: 'GitHub',
  authKinds: ['OAUTH2', 'API_TOKEN'],
  apiUrl: '{host|https://api.github.com}{host?/api/v3}',
  configFields: [{ name: 'host', kind: 'origin', required: false, description: 'GitHub Enterprise Server host; empty for github.com.' }],
  defaultScopes: ['repo', 'read:org'],
  requiredScopes: ['repo'],
  oauth2: {
    authorizeUrl: '{host|https://github.com}/login/oauth/authorize',
    tokenUrl: '{host|https://github.com}/login/oauth/access_token',
    scopeSeparator: ' ',
    pkce: true,
    rotatesRefreshTokens: true,
    clientAuth: 'client_secret_post',
  },
  credentials: { OAUTH2: { kind: 'bearer' }, API_TOKEN: { kind: 'bearer' } },
  apiHeaders: { accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28' },
  probe: {
    method: 'GET',
    path: '/user',
    identity: { login: { body: 'login' }, id: { body: 'id' }, name: { body: 'name' } },
    grantedScopes: { header: 'x-oauth-scopes', separator: ',' },
  },
  inventory: {
    kind: 'repository',
    path: '/user/repos?per_page=100&sort=full_name',
    pagination: 'link',
    fields: { id: 'id', name: 'full_name', url: 'html_url' },
    metadata: ['private', 'archived', 'default_branch'],
  },
  // GitHub revokes an OAuth token with DELETE /applications/{client_id}/token, not RFC 7009.
  customRevocation: 'github',
};
