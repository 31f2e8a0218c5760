import type { ConnectorDefinition } from '../types.js';

/** PagerDuty: a REST API key, or an OAuth app acting for a user. */
export const pagerduty: ConnectorDefinition = {
  key: 'pagerduty',
  name: 'PagerDuty',
  authKinds: ['OAUTH2', 'API_TOKEN'],
  apiUrl: 'https://api.pagerduty.com',
  configFields: [],
  defaultScopes: ['read'],
  requiredScopes: [],
  oauth2: {
    authorizeUrl: 'https://identity.pagerduty.com/oauth/authorize',
    tokenUrl: 'https://identity.pagerduty.com/oauth/token',
    revokeUrl: 'https://identity.pagerduty.com/oauth/revoke',
    scopeSeparator: ' ',
    pkce: true,
    rotatesRefreshTokens: false,
    clientAuth: 'client_secret_post',
  },
  credentials: { OAUTH2: { kind: 'bearer' }, API_TOKEN: { kind: 'header', name: 'authorization', format: 'Token token={token}' } },
  apiHeaders: { accept: 'application/vnd.pagerduty+json;version=2' },
  probe: {
    method: 'GET',
    path: '/users/me',
    identity: { email: { body: 'user.email' }, id: { body: 'user.id' }, name: { body: 'user.name' } },
  },
  inventory: {
    kind: 'service',
    path: '/services?limit=100&offset=0',
    pagination: { offset: { param: 'offset', more: 'more' } },
    items: 'services',
    fields: { id: 'id', name: 'name', url: 'html_url' },
    metadata: ['status', 'description'],
  },
  probeByAuthKind: {
    // Account-level API keys have no user: /abilities is what they can always read.
    API_TOKEN: { method: 'GET', path: '/abilities', identity: {} },
  },
};
