/** The asymmetric signature algorithms a token may use; `none` and the HMAC ones (HS*) are never accepted. */
export const ASYMMETRIC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];

/** Sign-in with the organization's identity provider (`AUTH_OIDC_*`). */
export interface OidcOptions {
  /** The issuer (`iss`), exactly as the provider's discovery document states it. */
  issuer: string;
  /** The audiences (`aud`) a token must be for, at least one of them: the gateway's client or API id. */
  audience: readonly string[];
  /** The claim naming the organization (its slug, id or GraphQL ID). */
  organizationClaim: string;
  /** The claim naming the role; absent, every signed-in user is a VIEWER. */
  roleClaim?: string | undefined;
  /** Seconds of clock skew allowed on `exp` and `nbf`. */
  clockToleranceSeconds: number;
  /** Allowed `alg` values: a subset of ASYMMETRIC_ALGORITHMS. */
  algorithms: readonly string[];
  /** Least time between two fetches of the key set for a key id it did not have (default 30 s). */
  jwksCooldownMs?: number;
  /** How long a fetched key set is used before it is fetched again (default 10 min). */
  jwksMaxAgeMs?: number;
  /** Deadline of a fetch of the discovery document or the key set (default 5 s). */
  fetchTimeoutMs?: number;
}
