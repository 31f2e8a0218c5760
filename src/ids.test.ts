import { describe, expect, it } from 'vitest';
import { asciiBase64url, encodeGlobalID, isPrintableAscii, parseGlobalID } from './ids.js';

/** A deterministic stream of numbers, so that a failure names a reproducible input. */
function numbers(seed: number): (below: number) => number {
  let state = seed;
  return (below) => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return Math.floor((state / 2 ** 31) * below);
  };
}

describe('asciiBase64url', () => {
  it('writes what Buffer writes for the joined text, for printable ASCII pieces of any length', () => {
    const next = numbers(3);
    const printable = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i));
    const text = (length: number) => Array.from({ length }, () => printable[next(printable.length)]).join('');
    for (let i = 0; i < 3000; i += 1) {
      const pieces = Array.from({ length: 1 + next(5) }, () => text(next(50)));
      const joined = pieces.join(':');
      expect(asciiBase64url.start(joined.length)).toBe(true);
      pieces.forEach((piece, index) => {
        if (index > 0) asciiBase64url.char(0x3a);
        asciiBase64url.text(piece);
      });
      expect(asciiBase64url.finish(), JSON.stringify(pieces)).toBe(Buffer.from(joined).toString('base64url'));
    }
  });

  it('refuses a text longer than its buffer, and tells printable ASCII apart', () => {
    expect(asciiBase64url.start(2048)).toBe(true);
    expect(asciiBase64url.start(2049)).toBe(false);
    expect(isPrintableAscii(' ~Integration:42')).toBe(true);
    for (const text of ['tab\t', 'é', '東', '🚀', '\u007f', '\u0000']) expect(isPrintableAscii(text), text).toBe(false);
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
    // Ids that are not printable ASCII take the general path, with the same result.
    for (const odd of ['é-1', '東京', 'tab\there', 'x'.repeat(3000)]) {
      expect(encodeGlobalID('Integration', odd)).toBe(Buffer.from(`Integration:${odd}`).toString('base64url'));
    }
  });
});
