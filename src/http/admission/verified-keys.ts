import type { Kysely } from 'kysely';
import type { Database } from '../../db/database.js';
import type { DatabaseNotifications } from '../../db/notifications.js';
import { onApiKeyChanged } from '../../modules/api-key/api-key.changes.js';
import { type ApiKey, type KeyWithOrganization, touchApiKey } from '../../modules/api-key/api-key.repository.js';
import { type Authentication, hashMatches, keyUseDue } from '../../modules/api-key/api-key.service.js';
import type { VerifiedKeysOptions } from './verified-keys.config.js';

export { DEFAULT_VERIFIED_KEYS, type VerifiedKeysOptions } from './verified-keys.config.js';

/** Where changes to API keys are announced at commit (migration 2026-11-30T17.30.00): a key's visible prefix. */
export const API_KEY_CHANGES_CHANNEL = 'igw_api_key_changes';

interface Entry {
  hash: Buffer;
  found: KeyWithOrganization;
  expiresAt: number;
}

/**
 * The API keys this process has verified, by visible prefix, so that a request with a known key costs
 * no statement to authenticate. A key is trusted for `ttlMs` at most, and forgotten as soon as this
 * process hears that it changed: from this process at once (api-key.changes.ts), from any other through
 * the database's notification at commit (one LISTEN connection per process, shared with the event feed).
 * Until this process listens, and whenever the listening connection was lost (its listeners are told so),
 * nothing is trusted that was verified before. A key read from the database while a change was heard is
 * not kept (the read may predate the change). A presented key whose hash is not the known key's is
 * refused as unknown without the database: the prefix names exactly one key.
 *
 * Also records the keys' use (`last_used_at`) at most once a minute per key, batched: one statement for
 * every key due in the same `useFlushMs`.
 */
export class VerifiedKeys {
  readonly #entries = new Map<string, Entry>();
  readonly #uses = new Set<string>();
  readonly #recordedAt = new Map<string, number>();
  #generation = 0;
  #listening = false;
  #useTimer: NodeJS.Timeout | undefined;
  #stops: (() => Promise<void> | void)[] = [];
  #closed = false;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly options: VerifiedKeysOptions,
    private readonly onError: (error: unknown) => void,
  ) {
    this.#stops.push(onApiKeyChanged((prefix) => this.forget(prefix)));
  }

  /**
   * Starts hearing of changes committed by other processes. Without notifications (the embedded database
   * reached through another process's socket) or when listening fails, keys are verified on every request.
   */
  async listen(notifications: DatabaseNotifications | undefined): Promise<void> {
    if (!notifications || this.options.ttlMs <= 0 || this.#closed) return;
    try {
      const stop = await notifications.listen(API_KEY_CHANGES_CHANNEL, (prefix) => (prefix === null ? this.clear() : this.forget(prefix)));
      if (this.#closed) return void (await stop());
      this.#stops.push(stop);
      this.#listening = true;
    } catch (error) {
      this.onError(error);
    }
  }

  /** A counter that moves whenever something is forgotten: taken before a read, handed to `remember`. */
  get generation(): number {
    return this.#generation;
  }

  /** The verdict for a presented key (its SHA-256) from what this process knows, or undefined to ask the database. */
  /** Whether a key with this prefix is held now (without verifying it or recording its use). */
  holds(prefix: string): boolean {
    const entry = this.#entries.get(prefix);
    return entry !== undefined && entry.expiresAt > Date.now();
  }

  verify(prefix: string, presented: Buffer): Authentication | undefined {
    const entry = this.#entries.get(prefix);
    if (!entry) return undefined;
    const now = Date.now();
    if (entry.expiresAt <= now) {
      this.#entries.delete(prefix);
      return undefined;
    }
    if (!hashMatches(entry.hash, presented)) return { failure: 'UNKNOWN' };
    const { key, organization } = entry.found;
    this.recordUse(key);
    return { viewer: { organization, apiKey: key, role: key.role, user: null } };
  }

  /** Keeps a valid key read from the database, unless something was forgotten since `generation` was taken. */
  remember(found: KeyWithOrganization, generation: number): void {
    if (!this.#listening || this.#closed || generation !== this.#generation || found.key.revokedAt) return;
    const prefix = found.key.prefix;
    this.#entries.delete(prefix);
    while (this.#entries.size >= this.options.size) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
    this.#entries.set(prefix, { hash: Buffer.from(found.keyHash, 'hex'), found, expiresAt: Date.now() + this.options.ttlMs });
  }

  forget(prefix: string): void {
    this.#generation += 1;
    this.#entries.delete(prefix);
  }

  clear(): void {
    this.#generation += 1;
    this.#entries.clear();
  }

  /** Notes a valid key's use; written with the others due within `useFlushMs`, at most once a minute per key. */
  recordUse(key: ApiKey): void {
    const now = Date.now();
    const recorded = this.#recordedAt.get(key.id);
    if (!keyUseDue(recorded === undefined ? key.lastUsedAt : new Date(recorded), now)) return;
    this.#recordedAt.set(key.id, now);
    this.#uses.add(key.id);
    if (this.#useTimer || this.#closed) return;
    this.#useTimer = setTimeout(() => void this.#flushUses(), this.options.useFlushMs ?? 200);
    this.#useTimer.unref();
  }

  async #flushUses(): Promise<void> {
    this.#useTimer = undefined;
    const ids = [...this.#uses];
    this.#uses.clear();
    // What was recorded over a minute ago is due again anyway: the map keeps only the keys of the last minute.
    const stale = Date.now() - 60_000;
    for (const [id, at] of this.#recordedAt) if (at < stale) this.#recordedAt.delete(id);
    await touchApiKey(this.db, ids).catch(this.onError);
  }

  /** Stops listening and writes the uses still due. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#useTimer);
    this.#entries.clear();
    for (const stop of this.#stops) await stop();
    if (this.#uses.size > 0) await this.#flushUses();
  }
}
