import type { Config } from '../config.js';
import { recordProviderCall, type ProviderCallOutcome } from '../http/observability/metrics.js';
import { OutboundBlockedError, OutboundTimeoutError } from './errors.js';
import { createHttpClient, type HttpClient, type OutboundHttpClient } from './http-client.js';

export { isValidAllowlist, OutboundPolicy, type PolicyOptions } from './address-policy.js';
export { OutboundBlockedError, OutboundError, OutboundNetworkError, OutboundTimeoutError } from './errors.js';
export type { ResolvedAddress, Resolver } from './guarded-agent.js';
export {
  createHttpClient,
  type HttpClient,
  type HttpClientOptions,
  type OutboundAnswer,
  type OutboundHttpClient,
  type OutboundInit,
  type OutboundSendInit,
} from './http-client.js';

/** Retries after the first try of an idempotent provider call. */
const MAX_RETRIES = 2;
/** Calls in flight per provider: enough for a page of probes, too few to let one slow provider hold every socket. */
const PER_PROVIDER_CONCURRENCY = 8;

/** The process's outbound client: https and public addresses only in production, unless allow-listed. */
export function createHttpClientFromConfig(
  config: Pick<Config, 'env' | 'outboundAllowlist' | 'outboundAllowPrivate' | 'providerTimeoutMs'>,
): OutboundHttpClient {
  return withProviderMetrics(
    createHttpClient({
      allowlist: config.outboundAllowlist,
      allowPrivate: config.outboundAllowPrivate,
      requireHttps: config.env === 'production',
      defaultTimeoutMs: config.providerTimeoutMs,
      maxRetries: MAX_RETRIES,
      perProviderConcurrency: PER_PROVIDER_CONCURRENCY,
    }),
  );
}

function outcomeOfStatus(status: number): ProviderCallOutcome {
  if (status === 401 || status === 403) return 'unauthorized';
  if (status === 429) return 'rate_limited';
  if (status >= 500) return 'server_error';
  if (status >= 400) return 'client_error';
  return 'success';
}

function outcomeOfError(error: unknown): ProviderCallOutcome {
  if (error instanceof OutboundBlockedError) return 'blocked';
  if (error instanceof OutboundTimeoutError) return 'timeout';
  return 'network_error';
}

/**
 * Counts every provider call by provider and outcome (`gateway_provider_calls_total` and its duration
 * histogram on /metrics). The duration runs until the answer's headers, retries and redirects included.
 */
export function withProviderMetrics(client: OutboundHttpClient): OutboundHttpClient {
  const measured: HttpClient = async (url, init) => {
    const provider = init?.provider ?? 'other';
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    try {
      const response = await client(url, init);
      recordProviderCall(provider, outcomeOfStatus(response.status), seconds());
      return response;
    } catch (error) {
      recordProviderCall(provider, outcomeOfError(error), seconds());
      throw error;
    }
  };
  return Object.assign(measured, { send: client.send, close: () => client.close() });
}
