import { type Kysely, sql, type Transaction } from 'kysely';
import type { Database, WebhookEndpointRow } from '../../db/database.js';
import { ServiceError } from '../../errors.js';
import type { GatewayServices } from '../../services.js';
import { commitWithLiveKey } from '../api-key/key-recheck.js';
import type { MutationActor } from '../integration/integration.audit.js';
import { cleanEndpointUrl } from './endpoint-url.js';
import { EVENT_TYPES } from '../events/event.model.js';
import { cleanEventFilter } from './webhook-filter.js';
import {
  type EndpointJoinedRow,
  findEndpointRow,
  insertEndpointRow,
  toWebhookEndpoint,
  updateEndpointRow,
  type WebhookEndpoint,
} from './webhook-endpoint.repository.js';
import { generateSigningSecret, openEndpointSecrets, sealEndpointSecrets } from './webhook-secrets.js';

export interface EndpointResult {
  endpoint: WebhookEndpoint;
  /** The new signing secret, on creation and rotation: shown this once. */
  signingSecret: string | null;
}

/** The longest grace a rotated-out secret may be given: a week. */
const MAX_GRACE_SECONDS = 7 * 24 * 3600;

function cleanDescription(value: string | null | undefined): string | null {
  if (value == null) return null;
  const text = value.trim();
  if (text.length > 500 || [...text].some((character) => character.charCodeAt(0) < 0x20))
    throw new ServiceError('VALIDATION', 'A description is at most 500 characters, on one line.', ['description']);
  return text === '' ? null : text;
}

/** The request a secret was issued under (field and Idempotency-Key), so that its retry returns the same secret. */
function requestKeyOf(actor: MutationActor): string | null {
  return actor.resume ? `${actor.resume.field}:${actor.resume.key}` : null;
}

/** Whether this request, retried under its Idempotency-Key, already issued the row's current secret. */
function issuedByThisRequest(row: WebhookEndpointRow, actor: MutationActor): boolean {
  const key = requestKeyOf(actor);
  return key !== null && row.secret_request_key === key && (row.secret_rotated_at?.getTime() ?? 0) >= (actor.resume?.since.getTime() ?? 0);
}

export interface CreateEndpointInput {
  url: string;
  eventTypes?: readonly string[] | null;
  description?: string | null;
  enabled?: boolean | null;
}

/** Creates an organization-wide endpoint with a new signing secret, returned this once. */
export async function createEndpoint(
  services: GatewayServices,
  db: Kysely<Database>,
  actor: MutationActor,
  input: CreateEndpointInput,
): Promise<EndpointResult> {
  const organizationId = actor.viewer.organization.id;
  const url = await cleanEndpointUrl(services.webhooks, input.url, ['url']);
  const eventTypes = cleanEventFilter(input.eventTypes ?? ['*'], EVENT_TYPES, ['eventTypes']);
  const description = cleanDescription(input.description);
  const requestKey = requestKeyOf(actor);
  // A retry of a request whose endpoint was created (its answer lost) gets that endpoint and secret again.
  if (requestKey && actor.resume?.earlierAttempt) {
    const earlier = await db
      .selectFrom('webhook_endpoints')
      .select('id')
      .where('organization_id', '=', organizationId)
      .where('secret_request_key', '=', requestKey)
      .where('integration_id', 'is', null)
      .executeTakeFirst();
    const row = earlier && (await findEndpointRow(db, organizationId, earlier.id));
    if (row && issuedByThisRequest(row, actor)) {
      return { endpoint: toWebhookEndpoint(row), signingSecret: openEndpointSecrets(services, row).current };
    }
  }
  const secret = generateSigningSecret();
  const row = await commitWithLiveKey(db, actor, async (trx) => {
    const id = (await sql<{ id: string }>`select gen_random_uuid() as id`.execute(trx)).rows[0]?.id as string;
    const sealed = sealEndpointSecrets(
      services,
      { organization_id: organizationId, id, secret_version: 0 },
      { current: secret, previous: null },
    );
    await insertEndpointRow(trx, {
      id,
      organization_id: organizationId,
      url,
      description,
      event_types: eventTypes,
      enabled: input.enabled ?? true,
      ...sealed,
      secret_rotated_at: new Date(),
      secret_request_key: requestKey,
    });
    return findEndpointRow(trx, organizationId, id);
  });
  if (!row) throw new Error('the endpoint just created is missing');
  return { endpoint: toWebhookEndpoint(row), signingSecret: secret };
}

