import * as oauth from 'oauth4webapi';
import { type Credential, type HttpClient, type ProviderErrorCode, TRANSPORT_MESSAGES, transportErrorCode } from './credentials.js';
import type { OAuthEndpoints } from './oauth-endpoints.js';
import { assertBoundOrigin, assertRegisteredOrigin, CredentialOriginError, type CredentialOrigins } from './origins.js';

// The OAuth2 token calls (code exchange, refresh, revocation) through oauth4webapi, over the guarded
// client, to endpoints oauth-endpoints.ts resolves.

export class OAuthError extends Error {
  override name = 'OAuthError';
  constructor(
    /** `rejected`: the grant is dead (invalid_grant, 401/403); `transient`: try later; `failed`: anything else. */
    readonly kind: 'rejected' | 'transient' | 'failed',
    readonly code: ProviderErrorCode,
    message: string,
    /** The provider's OAuth error code, e.g. `invalid_grant`; never a token. */
    readonly oauthError: string | null = null,
  ) {
    super(message);
  }
}

function server(endpoints: OAuthEndpoints): oauth.AuthorizationServer {
  return {
    issuer: new URL(endpoints.tokenUrl).origin,
    authorization_endpoint: endpoints.authorizeUrl,
    token_endpoint: endpoints.tokenUrl,
    ...(endpoints.revokeUrl ? { revocation_endpoint: endpoints.revokeUrl } : {}),
  };
}

function clientAuth(endpoints: OAuthEndpoints): oauth.ClientAuth {
  return endpoints.definition.clientAuth === 'client_secret_basic'
    ? oauth.ClientSecretBasic(endpoints.clientSecret)
    : oauth.ClientSecretPost(endpoints.clientSecret);
}

function requestOptions(endpoints: OAuthEndpoints, http: HttpClient, provider: string, timeoutMs: number) {
  return {
    [oauth.customFetch]: (url: string, init: RequestInit) => {
      // Every token and revocation request passes here with the client secret in its body or headers:
      // it goes nowhere the client is not registered at, whatever config the endpoints were resolved from.
      assertRegisteredOrigin(endpoints.client, url);
      // Token calls are not idempotent (a code or rotating refresh token is single use): never retried.
      return http(url, { ...init, timeoutMs, provider, idempotent: false });
    },
    // Scheme policy belongs to the outbound client, which refuses plain http in production.
    [oauth.allowInsecureRequests]: true,
    headers: { accept: 'application/json' },
  };
}

/**
 * Reads a token endpoint answer. Some providers (GitHub) answer 200 with an `error` member, so the
 * body is checked before the standard processing sees it.
 */
async function tokenResponse(response: Response): Promise<Response> {
  const text = await response.text();
  let body: Record<string, unknown> | null = null;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = null;
  }
  const oauthError = typeof body?.error === 'string' ? body.error.slice(0, 64) : null;
  // GitHub says bad_refresh_token and Slack invalid_refresh_token (with HTTP 200) where RFC 6749 says invalid_grant.
  if (
    response.status === 401 ||
    response.status === 403 ||
    oauthError === 'invalid_grant' ||
    oauthError === 'bad_refresh_token' ||
    oauthError === 'invalid_refresh_token' ||
    oauthError === 'invalid_client'
  ) {
    throw new OAuthError(
      'rejected',
      'PROVIDER_REJECTED_CREDENTIALS',
      `The provider refused the grant (${oauthError ?? `HTTP ${response.status}`}).`,
      oauthError,
    );
  }
  if (response.status === 429) throw new OAuthError('transient', 'PROVIDER_RATE_LIMITED', TRANSPORT_MESSAGES.PROVIDER_RATE_LIMITED);
  if (response.status >= 500)
    throw new OAuthError('transient', 'PROVIDER_ERROR', `${TRANSPORT_MESSAGES.PROVIDER_ERROR} (HTTP ${response.status})`);
  if (oauthError || body?.ok === false) {
    const code = oauthError ?? String(body?.error ?? 'unknown_error').slice(0, 64);
    throw new OAuthError('failed', 'PROVIDER_ERROR', `The provider refused the token request (${code}).`, code);
  }
  // Hand the standard processing a fresh response with the same status and body.
  return new Response(text, { status: response.status, headers: { 'content-type': 'application/json' } });
}

async function tokenCall(run: () => Promise<Response>, process: (response: Response) => Promise<oauth.TokenEndpointResponse>) {
  let response: Response;
  try {
    response = await run();
  } catch (error) {
    if (error instanceof CredentialOriginError) throw error;
    throw new OAuthError('transient', transportErrorCode(error), TRANSPORT_MESSAGES[transportErrorCode(error)]);
  }
  const checked = await tokenResponse(response);
  try {
    return await process(checked);
  } catch (error) {
    if (error instanceof OAuthError) throw error;
    throw new OAuthError('failed', 'PROVIDER_ERROR', 'The provider answered the token request with something that is not a token.');
  }
}

