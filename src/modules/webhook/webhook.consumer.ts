import { type Kysely, sql } from 'kysely';
import type { Database } from '../../db/database.js';
import type { EventConsumer, PublishedEvent } from '../events/event.model.js';
import { insertDeliveries, type NewDelivery, queueDeliveryJobs } from './webhook-delivery.repository.js';
import { matchesFilter } from './webhook-filter.js';
import { renderPayload } from './webhook-payload.js';

interface ActiveEndpoint {
  id: string;
  organization_id: string;
  integration_id: string | null;
  patterns: string[];
}

/** The organizations' endpoints that deliver now: enabled organization-wide ones, and integrations' enabled webhooks with a URL. */
async function activeEndpoints(db: Kysely<Database>, organizationIds: readonly string[]): Promise<ActiveEndpoint[]> {
  const rows = await sql<ActiveEndpoint>`
    select e.id, e.organization_id, e.integration_id,
      case when e.integration_id is null then e.event_types else i.webhook_events end as patterns
    from webhook_endpoints e left join integrations i on i.id = e.integration_id
    where e.organization_id = any(${sql.val([...organizationIds])}::uuid[])
      and ((e.integration_id is null and e.enabled) or (i.webhook_enabled and i.webhook_url is not null))`.execute(db);
  return rows.rows;
}

/**
 * Writes a delivery for every endpoint each published event matches, in the publication's transaction
 * (so that a publication rolled back leaves none, and one that commits has all of them), and queues
 * each endpoint's delivery job with them. An organization-wide endpoint receives its organization's
 * events that match its filter; an integration's webhook those about its integration (no filter: all).
 * Each event's body is rendered once, for every endpoint and attempt.
 */
export async function writeDeliveries(db: Kysely<Database>, events: readonly PublishedEvent[]): Promise<number> {
  if (events.length === 0) return 0;
  const endpoints = await activeEndpoints(db, [...new Set(events.map((event) => event.organizationId))]);
  if (endpoints.length === 0) return 0;
  const byOrganization = new Map<string, ActiveEndpoint[]>();
  for (const endpoint of endpoints)
    byOrganization.set(endpoint.organization_id, [...(byOrganization.get(endpoint.organization_id) ?? []), endpoint]);
  const deliveries: NewDelivery[] = [];
  for (const event of events) {
    let payload: string | null = null;
    for (const endpoint of byOrganization.get(event.organizationId) ?? []) {
      if (endpoint.integration_id !== null && endpoint.integration_id !== event.integrationId) continue;
      if (!matchesFilter(endpoint.patterns, event.type)) continue;
      payload ??= renderPayload(event);
      deliveries.push({
        organizationId: event.organizationId,
        endpointId: endpoint.id,
        messageId: event.id,
        eventId: event.id,
        eventType: event.type,
        kind: 'EVENT',
        subjectKey: event.subjectId,
        position: String(event.position),
        payload,
      });
    }
  }
  if (deliveries.length === 0) return 0;
  await insertDeliveries(db, deliveries);
  await queueDeliveryJobs(db, [...new Set(deliveries.map((delivery) => delivery.endpointId))]);
  return deliveries.length;
}

/** The consumer the event publisher calls (src/jobs/event-consumers.ts). */
export const webhookDeliveriesConsumer: EventConsumer = {
  name: 'webhook-deliveries',
  async consume(trx, events) {
    await writeDeliveries(trx, events);
  },
};
