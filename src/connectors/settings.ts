import type { ConnectorDefinition } from './types.js';

/** Deployment configuration of one connector: OAuth2 client and endpoint overrides. */
export interface ConnectorSettings {
  clientId?: string;
  clientSecret?: string;
  /** Replaces the definition's API base URL template (self-hosted mirrors, a local fake provider). */
  apiUrl?: string;
  authorizeUrl?: string;
  tokenUrl?: string;
  revokeUrl?: string;
  /** Base of provider APIs addressed apart from the instance, e.g. Atlassian's `api.atlassian.com`. */
  oauthApiUrl?: string;
  /**
   * The origin of the instance the OAuth2 client is registered at, e.g. a self-managed GitLab's
   * `https://git.corp.example`: its secret may go there as well as to the endpoints' default origins.
   */
  oauthOrigin?: string;
}

export type ConnectorSettingsMap = Readonly<Record<string, ConnectorSettings>>;

const FIELDS = {
  CLIENT_ID: 'clientId',
  CLIENT_SECRET: 'clientSecret',
  API_URL: 'apiUrl',
  AUTHORIZE_URL: 'authorizeUrl',
  TOKEN_URL: 'tokenUrl',
  REVOKE_URL: 'revokeUrl',
  OAUTH_API_URL: 'oauthApiUrl',
  OAUTH_ORIGIN: 'oauthOrigin',
} as const satisfies Record<string, keyof ConnectorSettings>;

/** `scheme://host[:port]` with nothing after it but an optional `/`; stored as URL.origin spells it. */
function parseOrigin(name: string, value: string): string {
  let url: URL | null = null;
  try {
    url = new URL(value);
  } catch {
    url = null;
  }
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.username || url.password || `${url.origin}/` !== url.href) {
    throw new Error(
      `${name}: expected an http(s) origin, scheme and host with an optional port and nothing else, e.g. https://git.example.com`,
    );
  }
  return url.origin;
}

const envKeyOf = (key: string) => key.toUpperCase().replace(/-/g, '_');

/** The deployment variable of a connector's setting, e.g. `CONNECTOR_GITLAB_OAUTH_ORIGIN`. */
export function connectorVariable(key: string, field: keyof typeof FIELDS): string {
  return `CONNECTOR_${envKeyOf(key)}_${field}`;
}

/**
 * Reads `CONNECTOR_<KEY>_<FIELD>` variables, e.g. `CONNECTOR_GITHUB_CLIENT_ID` or
 * `CONNECTOR_GITLAB_API_URL`. Unknown connector keys or fields are refused, since a typo would
 * otherwise silently leave a connector unconfigured.
 */
export function connectorSettingsFromEnv(env: NodeJS.ProcessEnv, catalog: readonly ConnectorDefinition[]): ConnectorSettingsMap {
  const byEnvKey = new Map(catalog.map((definition) => [envKeyOf(definition.key), definition.key]));
  const settings: Record<string, ConnectorSettings> = {};
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('CONNECTOR_') || value === undefined || value === '') continue;
    const rest = name.slice('CONNECTOR_'.length);
    // The suffix must leave a known connector key: `JIRA_OAUTH_API_URL` is jira's OAUTH_API_URL, not "jira_oauth"'s API_URL.
    const field = Object.keys(FIELDS).find((suffix) => rest.endsWith(`_${suffix}`) && byEnvKey.has(rest.slice(0, -(suffix.length + 1))));
    const key = field ? byEnvKey.get(rest.slice(0, -(field.length + 1))) : undefined;
    if (!field || !key)
      throw new Error(`${name}: unknown connector variable (expected CONNECTOR_<PROVIDER>_<${Object.keys(FIELDS).join('|')}>)`);
    const property: keyof ConnectorSettings = FIELDS[field as keyof typeof FIELDS];
    if (property === 'oauthOrigin') {
      settings[key] = { ...settings[key], oauthOrigin: parseOrigin(name, value) };
      continue;
    }
    if (property !== 'clientId' && property !== 'clientSecret' && !/^https?:\/\/[^\s]+$/.test(value)) {
      throw new Error(`${name}: expected an http(s) URL`);
    }
    settings[key] = { ...settings[key], [property]: value };
  }
  return settings;
}

/** Whether the deployment supplied an OAuth2 client for this connector. */
export function oauthConfigured(definition: ConnectorDefinition, settings: ConnectorSettings | undefined): boolean {
  return Boolean(definition.oauth2 && settings?.clientId && settings.clientSecret);
}

/** A connector bound to one integration's config and the deployment's settings. */
export interface ConnectorTarget {
  definition: ConnectorDefinition;
  settings: ConnectorSettings;
  config: Readonly<Record<string, string>>;
}
