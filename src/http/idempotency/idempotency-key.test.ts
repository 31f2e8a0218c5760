import { describe, expect, it } from 'vitest';
import { canonicalJson, checkIdempotencyKey, fingerprintOf } from './idempotency-key.js';

describe('checkIdempotencyKey', () => {
  it('accepts 1 to 255 printable ASCII characters, bare or as a quoted structured-field string', () => {
    expect(checkIdempotencyKey('8e03978e-40d5-43e8-bc93-6894a57f9324')).toEqual({ ok: true, key: '8e03978e-40d5-43e8-bc93-6894a57f9324' });
    expect(checkIdempotencyKey('"job 42"')).toEqual({ ok: true, key: 'job 42' });
    expect(checkIdempotencyKey('"say \\"hi\\""')).toEqual({ ok: true, key: 'say "hi"' });
    expect(checkIdempotencyKey('~'.repeat(255))).toMatchObject({ ok: true });
  });

  it('refuses empty, too long, control and non-ASCII characters with a message', () => {
    for (const bad of ['', '""', 'x'.repeat(256), 'a\tb', 'a\x00b', 'a\x7fb', 'caf\u00e9']) {
      const checked = checkIdempotencyKey(bad);
      expect(checked.ok, JSON.stringify(bad)).toBe(false);
      if (!checked.ok) expect(checked.message).toContain('Idempotency-Key');
    }
  });
});

describe('fingerprintOf', () => {
  it('is the same for variables in any key order, and differs with the document, name or variables', () => {
    const query = 'mutation M($a: Int) { m(a: $a) }';
    const base = fingerprintOf({ query, operationName: 'M', variables: { a: 1, b: { y: [1, { q: 1, p: 2 }], x: null } } });
    expect(fingerprintOf({ query, operationName: 'M', variables: { b: { x: null, y: [1, { p: 2, q: 1 }] }, a: 1 } })).toBe(base);
    expect(fingerprintOf({ query: `${query} `, operationName: 'M', variables: { a: 1 } })).not.toBe(
      fingerprintOf({ query, operationName: 'M', variables: { a: 1 } }),
    );
    expect(fingerprintOf({ query, operationName: null, variables: {} })).toBe(fingerprintOf({ query }));
    expect(fingerprintOf({ query, operationName: 'N' })).not.toBe(fingerprintOf({ query, operationName: 'M' }));
    expect(canonicalJson({ b: [2, 1], a: 'x', u: undefined })).toBe('{"a":"x","b":[2,1]}');
  });

  it('gives the digests stored by earlier releases', () => {
    const query = 'mutation M($a: Int) { m(a: $a) }';
    const variables = { b: { y: [1, { q: 1, p: 2 }, undefined], x: null }, a: 1, é: 'snow \u2603 \u2028', '10': 2, '9': -0, u: undefined };
    expect(fingerprintOf({ query, operationName: 'M', variables })).toBe(
      'ac82bbdb5aa5dce4691dcca7635d3154350d919b3cbeb32a23d05574c08bf5d0',
    );
    expect(fingerprintOf({ query })).toBe('2ea1d702733eb46d520be3299789c54fbf4b606ad693877d5739fc6db69fe73b');
  });
});

/**
 * The canonical form fingerprints were first stored under, written out by hand: keys sorted by UTF-16
 * code units at every depth, `undefined` members left out, `undefined` array items as null. Stored
 * fingerprints stay valid only while `canonicalJson` agrees with it.
 */
function referenceCanonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((item) => (item === undefined ? 'null' : referenceCanonicalJson(item))).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, member]) => member !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([name, member]) => `${JSON.stringify(name)}:${referenceCanonicalJson(member)}`).join(',')}}`;
}

/** A small seeded generator (mulberry32), so that a failure names inputs that can be replayed. */
function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const KEYS = ['a', 'B', 'b', '', '10', '9', '0', '__proto__', 'é', 'e\u0301', '\u{1F600}', '\ud800', 'key with "quotes"', 'z'.repeat(300)];
const STRINGS = [
  '',
  'plain',
  'tab\tnew\nline',
  'quote " backslash \\',
  '\u0000\u001f\u007f',
  '\u2028\u2029',
  'lone \udc00 surrogate',
  '\u{1F600}',
  'x'.repeat(5000),
];
const NUMBERS = [0, -0, 1, -1, 0.1, 1e21, 1e-7, Number.MAX_SAFE_INTEGER, 2 ** 53 + 2, 123.456];

/** A value as variables arrive (parsed JSON), with `undefined` members and items mixed in. */
function randomValue(random: () => number, depth: number): unknown {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
  const kind = depth >= 4 ? Math.floor(random() * 5) : Math.floor(random() * 8);
  if (kind === 0) return null;
  if (kind === 1) return random() < 0.5;
  if (kind === 2) return pick(NUMBERS);
  if (kind === 3) return pick(STRINGS);
  if (kind === 4) return undefined;
  if (kind === 5) return Array.from({ length: Math.floor(random() * 5) }, () => randomValue(random, depth + 1));
  const object: Record<string, unknown> = {};
  for (let i = Math.floor(random() * 6); i > 0; i -= 1)
    Object.defineProperty(object, pick(KEYS), {
      value: randomValue(random, depth + 1),
      enumerable: true,
      configurable: true,
      writable: true,
    });
  return object;
}

describe('canonicalJson', () => {
  it('agrees with the form stored fingerprints were made with, on varied values', () => {
    const random = seeded(20261130);
    for (let i = 0; i < 3_000; i += 1) {
      const value = randomValue(random, 0);
      expect(canonicalJson(value), referenceCanonicalJson(value)).toBe(referenceCanonicalJson(value));
    }
    const shuffled = JSON.parse('{"z":{"b":[1,{"d":4,"c":3}],"a":"\\u00e9"},"__proto__":{"x":1},"10":0,"9":[]}');
    expect(canonicalJson(shuffled)).toBe(referenceCanonicalJson(shuffled));
    expect(canonicalJson(shuffled)).toBe('{"10":0,"9":[],"__proto__":{"x":1},"z":{"a":"\u00e9","b":[1,{"c":3,"d":4}]}}');
  });
});
