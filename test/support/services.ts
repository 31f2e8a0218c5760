import { randomBytes } from 'node:crypto';
import type { Logger } from '../../src/logger.js';
import { KeyRing, SecretVault } from '../../src/secrets/index.js';
import type { GatewayServices } from '../../src/services.js';
import { DEFAULT_WEBHOOK_CONFIG } from '../../src/modules/webhook/webhook.config.js';
import { createHttpClient, OutboundPolicy } from '../../src/outbound/index.js';

const LOOPBACK = { allowlist: [], allowPrivate: true, requireHttps: false };

/**
 * Webhook senders for tests: the production client and policy, with loopback receivers allowed (as
 * outside production) and the settings given over the defaults (a short retry schedule).
 */
export function testWebhooks(config: Partial<GatewayServices['webhooks']['config']> = {}, policy = LOOPBACK): GatewayServices['webhooks'] {
  const settings = { ...DEFAULT_WEBHOOK_CONFIG, ...config };
  const http = createHttpClient({
    ...policy,
    defaultTimeoutMs: settings.timeoutMs,
    maxRetries: 0,
    perProviderConcurrency: 64,
    maxRedirects: 0,
  });
  return { config: settings, http, policy: new OutboundPolicy(policy) };
}

/** Services for in-process gateways; tests override what they exercise (fake provider settings, clients). */
export function testServices(logger: Logger, overrides: Partial<GatewayServices> = {}): GatewayServices {
  return {
    vault: new SecretVault(new KeyRing(randomBytes(32))),
    http: (url, init) => fetch(url, init),
    connectorSettings: {},
    probeTimeoutMs: 2_000,
    publicUrl: 'http://gateway.test',
    logger,
    production: false,
    webhooks: testWebhooks(),
    ...overrides,
  };
}