export interface UpdateEndpointInput {
  id: string;
  url?: string | null;
  eventTypes?: readonly string[] | null;
  description?: string | null;
  enabled?: boolean | null;
  rotateSecret?: boolean | null;
  /** How long the replaced secret keeps signing beside the new one; absent: WEBHOOK_SECRET_GRACE_HOURS. */
  secretGracePeriodSeconds?: number | null;
}

function requireOrganizationEndpoint(row: EndpointJoinedRow | undefined): EndpointJoinedRow {
  if (!row) throw new ServiceError('NOT_FOUND', 'No such webhook endpoint.', ['id']);
  if (row.integration_id !== null)
    throw new ServiceError('CONFLICT', "This endpoint is an integration's webhook: change it with refreshIntegration (webhook).", ['id']);
  return row;
}

/** Fails what an endpoint still had to deliver when it is disabled: nothing more is sent to it. */
export async function failPendingDeliveries(trx: Kysely<Database>, endpointId: string, reason: string): Promise<void> {
  await trx
    .updateTable('webhook_deliveries')
    .set({
      status: 'FAILED',
      last_error: reason,
      next_attempt_at: null,
      lease_owner: null,
      lease_expires_at: null,
      finished_at: sql<Date>`now()`,
    })
    .where('endpoint_id', '=', endpointId)
    .where('status', '=', 'PENDING')
    .execute();
}

/** Changes an organization-wide endpoint: url, filter, description, enabled, or its signing secret. */
export async function updateEndpoint(
  services: GatewayServices,
  db: Kysely<Database>,
  actor: MutationActor,
  id: string,
  input: UpdateEndpointInput,
): Promise<EndpointResult> {
  const organizationId = actor.viewer.organization.id;
  const found = requireOrganizationEndpoint(await findEndpointRow(db, organizationId, id));
  const url = input.url != null ? await cleanEndpointUrl(services.webhooks, input.url, ['url']) : undefined;
  const eventTypes = input.eventTypes != null ? cleanEventFilter(input.eventTypes, EVENT_TYPES, ['eventTypes']) : undefined;
  const description = input.description !== undefined ? cleanDescription(input.description) : undefined;
  const grace = input.secretGracePeriodSeconds;
  if (grace != null && (!Number.isInteger(grace) || grace < 0 || grace > MAX_GRACE_SECONDS))
    throw new ServiceError('VALIDATION', `The grace period is 0 to ${MAX_GRACE_SECONDS} seconds.`, ['secretGracePeriodSeconds']);
  if (grace != null && !input.rotateSecret)
    throw new ServiceError('VALIDATION', 'A grace period applies to a rotation: give rotateSecret: true.', ['secretGracePeriodSeconds']);
  if (url === undefined && eventTypes === undefined && description === undefined && input.enabled == null && !input.rotateSecret)
    throw new ServiceError('VALIDATION', 'Nothing to change: give url, eventTypes, description, enabled or rotateSecret.', []);
  // A retry of this request after its rotation committed returns the secret it issued, rotating nothing twice.
  if (input.rotateSecret && issuedByThisRequest(found, actor)) {
    return { endpoint: toWebhookEndpoint(found), signingSecret: openEndpointSecrets(services, found).current };
  }
  const secret = input.rotateSecret ? generateSigningSecret() : null;
  const row = await commitWithLiveKey(db, actor, async (trx) => {
    const current = requireOrganizationEndpoint(await findEndpointRow(trx, organizationId, found.id, { lock: 'share' }));
    const patch: Parameters<typeof updateEndpointRow>[2] = {
      ...(url !== undefined ? { url } : {}),
      ...(eventTypes !== undefined ? { event_types: eventTypes } : {}),
      ...(description !== undefined ? { description } : {}),
    };
    if (input.enabled != null) {
      patch.enabled = input.enabled;
      // Enabled again: the failure streak and the reason it was disabled are history.
      if (input.enabled) Object.assign(patch, { disabled_at: null, disabled_reason: null, failing_since: null });
      else if (current.enabled) await failPendingDeliveries(trx, current.id, 'The endpoint was disabled before this was delivered.');
    }
    if (secret) {
      const graceMs = grace != null ? grace * 1000 : services.webhooks.config.secretGraceMs;
      const previous = graceMs > 0 ? openEndpointSecrets(services, current).current : null;
      Object.assign(patch, sealEndpointSecrets(services, current, { current: secret, previous }), {
        secret_rotated_at: new Date(),
        previous_secret_expires_at: previous ? new Date(Date.now() + graceMs) : null,
        secret_request_key: requestKeyOf(actor),
      });
    }
    await updateEndpointRow(trx, current.id, patch);
    return findEndpointRow(trx, organizationId, current.id);
  });
  if (!row) throw new Error('the endpoint just updated is missing');
  return { endpoint: toWebhookEndpoint(row), signingSecret: secret };
}

