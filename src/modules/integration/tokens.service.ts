import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { OAuthError, refreshTokens } from '../../connectors/oauth.js';
import type { Database, IntegrationRow } from '../../db/database.js';
import { ServiceError } from '../../errors.js';
import type { GatewayServices } from '../../services.js';
import { releaseLease, waitWhileLeased } from './credential-lease.js';
import type { MutationActor } from './integration.audit.js';
import { claimRefresh, type RefreshMode } from './refresh-claim.js';
import { type Answer, type CommitOptions, commitRefresh, type Outcome } from './refresh-commit.js';
import { recordAfter } from './refresh-record.js';

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
  options: CommitOptions = {},
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
      outcome = await db.transaction().execute((trx) => commitRefresh(services, trx, actor, claim, attempt, answer, options));
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
