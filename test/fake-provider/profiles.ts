import type { IncomingHttpHeaders } from 'node:http';
import type { ConnectorSettingsMap } from '../../src/connectors/settings.js';
import type { FakeStore } from './store.js';

/** One request to the fake, below its provider prefix (`/github/api/v3/user` -> provider `github`, path `/api/v3/user`). */
export interface FakeRequest {
  provider: string;
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** The body as a form (token and revocation requests). */
  form: URLSearchParams;
  /** The body as JSON, when it is JSON. */
  json: Record<string, unknown> | null;
  store: FakeStore;
}

/** An answer: a string body is sent as is, anything else as JSON. */
export interface Answer {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

export const json = (status: number, body: unknown, headers: Record<string, string> = {}): Answer => ({ status, body, headers });

/** How a provider lays out its endpoints below its prefix, mirroring the real hosts and paths. */
export interface FakeProfile {
  /** The API base below the prefix (the connector's `apiUrl`). */
  apiPath: string;
  /** Atlassian's API gateway, apart from the site (the connector's `oauthApiUrl`). */
  oauthApiPath?: string;
  oauth?: {
    authorizePath: string;
    tokenPath: string;
    /** RFC 7009 endpoint, where the provider has one. */
    revokePath?: string;
    /** Token endpoint dialect: RFC 6749 errors, GitHub's 200-with-error, or Slack's `ok` flag. */
    style: 'standard' | 'github' | 'slack';
    /** `token_type` of token answers (Slack says `bot`). */
    tokenType: string;
    /** Parameters the authorize endpoint insists on, e.g. Atlassian's `audience`. */
    requiredAuthorizeParams?: Record<string, string>;
  };
}

export const PROFILES: Readonly<Record<string, FakeProfile>> = {
  datadog: {
    apiPath: '',
    oauth: {
      authorizePath: '/oauth2/v1/authorize',
      tokenPath: '/oauth2/v1/token',
      revokePath: '/oauth2/v1/revoke',
      style: 'standard',
      tokenType: 'bearer',
    },
  },
  github: {
    apiPath: '/api/v3',
    oauth: { authorizePath: '/login/oauth/authorize', tokenPath: '/login/oauth/access_token', style: 'github', tokenType: 'bearer' },
  },
  gitlab: {
    apiPath: '/api/v4',
    oauth: {
      authorizePath: '/oauth/authorize',
      tokenPath: '/oauth/token',
      revokePath: '/oauth/revoke',
      style: 'standard',
      tokenType: 'Bearer',
    },
  },
  http: { apiPath: '' },
  jira: {
    apiPath: '/site',
    oauthApiPath: '/api',
    oauth: {
      authorizePath: '/auth/authorize',
      tokenPath: '/auth/oauth/token',
      style: 'standard',
      tokenType: 'Bearer',
      requiredAuthorizeParams: { audience: 'api.atlassian.com' },
    },
  },
  pagerduty: {
    apiPath: '',
    oauth: {
      authorizePath: '/identity/oauth/authorize',
      tokenPath: '/identity/oauth/token',
      revokePath: '/identity/oauth/revoke',
      style: 'standard',
      tokenType: 'bearer',
    },
  },
  servicenow: {
    apiPath: '',
    oauth: {
      authorizePath: '/oauth_auth.do',
      tokenPath: '/oauth_token.do',
      revokePath: '/oauth_revoke_token.do',
      style: 'standard',
      tokenType: 'Bearer',
    },
  },
  slack: {
    apiPath: '/api',
    oauth: { authorizePath: '/oauth/v2/authorize', tokenPath: '/api/oauth.v2.access', style: 'slack', tokenType: 'bot' },
  },
};

/** The OAuth2 client the fake registers for a provider. */
export const clientIdOf = (provider: string) => `${provider}-client-id`;

/**
 * The connector settings that point every connector at the fake listening on `baseUrl`. The `http`
 * connector has no deployment settings: its base URL is the user's config (`baseUrl` below `/http`).
 */
export function settingsFor(baseUrl: string, clientSecrets: ReadonlyMap<string, string>): ConnectorSettingsMap {
  const settings: Record<string, ConnectorSettingsMap[string]> = {};
  for (const [key, profile] of Object.entries(PROFILES)) {
    if (key === 'http') continue;
    const prefix = `${baseUrl}/${key}`;
    const oauth = profile.oauth;
    settings[key] = {
      apiUrl: `${prefix}${profile.apiPath}`,
      ...(profile.oauthApiPath ? { oauthApiUrl: `${prefix}${profile.oauthApiPath}` } : {}),
      ...(oauth
        ? {
            clientId: clientIdOf(key),
            clientSecret: clientSecrets.get(key) as string,
            authorizeUrl: `${prefix}${oauth.authorizePath}`,
            tokenUrl: `${prefix}${oauth.tokenPath}`,
            ...(oauth.revokePath ? { revokeUrl: `${prefix}${oauth.revokePath}` } : {}),
          }
        : {}),
    };
  }
  return settings;
}

/** The same settings as `CONNECTOR_<KEY>_<FIELD>=value` lines, as `connectorSettingsFromEnv` reads them. */
export function settingsAsEnv(settings: ConnectorSettingsMap): string[] {
  const names: Record<string, string> = {
    clientId: 'CLIENT_ID',
    clientSecret: 'CLIENT_SECRET',
    apiUrl: 'API_URL',
    authorizeUrl: 'AUTHORIZE_URL',
    tokenUrl: 'TOKEN_URL',
    revokeUrl: 'REVOKE_URL',
    oauthApiUrl: 'OAUTH_API_URL',
    oauthOrigin: 'OAUTH_ORIGIN',
  };
  return Object.entries(settings).flatMap(([key, values]) =>
    Object.entries(values).map(([field, value]) => `CONNECTOR_${key.toUpperCase()}_${names[field]}=${value}`),
  );
}
