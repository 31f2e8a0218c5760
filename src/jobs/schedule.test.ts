import { describe, expect, it } from 'vitest';
import { intervalOf, jittered, nextProbeAt, notBeforeRetry, refreshDueAt } from './schedule.js';

describe('the engine schedule', () => {
  it('spreads a wait over ±10%', () => {
    expect(jittered(1000, () => 0)).toBe(900);
    expect(jittered(1000, () => 0.5)).toBe(1000);
    expect(jittered(1000, () => 1)).toBe(1100);
  });

  it('probes one interval after a success and backs off exponentially, capped, after failures', () => {
    const mid = () => 0.5;
    const wait = (failures: number) => (nextProbeAt(0, failures, 60, 600, mid).getTime() - 0) / 1000;
    expect(wait(0)).toBe(60);
    expect(wait(1)).toBe(120);
    expect(wait(2)).toBe(240);
    expect(wait(3)).toBe(480);
    expect(wait(4)).toBe(600);
    expect(wait(40)).toBe(600);
  });

  it('never backs off to less than one interval', () => {
    expect(nextProbeAt(0, 5, 300, 10, () => 0.5).getTime()).toBe(300_000);
  });

  it('refreshes ahead of expiry, or now when that moment has passed', () => {
    const row = { credential_expires_at: new Date(1_000_000), credential_obtained_at: null };
    const timing = { aheadSeconds: 600, maxAgeSeconds: 86_400 };
    expect(refreshDueAt(row, timing, 0)?.getTime()).toBe(400_000);
    expect(refreshDueAt(row, timing, 500_000)?.getTime()).toBe(500_000);
  });

  it('refreshes tokens without an expiry at their maximum age, and any tokens at whichever comes first', () => {
    const timing = { aheadSeconds: 600, maxAgeSeconds: 3_600 };
    const obtained = new Date(1_000_000);
    expect(refreshDueAt({ credential_expires_at: null, credential_obtained_at: obtained }, timing, 0)?.getTime()).toBe(4_600_000);
    expect(refreshDueAt({ credential_expires_at: null, credential_obtained_at: obtained }, timing, 5_000_000)?.getTime()).toBe(5_000_000);
    // Expiring in a day: the age comes first.
    const longLived = { credential_expires_at: new Date(87_400_000), credential_obtained_at: obtained };
    expect(refreshDueAt(longLived, timing, 0)?.getTime()).toBe(4_600_000);
    // Expiring in 15 minutes: the expiry comes first.
    const shortLived = { credential_expires_at: new Date(1_900_000), credential_obtained_at: obtained };
    expect(refreshDueAt(shortLived, timing, 0)?.getTime()).toBe(1_300_000);
    expect(refreshDueAt({ credential_expires_at: null, credential_obtained_at: null }, timing, 0)).toBeNull();
  });

  it("takes an integration's own interval over the deployment's", () => {
    expect(intervalOf({ health_check_interval_seconds: 120 }, 300)).toBe(120);
    expect(intervalOf({ health_check_interval_seconds: null }, 300)).toBe(300);
  });

  it("waits for the provider's retry time when it is later than the backoff, capped by the longest backoff", () => {
    const backoff = new Date(10_000);
    expect(notBeforeRetry(backoff, 0, undefined, 60, 3600).getTime()).toBe(10_000);
    expect(notBeforeRetry(backoff, 0, 5_000, 60, 3600).getTime()).toBe(10_000);
    expect(notBeforeRetry(backoff, 0, 120_000, 60, 3600).getTime()).toBe(120_000);
    expect(notBeforeRetry(backoff, 0, 86_400_000, 60, 3600).getTime()).toBe(3_600_000);
    // An interval longer than the longest backoff is the cap then.
    expect(notBeforeRetry(backoff, 0, 86_400_000, 7200, 3600).getTime()).toBe(7_200_000);
  });
});
