import type { ConnectorDefinition } from '../types.js';

/** A ServiceNow instance. */
export const servicenow: ConnectorDefinition = {
  key: 'servicenow',
  name: 'ServiceNow',
  authKinds: ['OAUTH2', 'BASIC'],
  apiUrl: '{instance}',
  configFields: [
    { name: 'instance', kind: 'origin', required: true, description: 'The instance host, e.g. acme.service-now.com.' },
    {
      name: 'inventoryTable',
      kind: 'identifier',
      required: false,
      description: "The table whose records an inventory sync lists, e.g. cmdb_ci_server; empty: the user's groups.",
    },
    {
      name: 'inventoryNameField',
      kind: 'identifier',
      required: false,
      default: 'name',
      description: 'The column of inventoryTable that names a record, e.g. number for incident; name by default.',
    },
  ],
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
  // The Table API, 1,000 records a page along its `Link` header (sysparm_offset): the records of the
  // table the config names, or else the user's group memberships. Display values name the records.
  inventory: [
    {
      kind: 'record',
      path:
        '/api/now/table/{inventoryTable}?sysparm_fields=sys_id,{inventoryNameField},sys_class_name' +
        '&sysparm_display_value=all&sysparm_exclude_reference_link=true&sysparm_query=ORDERBYsys_id&sysparm_limit=1000&sysparm_offset=0',
      pagination: 'link',
      items: 'result',
      fields: {
        id: 'sys_id.value',
        name: '{inventoryNameField}.display_value',
        url: '{instance}/nav_to.do?uri={.sys_class_name.value}.do%3Fsys_id%3D{.sys_id.value}',
      },
      metadata: ['sys_class_name.value'],
      requiresConfig: 'inventoryTable',
    },
    {
      kind: 'group',
      path:
        '/api/now/table/sys_user_grmember?sysparm_fields=group&sysparm_display_value=all&sysparm_exclude_reference_link=true' +
        '&sysparm_query=user%3Djavascript:gs.getUserID()%5EORDERBYsys_id&sysparm_limit=1000&sysparm_offset=0',
      pagination: 'link',
      items: 'result',
      fields: {
        id: 'group.value',
        name: 'group.display_value',
        url: '{instance}/nav_to.do?uri=sys_user_group.do%3Fsys_id%3D{.group.value}',
      },
    },
  ],
  probe: {
    method: 'GET',
    path: '/api/now/ui/user/current_user',
    identity: { userName: { body: 'result.user_name' }, userId: { body: 'result.user_sys_id' } },
  },
};
