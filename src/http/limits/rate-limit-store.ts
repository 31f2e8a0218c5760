import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { Database } from '../../db/database.js';

/** Points to add to one budget, the budget's size, and the length of its window. */
export interface BucketCharge {
  key: string;
  points: number;
  limit: number;
  windowSeconds: number;
}

/**
 * A budget after a charge: points spent in its current window (this charge's included only if it was admitted) and when the
 * window ends.
 */
export interface BucketState {
  key: string;
  limit: number;
  spent: number;
  resetInMs: number;
}

/** What a request's charge came to: admitted (and charged to every budget), or refused (and charged to none). */
export interface ChargeResult {
  admitted: boolean;
  /** Each charge's budget, in the order of the charges. */
  states: BucketState[];
}

/**
 * Where budgets are counted. Every gateway process shares it, so a caller's budget is the same whichever
 * process answers. Windows are fixed: a budget's window starts with its first charge and ends
 * `windowSeconds` later, when the next charge starts a new one. A request's charges are all or nothing:
 * it is admitted only if every budget has room for its points, and then charged to all of them;
 * otherwise it is charged to none, so that a caller who keeps sending after its own budget is spent does
 * not spend the budgets it shares with others (its organization's). Keys of one charge are distinct.
 */
export interface RateLimitStore {
  readonly kind: 'postgres' | 'redis';
  charge(charges: readonly BucketCharge[]): Promise<ChargeResult>;
  close(): Promise<void>;
}

/** Counters saturate well below PostgreSQL's integer range. */
export const MAX_POINTS = 2_000_000_000;

/** A budget row after a charge, as `rate_limit_charge` returns it. */
export interface BucketRow {
  key: string;
  points: number;
  ms_left: number;
  admitted: boolean;
}

/** The arrays `rate_limit_charge` takes, as SQL expressions: keys may be computed in the statement. */
export interface ChargeArrays {
  keys: RawBuilder<unknown>[];
  charges: readonly Omit<BucketCharge, 'key'>[];
}

/**
 * The call that charges budget rows, all or nothing (`rate_limit_charge`, migration
 * 2026-11-29T09.00.00): it locks every budget in key order, checks that each has room, and only then adds
 * the points to all of them, on the database's clock so that processes agree on windows. As a FROM item
 * yielding rows named `charged`.
 *
 * Committed without waiting for the WAL flush (synchronous_commit off for this statement's transaction
 * only): a crash may forget the last fraction of a second of charges, which a budget can afford, while
 * waiting for the flush costs every request a disk sync (about 4 ms here) and holds the budget rows
 * locked meanwhile, serializing an organization's requests (BENCHMARKS.md).
 */
export function bucketCharge({ keys, charges }: ChargeArrays): RawBuilder<unknown> {
  const points = charges.map((charge) => Math.min(charge.points, MAX_POINTS));
  const limits = charges.map((charge) => Math.min(charge.limit, MAX_POINTS));
  const windows = charges.map((charge) => charge.windowSeconds);
  return sql`rate_limit_charge(
      array[${sql.join(keys)}]::text[], ${points}::integer[], ${limits}::integer[], ${windows}::integer[]) as charged,
    (select set_config('synchronous_commit', 'off', true)) as async_commit`;
}

/** What the charge came to, from the rows `rate_limit_charge` returned. */
export function chargeResult(charges: readonly BucketCharge[], rows: readonly BucketRow[]): ChargeResult {
  const byKey = new Map(rows.map((row) => [row.key, row]));
  const states = charges.map((charge) => {
    const row = byKey.get(charge.key);
    return {
      key: charge.key,
      limit: charge.limit,
      spent: Number(row?.points ?? 0),
      resetInMs: Number(row?.ms_left ?? charge.windowSeconds * 1000),
    };
  });
  return { admitted: rows.length > 0 && rows.every((row) => row.admitted), states };
}

/**
 * Budgets in the `rate_limit_buckets` table: one statement per request (`bucketCharge`). A request whose
 * cost is known when it is authenticated is charged in the authentication statement instead
 * (`src/http/limits/early-charge.ts`), so that it costs no statement of its own.
 */
export function postgresRateLimitStore(db: Kysely<Database>): RateLimitStore {
  return {
    kind: 'postgres',
    async charge(charges) {
      if (charges.length === 0) return { admitted: true, states: [] };
      const keys = charges.map((charge) => sql`${charge.key}`);
      const result = await sql<BucketRow>`select charged.* from ${bucketCharge({ keys, charges })}`.execute(db);
      return chargeResult(charges, result.rows);
    },
    async close() {},
  };
}

/** A cost budget before the request's key and organization are known. */
export interface CostBudget {
  scope: 'API_KEY' | 'ORGANIZATION';
  limit: number;
  windowSeconds: number;
}
