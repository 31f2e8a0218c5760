import type { AuthKind } from '../db/database.js';

/** What the catalog tells a client about a provider it can connect. */
export interface ConnectorDefinition {
  /** Stable key stored on integrations, e.g. `github`. */
  key: string;
  name: string;
  authKinds: readonly AuthKind[];
  /** Scopes requested when the caller names none. */
  defaultScopes: readonly string[];
  /** Whether revoking an integration also revokes its credential at the provider. */
  supportsRevocation: boolean;
}

const catalog: readonly ConnectorDefinition[] = [
  { key: 'datadog', name: 'Datadog', authKinds: ['API_TOKEN', 'OAUTH2'], defaultScopes: ['monitors_read', 'dashboards_read'], supportsRevocation: true },
  { key: 'github', name: 'GitHub', authKinds: ['OAUTH2', 'API_TOKEN'], defaultScopes: ['repo', 'read:org'], supportsRevocation: true },
  { key: 'gitlab', name: 'GitLab', authKinds: ['OAUTH2', 'API_TOKEN'], defaultScopes: ['read_api', 'read_user'], supportsRevocation: true },
  { key: 'http', name: 'HTTP API', authKinds: ['API_TOKEN', 'BASIC'], defaultScopes: [], supportsRevocation: false },
  { key: 'jira', name: 'Jira', authKinds: ['OAUTH2', 'BASIC'], defaultScopes: ['read:jira-work', 'read:jira-user', 'offline_access'], supportsRevocation: false },
  { key: 'pagerduty', name: 'PagerDuty', authKinds: ['OAUTH2', 'API_TOKEN'], defaultScopes: ['read'], supportsRevocation: true },
  { key: 'servicenow', name: 'ServiceNow', authKinds: ['OAUTH2', 'BASIC'], defaultScopes: ['useraccount'], supportsRevocation: true },
  { key: 'slack', name: 'Slack', authKinds: ['OAUTH2', 'API_TOKEN'], defaultScopes: ['channels:read', 'chat:write'], supportsRevocation: true },
];

const byKey = new Map(catalog.map((definition) => [definition.key, definition]));

/** Every connector, sorted by key. */
export function listConnectors(): readonly ConnectorDefinition[] {
  return catalog;
}

/**
 * The connector for a stored provider key. A key no longer in the catalog still resolves, so that
 * integrations made with a retired connector stay readable.
 */
export function getConnector(key: string): ConnectorDefinition {
  return byKey.get(key) ?? { key, name: key, authKinds: [], defaultScopes: [], supportsRevocation: false };
}
