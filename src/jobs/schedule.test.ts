import { describe, expect, it } from 'vitest';
import { jittered, nextProbeAt, refreshDueAt } from './schedule.js';

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
    const expiresAt = new Date(1_000_000);
    expect(refreshDueAt(expiresAt, 600, 0).getTime()).toBe(400_000);
    expect(refreshDueAt(expiresAt, 600, 500_000).getTime()).toBe(500_000);
  });
});
