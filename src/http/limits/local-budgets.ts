import { type Kysely, sql } from 'kysely';
import type { Database } from '../../db/database.js';
import { type BucketCharge, type BucketState, type ChargeResult, MAX_POINTS, type RateLimitStore } from './rate-limit-store.js';

/** How budgets are counted in this process between flushes to the shared store. */
export interface LocalBudgetOptions {
  /** How often the points admitted here are added to the shared store (RATE_LIMIT_FLUSH_MS), at most 500. */
  flushMs: number;
  /**
   * The last points of every budget that are charged in the shared store request by request
   * (RATE_LIMIT_EXACT_POINTS); at least the last tenth of a budget always is.
   */
  exactPoints: number;
}

export const DEFAULT_LOCAL_BUDGETS: LocalBudgetOptions = { flushMs: 250, exactPoints: 1_000 };

/** What this process knows of a budget: the store's count when last heard, and its own points since. */
interface Known {
  limit: number;
  windowSeconds: number;
  /** Points in the window as the shared store last reported them. */
  stored: number;
  /** When (this process's clock) the store last reported them; trusted for `trustMs` after. */
  heardAt: number;
  /** When the window ends, on this process's clock. */
  endsAt: number;
  /** Points admitted here and not yet sent; `sending`: sent, not yet acknowledged. */
  pending: number;
  sending: number;
  /** When a request was last charged to it here: a budget in use is heard of at every flush. */
  usedAt: number;
}

/** A budget charged here this recently is heard of at every flush, even with nothing to add. */
const IN_USE_MS = 5_000;

/** A row of `rate_limit_add`. */
interface AddedRow {
  key: string;
  points: number;
  ms_left: number;
}

/**
 * Budgets counted in memory and flushed in batches to the budgets in PostgreSQL, so that a request
 * costs no statement of its own for its rate limit. A request is admitted here, without the database,
 * while every budget it is charged to was heard from lately (within `trustMs`) and, counting what this
 * process admitted since, keeps more than its reserve after the charge: the reserve is the last tenth of
 * the budget, and at least `exactPoints`. Otherwise (a budget not heard of yet or not lately, a new
 * window, a budget within its reserve, a budget no larger than `exactPoints`) the request is charged in
 * the shared store like any other (`shared.charge`, all or nothing, exact; after what this process
 * admitted on those budgets is flushed), which also refreshes what this process knows. A request is
 * refused here, without the database, when the store's last count plus this process's own since leave no
 * room for it: counts only grow within a window, so the store would refuse it too.
 *
 * Every `flushMs` the points admitted here are added to the store in one statement for all budgets
 * (`rate_limit_add`; budgets charged here in the last 5 s are in it with nothing to add), whose answer
 * refreshes what this process knows. So what one process admits
 * reaches the others within a flush and a trust period: a budget spent anywhere is refused everywhere
 * within `trustMs + flushMs` (one second), and a budget is overspent by at most what the other
 * processes admit here in that time beyond its reserve (none, while that is less than the reserve).
 * Points admitted in a window that ends before they are flushed are dropped with it.
 */
