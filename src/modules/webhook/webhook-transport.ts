import type { Config } from '../../config.js';
import { createHttpClient, OutboundPolicy, type OutboundHttpClient } from '../../outbound/index.js';
import type { WebhookServices } from '../../services.js';

/** Receivers answering at once per process and host: enough for bursts, bounded for a slow receiver. */
const PER_HOST_CONCURRENCY = 64;

/**
 * The webhook senders of a process: the outbound client with the deployment's policy (https and public
 * addresses only in production, unless allow-listed), checked on every attempt at connect time, and no
 * retries of its own.
 */
export function createWebhookServices(
  config: Pick<Config, 'env' | 'outboundAllowlist' | 'outboundAllowPrivate' | 'webhooks'>,
): WebhookServices & { http: OutboundHttpClient } {
  const options = {
    allowlist: config.outboundAllowlist,
    allowPrivate: config.outboundAllowPrivate,
    requireHttps: config.env === 'production',
  };
  const http = createHttpClient({
    ...options,
    defaultTimeoutMs: config.webhooks.timeoutMs,
    maxRetries: 0,
    perProviderConcurrency: PER_HOST_CONCURRENCY,
    maxRedirects: 0,
  });
  return { config: config.webhooks, http, policy: new OutboundPolicy(options) };
}
