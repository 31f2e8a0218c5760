import { ServiceError } from '../errors.js';

/**
 * Where a credential may be sent: the origins (scheme, host and port) of the endpoints it was issued
 * for, resolved from the deployment's settings and the integration's config when it was sealed (see
 * `credentialOrigins` in probe.ts). Stored beside the sealed credential and covered by its associated
 * data, so that neither a later config nor an altered row can send it anywhere else.
 */
export interface CredentialOrigins {
  /** API requests that carry the credential: the probe, GitHub's and Slack's revocation calls. */
  api: string;
  /** The OAuth2 token endpoint: the only origin a refresh token is sent to. Null without OAuth2. */
  token: string | null;
  /** The RFC 7009 revocation endpoint, when the provider has one. */
  revoke: string | null;
}

export type OriginPurpose = keyof CredentialOrigins;

const PURPOSES: Record<OriginPurpose, string> = { api: 'API', token: 'token endpoint', revoke: 'revocation endpoint' };

/**
 * A credential was about to be sent to another origin than the one it is bound to (a stored credential)
 * or registered at (the deployment's OAuth2 client); nothing was sent.
 */
export class CredentialOriginError extends ServiceError {
  override name = 'CredentialOriginError';
  constructor(message: string) {
    super('CREDENTIAL_ORIGIN_MISMATCH', message, ['id']);
  }
}

/** `scheme://host[:port]` of an absolute URL; the default port is left out, as URL.origin does. */
export function originOf(url: string): string {
  return new URL(url).origin;
}

/** Refuses, before any network call, a request carrying the credential to an origin it is not bound to. */
export function assertBoundOrigin(origins: CredentialOrigins, purpose: OriginPurpose, url: string): void {
  const requested = originOf(url);
  const bound = origins[purpose];
  if (bound !== requested) {
    const boundTo = bound ? `the ${PURPOSES[purpose]} at ${bound}` : `no ${PURPOSES[purpose]}`;
    throw new CredentialOriginError(
      `The stored credential is bound to ${boundTo}, not ${requested}; it was not sent. Reconnect the integration to use ${requested}.`,
    );
  }
}

/**
 * The deployment's OAuth2 client of one provider and the origins it is registered at: the only ones its
 * secret (or its id and secret together) is sent to.
 */
export interface ClientRegistration {
  /** The provider's name, e.g. GitLab. */
  provider: string;
  /** The deployment variable that names the instance the client is registered at, e.g. CONNECTOR_GITLAB_OAUTH_ORIGIN. */
  variable: string;
  origins: readonly string[];
}

/** Says where the client is registered and where a request would have taken its secret. */
export function unregisteredOrigin(client: ClientRegistration, requested: string): string {
  const registered =
    client.origins.length > 0 ? `registered at ${client.origins.join(', ')}, not at ${requested}` : `not registered at ${requested}`;
  return `This gateway's ${client.provider} OAuth2 client is ${registered}`;
}

/** Refuses, before any network call, a request carrying the OAuth2 client's secret to an origin the client is not registered at. */
export function assertRegisteredOrigin(client: ClientRegistration, url: string): void {
  const requested = originOf(url);
  if (!client.origins.includes(requested))
    throw new CredentialOriginError(`${unregisteredOrigin(client, requested)}; its secret was not sent (see ${client.variable}).`);
}

/** The stored form (column `secret_origins`), which is also what the associated data covers, byte for byte. */
export function serializeOrigins(origins: CredentialOrigins): string {
  return JSON.stringify({ api: origins.api, token: origins.token, revoke: origins.revoke });
}

export function parseOrigins(stored: string): CredentialOrigins {
  const value = JSON.parse(stored) as Partial<CredentialOrigins>;
  if (typeof value.api !== 'string') throw new Error('secret_origins has no api origin');
  return {
    api: value.api,
    token: typeof value.token === 'string' ? value.token : null,
    revoke: typeof value.revoke === 'string' ? value.revoke : null,
  };
}
