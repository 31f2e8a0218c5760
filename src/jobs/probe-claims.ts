import { type Kysely, sql } from 'kysely';
import type { Database, IntegrationRow } from '../db/database.js';

/**
 * The scheduled checks this process is making, each claimed on the integration itself: the claim moves
 * `next_health_check_at` past the time the check may take, in one statement that succeeds only while the
 * check is still due. A second job for the same check (the sweep queues a new one when it finds the
 * first one's lock, taken by a process that died, too old) then finds it not due, and a process that
 * dies holding a claim leaves the check due again when the claim runs out.
 */
export class ProbeClaims {
  readonly #held = new Map<string, Date>();

  /** Claims the integration's due check until `leaseMs` from now; undefined when it is not due (any more). */
  async claim(db: Kysely<Database>, integrationId: string, leaseMs: number, toleranceMs: number): Promise<IntegrationRow | undefined> {
    // Milliseconds, as the release compares them.
    const until = new Date(Date.now() + leaseMs);
    const row = await db
      .updateTable('integrations')
      .set({ next_health_check_at: sql<Date>`${until.toISOString()}::timestamptz` })
      .where('id', '=', integrationId)
      .where('next_health_check_at', '<=', sql<Date>`now() + make_interval(secs => ${toleranceMs / 1000})`)
      .returningAll()
      .executeTakeFirst();
    if (row) this.#held.set(integrationId, until);
    return row;
  }

  /** The check is recorded (its next time set), or it ended without giving its claim back. */
  finished(integrationId: string): void {
    this.#held.delete(integrationId);
  }

  /**
   * Makes every check this process still holds due again, for another process to make at once: its
   * jobs are being cut off by shutdown. A claim already replaced (the check was recorded) is left alone.
   */
  async releaseAll(db: Kysely<Database>): Promise<void> {
    const held = [...this.#held];
    this.#held.clear();
    for (const [integrationId, until] of held) {
      await db
        .updateTable('integrations')
        .set({ next_health_check_at: sql<Date>`now()` })
        .where('id', '=', integrationId)
        .where('next_health_check_at', '=', sql<Date>`${until.toISOString()}::timestamptz`)
        .execute();
    }
  }
}
