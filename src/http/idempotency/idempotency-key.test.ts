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
});
