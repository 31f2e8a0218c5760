import { type Kysely, type Selectable, sql } from 'kysely';
import type { Database, WebhookEndpointRow, WebhookEndpointsTable } from '../../db/database.js';
import type { CursorPosition, PageRequest } from '../../graphql/pagination.js';
import { isUuid } from '../../ids.js';

/** An endpoint as the API shows it; an integration's takes url, events and enabled flag from the integration. */
export interface WebhookEndpoint {
  id: string;
  organizationId: string;
  integrationId: string | null;
  url: string | null;
  description: string | null;
  eventTypes: string[];
  enabled: boolean;
  secretRotatedAt: Date | null;
  previousSecretExpiresAt: Date | null;
  failingSince: Date | null;
  lastSuccessAt: Date | null;
  disabledAt: Date | null;
  disabledReason: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** An endpoint row with its integration's webhook columns (null for an organization-wide endpoint). */
export type EndpointJoinedRow = WebhookEndpointRow & {
  webhook_url: string | null;
  webhook_events: string[] | null;
  webhook_enabled: boolean | null;
  webhook_secret_rotated_at: Date | null;
};

export function toWebhookEndpoint(row: EndpointJoinedRow): WebhookEndpoint {
  const integration = row.integration_id !== null;
  return {
    id: row.id,
    organizationId: row.organization_id,
    integrationId: row.integration_id,
    url: integration ? row.webhook_url : row.url,
    description: row.description,
    eventTypes: integration ? (row.webhook_events ?? []) : row.event_types,
    enabled: integration ? Boolean(row.webhook_enabled) : row.enabled,
    secretRotatedAt: integration ? (row.webhook_secret_rotated_at ?? row.secret_rotated_at) : row.secret_rotated_at,
    previousSecretExpiresAt: row.previous_secret_expires_at,
    failingSince: row.failing_since,
    lastSuccessAt: row.last_success_at,
    disabledAt: row.disabled_at,
    disabledReason: row.disabled_reason,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function joined(db: Kysely<Database>) {
  return db
    .selectFrom('webhook_endpoints')
    .leftJoin('integrations', 'integrations.id', 'webhook_endpoints.integration_id')
    .selectAll('webhook_endpoints')
    .select([
      'integrations.webhook_url',
      'integrations.webhook_events',
      'integrations.webhook_enabled',
      'integrations.webhook_secret_rotated_at',
    ]);
}

export async function findEndpointRow(
  db: Kysely<Database>,
  organizationId: string,
  id: string,
  /** `share`: no other change meanwhile (FOR NO KEY UPDATE, which lets deliveries keep referencing it); `delete`: FOR UPDATE. */
  options: { lock?: 'share' | 'delete' } = {},
): Promise<EndpointJoinedRow | undefined> {
  if (!isUuid(id)) return undefined;
  let query = joined(db).where('webhook_endpoints.organization_id', '=', organizationId).where('webhook_endpoints.id', '=', id);
  if (options.lock === 'share') query = query.forNoKeyUpdate(['webhook_endpoints']);
  if (options.lock === 'delete') query = query.forUpdate(['webhook_endpoints']);
  return (await query.executeTakeFirst()) as EndpointJoinedRow | undefined;
}

export async function findEndpointsByIds(
  db: Kysely<Database>,
  organizationId: string,
  ids: readonly string[],
): Promise<WebhookEndpoint[]> {
  const valid = ids.filter(isUuid);
  if (valid.length === 0) return [];
  const rows = await joined(db)
    .where('webhook_endpoints.organization_id', '=', organizationId)
    .where('webhook_endpoints.id', 'in', valid)
    .execute();
  return (rows as EndpointJoinedRow[]).map(toWebhookEndpoint);
}

/** The endpoint of an integration's webhook, when it has one. */
export async function findIntegrationEndpointRow(db: Kysely<Database>, integrationId: string): Promise<EndpointJoinedRow | undefined> {
  return (await joined(db).where('webhook_endpoints.integration_id', '=', integrationId).executeTakeFirst()) as
    | EndpointJoinedRow
    | undefined;
}

/** An endpoint row by id alone (the engine's view; tenancy comes from the delivery that names it). */
export async function findEndpointRowById(db: Kysely<Database>, id: string): Promise<EndpointJoinedRow | undefined> {
  return (await joined(db).where('webhook_endpoints.id', '=', id).executeTakeFirst()) as EndpointJoinedRow | undefined;
}

export interface EndpointFilter {
  /** ORGANIZATION: organization-wide endpoints only; INTEGRATION: integrations' webhooks only; null: both. */
  scope: 'ORGANIZATION' | 'INTEGRATION' | null;
}

/** One page of an organization's endpoints, oldest first. */
export async function pageEndpoints(
  db: Kysely<Database>,
  organizationId: string,
  page: PageRequest,
  filter: EndpointFilter,
): Promise<{ item: WebhookEndpoint; position: CursorPosition }[]> {
  const forward = page.direction === 'forward';
  let query = joined(db).where('webhook_endpoints.organization_id', '=', organizationId);
  if (filter.scope === 'ORGANIZATION') query = query.where('webhook_endpoints.integration_id', 'is', null);
  if (filter.scope === 'INTEGRATION') query = query.where('webhook_endpoints.integration_id', 'is not', null);
  if (page.cursor) {
    const { key, id } = page.cursor;
    const after = sql.raw(forward ? '>' : '<');
    query = query.where(sql<boolean>`(webhook_endpoints.created_at, webhook_endpoints.id) ${after} (${key}::timestamptz, ${id}::uuid)`);
  }
  const direction = forward ? 'asc' : 'desc';
  const rows = (await query
    .select(sql<string>`webhook_endpoints.created_at::text`.as('cursor_key'))
    .orderBy('webhook_endpoints.created_at', direction)
    .orderBy('webhook_endpoints.id', direction)
    .limit(page.limit + 1)
    .execute()) as (EndpointJoinedRow & { cursor_key: string })[];
  return rows.map((row) => ({ item: toWebhookEndpoint(row), position: { key: row.cursor_key, id: row.id } }));
}

export async function insertEndpointRow(
  db: Kysely<Database>,
  values: Pick<Selectable<WebhookEndpointsTable>, 'organization_id'> & Partial<Omit<Selectable<WebhookEndpointsTable>, 'organization_id'>>,
): Promise<WebhookEndpointRow> {
  const { id, ...rest } = values;
  return db
    .insertInto('webhook_endpoints')
    .values({ ...(id ? { id } : {}), ...rest })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function updateEndpointRow(
  db: Kysely<Database>,
  id: string,
  patch: Partial<Omit<Selectable<WebhookEndpointsTable>, 'id' | 'organization_id' | 'created_at'>>,
): Promise<void> {
  await db
    .updateTable('webhook_endpoints')
    .set({ ...patch, updated_at: sql<Date>`now()` })
    .where('id', '=', id)
    .execute();
}
