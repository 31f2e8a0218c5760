import type { ConnectorDefinition } from '../types.js';

const SITES = ['datadoghq.com', 'us3.datadoghq.com', 'us5.datadoghq.com', 'datadoghq.eu', 'ap1.datadoghq.com', 'ddog-gov.com'];

/** Datadog in one of its sites: an API key, or OAuth. */
export const datadog: ConnectorDefinition = {
  key: 'datadog',
  name: 'Datadog',
  authKinds: ['API_TOKEN', 'OAUTH2'],
  apiUrl: 'https://api.{site}',
  configFields: [
    { name: 'site', kind: 'choice', required: false, choices: SITES, default: 'datadoghq.com', description: 'The Datadog site.' },
  ],
  defaultScopes: ['monitors_read', 'dashboards_read'],
  requiredScopes: [],
  oauth2: {
    authorizeUrl: 'https://app.{site}/oauth2/v1/authorize',
    tokenUrl: 'https://api.{site}/oauth2/v1/token',
    revokeUrl: 'https://api.{site}/oauth2/v1/revoke',
    scopeSeparator: ' ',
    pkce: true,
    rotatesRefreshTokens: true,
    clientAuth: 'client_secret_post',
  },
  credentials: { API_TOKEN: { kind: 'header', name: 'dd-api-key', format: '{token}' }, OAUTH2: { kind: 'bearer' } },
  probe: { method: 'GET', path: '/api/v1/validate', identity: {} },
  // Monitors, 1,000 a page from page 0 while a page is full. Datadog lists monitors only for a user
  // (OAuth, or an API key with an application key): an API key alone is refused, so it lists nothing.
  inventory: {
    kind: 'monitor',
    path: '/api/v1/monitor?page=0&page_size=1000',
    pagination: { page: { param: 'page', size: 'page_size' } },
    fields: { id: 'id', name: 'name', url: 'https://app.{site}/monitors/{.id}' },
    metadata: ['type', 'overall_state', 'priority'],
    authKinds: ['OAUTH2'],
  },
};
