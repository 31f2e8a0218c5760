import { describe, expect, it } from 'vitest';
import { backoffDelay, retryAfterMs } from './retry.js';
import { KeyedSemaphore } from './semaphore.js';

describe('Retry-After', () => {
  const now = Date.parse('2026-11-28T12:00:00Z');
  it('reads delay-seconds and HTTP dates', () => {
    expect(retryAfterMs('3', now)).toBe(3_000);
    expect(retryAfterMs(' 0 ', now)).toBe(0);
    expect(retryAfterMs('Sat, 28 Nov 2026 12:00:05 GMT', now)).toBe(5_000);
    expect(retryAfterMs('Sat, 28 Nov 2026 11:00:00 GMT', now)).toBe(0);
    expect(retryAfterMs(null, now)).toBeNull();
    expect(retryAfterMs('soon', now)).toBeNull();
    expect(retryAfterMs('-1', now)).toBeNull();
  });
});

describe('backoff with full jitter', () => {
  it('grows exponentially up to the cap, scaled by a random factor', () => {
    expect([0, 1, 2, 3, 10].map((attempt) => backoffDelay(attempt, 100, 1_000, () => 0.999))).toEqual([99, 199, 399, 799, 999]);
    expect(backoffDelay(5, 100, 1_000, () => 0)).toBe(0);
  });
});

describe('KeyedSemaphore', () => {
  it('queues beyond the limit per key, hands slots over in order, and drops idle keys', async () => {
    const semaphore = new KeyedSemaphore(1);
    const first = await semaphore.acquire('a');
    const otherKey = await semaphore.acquire('b');
    const order: string[] = [];
    const second = semaphore.acquire('a').then((release) => {
      order.push('second');
      return release;
    });
    const third = semaphore.acquire('a').then((release) => {
      order.push('third');
      return release;
    });
    await Promise.resolve();
    expect(order).toEqual([]);
    first();
    first(); // a second release of the same slot changes nothing
    (await second)();
    (await third)();
    otherKey();
    expect(order).toEqual(['second', 'third']);
    expect(semaphore.active('a')).toBe(0);
  });

  it('stops waiting when the signal aborts', async () => {
    const semaphore = new KeyedSemaphore(1);
    const held = await semaphore.acquire('a');
    const controller = new AbortController();
    const waiting = semaphore.acquire('a', controller.signal);
    controller.abort(new Error('gave up'));
    await expect(waiting).rejects.toThrow('gave up');
    held();
    expect(semaphore.active('a')).toBe(0);
  });
});
