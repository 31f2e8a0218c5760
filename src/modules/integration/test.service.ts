import type { Kysely } from 'kysely';
import { runProbe } from '../../connectors/probe.js';
import type { Database } from '../../db/database.js';
import { ServiceError } from '../../errors.js';
import { commitWithLiveKey } from '../api-key/key-recheck.js';
import type { GatewayServices } from '../../services.js';
import { findHealthChecksByIds, type HealthCheck } from '../health-check/health-check.repository.js';
import { boundOrigins, connectorTarget, openBundle, requireCredential } from './credential-bundle.js';
import { recordProbe } from './health-recording.js';
import { findResumableEvent } from './integration-event.repository.js';
import { type MutationActor, originOf, recordEvent } from './integration.audit.js';
import { appendTransitions, checkOf } from './integration.events.js';
import { findIntegrationRow, lockIntegrationRow, updateIntegrationRow } from './integration.repository.js';
import { type Integration, toIntegration } from './integration.model.js';
import { isExpired } from './refresh-record.js';
import { refreshWithLock } from './tokens.service.js';

/**
 * Probes an integration and records the check. An expired OAuth2 access token is refreshed first; a
 * refresh the provider refuses is itself the test's answer (NEEDS_REAUTH).
 */
export async function testIntegration(
  services: GatewayServices,
  db: Kysely<Database>,
  actor: MutationActor,
  id: string,
): Promise<{ integration: Integration; healthCheck: HealthCheck }> {
  const organizationId = actor.viewer.organization.id;
  let row = await findIntegrationRow(db, organizationId, id);
  if (!row) throw new ServiceError('NOT_FOUND', 'No such integration.', ['id']);
  if (row.status === 'REVOKED') throw new ServiceError('ALREADY_REVOKED', 'The integration is revoked.', ['id']);
  // A re-run of a request whose test was recorded (same Idempotency-Key, its answer lost with the
  // process) returns that check instead of probing and recording a second one.
  if (actor.resume) {
    const earlier = await findResumableEvent(db, organizationId, ['integration.tested'], actor.resume);
    const checkId = earlier?.integration_id === row.id ? earlier.detail.healthCheckId : undefined;
    const [check] = typeof checkId === 'string' ? await findHealthChecksByIds(db, organizationId, [checkId]) : [];
    if (check) return { integration: toIntegration(row), healthCheck: check };
  }
  if (row.auth_kind === 'OAUTH2' && isExpired(row)) row = (await refreshWithLock(services, db, actor, row.id, { kind: 'ifExpired' })).row;
  const credential = requireCredential(openBundle(services, row));
  const target = connectorTarget(services, row);
  const outcome = await runProbe(target, credential, services.http, services.probeTimeoutMs, boundOrigins(services, row));
  return commitWithLiveKey(db, actor, async (trx) => {
    const current = await lockIntegrationRow(trx, organizationId, id);
    if (!current || current.status === 'REVOKED')
      throw new ServiceError('ALREADY_REVOKED', 'The integration was revoked meanwhile.', ['id']);
    const { patch, check } = await recordProbe(trx, current, outcome, target);
    const updated = await updateIntegrationRow(trx, current.id, patch);
    await recordEvent(trx, actor, current.id, 'integration.tested', outcome.ok ? 'SUCCEEDED' : 'FAILED', {
      code: outcome.errorCode,
      httpStatus: outcome.httpStatus,
      health: updated.health,
      healthCheckId: check.id,
    });
    await appendTransitions(trx, originOf(actor), current, updated, checkOf(outcome));
    return { integration: toIntegration(updated), healthCheck: check };
  });
}
