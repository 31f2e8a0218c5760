import createClient from 'openapi-fetch';
import { createProviderGateway, type ProviderGateway } from './provider-gateway.js';
import { type GatewayPort, serveOnLoopback } from './gateway-port.js';
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
  gw: ProviderGateway;
  port: GatewayPort;
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
  const gw = await createProviderGateway({ probeTimeoutMs: 2_000 });
  const port = await serveOnLoopback(gw.yoga);
  const { origin } = port;
  return {
    gw,
    port,
    origin,
    as: (role, headers) => restClient(origin, gw.org.keys[role], headers),
    other: (role) => restClient(origin, gw.other.keys[role]),
    raw: (path, init) => fetch(`${origin}${path}`, init),
    tokenConnect: (provider = 'gitlab', extra = {}) => ({
      provider,
      display_name: `${provider} over REST`,
      auth_kind: 'api_token',
      credentials: { token: gw.fake.issueApiToken(provider) },
      config: {},
      ...extra,
    }),
    async close() {
      await port.close();
      await gw.close();
    },
  };
}
