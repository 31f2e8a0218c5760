import type { Transaction } from 'kysely';
import type { OAuthError, TokenSet } from '../../connectors/oauth.js';
import type { Database, IntegrationRow, IntegrationUpdate } from '../../db/database.js';
import { ServiceError } from '../../errors.js';
import type { GatewayServices } from '../../services.js';
import { healthAfterFailures, lastCheckAfter } from './health-state.js';
import { openBundle, sealBundle } from './credential-bundle.js';
import { NO_LEASE, releaseLease, sameCredential } from './credential-lease.js';
import { type MutationActor, originOf, recordEvent } from './integration.audit.js';
import { appendIntegrationEvent, appendTransitions } from './integration.events.js';
import { updateIntegrationRow, lockIntegrationRow } from './integration.repository.js';
import type { Claim } from './refresh-claim.js';
import {
  lostReason,
  NEW_CREDENTIAL_REFRESH,
  recordAfter,
  REFRESH_OUTCOME_LOST,
  REFRESH_SUPERSEDED,
  TOKENS_REFRESHED,
} from './refresh-record.js';

/** What the provider said to a refresh: new tokens, or why not. */
export type Answer = { tokens: TokenSet } | { error: OAuthError };

export interface CommitOptions {
  /**
   * A refresh ahead of expiry (the engine's): while the stored access token has not expired, a failure
   * that may pass is recorded but does not count against health, since the token still works.
   */
  aheadOfExpiry?: boolean;
}

/** What a committed answer means for the refresh: done, superseded, failed, or try again. */
export type Outcome =
  | { kind: 'retry' }
  | { kind: 'refreshed'; row: IntegrationRow }
  | { kind: 'superseded'; row: IntegrationRow }
  | { kind: 'failed'; error: OAuthError };

/**
 * The compare-and-swap that commits a provider's answer, in a short transaction under the row lock. New
 * tokens are stored whenever the stored credential is still the one refreshed, even if this attempt's
 * lease expired and another took it over meanwhile: they descend from the stored refresh token, and a
 * provider that rotates refresh tokens has just invalidated that one. When a newer credential is stored
 * (another refresh committed first, or a reconnection), it stays: the answer concerns a superseded
 * credential, and new tokens from it are dropped with an event. A refusal or failure is recorded only by
 * the lease owner, for the credential still stored.
 */
