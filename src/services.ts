import type { HttpClient } from './connectors/credentials.js';
import type { ConnectorSettingsMap } from './connectors/settings.js';
import type { Logger } from './logger.js';
import type { WebhookConfig } from './modules/webhook/webhook.config.js';
import type { OutboundPolicy } from './outbound/address-policy.js';
import type { OutboundHttpClient } from './outbound/http-client.js';

/** What a sealed secret is bound to: a ciphertext opens only for the same organization, integration and version. */
export interface SecretBinding {
  organizationId: string;
  integrationId: string;
  version: number;
  /**
   * Where the secret may be sent, as stored beside it (column `secret_origins`), when it is bound: then a
   * ciphertext opens only with exactly this value. Null or absent for secrets sealed before binding.
   */
  origins?: string | null;
}

/** Encrypts provider secrets at rest (implemented in src/secrets). */
export interface Vault {
  seal(value: unknown, binding: SecretBinding): { ciphertext: string; keyId: string };
  open<T>(ciphertext: string, keyId: string, binding: SecretBinding): T;
  /**
   * Secrets derived for `purpose` from each configured key, the current key's first: stable across
   * processes and restarts, and unknown to whoever holds only the database.
   */
  derive(purpose: string): string[];
}

/** What signs and sends webhooks: settings, and the outbound client and policy every attempt goes through. */
export interface WebhookServices {
  config: WebhookConfig;
  /** The outbound client (SSRF policy at connect time), without retries: the delivery schedule retries. */
  http: OutboundHttpClient;
  /** The same policy, to refuse an endpoint URL when it is saved. */
  policy: OutboundPolicy;
  /** Resolves a hostname to its addresses when an endpoint URL is saved (the system resolver by default). */
  lookup?: (hostname: string) => Promise<{ address: string }[]>;
}

/** Long-lived collaborators of the mutation services, built once per process. */
export interface GatewayServices {
  vault: Vault;
  /** Every call to a provider goes through this client (outbound policy, timeouts, retries). */
  http: HttpClient;
  connectorSettings: ConnectorSettingsMap;
  /** Timeout of a connectivity probe. */
  probeTimeoutMs: number;
  /** The gateway's public origin, for the OAuth2 redirect URI `${publicUrl}/oauth/callback`. */
  publicUrl: string;
  logger: Logger;
  /** Production refuses what development allows (plain-http webhook URLs). */
  production: boolean;
  webhooks: WebhookServices;
}

/**
 * The services as one request uses them: what they log carries the request's id (a child logger, made
 * only if the request logs at all). Passed explicitly rather than found through an AsyncLocalStorage,
 * whose promise hooks cost about a sixth of a small query's CPU (BENCHMARKS.md). Two fields a request:
 * the rest is read from the process's services.
 */
class RequestServices implements GatewayServices {
  #logger: Logger | undefined;
  constructor(
    private readonly services: GatewayServices,
    private readonly requestId: string,
  ) {}
  get logger(): Logger {
    this.#logger ??= this.services.logger.child({ requestId: this.requestId });
    return this.#logger;
  }
  get vault() {
    return this.services.vault;
  }
  get http() {
    return this.services.http;
  }
  get connectorSettings() {
    return this.services.connectorSettings;
  }
  get probeTimeoutMs() {
    return this.services.probeTimeoutMs;
  }
  get publicUrl() {
    return this.services.publicUrl;
  }
  get production() {
    return this.services.production;
  }
  get webhooks() {
    return this.services.webhooks;
  }
}

export function servicesForRequest(services: GatewayServices, requestId: string): GatewayServices {
  return new RequestServices(services, requestId);
}
