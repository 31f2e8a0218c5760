import type { ConnectorDefinition } from '../types.js';

/** A Slack workspace, through a bot token. */
export const slack: ConnectorDefinition = {
  key: 'slack',
  name: 'Slack',
  authKinds: ['OAUTH2', 'API_TOKEN'],
  apiUrl: 'https://slack.com/api',
  configFields: [],
  defaultScopes: ['channels:read', 'chat:write'],
  requiredScopes: ['chat:write'],
  oauth2: {
    authorizeUrl: 'https://slack.com/oauth/v2/authorize',
    tokenUrl: 'https://slack.com/api/oauth.v2.access',
    scopeSeparator: ',',
    pkce: false,
    rotatesRefreshTokens: true,
    clientAuth: 'client_secret_post',
  },
  credentials: { OAUTH2: { kind: 'bearer' }, API_TOKEN: { kind: 'bearer' } },
  probe: {
    method: 'POST',
    path: '/auth.test',
    identity: { team: { body: 'team' }, user: { body: 'user' }, teamId: { body: 'team_id' } },
    grantedScopes: { header: 'x-oauth-scopes', separator: ',' },
    // Slack answers 200 with {"ok": false, "error": "..."} on failure.
    okFlag: {
      body: 'ok',
      errorBody: 'error',
      rejectedErrors: ['invalid_auth', 'not_authed', 'token_revoked', 'token_expired', 'account_inactive'],
    },
  },
  inventory: {
    kind: 'channel',
    path: '/conversations.list?limit=200&exclude_archived=true&types=public_channel,private_channel',
    pagination: { cursor: { body: 'response_metadata.next_cursor', param: 'cursor' } },
    items: 'channels',
    fields: { id: 'id', name: 'name' },
    metadata: ['is_private', 'is_archived', 'num_members'],
  },
  // Slack revokes with its own auth.revoke method.
  customRevocation: 'slack',
};
