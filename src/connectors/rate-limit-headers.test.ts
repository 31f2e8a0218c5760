import { describe, expect, it } from 'vitest';
import { providerRetryAfterMs, rateLimitSpent } from './rate-limit-headers.js';

const NOW = Date.parse('2026-11-30T12:00:00Z');
const at = (headers: Record<string, string>) => new Headers(headers);

describe("a provider's rate-limit headers", () => {
  it('read Retry-After on a 429 or 503, as seconds or as a date', () => {
    expect(providerRetryAfterMs(429, at({ 'retry-after': '120' }), NOW)).toBe(120_000);
    expect(providerRetryAfterMs(503, at({ 'retry-after': 'Mon, 30 Nov 2026 12:05:00 GMT' }), NOW)).toBe(300_000);
    // Retry-After on other statuses says nothing about calling again.
    expect(providerRetryAfterMs(500, at({ 'retry-after': '120' }), NOW)).toBeNull();
    expect(providerRetryAfterMs(429, at({}), NOW)).toBeNull();
  });

  it('read a reset as a Unix time (GitHub, GitLab) or as seconds from now (Datadog), once the limit is spent', () => {
    const reset = String(NOW / 1000 + 600);
    expect(providerRetryAfterMs(403, at({ 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': reset }), NOW)).toBe(600_000);
    expect(providerRetryAfterMs(429, at({ 'ratelimit-reset': reset }), NOW)).toBe(600_000);
    expect(providerRetryAfterMs(429, at({ 'x-ratelimit-reset': '45' }), NOW)).toBe(45_000);
    // A reset while calls remain is no request to wait; Retry-After wins over a reset.
    expect(providerRetryAfterMs(200, at({ 'x-ratelimit-remaining': '12', 'x-ratelimit-reset': reset }), NOW)).toBeNull();
    expect(providerRetryAfterMs(429, at({ 'retry-after': '5', 'x-ratelimit-reset': reset }), NOW)).toBe(5_000);
    // A reset already past, or unreadable.
    expect(providerRetryAfterMs(429, at({ 'x-ratelimit-reset': String(NOW / 1000 - 60) }), NOW)).toBe(0);
    expect(providerRetryAfterMs(429, at({ 'x-ratelimit-reset': 'soon' }), NOW)).toBeNull();
  });

  it('tell a spent limit by a remaining count of 0', () => {
    expect(rateLimitSpent(at({ 'x-ratelimit-remaining': '0' }))).toBe(true);
    expect(rateLimitSpent(at({ 'RateLimit-Remaining': '0' }))).toBe(true);
    expect(rateLimitSpent(at({ 'x-ratelimit-remaining': '10' }))).toBe(false);
    expect(rateLimitSpent(at({}))).toBe(false);
  });
});
