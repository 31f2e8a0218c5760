import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { Credential } from '../../connectors/credentials.js';
import { revokeAtProvider, type RevocationOutcome } from '../../connectors/revoke.js';
import type { Database, IntegrationRow } from '../../db/database.js';
import { ServiceError } from '../../errors.js';
import { commitWithLiveKey } from '../api-key/key-recheck.js';
import type { GatewayServices } from '../../services.js';
import { lastCheckAfter } from './health-state.js';
import { boundOrigins, connectorTarget, openBundle } from './credential-bundle.js';
import { findResumableEvent } from './integration-event.repository.js';
import { type MutationActor, originOf, recordEvent } from './integration.audit.js';
import { appendIntegrationEvent, appendTransitions } from './integration.events.js';
import { lockIntegrationRow, updateIntegrationRow } from './integration.repository.js';
import { expireOAuthStates } from './oauth-state.repository.js';
import { type Integration, toIntegration } from './integration.model.js';
import {
  type CredentialSnapshot,
  credentialSnapshot,
  leaseHeldByOther,
  NO_LEASE,
  releaseLease,
  sameCredential,
  takeLease,
  waitWhileLeased,
} from './credential-lease.js';

export interface RevokeResult {
  integration: Integration;
  revokedAtProvider: boolean;
  /** Why the provider did not confirm, when it did not. */
  providerMessage: string | null;
}

/**
 * Revokes the stored credential at the provider, at the origins it is bound to only. A credential that
 * cannot be opened is not sent anywhere; the integration is revoked here all the same.
 */
async function revokeStored(services: GatewayServices, row: IntegrationRow): Promise<RevocationOutcome> {
  let credential: Credential | null;
  try {
    credential = openBundle(services, row).credential;
  } catch (error) {
    if (!(error instanceof ServiceError && error.code === 'CREDENTIAL_UNREADABLE')) throw error;
    return {
      confirmed: false,
      reason: 'The stored credential could not be decrypted, so it was not sent to the provider to be revoked; revoke it there.',
    };
  }
  if (!credential) return { confirmed: false, reason: 'No credential was stored, so there was nothing to revoke at the provider.' };
  return revokeAtProvider(connectorTarget(services, row), credential, services.http, services.probeTimeoutMs, boundOrigins(services, row));
}

/** An earlier answer of this same request (same Idempotency-Key), or ALREADY_REVOKED. */
async function alreadyRevoked(trx: Transaction<Database>, actor: MutationActor, row: IntegrationRow): Promise<RevokeResult> {
  // A retry of the request that revoked it (same Idempotency-Key) gets that request's answer.
  const earlier = actor.resume ? await findResumableEvent(trx, row.organization_id, ['integration.revoked'], actor.resume) : undefined;
  if (earlier?.integration_id === row.id) {
    const detail = earlier.detail as { revokedAtProvider?: boolean; providerMessage?: string | null };
    return {
      integration: toIntegration(row),
      revokedAtProvider: detail.revokedAtProvider === true,
      providerMessage: detail.providerMessage ?? null,
    };
  }
  throw new ServiceError('ALREADY_REVOKED', 'The integration is already revoked.', ['id']);
}

type Claim =
  | { kind: 'answered'; result: RevokeResult }
  | { kind: 'wait' }
  | { kind: 'claimed'; row: IntegrationRow; used: CredentialSnapshot };

/** A short transaction under the row lock: revoked already, leased by another request's provider call, or leased to this one. */
async function claimRevocation(
  services: GatewayServices,
  trx: Transaction<Database>,
  actor: MutationActor,
  id: string,
  attempt: string,
): Promise<Claim> {
  const row = await lockIntegrationRow(trx, actor.viewer.organization.id, id);
  if (!row) throw new ServiceError('NOT_FOUND', 'No such integration.', ['id']);
  if (row.status === 'REVOKED') return { kind: 'answered', result: await alreadyRevoked(trx, actor, row) };
  if (leaseHeldByOther(row, attempt, services.probeTimeoutMs)) return { kind: 'wait' };
  await takeLease(trx, row.id, attempt, services.probeTimeoutMs);
  return { kind: 'claimed', row, used: credentialSnapshot(services, row) };
}