export async function commitRefresh(
  services: GatewayServices,
  trx: Transaction<Database>,
  actor: MutationActor,
  claim: Extract<Claim, { kind: 'claimed' }>,
  attempt: string,
  answer: Answer,
  options: CommitOptions = {},
): Promise<Outcome> {
  const row = await lockIntegrationRow(trx, actor.viewer.organization.id, claim.used.row.id);
  if (!row) throw new ServiceError('NOT_FOUND', 'No such integration.', ['id']);
  if (row.status === 'REVOKED') throw new ServiceError('ALREADY_REVOKED', 'The integration was revoked meanwhile.', ['id']);
  const mine = row.lease_owner === attempt;
  const { lost, used } = claim;
  if (!sameCredential(services, row, { credential: used.credential })) {
    if (mine) await releaseLease(trx, row.id, attempt, recordAfter(null));
    if ('error' in answer) return { kind: 'retry' };
    await recordEvent(trx, actor, row.id, REFRESH_SUPERSEDED, 'FAILED', {
      rotated: answer.tokens.credential.refreshToken !== used.credential.refreshToken,
    });
    return { kind: 'superseded', row };
  }
  const earlier = lost ? { earlierRefreshLost: { startedAt: lost.startedAt.toISOString(), requestId: lost.requestId } } : {};
  if ('tokens' in answer) {
    const { tokens } = answer;
    const patch: IntegrationUpdate = {
      ...sealBundle(services, row, { ...openBundle(services, row), credential: tokens.credential }, used.origins),
      ...(tokens.grantedScopes ? { granted_scopes: tokens.grantedScopes } : {}),
      ...(row.status === 'NEEDS_REAUTH' ? { status: 'ACTIVE' as const, status_reason: null } : {}),
      // The refresh token works (again): a refusal on record no longer holds. A lease taken over stays
      // with the attempt that took it, which finds this credential stored when it commits.
      ...(mine ? { ...NEW_CREDENTIAL_REFRESH, ...NO_LEASE } : { refresh_refused_at: null, refresh_refused_reason: null }),
    };
    const updated = await updateIntegrationRow(trx, row.id, patch);
    // Stamped now, after the provider answered, not at the transaction's start: a request that began
    // while this refresh was in flight finds it by this time and does not call the provider again.
    await recordEvent(
      trx,
      actor,
      row.id,
      TOKENS_REFRESHED,
      'SUCCEEDED',
      { rotated: tokens.credential.refreshToken !== used.credential.refreshToken, ...earlier },
      new Date(),
    );
    const origin = originOf(actor);
    await appendIntegrationEvent(trx, origin, updated, 'integration.credentials_refreshed', {
      method: 'OAUTH2_REFRESH',
      expiresAt: updated.credential_expires_at?.toISOString() ?? null,
      scopes: updated.granted_scopes,
    });
    await appendTransitions(trx, origin, row, updated);
    return { kind: 'refreshed', row: updated };
  }
  // Taken over after this attempt looked orphaned: the request that took it over refreshes.
  if (!mine) return { kind: 'retry' };
  const { error } = answer;
  let patch: IntegrationUpdate;
  if (error.kind === 'rejected') {
    const reason = `Token refresh refused: ${error.message}${lost ? lostReason(lost) : ''}`;
    // The last probe succeeded with a grant the provider has just refused: it no longer describes it.
    // The refusal stays on record until a refresh succeeds or a new credential replaces this one, so
    // that a probe still getting through with the current access token does not make it ACTIVE again.
    const refusedAt = new Date();
    patch = {
      status: 'NEEDS_REAUTH',
      status_reason: reason,
      health: 'UNHEALTHY',
      ...lastCheckAfter(refusedAt, reason),
      ...recordAfter(null),
      refresh_refused_at: refusedAt,
      refresh_refused_reason: reason,
    };
  } else if (options.aheadOfExpiry && !(row.credential_expires_at && row.credential_expires_at.getTime() <= Date.now())) {
    // Ahead of expiry (or of an expiry nobody stated), the access token still works: retried later, and
    // counted against health only once the token has expired (or a probe finds it refused).
    patch = recordAfter(lost);
  } else {
    const failures = row.consecutive_failures + 1;
    // A lost refresh stays on record until a refresh reaches an answer that settles it.
    patch = { health: healthAfterFailures(failures), consecutive_failures: failures, ...recordAfter(lost) };
  }
  const updated = await updateIntegrationRow(trx, row.id, { ...patch, ...NO_LEASE });
  await recordEvent(trx, actor, row.id, 'integration.refresh_failed', 'FAILED', {
    code: error.code,
    oauthError: error.oauthError,
    ...earlier,
  });
  const origin = originOf(actor);
  await appendIntegrationEvent(trx, origin, updated, 'integration.refresh_failed', {
    code: error.code,
    message: error.message,
    permanent: error.kind === 'rejected',
  });
  // The refresh, not a probe, changed the health: the check is its failure.
  const check = { ok: false, httpStatus: null, latencyMs: null, errorCode: error.code, message: error.message };
  await appendTransitions(trx, origin, row, updated, check);
  if (lost && error.kind === 'rejected') {
    await recordEvent(trx, actor, row.id, REFRESH_OUTCOME_LOST, 'FAILED', {
      startedAt: lost.startedAt.toISOString(),
      requestId: lost.requestId,
      oauthError: error.oauthError,
    });
  }
  // The failure is recorded and committed; the caller learns of it after the commit.
  return { kind: 'failed', error };
}
