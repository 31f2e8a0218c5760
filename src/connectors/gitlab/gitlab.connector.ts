import type { ConnectorDefinition } from '../types.js';

/** GitLab.com, or a self-managed GitLab when `host` is given. */
export const gitlab: ConnectorDefinition = {
  key: 'gitlab',
  name: 'GitLab',
  authKinds: ['OAUTH2', 'API_TOKEN'],
  apiUrl: '{host|https://gitlab.com}/api/v4',
  configFields: [{ name: 'host', kind: 'origin', required: false, description: 'Self-managed GitLab host; empty for gitlab.com.' }],
  defaultScopes: ['read_api', 'read_user'],
  requiredScopes: ['read_api'],
  oauth2: {
    authorizeUrl: '{host|https://gitlab.com}/oauth/authorize',
    tokenUrl: '{host|https://gitlab.com}/oauth/token',
    revokeUrl: '{host|https://gitlab.com}/oauth/revoke',
    scopeSeparator: ' ',
    pkce: true,
    rotatesRefreshTokens: true,
    clientAuth: 'client_secret_post',
    // GitLab access tokens live two hours.
    defaultExpiresInSeconds: 7200,
  },
  credentials: { OAUTH2: { kind: 'bearer' }, API_TOKEN: { kind: 'header', name: 'private-token', format: '{token}' } },
  probe: {
    method: 'GET',
    path: '/user',
    identity: { username: { body: 'username' }, id: { body: 'id' }, name: { body: 'name' } },
  },
  inventory: {
    kind: 'project',
    path: '/projects?membership=true&per_page=100&order_by=id&sort=asc',
    pagination: 'link',
    fields: { id: 'id', name: 'path_with_namespace', url: 'web_url' },
    metadata: ['visibility', 'archived', 'default_branch'],
  },
  probeByAuthKind: {
    // A personal access token describes itself, scopes included.
    API_TOKEN: {
      method: 'GET',
      path: '/personal_access_tokens/self',
      identity: { tokenName: { body: 'name' }, userId: { body: 'user_id' } },
      grantedScopes: { body: 'scopes' },
    },
  },
};
