import * as oauth from 'oauth4webapi';
import { type ClientRegistration, originOf } from './origins.js';
import { connectorVariable, type ConnectorTarget } from './settings.js';
import { apiBase, expandTemplate, joinUrl } from './template.js';
import type { OAuth2Definition } from './types.js';

// Where a provider's OAuth2 client is sent: its endpoints after config templates and deployment
// overrides, the origins it is registered at, and the URL (with its state and PKCE values) a user
// authorizes at.

/** A provider's OAuth2 endpoints and client, as this deployment and an integration's config resolve them. */
export interface OAuthEndpoints {
  definition: OAuth2Definition;
  authorizeUrl: string;
  tokenUrl: string;
  revokeUrl: string | null;
  /** GitHub's own revocation call, at its API, which authenticates with the client id and secret. */
  clientRevokeUrl: string | null;
  clientId: string;
  clientSecret: string;
  /** Where the client is registered: the only origins its secret is sent to. */
  client: ClientRegistration;
}

type EndpointUrls = Pick<OAuthEndpoints, 'authorizeUrl' | 'tokenUrl' | 'revokeUrl' | 'clientRevokeUrl'>;

function endpointUrls(target: ConnectorTarget, oauth2: OAuth2Definition, clientId: string): EndpointUrls {
  const { definition, settings, config } = target;
  const expand = (template: string) => expandTemplate(template, config, definition.configFields);
  const revoke = settings.revokeUrl ?? oauth2.revokeUrl;
  return {
    authorizeUrl: expand(settings.authorizeUrl ?? oauth2.authorizeUrl),
    tokenUrl: expand(settings.tokenUrl ?? oauth2.tokenUrl),
    revokeUrl: revoke ? expand(revoke) : null,
    clientRevokeUrl:
      definition.customRevocation === 'github' ? joinUrl(apiBase(target), `/applications/${encodeURIComponent(clientId)}/token`) : null,
  };
}

/** Every URL of these endpoints that the client secret is sent to (the authorize URL carries the client id alone). */
export function clientSecretUrls(urls: EndpointUrls): string[] {
  return [urls.tokenUrl, urls.revokeUrl, urls.clientRevokeUrl].filter((url): url is string => url !== null);
}

/**
 * The origins a provider's OAuth2 client is registered at: those its secret is sent to under the
 * deployment's settings and the connector's default config (`https://gitlab.com`, or what
 * `CONNECTOR_GITLAB_TOKEN_URL` says), and the instance named by `CONNECTOR_<PROVIDER>_OAUTH_ORIGIN`. A
 * template that needs a config value (a ServiceNow instance) has no default origin.
 */
function registration(target: ConnectorTarget, oauth2: OAuth2Definition, clientId: string): ClientRegistration {
  const origins = new Set<string>();
  for (const url of clientSecretUrls(endpointUrls({ ...target, config: {} }, oauth2, clientId))) {
    if (URL.canParse(url)) origins.add(originOf(url));
  }
  if (target.settings.oauthOrigin) origins.add(originOf(target.settings.oauthOrigin));
  return { provider: target.definition.name, variable: connectorVariable(target.definition.key, 'OAUTH_ORIGIN'), origins: [...origins] };
}

/** Endpoints after config templates and deployment overrides; null when no client is configured. */
export function oauthEndpoints(target: ConnectorTarget): OAuthEndpoints | null {
  const { definition, settings } = target;
  const oauth2 = definition.oauth2;
  if (!oauth2 || !settings.clientId || !settings.clientSecret) return null;
  return {
    definition: oauth2,
    ...endpointUrls(target, oauth2, settings.clientId),
    clientId: settings.clientId,
    clientSecret: settings.clientSecret,
    client: registration(target, oauth2, settings.clientId),
  };
}

/** The first URL these endpoints would send the client secret to outside the origins the client is registered at; null when none. */
export function unregisteredClientUrl(endpoints: OAuthEndpoints): string | null {
  return clientSecretUrls(endpoints).find((url) => !endpoints.client.origins.includes(originOf(url))) ?? null;
}

/** The provider's authorization URL for one authorization: code flow, PKCE when the connector uses it. */
export function buildAuthorizationUrl(
  endpoints: OAuthEndpoints,
  request: { state: string; codeChallenge: string | null; scopes: readonly string[]; redirectUri: string },
): string {
  const url = new URL(endpoints.authorizeUrl);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('client_id', endpoints.clientId);
  url.searchParams.set('redirect_uri', request.redirectUri);
  url.searchParams.set('state', request.state);
  if (request.scopes.length > 0) url.searchParams.set('scope', request.scopes.join(endpoints.definition.scopeSeparator));
  if (request.codeChallenge) {
    url.searchParams.set('code_challenge', request.codeChallenge);
    url.searchParams.set('code_challenge_method', 'S256');
  }
  for (const [name, value] of Object.entries(endpoints.definition.authorizeParams ?? {})) url.searchParams.set(name, value);
  return url.toString();
}

/** PKCE and state values: 256 bits of randomness each, as oauth4webapi generates them. */
export async function newAuthorizationSecrets(
  pkce: boolean,
): Promise<{ state: string; codeVerifier: string | null; codeChallenge: string | null }> {
  const state = oauth.generateRandomState();
  if (!pkce) return { state, codeVerifier: null, codeChallenge: null };
  const codeVerifier = oauth.generateRandomCodeVerifier();
  return { state, codeVerifier, codeChallenge: await oauth.calculatePKCECodeChallenge(codeVerifier) };
}