/**
 * Commits a revocation, in the transaction that re-reads the API key (commitWithLiveKey), if the stored
 * credential is still the one revoked at the provider; null when a newer one was stored meanwhile (new
 * tokens from an OAuth2 callback), which has to be revoked too.
 */
async function commitRevocation(
  services: GatewayServices,
  trx: Transaction<Database>,
  actor: MutationActor,
  claimed: IntegrationRow,
  used: CredentialSnapshot,
  attempt: string,
  outcome: RevocationOutcome,
): Promise<RevokeResult | null> {
  const row = await lockIntegrationRow(trx, actor.viewer.organization.id, claimed.id);
  if (!row) throw new ServiceError('NOT_FOUND', 'No such integration.', ['id']);
  // Revoked by a request that took this one's lease over after it expired.
  if (row.status === 'REVOKED') return alreadyRevoked(trx, actor, row);
  if (!sameCredential(services, row, used)) {
    await releaseLease(trx, row.id, attempt);
    return null;
  }
  const revokedAt = new Date();
  const reason = `Revoked by API key ${actor.viewer.apiKey.prefix}.`;
  const updated = await updateIntegrationRow(trx, row.id, {
    status: 'REVOKED',
    status_reason: reason,
    // No earlier probe describes a credential that no longer exists: health is unknown from now on.
    health: 'UNKNOWN',
    consecutive_failures: 0,
    ...lastCheckAfter(revokedAt, `${reason} The credential was deleted; no probe describes the integration any more.`),
    revoked_at: revokedAt,
    revoked_by_key_id: actor.viewer.apiKey.id,
    secret_ciphertext: null,
    secret_key_id: null,
    secret_origins: null,
    credential_expires_at: null,
    webhook_enabled: false,
    ...NO_LEASE,
  });
  await expireOAuthStates(trx, row.id);
  await recordEvent(trx, actor, row.id, 'integration.revoked', 'SUCCEEDED', {
    revokedAtProvider: outcome.confirmed,
    providerMessage: outcome.reason,
  });
  const origin = originOf(actor);
  await appendIntegrationEvent(trx, origin, updated, 'integration.revoked', {
    revokedAtProvider: outcome.confirmed,
    providerMessage: outcome.reason,
  });
  await appendTransitions(trx, origin, row, updated);
  return { integration: toIntegration(updated), revokedAtProvider: outcome.confirmed, providerMessage: outcome.reason };
}

/**
 * Revokes an integration: the credential at the provider where it can be, the stored secret at once,
 * and the row kept as a REVOKED tombstone for audit. The request holding the row's lease calls the
 * provider, with no database connection held; a concurrent second revocation waits for it and then sees
 * REVOKED, so the provider is called once, and a token refresh never runs beside it.
 */
export async function revokeIntegration(
  services: GatewayServices,
  db: Kysely<Database>,
  actor: MutationActor,
  id: string,
): Promise<RevokeResult> {
  const attempt = randomUUID();
  for (;;) {
    const claim = await db.transaction().execute((trx) => claimRevocation(services, trx, actor, id, attempt));
    if (claim.kind === 'answered') return claim.result;
    if (claim.kind === 'wait') {
      await waitWhileLeased(services, db, attempt, {
        organizationId: actor.viewer.organization.id,
        integrationId: id,
        requestId: actor.requestId,
        purpose: 'revoke',
      });
      continue;
    }
    try {
      const outcome = await revokeStored(services, claim.row);
      const result = await commitWithLiveKey(db, actor, (trx) =>
        commitRevocation(services, trx, actor, claim.row, claim.used, attempt, outcome),
      );
      if (result) return result;
    } catch (error) {
      // Nothing was committed (the key was revoked meanwhile, say): the lease goes, and the credential stays.
      await releaseLease(db, id, attempt).catch(() => undefined);
      throw error;
    }
  }
}
