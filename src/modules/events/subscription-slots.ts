import { type Kysely, sql } from 'kysely';
import type { Database } from '../../db/database.js';

/** How long a slot lasts without renewal: a process that stops without releasing its slots frees them this late. */
export const SLOT_TTL_MS = 90_000;
/** How often a process renews the slots it holds. */
export const SLOT_RENEW_MS = 30_000;

/**
 * Live subscriptions per principal (an API key) over every process, in the database: a slot is claimed
 * when a subscription starts, renewed while it streams, released when it ends; past `SLOT_TTL_MS`
 * without renewal it no longer counts.
 */
export class SubscriptionSlots {
  readonly #held = new Set<string>();
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** A slot for the principal, or null when it holds `max` already. */
  async claim(organizationId: string, principal: string, max: number): Promise<string | null> {
    const id = await this.db.transaction().execute(async (trx) => {
      // One claim per principal at a time, so that two counts never both see room for one more.
      await sql`select pg_advisory_xact_lock(hashtext(${`igw-subscriptions:${principal}`}))`.execute(trx);
      await trx.deleteFrom('event_subscriptions').where('principal', '=', principal).where('expires_at', '<=', sql<Date>`now()`).execute();
      const { count } = await trx
        .selectFrom('event_subscriptions')
        .select((eb) => eb.fn.countAll<number>().as('count'))
        .where('principal', '=', principal)
        .executeTakeFirstOrThrow();
      if (Number(count) >= max) return null;
      const row = await trx
        .insertInto('event_subscriptions')
        .values({
          organization_id: organizationId,
          principal,
          expires_at: sql<Date>`now() + make_interval(secs => ${SLOT_TTL_MS / 1000})`,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      return row.id;
    });
    if (id) {
      this.#held.add(id);
      this.#timer ??= setInterval(() => void this.#renew(), SLOT_RENEW_MS).unref();
    }
    return id;
  }

  async release(id: string): Promise<void> {
    this.#held.delete(id);
    if (this.#held.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
    await this.db.deleteFrom('event_subscriptions').where('id', '=', id).execute();
  }

  async #renew(): Promise<void> {
    if (this.#held.size === 0) return;
    try {
      await this.db
        .updateTable('event_subscriptions')
        .set({ expires_at: sql<Date>`now() + make_interval(secs => ${SLOT_TTL_MS / 1000})` })
        .where('id', 'in', [...this.#held])
        .execute();
    } catch (error) {
      this.onError(error);
    }
  }

  /** Releases every slot this process holds. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    const held = [...this.#held];
    this.#held.clear();
    if (held.length > 0) await this.db.deleteFrom('event_subscriptions').where('id', 'in', held).execute();
  }
}
