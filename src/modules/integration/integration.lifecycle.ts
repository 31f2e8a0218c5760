import type { Transaction } from 'kysely';
import { type Credential, EMPTY_BUNDLE, type SecretBundle } from '../../connectors/credentials.js';
import { type CredentialOrigins, parseOrigins, serializeOrigins } from '../../connectors/origins.js';
import { credentialOrigins, type ProbeOutcome } from '../../connectors/probe.js';
import type { ConnectorTarget } from '../../connectors/settings.js';
import { findConnector } from '../../connectors/registry.js';
import type { Database, IntegrationRow, IntegrationUpdate } from '../../db/database.js';
import { ServiceError } from '../../errors.js';
import { SecretVaultError } from '../../secrets/vault.js';
import type { GatewayServices } from '../../services.js';
import type { Viewer } from '../api-key/viewer.js';
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

function unreadable(services: GatewayServices, row: Pick<IntegrationRow, 'id'>, reason: string): ServiceError {
  services.logger.warn({ integrationId: row.id, reason }, 'stored credential could not be opened');
  return new ServiceError(
    'CREDENTIAL_UNREADABLE',
    'The stored credential could not be decrypted: it was altered, or sealed under a key this gateway lacks. Nothing was sent; reconnect the integration.',
    ['id'],
  );
}

/** Opens the row's secrets; a ciphertext that fails authentication (its origins column altered included) is CREDENTIAL_UNREADABLE. */
export function openBundle(services: GatewayServices, row: IntegrationRow): SecretBundle {
  if (row.secret_ciphertext === null || row.secret_key_id === null) return EMPTY_BUNDLE;
  try {
    return services.vault.open<SecretBundle>(row.secret_ciphertext, row.secret_key_id, {
      organizationId: row.organization_id,
      integrationId: row.id,
      version: row.secret_version,
      origins: row.secret_origins,
    });
  } catch (error) {
    if (error instanceof SecretVaultError) throw unreadable(services, row, error.message);
    throw error;
  }
}

/**
 * Where the row's credential may be sent: the origins stored with it, which `openBundle` has
 * authenticated. A credential sealed before origins were bound (`secret_origins` null) may go only to
 * what the row's current config resolves to now, and is bound to exactly that at its next seal (any
 * refresh, replacement or webhook secret rotation). Its config can no longer change without a new
 * credential (a reconnection applies config and credential together), so this is the origin it was
 * issued for unless the row was altered before binding existed.
 */
export function boundOrigins(services: GatewayServices, row: IntegrationRow): CredentialOrigins {
  if (row.secret_origins === null) return credentialOrigins(connectorTarget(services, row), row.auth_kind);
  try {
    return parseOrigins(row.secret_origins);
  } catch {
    throw unreadable(services, row, 'secret_origins is not valid');
  }
}

/**
 * Seals a bundle under the next secret version, bound to `origins`: those of the target a new credential
 * was issued for or probed against, or, when the credential carries over, the row's `boundOrigins`,
 * never ones recomputed from a config that may have changed since. The returned columns go into the
 * same update.
 */
export function sealBundle(
  services: GatewayServices,
  row: Pick<IntegrationRow, 'organization_id' | 'id' | 'secret_version'>,
  bundle: SecretBundle,
  origins: CredentialOrigins | null,
): Pick<IntegrationUpdate, 'secret_ciphertext' | 'secret_key_id' | 'secret_version' | 'secret_origins' | 'credential_expires_at'> {
  if (bundle.credential && !origins) throw new Error('A credential is sealed with the origins it may be sent to.');
  const version = row.secret_version + 1;
  const stored = bundle.credential && origins ? serializeOrigins(origins) : null;
  const sealed = services.vault.seal(bundle, { organizationId: row.organization_id, integrationId: row.id, version, origins: stored });
  const expiresAt = bundle.credential?.kind === 'OAUTH2' ? bundle.credential.expiresAt : null;
  return {
    secret_ciphertext: sealed.ciphertext,
    secret_key_id: sealed.keyId,
    secret_version: version,
    secret_origins: stored,
    credential_expires_at: expiresAt,
  };
}

export function requireCredential(bundle: SecretBundle): Credential {
  if (!bundle.credential)
    throw new ServiceError('CONFLICT', 'The integration has no credential: it is not authorized yet, or it was revoked.', ['id']);
  return bundle.credential;
}

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
