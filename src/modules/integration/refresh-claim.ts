import type { Transaction } from 'kysely';
import { oauthEndpoints } from '../../connectors/oauth-endpoints.js';
import type { Database, IntegrationRow } from '../../db/database.js';
import { ServiceError } from '../../errors.js';
import type { GatewayServices } from '../../services.js';
import { boundOrigins, connectorTarget, openBundle } from './credential-bundle.js';
import { leaseHeldByOther, takeLease } from './credential-lease.js';
import { eventRecordedSince } from './integration-event.repository.js';
import type { MutationActor } from './integration.audit.js';
import { lockIntegrationRow } from './integration.repository.js';
import { isExpired, type LostRefresh, TOKENS_REFRESHED } from './refresh-record.js';

/**
 * `force`: refresh now, unless another request's refresh was recorded since `since` (the start of this
 * request): that refresh ran concurrently with this one, and its result stands. `ifExpired`: refresh
 * only when the access token is expired or about to be.
 */
export type RefreshMode = { kind: 'force'; since: Date } | { kind: 'ifExpired' };

/** Why an integration cannot be refreshed at all, checked under the row lock before anything else. */
function refreshable(services: GatewayServices, row: IntegrationRow | undefined) {
  if (!row) throw new ServiceError('NOT_FOUND', 'No such integration.', ['id']);
  if (row.status === 'REVOKED') throw new ServiceError('ALREADY_REVOKED', 'The integration is revoked.', ['id']);
  const bundle = openBundle(services, row);
  const credential = bundle.credential;
  if (credential?.kind !== 'OAUTH2' || !credential.refreshToken) {
    throw new ServiceError('VALIDATION', 'This integration has no OAuth2 refresh token to refresh.', ['refreshTokens']);
  }
  const target = connectorTarget(services, row);
  const endpoints = oauthEndpoints(target);
  if (!endpoints)
    throw new ServiceError('NOT_CONFIGURED', `This gateway has no OAuth2 client for ${target.definition.name}.`, ['refreshTokens']);
  // The refresh token goes only to the token endpoint it came from, and the new tokens stay bound where the old ones were.
  const origins = boundOrigins(services, row);
  return { row, credential: { ...credential, refreshToken: credential.refreshToken }, target, endpoints, origins };
}

/** What a refresh works with, read and checked under the row lock. */
export type Refreshable = ReturnType<typeof refreshable>;

/** Whether a refresh is still needed, and whether this attempt makes it. */
export type Claim =
  | { kind: 'done'; row: IntegrationRow }
  | { kind: 'wait' }
  | { kind: 'claimed'; lost: LostRefresh | null; used: Refreshable };

/**
 * A short transaction under the row lock: is a refresh still needed, and may this attempt make it? When
 * it may, it takes the lease and records its start, committed before the provider is called, so that a
 * process that dies with the call in flight leaves a trace. A lease another request holds means that
 * request is calling the provider: wait.
 */
export async function claimRefresh(
  services: GatewayServices,
  trx: Transaction<Database>,
  actor: MutationActor,
  integrationId: string,
  mode: RefreshMode,
  attempt: string,
): Promise<Claim> {
  const organizationId = actor.viewer.organization.id;
  const used = refreshable(services, await lockIntegrationRow(trx, organizationId, integrationId));
  const { row } = used;
  // Read under the row lock: a refresh committed since this request began settles a forced one.
  const done =
    mode.kind === 'force' ? await eventRecordedSince(trx, organizationId, row.id, TOKENS_REFRESHED, mode.since) : !isExpired(row);
  if (done) return { kind: 'done', row };
  if (leaseHeldByOther(row, attempt, services.probeTimeoutMs)) return { kind: 'wait' };
  const lost =
    row.refresh_started_at !== null && row.refresh_attempt_id !== attempt
      ? { startedAt: row.refresh_started_at, requestId: row.refresh_request_id }
      : null;
  await takeLease(trx, row.id, attempt, services.probeTimeoutMs, {
    refresh_started_at: new Date(),
    refresh_attempt_id: attempt,
    refresh_request_id: actor.requestId,
  });
  return { kind: 'claimed', lost, used };
}
