import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { Database } from '../db/database.js';

/** Points to add to one budget, the budget's size, and the length of its window. */
export interface BucketCharge {
  key: string;
  points: number;
  limit: number;
  windowSeconds: number;
}

/** A budget after a charge: points spent in the current window (this charge included) and when it ends. */
export interface BucketState {
  key: string;
  limit: number;
  spent: number;
  resetInMs: number;
}

/**
 * Where budgets are counted. Every gateway process shares it, so a caller's budget is the same whichever
 * process answers. Windows are fixed: a budget's window starts with its first charge and ends
 * `windowSeconds` later, when the next charge starts a new one. A charge that overruns a budget still
 * counts, so hammering a spent budget does not earn points back early.
 */
export interface RateLimitStore {
  readonly kind: 'postgres' | 'redis';
  charge(charges: readonly BucketCharge[]): Promise<BucketState[]>;
  close(): Promise<void>;
}

/** Counters saturate well below PostgreSQL's integer range. */
export const MAX_POINTS = 2_000_000_000;

/** A budget row after a charge, as the upsert returns it. */
export interface BucketRow {
  key: string;
  points: number;
  ms_left: number;
}

/**
 * The one upsert that charges budget rows: `charges` is a FROM list that yields rows named `charge`
 * with the columns (key, points, window_ends_at), filtered by `where`. It adds the points or starts a new
 * window, atomically per row, on the database's clock so that processes agree on windows, and returns
 * every row charged. Rows must come in key order so that two requests charging the same budgets cannot
 * deadlock.
 *
 * Committed without waiting for the WAL flush (synchronous_commit off for this statement's transaction
 * only): a crash may forget the last fraction of a second of charges, which a budget can afford, while
 * waiting for the flush costs every request a disk sync (about 4 ms here) and holds the budget rows
 * locked meanwhile, serializing an organization's requests (BENCHMARKS.md).
 */
export function bucketUpsert(charges: RawBuilder<unknown>, where: RawBuilder<unknown> = sql`true`): RawBuilder<BucketRow> {
  return sql<BucketRow>`
    insert into rate_limit_buckets as bucket (key, points, window_ends_at)
    select charge.key, charge.points, charge.window_ends_at from ${charges}, (select set_config('synchronous_commit', 'off', true)) as async_commit
    where ${where}
    on conflict (key) do update set
      points = case when bucket.window_ends_at <= now() then excluded.points
                    else least(bucket.points + excluded.points, ${sql.lit(MAX_POINTS)}::integer) end,
      window_ends_at = case when bucket.window_ends_at <= now() then excluded.window_ends_at
                            else bucket.window_ends_at end
    returning key, points, greatest(ceil(extract(epoch from (window_ends_at - now())) * 1000), 0)::integer as ms_left`;
}

/** The state of each charge's budget, from the rows the upsert returned. */
export function bucketStates(charges: readonly BucketCharge[], rows: readonly BucketRow[]): BucketState[] {
  const byKey = new Map(rows.map((row) => [row.key, row]));
  return charges.map((charge) => {
    const row = byKey.get(charge.key);
    return { key: charge.key, limit: charge.limit, spent: Number(row?.points ?? charge.points), resetInMs: Number(row?.ms_left ?? charge.windowSeconds * 1000) };
  });
}

/**
 * Budgets in the `rate_limit_buckets` table: one statement per request (`bucketUpsert`). A request whose
 * cost is known when it is authenticated is charged in the authentication statement instead
 * (`src/limits/early-charge.ts`), so that it costs no statement of its own.
 */
export function postgresRateLimitStore(db: Kysely<Database>): RateLimitStore {
  return {
    kind: 'postgres',
    async charge(charges) {
      if (charges.length === 0) return [];
      const sorted = [...charges].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      const values = sorted.map(
        (charge) =>
          sql`(${charge.key}::text, ${Math.min(charge.points, MAX_POINTS)}::integer, now() + ${charge.windowSeconds}::integer * interval '1 second')`,
      );
      const result = await bucketUpsert(sql`(values ${sql.join(values)}) as charge (key, points, window_ends_at)`).execute(db);
      return bucketStates(charges, result.rows);
    },
    async close() {},
  };
}
