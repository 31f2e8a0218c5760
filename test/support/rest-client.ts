import createClient from 'openapi-fetch';
import { createTestGateway, type TestGateway } from './gateway.js';
import { CONNECTING_GATEWAY } from './integration-flows.js';
import type { paths } from './rest-api.js';

/** The REST client generated from openapi.json (openapi-typescript + openapi-fetch). */
export type RestClient = ReturnType<typeof createClient<paths>>;

/** A typed client of the gateway at `origin`, sending `key` (none when null) and any extra headers. */
export function restClient(origin: string, key: string | null, headers: Record<string, string> = {}): RestClient {
  return createClient<paths>({
    baseUrl: `${origin}/v1`,
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...headers },
  });
}

/** A gateway with its fake provider and two organizations, served on a real loopback port. */
export interface RestWorld {
  gw: TestGateway;
  origin: string;
  /** A client of the caller's organization (`acme`) with a key of this role. */
  as(role: 'VIEWER' | 'EDITOR' | 'ADMIN', headers?: Record<string, string>): RestClient;
  /** A client of the neighbouring organization (`globex`). */
  other(role: 'VIEWER' | 'EDITOR' | 'ADMIN'): RestClient;
  /** A raw request to the gateway's port (for what no typed client would send). */
  raw(path: string, init?: RequestInit): Promise<Response>;
  /** The body of a connect request for a token integration the fake provider accepts. */
  tokenConnect(
    provider?: string,
    extra?: Record<string, unknown>,
  ): {
    provider: string;
    display_name: string;
    auth_kind: 'api_token';
    credentials: { token: string };
    config: Record<string, unknown>;
  };
  close(): Promise<void>;
}

export async function createRestWorld(): Promise<RestWorld> {
  const gw = await createTestGateway({ ...CONNECTING_GATEWAY, services: { probeTimeoutMs: 2_000 }, listen: true });
  const origin = gw.url;
  return {
    gw,
    origin,
    as: (role, headers) => restClient(origin, gw.world.acme.keys[role], headers),
    other: (role) => restClient(origin, gw.world.globex.keys[role]),
    raw: (path, init) => fetch(`${origin}${path}`, init),
    tokenConnect: (provider = 'gitlab', extra = {}) => ({
      provider,
      display_name: `${provider} over REST`,
      auth_kind: 'api_token',
      credentials: { token: gw.fake.issueApiToken(provider) },
      config: {},
      ...extra,
    }),
    close: () => gw.close(),
  };
}
