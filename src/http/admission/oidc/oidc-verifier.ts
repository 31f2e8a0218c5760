import { createHash } from 'node:crypto';
import type { createRemoteJWKSet, JWTPayload } from 'jose';
import type { Role } from '../../../db/database.js';
import { ClaimRefusal, organizationClaim, roleClaim } from './oidc-claims.js';
import { ASYMMETRIC_ALGORITHMS, type OidcOptions } from './oidc-options.js';

export { ASYMMETRIC_ALGORITHMS, type OidcOptions } from './oidc-options.js';

/** A verified token's bearer, and what its claims grant. */
export interface VerifiedToken {
  issuer: string;
  subject: string;
  /** A UUID derived from the issuer and the subject (`SignedInUser.id`). */
  userId: string;
  /** The organization reference the token names (slug, UUID or GraphQL ID), still to be found. */
  organization: string;
  role: Role;
}

export type Verification = { token: VerifiedToken } | { refused: string };

/** The identity provider could not be reached or answered nonsense: no token can be verified for now (503). */
export class IdentityProviderUnavailableError extends Error {
  override name = 'IdentityProviderUnavailableError';
}

/** What a request is told while the identity provider cannot be reached, and when to retry. */
export const SIGN_IN_UNAVAILABLE = "The identity provider's keys cannot be fetched, so no token can be verified now; retry shortly.";
export const SIGN_IN_RETRY_AFTER_SECONDS = 5;

/** After a failed discovery, requests wait this long before the provider is asked again. */
const DISCOVERY_RETRY_MS = SIGN_IN_RETRY_AFTER_SECONDS * 1000;
/** Longer bearer tokens are refused unread. */
const MAX_TOKEN_LENGTH = 16_384;

/** The stable UUID (version 8, from SHA-256) of a user of an issuer. */
export function userIdOf(issuer: string, subject: string): string {
  const bytes = createHash('sha256').update(`${issuer}\0${subject}`).digest().subarray(0, 16);
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x80;
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

type Jose = typeof import('jose');

/** jose, loaded on the first token to verify: a gateway without sign-in (AUTH_OIDC_*) never holds it. */
let loading: Promise<Jose> | null = null;
const jose = (): Promise<Jose> => {
  loading ??= import('jose');
  return loading;
};

/** Why jose refused a token, in words for the log line; an error that is not about the token is rethrown as unavailability. */
function refusalOf(errors: Jose['errors'], error: unknown, alg: string): string {
  if (error instanceof errors.JWTExpired) return 'the token has expired (exp)';
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'nbf') return 'the token is not valid yet (nbf)';
    if (error.claim === 'iss') return 'the token is from another issuer (iss)';
    if (error.claim === 'aud') return 'the token is for another audience (aud)';
    return `the token's "${error.claim}" claim is ${error.reason === 'missing' ? 'missing' : 'invalid'}`;
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return `the token's algorithm ${alg} is not allowed`;
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'the signature does not verify';
  if (error instanceof errors.JWKSNoMatchingKey) return "no key the issuer publishes matches the token's kid and alg";
  if (error instanceof errors.JWKSMultipleMatchingKeys) return "several keys the issuer publishes match the token's kid and alg";
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) return 'the token is not a well-formed signed JWT';
  if (error instanceof errors.JOSENotSupported) return `the token uses something unsupported (alg ${alg}, or a critical header)`;
  throw new IdentityProviderUnavailableError("the identity provider's keys could not be fetched", { cause: error });
}

/**
 * Verifies bearer JWTs from the organization's identity provider. The provider is found by OIDC
 * discovery (`<issuer>/.well-known/openid-configuration`) when the first token arrives, not at start,
 * so that the gateway starts while the provider is down. Its key set (`jwks_uri`) is fetched and cached by
 * jose's `createRemoteJWKSet`: a token whose `kid` is not in the cached set triggers one fetch, at most
 * once per cooldown, which is how keys the provider rotated in are picked up while a flood of made-up
 * key ids costs the provider nothing. The signature, `iss`, `aud`, `exp` (required) and `nbf` are checked,
 * with `clockToleranceSeconds` of skew, and only asymmetric algorithms are accepted.
 */
export class OidcVerifier {
  private keys: ReturnType<typeof createRemoteJWKSet> | null = null;
  private discovering: Promise<ReturnType<typeof createRemoteJWKSet>> | null = null;
  private discoveryFailedAt = 0;

