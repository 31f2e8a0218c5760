import type { Config } from './config.js';
import type { Logger } from './logger.js';
import { createWebhookServices } from './modules/webhook/webhook-transport.js';
import { createHttpClientFromConfig } from './outbound/index.js';
import { createVault } from './secrets/index.js';
import type { GatewayServices } from './services.js';

/** The process-wide services, and what to close on shutdown. */
export interface ProcessServices {
  services: GatewayServices;
  /** Closes the outbound connection pools. */
  close(): Promise<void>;
}

/** Builds the process-wide services from configuration. */
export async function createServices(config: Config, logger: Logger): Promise<ProcessServices> {
  const http = createHttpClientFromConfig(config);
  const webhooks = createWebhookServices(config);
  const services: GatewayServices = {
    vault: await createVault(config, logger),
    http,
    connectorSettings: config.connectors,
    probeTimeoutMs: config.providerTimeoutMs,
    publicUrl: config.publicUrl,
    logger,
    production: config.env === 'production',
    webhooks,
  };
  return { services, close: async () => void (await Promise.all([http.close(), webhooks.http.close()])) };
}
