import { type Credential, type HttpClient, TRANSPORT_MESSAGES, transportErrorCode } from './credentials.js';
import { OAuthError, revokeToken } from './oauth.js';
import { oauthEndpoints } from './oauth-endpoints.js';
import { assertBoundOrigin, assertRegisteredOrigin, CredentialOriginError, type CredentialOrigins } from './origins.js';
import { credentialHeaders } from './probe.js';
import type { ConnectorTarget } from './settings.js';
import { apiBase, joinUrl } from './template.js';

export interface RevocationOutcome {
  /** Whether the provider confirmed that the credential no longer works. */
  confirmed: boolean;
  /** Why not, when it did not. */
  reason: string | null;
}

async function confirm(call: () => Promise<Response>, accept: (response: Response, body: unknown) => boolean): Promise<RevocationOutcome> {
  let response: Response;
  try {
    response = await call();
  } catch (error) {
    return { confirmed: false, reason: TRANSPORT_MESSAGES[transportErrorCode(error)] };
  }
  const text = await response.text().catch(() => '');
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  return accept(response, body)
    ? { confirmed: true, reason: null }
    : { confirmed: false, reason: `The provider refused the revocation (HTTP ${response.status}).` };
}

/**
 * Revokes a credential at the provider where the provider supports it: RFC 7009 for OAuth2 tokens,
 * or the provider's own call (GitHub, Slack). Never throws: the outcome says what happened. A
 * revocation endpoint outside the credential's bound origins, or where the OAuth2 client is not
 * registered, is not called: neither the credential nor the client secret is sent there, and the outcome
 * says why.
 */
export async function revokeAtProvider(
  target: ConnectorTarget,
  credential: Credential,
  http: HttpClient,
  timeoutMs: number,
  origins: CredentialOrigins,
): Promise<RevocationOutcome> {
  try {
    return await revokeBound(target, credential, http, timeoutMs, origins);
  } catch (error) {
    if (error instanceof CredentialOriginError) return { confirmed: false, reason: error.message };
    throw error;
  }
}

async function revokeBound(
  target: ConnectorTarget,
  credential: Credential,
  http: HttpClient,
  timeoutMs: number,
  origins: CredentialOrigins,
): Promise<RevocationOutcome> {
  const { definition } = target;
  const provider = definition.key;
  if (definition.customRevocation === 'slack') {
    const url = joinUrl(apiBase(target), '/auth.revoke');
    assertBoundOrigin(origins, 'api', url);
    return confirm(
      () => http(url, { method: 'POST', headers: credentialHeaders(target, credential), timeoutMs, provider }),
      (response, body) => response.ok && (body as { ok?: unknown } | null)?.ok === true,
    );
  }
  if (credential.kind !== 'OAUTH2') {
    return {
      confirmed: false,
      reason: `${definition.name} offers no API to revoke this kind of credential; revoke it at ${definition.name}.`,
    };
  }
  const endpoints = oauthEndpoints(target);
  if (!endpoints) return { confirmed: false, reason: `No OAuth2 client is configured for ${definition.name}.` };
  if (endpoints.clientRevokeUrl) {
    const url = endpoints.clientRevokeUrl;
    assertBoundOrigin(origins, 'api', url);
    // The client's id and secret authenticate this call: only where the client is registered.
    assertRegisteredOrigin(endpoints.client, url);
    const basic = Buffer.from(`${endpoints.clientId}:${endpoints.clientSecret}`).toString('base64');
    return confirm(
      () =>
        http(url, {
          method: 'DELETE',
          headers: { ...definition.apiHeaders, authorization: `Basic ${basic}`, 'content-type': 'application/json' },
          body: JSON.stringify({ access_token: credential.accessToken }),
          timeoutMs,
          provider,
        }),
      (response) => response.status === 204 || response.status === 404,
    );
  }
  if (!endpoints.revokeUrl) return { confirmed: false, reason: `${definition.name} offers no token revocation endpoint.` };
  assertBoundOrigin(origins, 'revoke', endpoints.revokeUrl);
  try {
    // Revoking the refresh token first ends the whole grant at providers that tie them together.
    if (credential.refreshToken) await revokeToken(endpoints, credential.refreshToken, 'refresh_token', http, provider, timeoutMs);
    await revokeToken(endpoints, credential.accessToken, 'access_token', http, provider, timeoutMs);
    return { confirmed: true, reason: null };
  } catch (error) {
    if (error instanceof CredentialOriginError) throw error;
    return { confirmed: false, reason: error instanceof OAuthError ? error.message : TRANSPORT_MESSAGES.PROVIDER_ERROR };
  }
}