  constructor(readonly options: OidcOptions) {
    const refused = options.algorithms.filter((alg) => !ASYMMETRIC_ALGORITHMS.includes(alg));
    if (refused.length > 0 || options.algorithms.length === 0)
      throw new Error(`OIDC algorithms must be asymmetric ones of ${ASYMMETRIC_ALGORITHMS.join(', ')}`);
    if (options.audience.length === 0) throw new Error('OIDC needs an audience');
  }

  /** Verifies a token: its bearer and grants, or why it is refused; throws IdentityProviderUnavailableError. */
  async verify(jwt: string): Promise<Verification> {
    if (jwt.length > MAX_TOKEN_LENGTH) return { refused: 'the token is too long' };
    const { decodeProtectedHeader, errors, jwtVerify } = await jose();
    let alg: string;
    try {
      const header = decodeProtectedHeader(jwt);
      alg = typeof header.alg === 'string' ? header.alg.replace(/[^\w-]/g, '').slice(0, 16) : 'absent';
    } catch {
      return { refused: 'the token is not a well-formed signed JWT' };
    }
    // Refused before any key is looked up: a token that names an algorithm outside the list costs no fetch.
    if (!this.options.algorithms.includes(alg)) return { refused: `the token's algorithm ${alg} is not allowed` };
    const keys = await this.keySet();
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(jwt, keys, {
        issuer: this.options.issuer,
        audience: [...this.options.audience],
        algorithms: [...this.options.algorithms],
        clockTolerance: this.options.clockToleranceSeconds,
        requiredClaims: ['exp', 'sub'],
      }));
    } catch (error) {
      return { refused: refusalOf(errors, error, alg) };
    }
    const subject = payload.sub;
    if (typeof subject !== 'string' || subject.length === 0 || subject.length > 255)
      return { refused: 'the token\'s "sub" claim is not a user id of 1 to 255 characters' };
    try {
      const organization = organizationClaim(payload, this.options.organizationClaim);
      const role = roleClaim(payload, this.options.roleClaim);
      const issuer = this.options.issuer;
      return { token: { issuer, subject, userId: userIdOf(issuer, subject), organization, role } };
    } catch (error) {
      if (error instanceof ClaimRefusal) return { refused: error.message };
      throw error;
    }
  }

  /** The provider's key set, after discovery; discovery is retried, once per DISCOVERY_RETRY_MS, until it succeeds. */
  private async keySet(): Promise<ReturnType<typeof createRemoteJWKSet>> {
    if (this.keys) return this.keys;
    if (!this.discovering) {
      if (Date.now() - this.discoveryFailedAt < DISCOVERY_RETRY_MS)
        throw new IdentityProviderUnavailableError('the identity provider could not be discovered a moment ago');
      this.discovering = this.discover().then(
        (keys) => {
          this.keys = keys;
          return keys;
        },
        (error: unknown) => {
          this.discoveryFailedAt = Date.now();
          this.discovering = null;
          throw error;
        },
      );
    }
    return this.discovering;
  }

  private async discover(): Promise<ReturnType<typeof createRemoteJWKSet>> {
    const { issuer, fetchTimeoutMs = 5_000 } = this.options;
    const url = `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
    let document: unknown;
    try {
      const response = await fetch(url, {
        headers: { accept: 'application/json' },
        redirect: 'manual',
        signal: AbortSignal.timeout(fetchTimeoutMs),
      });
      if (response.status !== 200) throw new Error(`discovery answered ${response.status}`);
      document = await response.json();
    } catch (error) {
      throw new IdentityProviderUnavailableError(`the identity provider's discovery document could not be read at ${url}`, {
        cause: error,
      });
    }
    const { issuer: stated, jwks_uri: jwksUri } = (document ?? {}) as { issuer?: unknown; jwks_uri?: unknown };
    // OIDC Discovery 4.3: the document must be the issuer's own, or its keys would verify another issuer's tokens.
    if (stated !== issuer) throw new IdentityProviderUnavailableError(`the discovery document at ${url} is for another issuer`);
    const sameScheme = new URL(issuer).protocol;
    if (typeof jwksUri !== 'string' || !URL.canParse(jwksUri) || !['https:', sameScheme].includes(new URL(jwksUri).protocol))
      throw new IdentityProviderUnavailableError(`the discovery document at ${url} has no usable jwks_uri`);
    const { createRemoteJWKSet } = await jose();
    return createRemoteJWKSet(new URL(jwksUri), {
      cooldownDuration: this.options.jwksCooldownMs ?? 30_000,
      cacheMaxAge: this.options.jwksMaxAgeMs ?? 600_000,
      timeoutDuration: fetchTimeoutMs,
    });
  }
}
