import { randomUUID } from 'node:crypto';
import { type Kysely, sql, type Transaction } from 'kysely';
import type { Database, WebhookDeliveryRow } from '../../db/database.js';
import type { GatewayServices } from '../../services.js';
import { openBundle } from '../integration/credential-bundle.js';
import { retryDelayMs } from './webhook.config.js';
import { failPendingDeliveries } from './webhook-endpoint.service.js';
import { type EndpointJoinedRow, findEndpointRowById } from './webhook-endpoint.repository.js';
import { type AttemptRecord, claimDeliveries, queueAfterDrain, recordAttempts, releaseDeliveries } from './webhook-delivery.repository.js';
import { openEndpointSecrets } from './webhook-secrets.js';
import { type SendOutcome, sendWebhook } from './webhook-sender.js';
import { recordEndpointDisabled } from './webhook-disabled.js';

/** Messages claimed per round trip. */
const CLAIM_BATCH = 200;
/** The longest a receiver may ask to be left alone (Retry-After) that is honoured as asked. */
const MAX_RETRY_AFTER_MS = 24 * 3600 * 1000;

/** Where an endpoint delivers and whether it does: an integration's webhook takes both from the integration. */
function targetOf(endpoint: EndpointJoinedRow): { url: string | null; enabled: boolean } {
  if (endpoint.integration_id !== null)
    return { url: endpoint.webhook_url, enabled: Boolean(endpoint.webhook_enabled && endpoint.webhook_url) };
  return { url: endpoint.url, enabled: endpoint.enabled };
}

/**
 * The secrets that sign for an endpoint now: its current one (an integration's, from the
 * integration's sealed bundle), and the one it replaced while its grace period lasts.
 */
async function signingSecrets(services: GatewayServices, db: Kysely<Database>, endpoint: EndpointJoinedRow): Promise<string[]> {
  const own = openEndpointSecrets(services, endpoint);
  let current = own.current;
  if (endpoint.integration_id !== null) {
    const integration = await db.selectFrom('integrations').selectAll().where('id', '=', endpoint.integration_id).executeTakeFirst();
    current = integration ? openBundle(services, integration).webhookSecret : null;
  }
  const graceLasts = endpoint.previous_secret_expires_at !== null && endpoint.previous_secret_expires_at.getTime() > Date.now();
  return [current, graceLasts ? own.previous : null].filter((secret): secret is string => Boolean(secret));
}

/** When a failed attempt is tried again: the schedule's next wait, or later when the receiver asked (Retry-After). */
function nextAttemptAt(services: GatewayServices, attempt: number, outcome: SendOutcome, now: number): Date | null {
  const delay = retryDelayMs(services.webhooks.config, attempt);
  if (delay === null) return null;
  const asked = outcome.retryAfterMs === null ? 0 : Math.min(outcome.retryAfterMs, MAX_RETRY_AFTER_MS);
  return new Date(now + Math.max(delay, asked));
}

/** Runs `work` over items with at most `limit` at once. */
async function eachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  });
  await Promise.all(lanes);
}

export interface DrainResult {
  delivered: number;
  failed: number;
}

/**
 * Delivers an endpoint's due messages (the `webhook.deliver` job): claims them in order, sends each
 * subject's in sequence (subjects side by side, up to WEBHOOK_CONCURRENCY at once; a failure stops its
 * subject's sequence until its retry), records every attempt, keeps the endpoint's failure streak, and
 * disables an endpoint that has failed for WEBHOOK_DISABLE_AFTER_HOURS. Then queues itself for the
 * next message due. `cutOff` stops it between rounds (shutdown).
 */
