import { describe, expect, it } from 'vitest';
import type { IntegrationRow } from '../../db/database.js';
import { leaseHeldByOther } from './credential-lease.js';

const NOW = Date.parse('2026-11-30T12:00:00Z');
const DEADLINE_MS = 1000;
const MINE = '00000000-0000-4000-8000-00000000000a';
const OTHER = '00000000-0000-4000-8000-00000000000b';
const at = (offsetMs: number) => new Date(NOW + offsetMs);

type LeaseColumns = Pick<IntegrationRow, 'lease_owner' | 'lease_expires_at' | 'refresh_attempt_id' | 'refresh_started_at'>;
const held = (columns: Partial<LeaseColumns>) =>
  leaseHeldByOther(
    { lease_owner: null, lease_expires_at: null, refresh_attempt_id: null, refresh_started_at: null, ...columns } as IntegrationRow,
    MINE,
    DEADLINE_MS,
    NOW,
  );

describe('leaseHeldByOther', () => {
  it("no lease, or this attempt's own, is not held by another", () => {
    expect(held({})).toBe(false);
    expect(held({ lease_owner: MINE, lease_expires_at: at(5000) })).toBe(false);
  });

  it("another attempt's lease holds until its expiry", () => {
    expect(held({ lease_owner: OTHER, lease_expires_at: at(1) })).toBe(true);
    expect(held({ lease_owner: OTHER, lease_expires_at: at(0) })).toBe(false);
  });

  it("a refresh's lease ends at the latest three of this gateway's deadlines after its start", () => {
    const refreshing = { lease_owner: OTHER, lease_expires_at: at(60_000), refresh_attempt_id: OTHER };
    expect(held({ ...refreshing, refresh_started_at: at(-2999) })).toBe(true);
    expect(held({ ...refreshing, refresh_started_at: at(-3000) })).toBe(false);
  });

  it("a revocation that took a refresh's lease over holds it until its own expiry", () => {
    expect(held({ lease_owner: OTHER, lease_expires_at: at(2000), refresh_attempt_id: MINE, refresh_started_at: at(-60_000) })).toBe(true);
  });

  it('a refresh start recorded without a lease holds for three deadlines; a kept lost start holds nothing', () => {
    expect(held({ refresh_attempt_id: OTHER, refresh_started_at: at(-2999) })).toBe(true);
    expect(held({ refresh_attempt_id: OTHER, refresh_started_at: at(-3000) })).toBe(false);
    expect(held({ refresh_attempt_id: null, refresh_started_at: at(-10) })).toBe(false);
  });
});
