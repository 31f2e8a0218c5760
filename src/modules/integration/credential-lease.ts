import { isDeepStrictEqual } from 'node:util';
import type { Kysely, Transaction } from 'kysely';
import type { Credential } from '../../connectors/credentials.js';
import type { Database, IntegrationRow, IntegrationUpdate } from '../../db/database.js';
import type { GatewayServices } from '../../services.js';
import { openBundle } from './credential-bundle.js';
import { findIntegrationRow, updateBookkeeping } from './integration.repository.js';

/**
 * A token refresh and a revocation call the provider with an integration's credential. They take turns
 * through a lease on the row (an owner and an expiry), taken and released in short transactions: the
 * provider call itself holds no database connection and no row lock, so that slow providers cannot drain
 * the pool. What the call returns is committed only if the stored credential is still the one it used.
 */

/**
 * How long a lease is held at most: the owner makes up to two provider calls (a revocation revokes the
 * access and the refresh token), each within the provider deadline, then commits. Past it, the process
 * holding it stopped.
 */
function leaseDurationMs(providerDeadlineMs: number): number {
  return 3 * providerDeadlineMs;
}

/**
 * Whether another attempt holds the row's lease now. A refresh's start also dates its lease: a process
 * configured with a shorter provider deadline than the owner's takes it over after a lease's duration of
 * its own. A refresh start recorded without a lease (by an earlier version of the gateway) holds for that
 * long too.
 */
export function leaseHeldByOther(row: IntegrationRow, attempt: string, providerDeadlineMs: number, now = Date.now()): boolean {
  const owner = row.lease_owner ?? row.refresh_attempt_id;
  if (owner === null || owner === attempt) return false;
  const expiresAt =
    row.lease_owner !== null ? (row.lease_expires_at?.getTime() ?? 0) : row.refresh_started_at ? Number.POSITIVE_INFINITY : 0;
  const startedBy =
    owner === row.refresh_attempt_id && row.refresh_started_at !== null
      ? row.refresh_started_at.getTime() + leaseDurationMs(providerDeadlineMs)
      : expiresAt;
  return Math.min(expiresAt, startedBy) > now;
}

/** The columns that give the lease to `attempt`, from now for a lease's duration. */
function leaseFor(attempt: string, providerDeadlineMs: number): Pick<IntegrationUpdate, 'lease_owner' | 'lease_expires_at'> {
  return { lease_owner: attempt, lease_expires_at: new Date(Date.now() + leaseDurationMs(providerDeadlineMs)) };
}

export const NO_LEASE: Pick<IntegrationUpdate, 'lease_owner' | 'lease_expires_at'> = { lease_owner: null, lease_expires_at: null };

/**
 * Gives up `attempt`'s lease, with `patch`, unless another attempt took it over meanwhile. Bookkeeping, not
 * a change of the integration: neither its version nor its update time moves.
 */
export async function releaseLease(
  db: Kysely<Database> | Transaction<Database>,
  id: string,
  attempt: string,
  patch: IntegrationUpdate = {},
): Promise<void> {
  await updateBookkeeping(db, id, { ...patch, ...NO_LEASE }, attempt);
}

/** Takes the lease on a row locked by the caller, with the rest of `patch`; bookkeeping, like `releaseLease`. */
export async function takeLease(
  trx: Transaction<Database>,
  id: string,
  attempt: string,
  providerDeadlineMs: number,
  patch: IntegrationUpdate = {},
): Promise<void> {
  await updateBookkeeping(trx, id, { ...patch, ...leaseFor(attempt, providerDeadlineMs) });
}

/**
 * The credential a provider call used, to compare with the stored one when its outcome commits. The
 * credential, not its ciphertext: `secrets rotate` re-encrypts it without changing it.
 */
export type CredentialSnapshot = { credential: Credential | null } | { unreadable: string | null };

export function credentialSnapshot(services: GatewayServices, row: IntegrationRow): CredentialSnapshot {
  try {
    return { credential: openBundle(services, row).credential };
  } catch {
    return { unreadable: row.secret_ciphertext };
  }
}

/** Is the stored credential still the one the provider call used? (The compare of the compare-and-swap.) */
export function sameCredential(services: GatewayServices, row: IntegrationRow, used: CredentialSnapshot): boolean {
  return isDeepStrictEqual(credentialSnapshot(services, row), used);
}

/**
 * Waits while another attempt holds the row's lease, looking at the row without a lock or a transaction
 * (one statement): briefly at first, since a refresh is usually answered in well under a second, then
 * less often. The request then claims again, under the row lock. The wait is logged once.
 */
export async function waitWhileLeased(
  services: GatewayServices,
  db: Kysely<Database>,
  attempt: string,
  lease: { organizationId: string; integrationId: string; requestId: string; purpose: 'refresh' | 'revoke' },
): Promise<void> {
  const { organizationId, ...detail } = lease;
  services.logger.debug(detail, "waiting for another request calling the provider with this integration's credential");
  for (let round = 0; ; round += 1) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(25 * 2 ** round, 200)));
    const row = await findIntegrationRow(db, organizationId, lease.integrationId);
    if (!row || !leaseHeldByOther(row, attempt, services.probeTimeoutMs)) return;
  }
}
