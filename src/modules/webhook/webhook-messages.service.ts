import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../../db/database.js';
import { ServiceError } from '../../errors.js';
import { encodeGlobalID } from '../../ids.js';
import { commitWithLiveKey } from '../api-key/key-recheck.js';
import { type MutationActor, originOf } from '../integration/integration.audit.js';
import { findDeliveriesByIds, type WebhookDelivery } from './webhook-delivery-log.repository.js';
import { insertDeliveries, queueDeliveryJobs } from './webhook-delivery.repository.js';
import { type EndpointJoinedRow, findEndpointRow } from './webhook-endpoint.repository.js';
import { TEST_EVENT_TYPE } from './webhook-event-types.js';
import { renderPayload } from './webhook-payload.js';
import { findEventForDelivery } from './webhook-event-source.js';

function requireEnabled(row: EndpointJoinedRow | undefined): EndpointJoinedRow {
  if (!row) throw new ServiceError('NOT_FOUND', 'No such webhook endpoint.', ['endpointId']);
  const enabled = row.integration_id === null ? row.enabled : Boolean(row.webhook_enabled && row.webhook_url);
  if (!enabled) throw new ServiceError('CONFLICT', 'The endpoint is disabled: enable it first.', ['endpointId']);
  return row;
}

/** A new delivery, due now, committed with its job; returned as the log shows it. */
async function queueMessage(
  db: Kysely<Database>,
  actor: MutationActor,
  endpointId: string,
  message: {
    messageId: string;
    eventId: string | null;
    eventType: string;
    kind: 'REDELIVERY' | 'TEST';
    subjectKey: string;
    position: string;
    payload: string;
  },
): Promise<WebhookDelivery> {
  const organizationId = actor.viewer.organization.id;
  const id = await commitWithLiveKey(db, actor, async (trx) => {
    requireEnabled(await findEndpointRow(trx, organizationId, endpointId, { lock: 'share' }));
    const [inserted] = await insertDeliveries(trx, [{ organizationId, endpointId, ...message }]);
    await queueDeliveryJobs(trx, [endpointId]);
    return inserted as string;
  });
  const [delivery] = await findDeliveriesByIds(db, organizationId, [id]);
  if (!delivery) throw new Error('the delivery just queued is missing');
  return delivery;
}

/** Queues a `webhook_endpoint.test` message to an endpoint, whatever its filter. */
export async function sendTestEvent(db: Kysely<Database>, actor: MutationActor, endpointId: string): Promise<WebhookDelivery> {
  const organizationId = actor.viewer.organization.id;
  requireEnabled(await findEndpointRow(db, organizationId, endpointId));
  const messageId = `msg_test_${randomBytes(16).toString('hex')}`;
  const caller = originOf(actor).actor;
  const subject = encodeGlobalID('WebhookEndpoint', endpointId);
  const payload = renderPayload({
    id: messageId,
    type: TEST_EVENT_TYPE,
    organizationId,
    subjectId: subject,
    actor: { kind: caller.kind, label: caller.label },
    requestId: actor.requestId,
    data: { message: 'A test message from the integrations gateway: verify its signature and answer 2xx.' },
    occurredAt: new Date(),
  });
  // A test message waits for nothing: it is a subject of its own.
  return queueMessage(db, actor, endpointId, {
    messageId,
    eventId: null,
    eventType: TEST_EVENT_TYPE,
    kind: 'TEST',
    subjectKey: messageId,
    position: '0',
    payload,
  });
}

/**
 * Sends an event to an endpoint again, with the same webhook-id and body, as a delivery of its own.
 * The event must be the organization's, and for an integration's webhook, about that integration.
 */
export async function redeliverEvent(
  db: Kysely<Database>,
  actor: MutationActor,
  eventId: string,
  endpointId: string,
): Promise<WebhookDelivery> {
  const organizationId = actor.viewer.organization.id;
  const endpoint = requireEnabled(await findEndpointRow(db, organizationId, endpointId));
  const event = eventId.length <= 100 ? await findEventForDelivery(db, organizationId, eventId) : undefined;
  if (!event) throw new ServiceError('NOT_FOUND', 'No such event (or it is past its retention).', ['eventId']);
  if (endpoint.integration_id !== null && event.integrationId !== endpoint.integration_id)
    throw new ServiceError('VALIDATION', "The event is not about this webhook's integration.", ['eventId']);
  return queueMessage(db, actor, endpoint.id, {
    messageId: event.id,
    eventId: event.id,
    eventType: event.type,
    kind: 'REDELIVERY',
    subjectKey: event.subjectId,
    position: String(event.position),
    payload: event.payload,
  });
}
