import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import { OAuthError, oauthEndpoints, refreshTokens, type TokenSet } from '../../connectors/oauth.js';
import type { Database, IntegrationRow, IntegrationUpdate } from '../../db/database.js';
import { ServiceError } from '../../errors.js';
import type { GatewayServices } from '../../services.js';
import { healthAfterFailures, lastCheckAfter } from './health-state.js';
import { boundOrigins, connectorTarget, openBundle, sealBundle } from './credential-bundle.js';
import { type MutationActor, recordEvent } from './integration.audit.js';
import { lockIntegrationRow, updateIntegrationRow } from './integration.repository.js';
import { leaseHeldByOther, NO_LEASE, releaseLease, sameCredential, takeLease, waitWhileLeased } from './credential-lease.js';

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

/** A refresh that started and never recorded an outcome, as its start record says. */
interface LostRefresh {
  startedAt: Date;
  requestId: string | null;
}

type RefreshRecord = Pick<IntegrationUpdate, 'refresh_started_at' | 'refresh_attempt_id' | 'refresh_request_id'>;

/**
 * What a new credential starts with, written in the transaction that stores it (new tokens from a refresh
 * or an OAuth2 callback, a token or basic reconnection, a replacement): no refresh of the credential it
 * replaces in flight or lost, and no refusal of that credential's refresh token.
 */
export const NEW_CREDENTIAL_REFRESH: { readonly [column in keyof RefreshRecord | 'refresh_refused_at' | 'refresh_refused_reason']: null } =
  {
    refresh_started_at: null,
    refresh_attempt_id: null,
    refresh_request_id: null,
    refresh_refused_at: null,
    refresh_refused_reason: null,
  };

/** The start record to leave with an outcome: none, or a lost refresh's, which the next refresh still has to report. */
function recordAfter(lost: LostRefresh | null): RefreshRecord {
  // A lost refresh's record belongs to no attempt: the next refresh finds it orphaned, as this one did.
  return { refresh_started_at: lost?.startedAt ?? null, refresh_attempt_id: null, refresh_request_id: lost?.requestId ?? null };
}

function lostReason(lost: LostRefresh): string {
  const by = lost.requestId ? ` by request ${lost.requestId}` : '';
  return (
    ` The outcome of an earlier token refresh, started at ${lost.startedAt.toISOString()}${by}, was lost: the gateway process` +
    ' stopped before recording it, after the provider may have rotated the refresh token. Reconnect the integration.'
  );
}

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

type Refreshable = ReturnType<typeof refreshable>;

type Claim = { kind: 'done'; row: IntegrationRow } | { kind: 'wait' } | { kind: 'claimed'; lost: LostRefresh | null; used: Refreshable };

/**
 * A short transaction under the row lock: is a refresh still needed, and may this attempt make it? When
 * it may, it takes the lease and records its start, committed before the provider is called, so that a
 * process that dies with the call in flight leaves a trace. A lease another request holds means that
 * request is calling the provider: wait.
 */
async function claimRefresh(
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
  const done = mode.kind === 'force' ? await refreshedSince(trx, organizationId, row.id, mode.since) : !isExpired(row);
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

type Answer = { tokens: TokenSet } | { error: OAuthError };

type Outcome =
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
async function commitRefresh(
  services: GatewayServices,
  trx: Transaction<Database>,
  actor: MutationActor,
  claim: Extract<Claim, { kind: 'claimed' }>,
  attempt: string,
  answer: Answer,
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
  } else {
    const failures = row.consecutive_failures + 1;
    // A lost refresh stays on record until a refresh reaches an answer that settles it.
    patch = { health: healthAfterFailures(failures), consecutive_failures: failures, ...recordAfter(lost) };
  }
  await updateIntegrationRow(trx, row.id, { ...patch, ...NO_LEASE });
  await recordEvent(trx, actor, row.id, 'integration.refresh_failed', 'FAILED', {
    code: error.code,
    oauthError: error.oauthError,
    ...earlier,
  });
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

/** Recorded when a refresh finds that an earlier one's outcome was lost and the provider refuses the grant. */
export const REFRESH_OUTCOME_LOST = 'integration.refresh_outcome_lost';

/** Recorded when the provider answered a refresh of a credential that a newer one replaced meanwhile; its tokens are not stored. */
export const REFRESH_SUPERSEDED = 'integration.refresh_superseded';

/**
 * Refreshes an integration's OAuth2 tokens so that concurrent refreshes from any number of gateway
 * processes make exactly one provider call and the others see its result: the request holding the lease
 * calls the provider, with no database connection held, and the others wait for its outcome. The start
 * is committed before the call, and cleared in the transaction that commits the outcome; the new tokens
 * are committed before anything uses them. A failed refresh is recorded (status or health) and then
 * reported as a ServiceError; a refusal after a refresh whose outcome was lost (its process stopped)
 * says so.
 */
export async function refreshWithLock(
  services: GatewayServices,
  db: Kysely<Database>,
  actor: MutationActor,
  integrationId: string,
  mode: RefreshMode,
): Promise<{ row: IntegrationRow; refreshed: boolean }> {
  const attempt = randomUUID();
  for (;;) {
    const claim = await db.transaction().execute((trx) => claimRefresh(services, trx, actor, integrationId, mode, attempt));
    if (claim.kind === 'done') return { row: claim.row, refreshed: false };
    if (claim.kind === 'wait') {
      await waitWhileLeased(services, db, attempt, {
        organizationId: actor.viewer.organization.id,
        integrationId,
        requestId: actor.requestId,
        purpose: 'refresh',
      });
      continue;
    }
    const { used } = claim;
    let answer: Answer;
    try {
      answer = {
        tokens: await refreshTokens(
          used.endpoints,
          used.credential.refreshToken,
          services.http,
          used.target.definition.key,
          services.probeTimeoutMs,
          used.origins,
        ),
      };
    } catch (error) {
      if (!(error instanceof OAuthError)) {
        // Nothing was refreshed: withdraw the start, so that it is not later taken for a refresh whose outcome was lost.
        await releaseLease(db, integrationId, attempt, recordAfter(claim.lost)).catch(() => undefined);
        throw error;
      }
      answer = { error };
    }
    let outcome: Outcome;
    try {
      outcome = await db.transaction().execute((trx) => commitRefresh(services, trx, actor, claim, attempt, answer));
    } catch (error) {
      // New tokens that could not be committed are lost: the start stays, and the next refresh, refused,
      // says so. Without new tokens nothing was lost: withdraw the start.
      if ('error' in answer) await releaseLease(db, integrationId, attempt, recordAfter(claim.lost)).catch(() => undefined);
      throw error;
    }
    if (outcome.kind === 'retry') continue;
    if (outcome.kind === 'refreshed') return { row: outcome.row, refreshed: true };
    if (outcome.kind === 'superseded') return { row: outcome.row, refreshed: false };
    const { error } = outcome;
    if (error.kind === 'rejected') throw new ServiceError('PROVIDER_REJECTED_CREDENTIALS', error.message, ['id']);
    if (error.kind === 'transient') throw new ServiceError('PROVIDER_UNREACHABLE', error.message, []);
    throw new ServiceError('PROVIDER_ERROR', error.message, []);
  }
}
