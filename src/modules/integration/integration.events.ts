import type { Kysely, Transaction } from 'kysely';
import type { ProbeOutcome } from '../../connectors/probe.js';
import type { Database, IntegrationRow } from '../../db/database.js';
import type { EventOrigin } from '../events/event-actor.js';
import type { EventConnection, EventDataByType, EventHealthCheck, EventType, StoredEvent } from '../events/event.model.js';
import { appendEvent } from '../events/event.repository.js';

// The public events of integrations (src/modules/events), appended by the services in the transaction
// that commits the change. The journal of integration.audit.ts is the gateway's own bookkeeping beside them.

type Db = Kysely<Database> | Transaction<Database>;

/** Appends an event about an integration, as `origin`'s. */
export function appendIntegrationEvent<T extends EventType>(
  trx: Db,
  origin: EventOrigin,
  row: Pick<IntegrationRow, 'id' | 'organization_id'>,
  type: T,
  data: EventDataByType[T],
  occurredAt?: Date,
): Promise<StoredEvent> {
  return appendEvent(trx, {
    organizationId: row.organization_id,
    type,
    subject: { type: 'Integration', id: row.id },
    actor: origin.actor,
    requestId: origin.requestId,
    data,
    ...(occurredAt ? { occurredAt } : {}),
  });
}

/** What a connection event says of the integration as it now is. */
export function connectionOf(row: IntegrationRow): EventConnection {
  return {
    provider: row.provider,
    authKind: row.auth_kind,
    displayName: row.display_name,
    environment: row.environment,
    scopes: row.granted_scopes ?? row.requested_scopes,
    status: row.status,
    health: row.health,
  };
}

/** A probe's result as health events carry it. */
export function checkOf(outcome: ProbeOutcome): EventHealthCheck {
  return {
    ok: outcome.ok,
    httpStatus: outcome.httpStatus,
    latencyMs: outcome.latencyMs,
    errorCode: outcome.errorCode,
    message: outcome.message,
  };
}

/** The last check as the row summarises it, for a health change that no probe made (a refused refresh, a revocation). */
function lastCheckOf(row: IntegrationRow): EventHealthCheck {
  return {
    ok: row.last_check_ok ?? false,
    httpStatus: row.last_check_http_status,
    latencyMs: row.last_check_latency_ms,
    errorCode: null,
    message: row.last_check_message,
  };
}

/**
 * The events of a change of status or health, from the row as it was (`before`) to the row as it is
 * now: `integration.status_changed`, `integration.needs_reauth` on entering NEEDS_REAUTH, and
 * `integration.health_changed` with the check that changed it (the last check on the row when none).
 */
export async function appendTransitions(
  trx: Db,
  origin: EventOrigin,
  before: IntegrationRow,
  after: IntegrationRow,
  check?: EventHealthCheck | null,
): Promise<void> {
  if (before.status !== after.status) {
    await appendIntegrationEvent(trx, origin, after, 'integration.status_changed', {
      oldStatus: before.status,
      newStatus: after.status,
      reason: after.status_reason,
    });
    if (after.status === 'NEEDS_REAUTH') {
      await appendIntegrationEvent(trx, origin, after, 'integration.needs_reauth', { reason: after.status_reason });
    }
  }
  if (before.health !== after.health) {
    await appendIntegrationEvent(trx, origin, after, 'integration.health_changed', {
      oldHealth: before.health,
      newHealth: after.health,
      check: check ?? lastCheckOf(after),
    });
  }
}
