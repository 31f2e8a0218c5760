import type { Kysely } from 'kysely';
import { OAuthError, oauthEndpoints, refreshTokens } from '../../connectors/oauth.js';
import type { Database, IntegrationRow, IntegrationUpdate } from '../../db/database.js';
import { ServiceError } from '../../errors.js';
import type { GatewayServices } from '../../services.js';
import { UNHEALTHY_AFTER_FAILURES } from './health-state.js';
import { boundOrigins, connectorTarget, type MutationActor, openBundle, recordEvent, sealBundle } from './integration.lifecycle.js';
import { lockIntegrationRow, updateIntegrationRow } from './integration.writes.js';

/** A token this close to expiry is refreshed before use. */
export const EXPIRY_SKEW_MS = 60_000;

/**
 * `force`: refresh now, unless another request's refresh was recorded since `since` (the start of this
 * request): that refresh ran concurrently with this one, and its result stands. `ifExpired`: refresh
 * only when the access token is expired or about to be.
 */
export type RefreshMode = { kind: 'force'; since: Date } | { kind: 'ifExpired' };

/** Did a token refresh of this integration commit at or after `since`? Read under the row lock. */
async function refreshedSince(trx: Kysely<Database>, organizationId: string, integrationId: string, since: Date): Promise<boolean> {
  const found = await trx
    .selectFrom('integration_events')
    .select('id')
    .where('organization_id', '=', organizationId)
    .where('integration_id', '=', integrationId)
    .where('created_at', '>=', since)
    .where('type', '=', TOKENS_REFRESHED)
    .limit(1)
    .executeTakeFirst();
  return found !== undefined;
}

const TOKENS_REFRESHED = 'integration.tokens_refreshed';

export function isExpired(row: Pick<IntegrationRow, 'credential_expires_at'>, now = Date.now()): boolean {
  return row.credential_expires_at !== null && row.credential_expires_at.getTime() - EXPIRY_SKEW_MS <= now;
}

/**
 * Refreshes an integration's OAuth2 tokens holding its row lock, so that concurrent refreshes from any
 * number of gateway processes make exactly one provider call and the others see its result. The new
 * tokens are committed before anything uses them, so a failure afterwards cannot lose a rotated
 * refresh token. A failed refresh is recorded (status or health) and then reported as a ServiceError.
 */
export async function refreshWithLock(
  services: GatewayServices,
  db: Kysely<Database>,
  actor: MutationActor,
  integrationId: string,
  mode: RefreshMode,
): Promise<{ row: IntegrationRow; refreshed: boolean }> {
  const organizationId = actor.viewer.organization.id;
  const result = await db.transaction().execute(async (trx) => {
    const row = await lockIntegrationRow(trx, organizationId, integrationId);
    if (!row) throw new ServiceError('NOT_FOUND', 'No such integration.', ['id']);
    if (row.status === 'REVOKED') throw new ServiceError('ALREADY_REVOKED', 'The integration is revoked.', ['id']);
    const bundle = openBundle(services, row);
    const credential = bundle.credential;
    if (credential?.kind !== 'OAUTH2' || !credential.refreshToken) {
      throw new ServiceError('VALIDATION', 'This integration has no OAuth2 refresh token to refresh.', ['refreshTokens']);
    }
    const done = mode.kind === 'force' ? await refreshedSince(trx, organizationId, row.id, mode.since) : !isExpired(row);
    if (done) return { row, refreshed: false, error: null };
    const target = connectorTarget(services, row);
    const endpoints = oauthEndpoints(target);
    if (!endpoints) throw new ServiceError('NOT_CONFIGURED', `This gateway has no OAuth2 client for ${target.definition.name}.`, ['refreshTokens']);
    // The refresh token goes only to the token endpoint it came from, and the new tokens stay bound where the old ones were.
    const origins = boundOrigins(services, row);
    try {
      const tokens = await refreshTokens(endpoints, credential.refreshToken, services.http, target.definition.key, services.probeTimeoutMs, origins);
      const patch: IntegrationUpdate = {
        ...sealBundle(services, row, { ...bundle, credential: tokens.credential }, origins),
        ...(tokens.grantedScopes ? { granted_scopes: tokens.grantedScopes } : {}),
        ...(row.status === 'NEEDS_REAUTH' ? { status: 'ACTIVE' as const, status_reason: null } : {}),
      };
      const updated = await updateIntegrationRow(trx, row.id, patch);
      // Stamped now, after the provider answered, not at the transaction's start: a request that began
      // while this refresh was in flight finds it by this time and does not call the provider again.
      await recordEvent(trx, actor, row.id, TOKENS_REFRESHED, 'SUCCEEDED', { rotated: tokens.credential.refreshToken !== credential.refreshToken }, new Date());
      return { row: updated, refreshed: true, error: null };
    } catch (error) {
      if (!(error instanceof OAuthError)) throw error;
      const patch: IntegrationUpdate =
        error.kind === 'rejected'
          ? { status: 'NEEDS_REAUTH', status_reason: `Token refresh refused: ${error.message}`, health: 'UNHEALTHY' }
          : {
              health: row.consecutive_failures + 1 >= UNHEALTHY_AFTER_FAILURES ? 'UNHEALTHY' : 'DEGRADED',
              consecutive_failures: row.consecutive_failures + 1,
            };
      const updated = await updateIntegrationRow(trx, row.id, patch);
      await recordEvent(trx, actor, row.id, 'integration.refresh_failed', 'FAILED', { code: error.code, oauthError: error.oauthError });
      // The failure is recorded and committed; the caller learns of it after the commit.
      return { row: updated, refreshed: false, error };
    }
  });
  if (result.error) {
    const { error } = result;
    if (error.kind === 'rejected') throw new ServiceError('PROVIDER_REJECTED_CREDENTIALS', error.message, ['id']);
    if (error.kind === 'transient') throw new ServiceError('PROVIDER_UNREACHABLE', error.message, []);
    throw new ServiceError('PROVIDER_ERROR', error.message, []);
  }
  return { row: result.row, refreshed: result.refreshed };
}
