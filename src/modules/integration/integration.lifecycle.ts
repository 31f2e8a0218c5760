import type { Transaction } from 'kysely';
import { type Credential, EMPTY_BUNDLE, type SecretBundle } from '../../connectors/credentials.js';
import type { ConnectorTarget, ProbeOutcome } from '../../connectors/probe.js';
import { findConnector } from '../../connectors/registry.js';
import type { Database, IntegrationRow, IntegrationUpdate } from '../../db/database.js';
import { ServiceError } from '../../errors.js';
import type { GatewayServices } from '../../services.js';
import type { Viewer } from '../api-key/api-key.service.js';
import type { HealthCheck } from '../health-check/health-check.repository.js';
import { missingFrom, nextHealthState } from './health-state.js';
import { insertEventRow, insertHealthCheckRow } from './integration.writes.js';

/**
 * What a mutation run under an Idempotency-Key records in its events, so that a re-run of the same
 * request (its lease taken over after a crash, or retried after a 5xx) resumes what an earlier attempt did.
 */
export interface ResumeScope {
  /** The request's Idempotency-Key. */
  key: string;
  /** The mutation field's response key (its alias): several mutations in one document resume apart. */
  field: string;
  /** When the key was first claimed for this request; events of an earlier use of the key are older. */
  since: Date;
  /**
   * Whether an earlier attempt of this request may have run: the key was claimed over an ended lease (a
   * crash, a 5xx). A key claimed afresh has no earlier attempt, so nothing is searched for.
   */
  earlierAttempt: boolean;
}

/** Who is changing an integration, and under which request, for the audit trail. */
export interface MutationActor {
  viewer: Viewer;
  requestId: string;
  /** Set when the request has an Idempotency-Key: a re-run after a lease takeover resumes by it. */
  resume: ResumeScope | null;
  /**
   * When the request arrived (request-clock.ts), before it waited for anything: a token refresh recorded
   * since then ran concurrently with this request, and a forced refresh shares its result.
   */
  startedAt: Date;
}

export function connectorTarget(services: GatewayServices, row: Pick<IntegrationRow, 'provider' | 'config'>): ConnectorTarget {
  const definition = findConnector(row.provider);
  if (!definition) throw new ServiceError('VALIDATION', `The provider "${row.provider}" is no longer in the catalog.`, ['provider']);
  const config = Object.fromEntries(Object.entries(row.config).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
  return { definition, settings: services.connectorSettings[definition.key] ?? {}, config };
}

export function openBundle(services: GatewayServices, row: IntegrationRow): SecretBundle {
  if (row.secret_ciphertext === null || row.secret_key_id === null) return EMPTY_BUNDLE;
  return services.vault.open<SecretBundle>(row.secret_ciphertext, row.secret_key_id, {
    organizationId: row.organization_id,
    integrationId: row.id,
    version: row.secret_version,
  });
}

/** Seals a bundle under the next secret version; the returned columns go into the same update. */
export function sealBundle(
  services: GatewayServices,
  row: Pick<IntegrationRow, 'organization_id' | 'id' | 'secret_version'>,
  bundle: SecretBundle,
): Pick<IntegrationUpdate, 'secret_ciphertext' | 'secret_key_id' | 'secret_version' | 'credential_expires_at'> {
  const version = row.secret_version + 1;
  const sealed = services.vault.seal(bundle, { organizationId: row.organization_id, integrationId: row.id, version });
  const expiresAt = bundle.credential?.kind === 'OAUTH2' ? bundle.credential.expiresAt : null;
  return { secret_ciphertext: sealed.ciphertext, secret_key_id: sealed.keyId, secret_version: version, credential_expires_at: expiresAt };
}

export function requireCredential(bundle: SecretBundle): Credential {
  if (!bundle.credential) throw new ServiceError('CONFLICT', 'The integration has no credential: it is not authorized yet, or it was revoked.', ['id']);
  return bundle.credential;
}

/**
 * Records a probe: the history row, the summary on the integration, and health and status through the
 * state machine. Runs inside the caller's transaction, with the row locked.
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

export type EventOutcome = 'SUCCEEDED' | 'FAILED';

/** Appends an audit event. Details carry codes and names only, never a credential. */
export function recordEvent(
  trx: Parameters<typeof insertEventRow>[0],
  actor: MutationActor,
  integrationId: string | null,
  type: string,
  outcome: EventOutcome,
  detail: Record<string, unknown> = {},
  /** The event's time; the transaction's start when absent. */
  at?: Date,
): Promise<void> {
  return insertEventRow(trx, {
    ...(at ? { created_at: at } : {}),
    organization_id: actor.viewer.organization.id,
    integration_id: integrationId,
    actor_key_id: actor.viewer.apiKey.id,
    type,
    outcome,
    request_id: actor.requestId,
    detail: actor.resume ? { ...detail, idempotencyKey: actor.resume.key, idempotencyField: actor.resume.field } : detail,
  });
}

/** The user error for a failed probe of a credential the user just gave. */
export function probeFailure(outcome: ProbeOutcome, field: string[]): ServiceError {
  if (outcome.kind === 'rejected') return new ServiceError('PROVIDER_REJECTED_CREDENTIALS', outcome.message, field);
  if (outcome.errorCode === 'OUTBOUND_BLOCKED') return new ServiceError('OUTBOUND_BLOCKED', outcome.message, ['config']);
  if (outcome.kind === 'transient') return new ServiceError('PROVIDER_UNREACHABLE', outcome.message, []);
  return new ServiceError('PROVIDER_ERROR', outcome.message, []);
}
