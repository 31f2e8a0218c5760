import { type Kysely, sql } from 'kysely';
import type {
  Database,
  WebhookDeliveryAttemptRow,
  WebhookDeliveryKind,
  WebhookDeliveryRow,
  WebhookDeliveryStatus,
} from '../../db/database.js';
import type { CursorPosition, PageRequest } from '../../graphql/pagination.js';
import { isUuid } from '../../ids.js';

/** A message for an endpoint and where its delivery stands. */
export interface WebhookDelivery {
  id: string;
  organizationId: string;
  endpointId: string;
  messageId: string;
  eventId: string | null;
  eventType: string;
  kind: WebhookDeliveryKind;
  status: WebhookDeliveryStatus;
  attemptCount: number;
  nextAttemptAt: Date | null;
  lastAttemptAt: Date | null;
  lastHttpStatus: number | null;
  lastError: string | null;
  payload: string;
  createdAt: Date;
  finishedAt: Date | null;
}

export interface WebhookDeliveryAttempt {
  attempt: number;
  attemptedAt: Date;
  httpStatus: number | null;
  latencyMs: number | null;
  error: string | null;
  responseBody: string | null;
  nextAttemptAt: Date | null;
}

export function toWebhookDelivery(row: WebhookDeliveryRow): WebhookDelivery {
  return {
    id: row.id,
    organizationId: row.organization_id,
    endpointId: row.endpoint_id,
    messageId: row.message_id,
    eventId: row.event_id,
    eventType: row.event_type,
    kind: row.kind,
    status: row.status,
    attemptCount: row.attempts,
    nextAttemptAt: row.status === 'PENDING' ? row.next_attempt_at : null,
    lastAttemptAt: row.last_attempt_at,
    lastHttpStatus: row.last_http_status,
    lastError: row.last_error,
    payload: row.payload,
    createdAt: row.created_at,
    finishedAt: row.finished_at,
  };
}

function toAttempt(row: WebhookDeliveryAttemptRow): WebhookDeliveryAttempt {
  return {
    attempt: row.attempt,
    attemptedAt: row.attempted_at,
    httpStatus: row.http_status,
    latencyMs: row.latency_ms,
    error: row.error,
    responseBody: row.response_body,
    nextAttemptAt: row.next_attempt_at,
  };
}

export interface DeliveryFilter {
  statuses: WebhookDeliveryStatus[] | null;
  eventTypes: string[] | null;
  eventId: string | null;
}

/** One page of an endpoint's deliveries, newest first. */
export async function pageDeliveries(
  db: Kysely<Database>,
  organizationId: string,
  endpointId: string,
  page: PageRequest,
  filter: DeliveryFilter,
): Promise<{ item: WebhookDelivery; position: CursorPosition }[]> {
  const forward = page.direction === 'forward';
  let query = db
    .selectFrom('webhook_deliveries')
    .selectAll()
    .select(sql<string>`created_at::text`.as('cursor_key'))
    .where('organization_id', '=', organizationId)
    .where('endpoint_id', '=', endpointId);
  if (filter.statuses && filter.statuses.length > 0) query = query.where('status', 'in', filter.statuses);
  if (filter.eventTypes && filter.eventTypes.length > 0) query = query.where('event_type', 'in', filter.eventTypes);
  if (filter.eventId) query = query.where('event_id', '=', filter.eventId);
  if (page.cursor) {
    const { key, id } = page.cursor;
    // Newest first: forward goes to older rows.
    query = query.where(sql<boolean>`(created_at, id) ${sql.raw(forward ? '<' : '>')} (${key}::timestamptz, ${id}::uuid)`);
  }
  const direction = forward ? 'desc' : 'asc';
  const rows = await query
    .orderBy('created_at', direction)
    .orderBy('id', direction)
    .limit(page.limit + 1)
    .execute();
  return rows.map((row) => ({ item: toWebhookDelivery(row), position: { key: row.cursor_key, id: row.id } }));
}

export async function findDeliveriesByIds(
  db: Kysely<Database>,
  organizationId: string,
  ids: readonly string[],
): Promise<WebhookDelivery[]> {
  const valid = ids.filter(isUuid);
  if (valid.length === 0) return [];
  const rows = await db
    .selectFrom('webhook_deliveries')
    .selectAll()
    .where('organization_id', '=', organizationId)
    .where('id', 'in', valid)
    .execute();
  return rows.map(toWebhookDelivery);
}

/** Every attempt of each delivery, in order, for deliveries of the organization only. */
export async function attemptsOfDeliveries(
  db: Kysely<Database>,
  organizationId: string,
  deliveryIds: readonly string[],
): Promise<Map<string, WebhookDeliveryAttempt[]>> {
  const out = new Map<string, WebhookDeliveryAttempt[]>();
  const valid = deliveryIds.filter(isUuid);
  if (valid.length === 0) return out;
  const rows = await db
    .selectFrom('webhook_delivery_attempts as a')
    .innerJoin('webhook_deliveries as d', 'd.id', 'a.delivery_id')
    .selectAll('a')
    .where('d.organization_id', '=', organizationId)
    .where('a.delivery_id', 'in', valid)
    .orderBy('a.delivery_id')
    .orderBy('a.attempt')
    .execute();
  for (const row of rows) out.set(row.delivery_id, [...(out.get(row.delivery_id) ?? []), toAttempt(row)]);
  return out;
}
