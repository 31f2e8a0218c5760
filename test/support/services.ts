import type { Logger } from '../../src/logger.js';
import type { GatewayServices } from '../../src/services.js';

/** Services for in-process gateways; tests override what they exercise (fake provider settings, clients). */
export function testServices(logger: Logger, overrides: Partial<GatewayServices> = {}): GatewayServices {
  return {
    vault: {
      seal: () => {
        throw new Error('no vault in this test');
      },
      open: () => {
        throw new Error('no vault in this test');
      },
    },
    http: (url, init) => fetch(url, init),
    connectorSettings: {},
    probeTimeoutMs: 2_000,
    publicUrl: 'http://gateway.test',
    logger,
    production: false,
    ...overrides,
  };
}