/** Deletes an organization-wide endpoint with its delivery log; nothing more is sent to it. */
export async function deleteEndpoint(db: Kysely<Database>, actor: MutationActor, id: string): Promise<WebhookEndpoint> {
  const organizationId = actor.viewer.organization.id;
  return commitWithLiveKey(db, actor, async (trx) => {
    const row = requireOrganizationEndpoint(await findEndpointRow(trx, organizationId, id, { lock: 'delete' }));
    await trx.deleteFrom('webhook_endpoints').where('id', '=', row.id).execute();
    return toWebhookEndpoint(row);
  });
}

/**
 * Keeps an integration's endpoint in step with its webhook settings, in the transaction that changes
 * them: created when the integration first gets a URL; the replaced secret kept signing for the grace
 * period after a rotation; the disabled state cleared when the webhook is enabled again, and what was
 * still pending failed when it is disabled.
 */
export async function applyIntegrationWebhook(
  trx: Transaction<Database>,
  services: GatewayServices,
  integration: { id: string; organization_id: string; webhook_url: string | null; webhook_enabled: boolean },
  change: { wasEnabled: boolean; enabledSet: boolean; replacedSecret: string | null },
): Promise<void> {
  await trx
    .insertInto('webhook_endpoints')
    .values({ organization_id: integration.organization_id, integration_id: integration.id })
    .onConflict((conflict) => conflict.column('integration_id').doNothing())
    .execute();
  const row = await trx
    .selectFrom('webhook_endpoints')
    .selectAll()
    .where('integration_id', '=', integration.id)
    .forNoKeyUpdate()
    .executeTakeFirstOrThrow();
  const patch: Parameters<typeof updateEndpointRow>[2] = {};
  if (change.replacedSecret) {
    const graceMs = services.webhooks.config.secretGraceMs;
    if (graceMs > 0) {
      Object.assign(patch, sealEndpointSecrets(services, row, { current: null, previous: change.replacedSecret }), {
        previous_secret_expires_at: new Date(Date.now() + graceMs),
      });
    } else {
      Object.assign(patch, { previous_secret_expires_at: null });
    }
    patch.secret_rotated_at = new Date();
  }
  if (change.enabledSet && integration.webhook_enabled)
    Object.assign(patch, { disabled_at: null, disabled_reason: null, failing_since: null });
  if (change.wasEnabled && !integration.webhook_enabled)
    await failPendingDeliveries(trx, row.id, 'The webhook was disabled before this was delivered.');
  if (Object.keys(patch).length > 0) await updateEndpointRow(trx, row.id, patch);
}
