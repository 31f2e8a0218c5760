import type { Transaction } from 'kysely';
import type { ProbeOutcome } from '../../connectors/probe.js';
import type { ConnectorTarget } from '../../connectors/settings.js';
import type { Database, IntegrationRow, IntegrationUpdate } from '../../db/database.js';
import { ServiceError } from '../../errors.js';
import { type HealthCheck, insertHealthCheckRow } from '../health-check/health-check.repository.js';
import { missingFrom, nextHealthState } from './health-state.js';

/**
 * Records a probe: the history row, the summary on the integration, and health and status through the
 * state machine. Runs inside the caller's transaction, with the row locked. A caller storing a new
 * credential with the probe passes the row as that credential leaves it (NEW_CREDENTIAL_REFRESH applied):
 * a refusal of the replaced refresh token says nothing about the new credential.
 */
export async function recordProbe(
  trx: Transaction<Database>,
  row: IntegrationRow,
  outcome: ProbeOutcome,
  target: ConnectorTarget,
  extra: IntegrationUpdate = {},
): Promise<{ patch: IntegrationUpdate; check: HealthCheck }> {
  const granted = outcome.grantedScopes ?? row.granted_scopes;
  const missingRequired = outcome.ok ? missingFrom(granted, target.definition.requiredScopes) : [];
  const state = nextHealthState(
    { status: row.status, statusReason: row.status_reason, health: row.health, consecutiveFailures: row.consecutive_failures },
    outcome,
    missingRequired,
    row.refresh_refused_reason,
  );
  const check = await insertHealthCheckRow(trx, {
    organizationId: row.organization_id,
    integrationId: row.id,
    ok: outcome.ok,
    httpStatus: outcome.httpStatus,
    latencyMs: outcome.latencyMs,
    errorCode: outcome.errorCode,
    message: outcome.message,
    identity: outcome.identity,
    grantedScopes: outcome.grantedScopes,
    missingScopes: missingFrom(granted, row.requested_scopes),
  });
  const patch: IntegrationUpdate = {
    status: state.status,
    status_reason: state.statusReason,
    health: state.health,
    consecutive_failures: state.consecutiveFailures,
    last_check_at: check.checkedAt,
    last_check_ok: outcome.ok,
    last_check_latency_ms: outcome.latencyMs,
    last_check_http_status: outcome.httpStatus,
    last_check_message: outcome.message,
    ...(outcome.grantedScopes ? { granted_scopes: outcome.grantedScopes } : {}),
    ...(outcome.ok && outcome.identity && Object.keys(outcome.identity).length > 0 ? { account: JSON.stringify(outcome.identity) } : {}),
    ...extra,
  };
  return { patch, check };
}

/** The user error for a failed probe of a credential the user just gave. */
export function probeFailure(outcome: ProbeOutcome, field: string[]): ServiceError {
  if (outcome.kind === 'rejected') return new ServiceError('PROVIDER_REJECTED_CREDENTIALS', outcome.message, field);
  if (outcome.errorCode === 'OUTBOUND_BLOCKED') return new ServiceError('OUTBOUND_BLOCKED', outcome.message, ['config']);
  if (outcome.kind === 'transient') return new ServiceError('PROVIDER_UNREACHABLE', outcome.message, []);
  return new ServiceError('PROVIDER_ERROR', outcome.message, []);
}
