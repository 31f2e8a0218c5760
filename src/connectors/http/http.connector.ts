import type { ConnectorDefinition } from '../types.js';

/** Any HTTP API: a base URL, a probe path, and a bearer token, a custom header or basic auth. */
export const http: ConnectorDefinition = {
  key: 'http',
  name: 'HTTP API',
  authKinds: ['API_TOKEN', 'BASIC'],
  apiUrl: '{baseUrl}',
  configFields: [
    { name: 'baseUrl', kind: 'url', required: true, description: 'Base URL of the API.' },
    { name: 'probePath', kind: 'path', required: false, default: '/', description: 'Path probed to test connectivity.' },
    {
      name: 'headerName',
      kind: 'header-name',
      required: false,
      default: 'authorization',
      description: 'Header carrying the token; with `authorization` the token is sent as a Bearer token.',
    },
    {
      name: 'inventoryPath',
      kind: 'path',
      required: false,
      description:
        'Path listing what the credential reaches, for inventory syncs: a JSON array of items, or {"items": [...], "next": ...} ' +
        'where next is the next page (a URL or path) or a cursor sent back as ?cursor=; a Link header rel="next" also works. ' +
        'Each item has an id (string or number), a name and optionally a url. Empty: no inventory.',
    },
  ],
  defaultScopes: [],
  requiredScopes: [],
  credentials: { API_TOKEN: { kind: 'header', name: '{headerName}', format: '{token}' }, BASIC: { kind: 'basic' } },
  probe: { method: 'GET', path: '{probePath}', identity: {} },
  inventory: {
    kind: 'item',
    path: '{inventoryPath}',
    pagination: { cursor: { body: 'next', param: 'cursor', urls: true } },
    items: 'items',
    fields: { id: 'id', name: 'name', url: 'url' },
    requiresConfig: 'inventoryPath',
  },
};