/** Slack answers `token_type: "bot"` (or `"user"`); such tokens are still sent as bearer tokens. */
const PROCESS_OPTIONS: oauth.ProcessTokenResponseOptions = { recognizedTokenTypes: { bot: () => {}, user: () => {} } };

export interface TokenSet {
  credential: Extract<Credential, { kind: 'OAUTH2' }>;
  /** Scopes the provider reports as granted, when it reports them. */
  grantedScopes: string[] | null;
}

/**
 * The stored form of a token answer. Its expiry is the provider's `expires_in`, else the lifetime the
 * connector documents for the provider's tokens; with neither, none is made up: the expiry is unknown
 * (null), and a token with a refresh token is refreshed by age instead (TOKEN_REFRESH_MAX_AGE_SECONDS).
 */
function toTokenSet(endpoints: OAuthEndpoints, token: oauth.TokenEndpointResponse, previousRefreshToken: string | null): TokenSet {
  const now = Date.now();
  const expiresIn = typeof token.expires_in === 'number' ? token.expires_in : (endpoints.definition.defaultExpiresInSeconds ?? null);
  const scope = typeof token.scope === 'string' ? token.scope : null;
  return {
    credential: {
      kind: 'OAUTH2',
      accessToken: token.access_token,
      // A refresh answer without a new refresh token keeps the old one.
      refreshToken: token.refresh_token ?? previousRefreshToken,
      tokenType: token.token_type,
      expiresAt: expiresIn === null ? null : new Date(now + expiresIn * 1000).toISOString(),
      obtainedAt: new Date(now).toISOString(),
    },
    grantedScopes: scope === null ? null : scope.split(/[ ,]+/).filter(Boolean),
  };
}

/** Exchanges an authorization code; a token endpoint where the client is not registered is refused (CredentialOriginError) unsent. */
export async function exchangeCode(
  endpoints: OAuthEndpoints,
  request: { code: string; codeVerifier: string | null; redirectUri: string; state: string },
  http: HttpClient,
  provider: string,
  timeoutMs: number,
): Promise<TokenSet> {
  const as = server(endpoints);
  const client: oauth.Client = { client_id: endpoints.clientId };
  const params = new URLSearchParams({ code: request.code, state: request.state });
  const callback = oauth.validateAuthResponse(as, client, params, request.state);
  const token = await tokenCall(
    () =>
      oauth.authorizationCodeGrantRequest(
        as,
        client,
        clientAuth(endpoints),
        callback,
        request.redirectUri,
        request.codeVerifier ?? oauth.nopkce,
        requestOptions(endpoints, http, provider, timeoutMs),
      ),
    (response) => oauth.processAuthorizationCodeResponse(as, client, response, PROCESS_OPTIONS),
  );
  return toTokenSet(endpoints, token, null);
}

/**
 * Refreshes at the token endpoint; one outside the credential's bound token origin, or where the client
 * is not registered, is refused (CredentialOriginError) unsent.
 */
export async function refreshTokens(
  endpoints: OAuthEndpoints,
  refreshToken: string,
  http: HttpClient,
  provider: string,
  timeoutMs: number,
  origins: CredentialOrigins,
): Promise<TokenSet> {
  assertBoundOrigin(origins, 'token', endpoints.tokenUrl);
  const as = server(endpoints);
  const client: oauth.Client = { client_id: endpoints.clientId };
  const token = await tokenCall(
    () =>
      oauth.refreshTokenGrantRequest(
        as,
        client,
        clientAuth(endpoints),
        refreshToken,
        requestOptions(endpoints, http, provider, timeoutMs),
      ),
    (response) => oauth.processRefreshTokenResponse(as, client, response, PROCESS_OPTIONS),
  );
  return toTokenSet(endpoints, token, refreshToken);
}

/**
 * RFC 7009 revocation of one token; resolves when the provider confirmed. Where the client is not registered it throws
 * CredentialOriginError unsent.
 */
export async function revokeToken(
  endpoints: OAuthEndpoints,
  token: string,
  hint: 'access_token' | 'refresh_token',
  http: HttpClient,
  provider: string,
  timeoutMs: number,
): Promise<void> {
  const as = server(endpoints);
  const client: oauth.Client = { client_id: endpoints.clientId };
  let response: Response;
  try {
    response = await oauth.revocationRequest(as, client, clientAuth(endpoints), token, {
      ...requestOptions(endpoints, http, provider, timeoutMs),
      additionalParameters: { token_type_hint: hint },
    });
  } catch (error) {
    if (error instanceof CredentialOriginError) throw error;
    throw new OAuthError('transient', transportErrorCode(error), TRANSPORT_MESSAGES[transportErrorCode(error)]);
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new OAuthError(
      response.status >= 500 || response.status === 429 ? 'transient' : 'failed',
      'PROVIDER_ERROR',
      `The provider refused the revocation (HTTP ${response.status}).`,
    );
  }
  await response.body?.cancel();
}
