// Kept rather than p-limit: p-limit frees a slot a few microtasks after the call ends and cannot take a
// waiter out of its queue when its signal aborts (the dead entry holds its place until its turn), and the
// idle per-key limiters would still need dropping by hand here. Release here is synchronous and
// idempotent, and the slot passes straight to the next waiter.

interface Waiter {
  grant: () => void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

interface Slot {
  active: number;
  waiters: Waiter[];
}

/**
 * One counting semaphore per key (a provider), created on first use and dropped when idle, so that a
 * slow provider can hold at most `limit` connections and cannot starve calls to the others.
 */
export class KeyedSemaphore {
  private readonly slots = new Map<string, Slot>();

  constructor(private readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError('concurrency limit must be a positive integer');
  }

  /** Resolves with a release function once a slot is free; rejects with the signal's reason if it aborts first. */
  acquire(key: string, signal?: AbortSignal): Promise<() => void> {
    signal?.throwIfAborted();
    let slot = this.slots.get(key);
    if (!slot) {
      slot = { active: 0, waiters: [] };
      this.slots.set(key, slot);
    }
    const owned = slot;
    if (owned.active < this.limit) {
      owned.active += 1;
      return Promise.resolve(this.releaser(key, owned));
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        // The slot passes straight from the releasing call to this waiter; `active` does not change.
        grant: () => {
          signal?.removeEventListener('abort', waiter.onAbort);
          resolve(this.releaser(key, owned));
        },
        signal,
        onAbort: () => {
          owned.waiters.splice(owned.waiters.indexOf(waiter), 1);
          reject(signal?.reason);
        },
      };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      owned.waiters.push(waiter);
    });
  }

  /** How many calls hold a slot for the key now (for tests and metrics). */
  active(key: string): number {
    return this.slots.get(key)?.active ?? 0;
  }

  private releaser(key: string, slot: Slot): () => void {
    let released = false;
    return () => {
      // Idempotent: a double release would otherwise let one call more through than the limit.
      if (released) return;
      released = true;
      const next = slot.waiters.shift();
      if (next) return next.grant();
      slot.active -= 1;
      if (slot.active === 0 && this.slots.get(key) === slot) this.slots.delete(key);
    };
  }
}
