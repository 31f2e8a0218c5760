import type { Kysely } from 'kysely';
import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import type { Logger } from '../logger.js';
import type { EventConsumer } from '../modules/events/event.model.js';
import { webhookDeliveriesConsumer } from '../modules/webhook/webhook.consumer.js';
import type { GatewayServices } from '../services.js';

/** What a consumer may be built with: the process's collaborators. */
export interface EventConsumerContext {
  db: Kysely<Database>;
  config: Config;
  services: GatewayServices;
  logger: Logger;
}

/**
 * The consumers every publication hands its events to, in this order, inside its transaction (see
 * `EventConsumer` in src/modules/events/event.model.ts). Built once per worker process.
 */
export function eventConsumers(_context: EventConsumerContext): EventConsumer[] {
  return [webhookDeliveriesConsumer];
}
