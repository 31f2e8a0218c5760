import { isUuid } from '../ids.js';
import type { Logger } from '../logger.js';
import { drainEndpoint } from '../modules/webhook/webhook-delivery.service.js';
import {
  DELIVER_TASK,
  endpointsMissingJobs,
  purgeFinishedDeliveries,
  queueDeliveryJobs,
} from '../modules/webhook/webhook-delivery.repository.js';
import type { TaskDeps } from './health-probe.task.js';

export { DELIVER_TASK };
export const WEBHOOK_SWEEP_TASK = 'webhook.sweep';
/** How often lost delivery jobs are queued again and old deliveries purged. */
export const WEBHOOK_SWEEP_PERIOD_MS = 60_000;

/** The delivery job's payload, as queueDeliveryJobs writes it. */
function endpointPayload(payload: unknown): string {
  const { endpointId } = (payload ?? {}) as Record<string, unknown>;
  if (typeof endpointId !== 'string' || !isUuid(endpointId)) throw new Error('The job payload must be {"endpointId": "<uuid>"}.');
  return endpointId;
}

/** Delivers an endpoint's due messages (src/modules/webhook/webhook-delivery.service.ts). */
export async function deliverWebhooks(deps: TaskDeps, payload: unknown, logger: Logger): Promise<void> {
  const endpointId = endpointPayload(payload);
  const result = await drainEndpoint(deps.services, deps.db, endpointId, deps.cutOff);
  if (result.delivered + result.failed > 0) logger.debug({ endpointId, ...result }, 'webhook deliveries attempted');
}

/** Queues the delivery jobs that went missing, and purges deliveries past WEBHOOK_DELIVERY_RETENTION_DAYS. */
export async function sweepWebhooks(deps: TaskDeps, logger: Logger): Promise<void> {
  const missing = await endpointsMissingJobs(deps.db, 1_000);
  await queueDeliveryJobs(deps.db, missing);
  if (missing.length > 0) logger.info({ endpoints: missing.length }, 'queued webhook deliveries that had no job');
  let purged = 0;
  for (let batch = 0; batch < 20; batch += 1) {
    const count = await purgeFinishedDeliveries(deps.db, deps.services.webhooks.config.retentionDays, 5_000);
    purged += count;
    if (count < 5_000) break;
  }
  if (purged > 0) logger.info({ count: purged }, 'purged finished webhook deliveries');
}