export class LocalBudgets implements RateLimitStore {
  readonly kind = 'postgres' as const;
  readonly #known = new Map<string, Known>();
  readonly #timer: NodeJS.Timeout;
  readonly #trustMs: number;
  #flushing: Promise<void> | null = null;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly shared: RateLimitStore,
    private readonly options: LocalBudgetOptions,
    private readonly onError: (error: unknown) => void,
  ) {
    this.#trustMs = Math.max(0, 1_000 - options.flushMs);
    this.#timer = setInterval(() => void this.flush(), options.flushMs);
    this.#timer.unref();
  }

  async charge(charges: readonly BucketCharge[]): Promise<ChargeResult> {
    if (charges.length === 0) return { admitted: true, states: [] };
    const now = Date.now();
    // A budget no larger than its reserve is charged in the store, exactly, every time.
    if (charges.some((charge) => charge.limit <= this.options.exactPoints)) return this.#chargeShared(charges);
    const known: Known[] = [];
    for (const charge of charges) {
      const entry = this.#trusted(charge, now);
      if (!entry) return this.#chargeShared(charges);
      known.push(entry);
    }
    const states = (entries: Known[]): BucketState[] =>
      entries.map((entry, index) => ({
        key: (charges[index] as BucketCharge).key,
        limit: entry.limit,
        spent: Math.min(entry.stored + entry.sending + entry.pending, MAX_POINTS),
        resetInMs: Math.max(0, entry.endsAt - now),
      }));
    // The store's count and this process's own since leave no room: the store, told of both, would refuse too.
    if (known.some((entry, index) => entry.stored + entry.sending + entry.pending + (charges[index] as BucketCharge).points > entry.limit))
      return { admitted: false, states: states(known) };
    const roomy = known.every((entry, index) => {
      const after = entry.stored + entry.sending + entry.pending + (charges[index] as BucketCharge).points;
      return after <= entry.limit - this.#reserve(entry.limit);
    });
    if (!roomy) return this.#chargeShared(charges);
    known.forEach((entry, index) => {
      entry.pending += (charges[index] as BucketCharge).points;
      entry.usedAt = now;
    });
    return { admitted: true, states: states(known) };
  }

  /** Adds the points admitted here to the shared store, in one statement; resolves when done (or failed). */
  flush(): Promise<void> {
    this.#flushing ??= this.#flush().finally(() => {
      this.#flushing = null;
    });
    return this.#flushing;
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#flushing;
    await this.flush();
    await this.shared.close();
  }

  /** Whether requests may be counted here on this budget: one no larger than `exactPoints` never is. */
  #countable(entry: Known): boolean {
    return entry.limit > this.options.exactPoints;
  }

  #reserve(limit: number): number {
    return Math.max(this.options.exactPoints, Math.ceil(limit / 10));
  }

  /** What this process knows of the budget, when it may admit on it; stale or unknown knowledge is undefined. */
  #trusted(charge: BucketCharge, now: number): Known | undefined {
    const entry = this.#known.get(charge.key);
    if (!entry) return undefined;
    if (entry.endsAt <= now) {
      // The window ended: what was admitted in it no longer counts anywhere.
      if (entry.sending === 0) this.#known.delete(charge.key);
      return undefined;
    }
    if (entry.limit !== charge.limit || entry.windowSeconds !== charge.windowSeconds) return undefined;
    return now - entry.heardAt <= this.#trustMs ? entry : undefined;
  }

  async #chargeShared(charges: readonly BucketCharge[]): Promise<ChargeResult> {
    // What this process admitted on these budgets goes to the store first, so that its check counts it.
    const unsent = (charge: BucketCharge) => {
      const entry = this.#known.get(charge.key);
      return entry !== undefined && (entry.pending > 0 || entry.sending > 0);
    };
    if (charges.some(unsent)) {
      await this.#flushing;
      await this.flush();
    }
    const result = await this.shared.charge(charges);
    const now = Date.now();
    charges.forEach((charge, index) => {
      const state = result.states[index];
      if (state) this.#heard(charge, state.spent, state.resetInMs, now, 0);
    });
    // What this process admitted and has not flushed yet counts here too.
    const states = result.states.map((state) => {
      const entry = this.#known.get(state.key);
      return entry ? { ...state, spent: Math.min(state.spent + entry.pending + entry.sending, MAX_POINTS) } : state;
    });
    return { admitted: result.admitted, states };
  }

  /** Notes what the store reported of a budget; `acknowledged` points were sent by this process and are now in it. */
  #heard(charge: Omit<BucketCharge, 'points'>, stored: number, msLeft: number, now: number, acknowledged: number): void {
    const endsAt = now + msLeft;
    const entry = this.#known.get(charge.key);
    if (!entry || entry.limit !== charge.limit || entry.windowSeconds !== charge.windowSeconds || entry.endsAt + 1_000 < endsAt) {
      // First heard of, or a new window since: what was pending belonged to the old one.
      this.#known.set(charge.key, {
        limit: charge.limit,
        windowSeconds: charge.windowSeconds,
        stored,
        heardAt: now,
        endsAt,
        pending: entry && entry.endsAt + 1_000 >= endsAt ? entry.pending : 0,
        sending: Math.max(0, (entry?.sending ?? 0) - acknowledged),
        usedAt: now,
      });
      return;
    }
    entry.sending = Math.max(0, entry.sending - acknowledged);
    // Counts only grow within a window: an answer overtaken by a later one says less.
    entry.stored = Math.max(entry.stored, stored);
    entry.heardAt = now;
    entry.endsAt = endsAt;
  }

  async #flush(): Promise<void> {
    const now = Date.now();
    const batch: { key: string; entry: Known; points: number }[] = [];
    for (const [key, entry] of this.#known) {
      if (entry.endsAt <= now) {
        if (entry.sending === 0) this.#known.delete(key);
        continue;
      }
      // A budget in use is asked for its count even with nothing to add, so that requests keep finding it trusted.
      if (entry.pending === 0 && (!this.#countable(entry) || now - entry.usedAt > IN_USE_MS || now - entry.heardAt < this.options.flushMs))
        continue;
      batch.push({ key, entry, points: entry.pending });
      entry.sending += entry.pending;
      entry.pending = 0;
    }
    if (batch.length === 0) return;
    try {
      const keys = batch.map((item) => item.key);
      const points = batch.map((item) => Math.min(item.points, MAX_POINTS));
      const windows = batch.map((item) => item.entry.windowSeconds);
      const result = await sql<AddedRow>`
        select added.* from rate_limit_add(${keys}::text[], ${points}::integer[], ${windows}::integer[]) as added,
          (select set_config('synchronous_commit', 'off', true)) as async_commit`.execute(this.db);
      const heardAt = Date.now();
      const byKey = new Map(result.rows.map((row) => [row.key, row]));
      for (const item of batch) {
        const row = byKey.get(item.key);
        const { limit, windowSeconds } = item.entry;
        if (row) this.#heard({ key: item.key, limit, windowSeconds }, Number(row.points), Number(row.ms_left), heardAt, item.points);
      }
    } catch (error) {
      // Not counted rather than counted twice: a failing store lets requests through, as it does when charging.
      for (const item of batch) item.entry.sending = Math.max(0, item.entry.sending - item.points);
      this.onError(error);
    }
  }
}
