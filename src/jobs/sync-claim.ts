import { type Kysely, sql, type Transaction } from 'kysely';
import type { Database, IntegrationRow } from '../db/database.js';

/** The claim ran out while this process stalled, and another sync took the integration over: this one stops. */
export class SyncClaimLostError extends Error {
  override name = 'SyncClaimLostError';
}

/**
 * A sync's claim on its integration: `next_sync_at` moved past the time the next step may take, in one
 * statement that succeeds only while the sync is due, and moved on again as the sync progresses (each
 * page of the listing, the store), so that it holds for the whole run however many pages the provider's
 * page size cuts the inventory into. A process that dies stops moving it, and the sync is due again when
 * it runs out. Each move is a compare-and-swap on the time this claim set last: a claim another sync has
 * taken over (after this process stalled past it) is never moved back.
 */
export class SyncClaim {
  private constructor(
    private readonly db: Kysely<Database>,
    private readonly integrationId: string,
    private readonly holdMs: number,
    /** Milliseconds, as the compare-and-swap compares them. */
    private until: Date,
  ) {}

  /**
   * Claims the integration's due sync for `holdMs` (the longest a step may take: one provider call with
   * its deadline, or the store); undefined when it is not due (any more).
   */
  static async take(
    db: Kysely<Database>,
    integrationId: string,
    holdMs: number,
    toleranceMs: number,
  ): Promise<{ claim: SyncClaim; row: IntegrationRow } | undefined> {
    const until = new Date(Date.now() + holdMs);
    const row = await db
      .updateTable('integrations')
      .set({ next_sync_at: sql<Date>`${until.toISOString()}::timestamptz` })
      .where('id', '=', integrationId)
      .where('next_sync_at', '<=', sql<Date>`now() + make_interval(secs => ${toleranceMs / 1000})`)
      .returningAll()
      .executeTakeFirst();
    return row ? { claim: new SyncClaim(db, integrationId, holdMs, until), row } : undefined;
  }

  /**
   * Moves the claim on by a whole hold once less than half of it is left (a write every few pages, not
   * one a page); SyncClaimLostError when another sync has taken it.
   */
  async keep(): Promise<void> {
    if (this.until.getTime() - Date.now() > this.holdMs / 2) return;
    const until = new Date(Date.now() + this.holdMs);
    const moved = await this.db
      .updateTable('integrations')
      .set({ next_sync_at: sql<Date>`${until.toISOString()}::timestamptz` })
      .where('id', '=', this.integrationId)
      .where('next_sync_at', '=', sql<Date>`${this.until.toISOString()}::timestamptz`)
      .executeTakeFirst();
    if (moved.numUpdatedRows === 0n) throw new SyncClaimLostError('Another sync took the integration over.');
    this.until = until;
  }

  /**
   * Whether the claim is still this sync's, the integration's row locked in `trx` until it commits: one
   * that ran out with nobody taking it over still is.
   */
  async heldIn(trx: Transaction<Database>): Promise<boolean> {
    const row = await trx
      .selectFrom('integrations')
      .select(sql<boolean>`next_sync_at = ${this.until.toISOString()}::timestamptz`.as('held'))
      .where('id', '=', this.integrationId)
      .forNoKeyUpdate()
      .executeTakeFirst();
    return row?.held === true;
  }
}
