import type { Kysely } from 'kysely';
import type { Database } from '../db/database.js';
import type { Logger } from '../logger.js';
import { type SecretVault, SecretVaultError } from './vault.js';

/** What a rotation did. Ids only: a report never carries secrets. */
export interface RotationReport {
  /** The key every re-encrypted secret is now sealed with. */
  keyId: string;
  /** Secrets re-encrypted by this run. */
  rotated: number;
  /** Integrations whose secret could not be opened (key no longer configured, or damaged); left as they were. */
  failed: string[];
}

export interface RotateOptions {
  /** How many candidate ids are read per query; rows are still re-encrypted one transaction each. */
  batchSize?: number;
  /** Told about every row that could not be opened (id and key id, never the ciphertext). */
  logger?: Logger;
}

type Outcome = 'rotated' | 'skipped';

/**
 * Re-encrypts one row under the row lock. The row is read again inside the transaction because a
 * gateway may have replaced its secret (already under the current key) since the candidate list was read.
 */
async function rotateRow(db: Kysely<Database>, vault: SecretVault, id: string): Promise<Outcome> {
  return db.transaction().execute(async (trx) => {
    const row = await trx
      .selectFrom('integrations')
      .select(['id', 'organization_id', 'secret_ciphertext', 'secret_key_id', 'secret_version', 'secret_origins'])
      .where('id', '=', id)
      .forUpdate()
      .executeTakeFirst();
    if (!row || row.secret_ciphertext === null || row.secret_key_id === vault.currentKeyId) return 'skipped';
    if (row.secret_key_id === null) throw new SecretVaultError('The stored secret has no key id.');
    // The origins stay as they are: re-encryption changes where nothing may be sent.
    const binding = {
      organizationId: row.organization_id,
      integrationId: row.id,
      version: row.secret_version,
      origins: row.secret_origins,
    };
    const value = vault.open<unknown>(row.secret_ciphertext, row.secret_key_id, binding);
    // A new version, so that the old ciphertext (say, in a backup) cannot be written back over this row and open.
    const version = row.secret_version + 1;
    const sealed = vault.seal(value, { ...binding, version });
    await trx
      .updateTable('integrations')
      .set((eb) => ({
        secret_ciphertext: sealed.ciphertext,
        secret_key_id: sealed.keyId,
        secret_version: version,
        // Bumped so that a gateway holding the row from before (optimistic writers) notices the change.
        row_version: eb('row_version', '+', 1),
      }))
      .where('id', '=', id)
      .execute();
    return 'rotated';
  });
}

/**
 * Re-encrypts every integration secret not already under the vault's current key, one row per
 * transaction with `SELECT ... FOR UPDATE`, so that gateways keep serving (and writing) meanwhile and a
 * crash leaves every row either old-and-openable or new. Safe to run again: finished rows are skipped.
 */
export async function rotateSecrets(db: Kysely<Database>, vault: SecretVault, options: RotateOptions = {}): Promise<RotationReport> {
  const batchSize = options.batchSize ?? 100;
  const report: RotationReport = { keyId: vault.currentKeyId, rotated: 0, failed: [] };
  let after: string | null = null;
  for (;;) {
    // Keyset over ids, so that rows that fail (and stay candidates) are not read again forever.
    let query = db
      .selectFrom('integrations')
      .select('id')
      .where('secret_ciphertext', 'is not', null)
      .where((eb) => eb.or([eb('secret_key_id', 'is', null), eb('secret_key_id', '<>', vault.currentKeyId)]))
      .orderBy('id')
      .limit(batchSize);
    if (after !== null) query = query.where('id', '>', after);
    const ids = (await query.execute()).map((row) => row.id);
    for (const id of ids) {
      try {
        if ((await rotateRow(db, vault, id)) === 'rotated') report.rotated += 1;
      } catch (error) {
        if (!(error instanceof SecretVaultError)) throw error;
        report.failed.push(id);
        options.logger?.warn({ integrationId: id, reason: error.message }, 'secret could not be re-encrypted');
      }
    }
    if (ids.length < batchSize) return report;
    after = ids[ids.length - 1] ?? null;
  }
}
