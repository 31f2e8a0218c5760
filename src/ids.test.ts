import { describe, expect, it } from 'vitest';
import { encodeGlobalID, PrefixedBase64url, parseGlobalID } from './ids.js';

/** A deterministic stream of numbers, so that a failure names a reproducible input. */
function numbers(seed: number): (below: number) => number {
  let state = seed;
  return (below) => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return Math.floor((state / 2 ** 31) * below);
  };
}

const ALPHABET = ['a', 'Z', '0', ':', '"', '-', '\u0000', '\u007f', 'é', '東', '🚀'];

describe('PrefixedBase64url', () => {
  it('writes what Buffer writes for the whole text, for prefixes of every length and any rest', () => {
    const next = numbers(3);
    const encoder = new PrefixedBase64url((name) => name);
    const text = (length: number) => Array.from({ length }, () => ALPHABET[next(ALPHABET.length)]).join('');
    for (let i = 0; i < 3000; i += 1) {
      // ASCII prefixes of lengths 0 to 20 (each remembered), and some that are not.
      const prefix = i % 10 === 0 ? text(next(6)) : 'Integration:Order_'.repeat(2).slice(0, next(21));
      const rest = i % 2 === 0 ? text(next(40)) : `${next(1e9)}-${next(1e9)}`;
      expect(encoder.encode(prefix, rest), JSON.stringify([prefix, rest])).toBe(Buffer.from(prefix + rest).toString('base64url'));
    }
  });
});

describe('encodeGlobalID', () => {
  it('is the base64url of <type>:<id>, and reads back', () => {
    const id = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
    for (const type of ['Integration', 'HealthCheck', 'ApiKey', 'Organization', 'WebhookDelivery', 'WebhookEndpoint'] as const) {
      const encoded = encodeGlobalID(type, id);
      expect(encoded).toBe(Buffer.from(`${type}:${id}`).toString('base64url'));
      expect(parseGlobalID(encoded)).toEqual({ typename: type, id });
    }
    expect(encodeGlobalID('Integration', 42)).toBe(Buffer.from('Integration:42').toString('base64url'));
  });
});
