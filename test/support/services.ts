import { randomBytes } from 'node:crypto';
import type { Logger } from '../../src/logger.js';
import { KeyRing, SecretVault } from '../../src/secrets/index.js';
import type { GatewayServices } from '../../src/services.js';

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
    ...overrides,
  };
}
