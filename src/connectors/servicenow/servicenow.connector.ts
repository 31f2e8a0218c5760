import type { ConnectorDefinition } from '../types.js';

/** A ServiceNow instance. */
export const servicenow: ConnectorDefinition = {
  key: 'servicenow',
  name: 'ServiceNow',
  authKinds: ['OAUTH2', 'BASIC'],
  apiUrl: '{instance}',
  configFields: [{ name: 'instance', kind: 'origin', required: true, description: 'The instance host, e.g. acme.service-now.com.' }],
  defaultScopes: ['useraccount'],
  requiredScopes: [],
  oauth2: {
    authorizeUrl: '{instance}/oauth_auth.do',
    tokenUrl: '{instance}/oauth_token.do',
    revokeUrl: '{instance}/oauth_revoke_token.do',
    scopeSeparator: ' ',
    pkce: true,
    rotatesRefreshTokens: false,
    clientAuth: 'client_secret_post',
    defaultExpiresInSeconds: 1800,
  },
  credentials: { OAUTH2: { kind: 'bearer' }, BASIC: { kind: 'basic' } },
  apiHeaders: { accept: 'application/json' },
  probe: {
    method: 'GET',
    path: '/api/now/ui/user/current_user',
    identity: { userName: { body: 'result.user_name' }, userId: { body: 'result.user_sys_id' } },
  },
};