export async function drainEndpoint(
  services: GatewayServices,
  db: Kysely<Database>,
  endpointId: string,
  cutOff?: AbortSignal,
): Promise<DrainResult> {
  const result: DrainResult = { delivered: 0, failed: 0 };
  const config = services.webhooks.config;
  const owner = `deliver:${randomUUID()}`;
  // Each subject's claimed run is sent in sequence: the lease covers the longest such run.
  const leaseMs = 20 * (config.timeoutMs + 1_000) + 30_000;
  let endpoint: EndpointJoinedRow | undefined;
  let disabled = false;
  while (!cutOff?.aborted && !disabled) {
    // Read each round: a change of URL, of secret, or a disabling applies from the next message on.
    endpoint = await findEndpointRowById(db, endpointId);
    if (!endpoint) return result;
    const target = targetOf(endpoint);
    if (!target.enabled || target.url === null) {
      await failPendingDeliveries(db, endpoint.id, 'The endpoint is disabled.');
      return result;
    }
    const url = target.url;
    const claimed = await claimDeliveries(db, endpoint.id, owner, CLAIM_BATCH, leaseMs);
    if (claimed.length === 0) break;
    const signWith = await signingSecrets(services, db, endpoint);
    const chains = new Map<string, WebhookDeliveryRow[]>();
    for (const row of claimed) chains.set(row.subject_key, [...(chains.get(row.subject_key) ?? []), row]);
    const records: AttemptRecord[] = [];
    const skipped: string[] = [];
    await eachLimited([...chains.values()], config.concurrency, async (chain) => {
      for (const [index, delivery] of chain.entries()) {
        const attemptedAt = new Date();
        const outcome: SendOutcome =
          signWith.length === 0
            ? {
                ok: false,
                httpStatus: null,
                latencyMs: 0,
                error: 'The webhook has no signing secret yet: rotate it (refreshIntegration, webhook.rotateSecret).',
                responseBody: null,
                retryAfterMs: null,
              }
            : await sendWebhook(services.webhooks, url, { id: delivery.message_id, body: delivery.payload }, signWith);
        const attempt = delivery.attempts + 1;
        records.push({
          deliveryId: delivery.id,
          attempt,
          attemptedAt,
          httpStatus: outcome.httpStatus,
          latencyMs: outcome.latencyMs,
          error: outcome.error,
          responseBody: outcome.responseBody,
          ok: outcome.ok,
          nextAttemptAt: outcome.ok ? null : nextAttemptAt(services, attempt, outcome, Date.now()),
        });
        if (!outcome.ok) {
          // What follows in this subject waits for the failed one's retry.
          skipped.push(...chain.slice(index + 1).map((row) => row.id));
          return;
        }
      }
    });
    const current = endpoint;
    try {
      disabled = await db.transaction().execute(async (trx) => {
        // Locks in the order of every writer of a webhook (refreshIntegration, the endpoint mutations):
        // the integration, then its endpoint, then the endpoint's deliveries. A round without a success
        // may disable the endpoint, which writes an integration's webhook too: it takes that first.
        if (current.integration_id !== null && !records.some((record) => record.ok)) {
          await trx.selectFrom('integrations').select('id').where('id', '=', current.integration_id).forNoKeyUpdate().execute();
        }
        const held = await trx
          .selectFrom('webhook_endpoints')
          .select('id')
          .where('id', '=', current.id)
          .forNoKeyUpdate()
          .executeTakeFirst();
        if (!held) return true;
        await recordAttempts(trx, records, owner);
        await releaseDeliveries(trx, skipped, owner);
        return updateEndpointHealth(trx, services, current, records);
      });
    } catch (error) {
      // Unrecorded attempts are sent again (at least once), now rather than when the lease ends.
      await releaseDeliveries(
        db,
        claimed.map((row) => row.id),
        owner,
      ).catch(() => undefined);
      throw error;
    }
    for (const record of records) {
      if (record.ok) result.delivered += 1;
      else result.failed += 1;
    }
  }
  if (!disabled) await queueAfterDrain(db, endpointId);
  return result;
}

/**
 * Keeps the endpoint's failure streak: a delivered message ends it; a failure starts it, and one that
 * has lasted WEBHOOK_DISABLE_AFTER_HOURS disables the endpoint (what it still had pending fails, and
 * a `webhook_endpoint.disabled` event says why). Whether it was disabled.
 */
async function updateEndpointHealth(
  trx: Transaction<Database>,
  services: GatewayServices,
  endpoint: EndpointJoinedRow,
  records: readonly AttemptRecord[],
): Promise<boolean> {
  if (records.length === 0) return false;
  if (records.some((record) => record.ok)) {
    await trx
      .updateTable('webhook_endpoints')
      .set({ failing_since: null, last_success_at: sql<Date>`now()` })
      .where('id', '=', endpoint.id)
      .execute();
    return false;
  }
  const firstFailure = new Date(Math.min(...records.map((record) => record.attemptedAt.getTime())));
  const row = await trx
    .updateTable('webhook_endpoints')
    .set({ failing_since: sql<Date>`coalesce(failing_since, ${firstFailure.toISOString()}::timestamptz)` })
    .where('id', '=', endpoint.id)
    .where('disabled_at', 'is', null)
    .returning(['failing_since'])
    .executeTakeFirst();
  const since = row?.failing_since;
  if (!since || Date.now() - since.getTime() < services.webhooks.config.disableAfterMs) return false;
  const last = records.at(-1) as AttemptRecord;
  const hours = Math.round(services.webhooks.config.disableAfterMs / 3_600_000);
  const reason =
    `Every delivery failed for ${hours} hours (since ${since.toISOString()}); the last: ${last.error ?? 'no answer'}. ` +
    'Enable the endpoint again once it answers; pending messages were given up (redeliverEvent sends one again).';
  await recordEndpointDisabled(trx, endpoint, reason);
  return true;
}
