import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';

/**
 * Texts seen, counted by digest (32 bytes each, whatever the text's length), least recently seen first out.
 * A cache asks it before keeping an entry, so that only what comes back is kept: a client that inlines its
 * literals sends documents that are never seen twice, and a cache that kept them would hold a thousand
 * parsed documents nobody asks for again (their memory, not their number, is what grows the heap).
 */
export class Sightings {
  readonly #seen: LRUCache<string, number>;

  constructor(max: number) {
    this.#seen = new LRUCache({ max });
  }

  /** Records a sighting of `text`: how many times it has been seen, this one included (1 the first time). */
  see(text: string): number {
    const digest = createHash('sha256').update(text).digest('base64url');
    const times = (this.#seen.get(digest) ?? 0) + 1;
    this.#seen.set(digest, times);
    return times;
  }

  /** Whether `text` was seen before; it is recorded as seen either way. */
  seenBefore(text: string): boolean {
    return this.see(text) > 1;
  }

  /** Forgets `text` (it was admitted where it is counted for). */
  forget(text: string): void {
    this.#seen.delete(createHash('sha256').update(text).digest('base64url'));
  }

  /** Texts recorded: never more than the bound. */
  get size(): number {
    return this.#seen.size;
  }
}
