import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { exportSPKI, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import { OAuth2Issuer, OAuth2Service } from 'oauth2-mock-server';
import type { OidcOptions } from '../../src/http/admission/oidc/oidc-options.js';
import { ASYMMETRIC_ALGORITHMS } from '../../src/http/admission/oidc/oidc-options.js';

/** The audience the gateway is configured with, and tokens are issued for unless told otherwise. */
export const AUDIENCE = 'integrations-gateway';

export interface TokenOptions {
  /** Claims over the defaults (a new `sub`, `aud`, `org` acme, an hour's validity); one set to undefined is left out. */
  claims?: Record<string, unknown>;
  /** Seconds from now: `exp` (default 3600). */
  expiresIn?: number;
}

/**
 * A real OpenID provider on loopback (oauth2-mock-server): discovery, a JWKS and RS256-signed tokens,
 * with its key set's fetches counted, and key rotation.
 */
export interface TestIdentityProvider {
  readonly issuer: string;
  /** Fetches of the key set (`/jwks`) and of the discovery document, since the start. */
  readonly fetches: { jwks: number; discovery: number };
  /** The gateway's sign-in options for this provider (role claim `role`), over `overrides`. */
  gatewayOptions(overrides?: Partial<OidcOptions>): OidcOptions;
  /** A token signed by the provider's current key. */
  token(options?: TokenOptions): Promise<string>;
  /** The claims of a token as `token` would issue it, for tokens made by hand. */
  claims(options?: TokenOptions): JWTPayload;
  /** The current key's id and its public key in PEM. */
  currentKey(): Promise<{ kid: string; publicPem: string }>;
  /** Publishes a new key and signs with it from now on; returns its id. */
  rotate(): Promise<string>;
  close(): Promise<void>;
}

export async function startIdentityProvider(): Promise<TestIdentityProvider> {
  const issuer = new OAuth2Issuer();
  const service = new OAuth2Service(issuer);
  const fetches = { jwks: 0, discovery: 0 };
  let kid = (await issuer.keys.generate('RS256', { kid: 'key-1' })).kid;
  let generation = 1;
  const server: Server = createServer((request, response) => {
    if (request.url === '/jwks') fetches.jwks += 1;
    if (request.url === '/.well-known/openid-configuration') fetches.discovery += 1;
    service.requestHandler(request, response);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  issuer.url = url;

  const claims = (options: TokenOptions = {}): JWTPayload => {
    const now = Math.floor(Date.now() / 1000);
    const all: Record<string, unknown> = {
      iss: url,
      sub: `user-${randomUUID().slice(0, 8)}`,
      aud: AUDIENCE,
      org: 'acme',
      iat: now,
      nbf: now - 10,
      exp: now + (options.expiresIn ?? 3600),
      ...options.claims,
    };
    return Object.fromEntries(Object.entries(all).filter(([, value]) => value !== undefined));
  };

  return {
    issuer: url,
    fetches,
    gatewayOptions: (overrides = {}) => ({
      issuer: url,
      audience: [AUDIENCE],
      organizationClaim: 'org',
      roleClaim: 'role',
      clockToleranceSeconds: 30,
      algorithms: ASYMMETRIC_ALGORITHMS,
      ...overrides,
    }),
    claims,
    token: (options = {}) =>
      issuer.buildToken({
        kid,
        scopesOrTransform: (_header, payload) => {
          for (const name of Object.keys(payload)) delete payload[name];
          Object.assign(payload, claims(options));
        },
      }),
    async currentKey() {
      const jwk = issuer.keys.get(kid);
      if (!jwk) throw new Error('no current key');
      const { importJWK } = await import('jose');
      const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicJwk } = jwk;
      const publicKey = (await importJWK(publicJwk, 'RS256', { extractable: true })) as CryptoKey;
      return { kid, publicPem: await exportSPKI(publicKey) };
    },
    async rotate() {
      generation += 1;
      kid = (await issuer.keys.generate('RS256', { kid: `key-${generation}` })).kid;
      return kid;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

let unpublished: Promise<CryptoKeyPair> | null = null;

/** A token signed by a key the provider never published (one per test run), under `kid`. */
export async function tokenFromUnpublishedKey(payload: JWTPayload, kid: string): Promise<string> {
  unpublished ??= generateKeyPair('RS256');
  const { privateKey } = await unpublished;
  return new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' }).sign(privateKey);
}

/** An unsigned token (`alg: none`): header and payload, and an empty signature. */
export function unsignedToken(payload: JWTPayload): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(payload)}.`;
}

/** A token "signed" with HS256 using the provider's public key as the HMAC secret (the algorithm-confusion attack). */
export async function tokenSignedWithPublicKey(payload: JWTPayload, key: { kid: string; publicPem: string }): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: 'HS256', kid: key.kid, typ: 'JWT' }).sign(new TextEncoder().encode(key.publicPem));
}
