import { type Kysely, sql, type Transaction } from 'kysely';
import type { Database } from '../db/database.js';
import type { Logger } from '../logger.js';
import type { SecretBinding } from '../services.js';
import { WEBHOOK_ENDPOINT_SECRET_LABEL } from './bindings.js';
import { type SecretVault, SecretVaultError } from './vault.js';

/** A row holding a sealed secret, as a report names it: an integration (its credential and webhook secret) or a webhook endpoint. */
export interface SealedRow {
  type: 'Integration' | 'WebhookEndpoint';
  id: string;
}

/** What a rotation did. Ids only: a report never carries secrets. */
export interface RotationReport {
  /** The key every re-encrypted secret is now sealed with. */
  keyId: string;
  /** Secrets re-encrypted by this run: integrations' and webhook endpoints' together. */
  rotated: number;
  /** Rows whose secret could not be opened (key no longer configured, or damaged); left as they were. */
  failed: SealedRow[];
}

export interface RotateOptions {
  /** How many candidate ids are read per query; rows are still re-encrypted one transaction each. */
  batchSize?: number;
  /** Told about every row that could not be opened (id and key id, never the ciphertext). */
  logger?: Logger;
}

type Outcome = 'rotated' | 'skipped';

/** A sealed row as read under its lock: enough to open its secret and seal it again. */
interface Sealed {
  organization_id: string;
  secret_ciphertext: string | null;
  secret_key_id: string | null;
  secret_version: number;
}

/**
 * The row's secret, opened and sealed again under the current key at the next version (so that the old
 * ciphertext, say from a backup, cannot be written back over the row and open); null when there is
 * nothing to do: no secret, or one a gateway has re-sealed under the current key since the candidates
 * were read. The binding stays otherwise as it was: re-encryption changes where nothing may be sent.
 */
function reseal(vault: SecretVault, row: Sealed, binding: Omit<SecretBinding, 'version'>) {
  if (row.secret_ciphertext === null || row.secret_key_id === vault.currentKeyId) return null;
  if (row.secret_key_id === null) throw new SecretVaultError('The stored secret has no key id.');
  const value = vault.open<unknown>(row.secret_ciphertext, row.secret_key_id, { ...binding, version: row.secret_version });
  const version = row.secret_version + 1;
  const sealed = vault.seal(value, { ...binding, version });
  return { secret_ciphertext: sealed.ciphertext, secret_key_id: sealed.keyId, secret_version: version };
}

/** An integration's bundle (credential and webhook signing secret), bound to the origins stored beside it. */
async function rotateIntegration(trx: Transaction<Database>, vault: SecretVault, id: string): Promise<Outcome> {
  const row = await trx
    .selectFrom('integrations')
    .select(['id', 'organization_id', 'secret_ciphertext', 'secret_key_id', 'secret_version', 'secret_origins'])
    .where('id', '=', id)
    .forUpdate()
    .executeTakeFirst();
  const patch = row && reseal(vault, row, { organizationId: row.organization_id, integrationId: row.id, origins: row.secret_origins });
  if (!patch) return 'skipped';
  await trx
    .updateTable('integrations')
    // The row's version is bumped so that a gateway holding the row from before (optimistic writers) notices the change.
    .set((eb) => ({ ...patch, row_version: eb('row_version', '+', 1) }))
    .where('id', '=', id)
    .execute();
  return 'rotated';
}

/**
 * A webhook endpoint's signing secrets (an organization endpoint's current and previous ones; an
 * integration endpoint's previous one, its current one being in the integration's bundle). Locked as the
 * webhook services lock it to change it, so that deliveries may keep referencing it meanwhile.
 */
async function rotateEndpoint(trx: Transaction<Database>, vault: SecretVault, id: string): Promise<Outcome> {
  const row = await trx
    .selectFrom('webhook_endpoints')
    .select(['id', 'organization_id', 'secret_ciphertext', 'secret_key_id', 'secret_version'])
    .where('id', '=', id)
    .forNoKeyUpdate()
    .executeTakeFirst();
  const patch =
    row && reseal(vault, row, { organizationId: row.organization_id, integrationId: row.id, origins: WEBHOOK_ENDPOINT_SECRET_LABEL });
  if (!patch) return 'skipped';
  await trx.updateTable('webhook_endpoints').set(patch).where('id', '=', id).execute();
  return 'rotated';
}

/** Ids of the next `limit` rows of `table` (after `after`) whose secret is not sealed under the current key. */
async function candidates(
  db: Kysely<Database>,
  table: 'integrations' | 'webhook_endpoints',
  currentKeyId: string,
  after: string | null,
  limit: number,
): Promise<string[]> {
  const rows = await sql<{ id: string }>`
    select id from ${sql.table(table)}
    where secret_ciphertext is not null and (secret_key_id is null or secret_key_id <> ${currentKeyId})
      ${after === null ? sql`` : sql`and id > ${after}`}
    order by id
    limit ${limit}`.execute(db);
  return rows.rows.map((row) => row.id);
}

const KINDS = [
  { type: 'Integration', table: 'integrations', rotate: rotateIntegration },
  { type: 'WebhookEndpoint', table: 'webhook_endpoints', rotate: rotateEndpoint },
] as const;

/**
 * Re-encrypts every secret not already under the vault's current key (integrations' credentials and
 * webhook secrets, webhook endpoints' signing secrets), one row per transaction with the row locked, so
 * that gateways keep serving (and writing) meanwhile and a crash leaves every row either old-and-openable
 * or new. Safe to run again: finished rows are skipped.
 */
export async function rotateSecrets(db: Kysely<Database>, vault: SecretVault, options: RotateOptions = {}): Promise<RotationReport> {
  const batchSize = options.batchSize ?? 100;
  const report: RotationReport = { keyId: vault.currentKeyId, rotated: 0, failed: [] };
  for (const kind of KINDS) {
    let after: string | null = null;
    for (;;) {
      // Keyset over ids, so that rows that fail (and stay candidates) are not read again forever.
      const ids = await candidates(db, kind.table, vault.currentKeyId, after, batchSize);
      for (const id of ids) {
        try {
          if ((await db.transaction().execute((trx) => kind.rotate(trx, vault, id))) === 'rotated') report.rotated += 1;
        } catch (error) {
          if (!(error instanceof SecretVaultError)) throw error;
          report.failed.push({ type: kind.type, id });
          options.logger?.warn(
            { [kind.type === 'Integration' ? 'integrationId' : 'webhookEndpointId']: id, reason: error.message },
            'secret could not be re-encrypted',
          );
        }
      }
      if (ids.length < batchSize) break;
      after = ids[ids.length - 1] ?? null;
    }
  }
  return report;
}
