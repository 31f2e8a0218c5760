import { createHash } from 'node:crypto';

/** The request header, as Stripe and the IETF `Idempotency-Key` draft name it. */
export const IDEMPOTENCY_HEADER = 'idempotency-key';

/** At most this many characters: enough for a UUID, a ULID or a job name with a timestamp. */
export const MAX_KEY_LENGTH = 255;

const PRINTABLE = /^[\x20-\x7E]+$/;
// The IETF draft sends the key as a Structured Field string ("…" with \" and \\ escapes); Stripe's
// clients send it bare. Both spell the same key.
const SF_STRING = /^"((?:[\x20\x21\x23-\x5B\x5D-\x7E]|\\["\\])*)"$/;

export type KeyCheck = { ok: true; key: string } | { ok: false; message: string };

/** Validates a raw `Idempotency-Key` header value: 1 to 255 printable ASCII characters. */
export function checkIdempotencyKey(raw: string): KeyCheck {
  const quoted = SF_STRING.exec(raw);
  const key = quoted ? (quoted[1] ?? '').replace(/\\(["\\])/g, '$1') : raw;
  if (key.length === 0)
    return { ok: false, message: 'The Idempotency-Key header is empty; send 1 to 255 printable ASCII characters, e.g. a UUID.' };
  if (key.length > MAX_KEY_LENGTH) {
    return { ok: false, message: `The Idempotency-Key header has ${key.length} characters; at most ${MAX_KEY_LENGTH} are allowed.` };
  }
  if (!PRINTABLE.test(key)) {
    return {
      ok: false,
      message: 'The Idempotency-Key header may contain only printable ASCII characters (no control characters, no non-ASCII).',
    };
  }
  return { ok: true, key };
}

/**
 * JSON with object keys sorted at every depth, so that `{"a":1,"b":2}` and `{"b":2,"a":1}` are the same
 * request. `undefined` members are left out, as JSON.stringify leaves them out.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((item) => (item === undefined ? 'null' : canonicalJson(item))).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, member]) => member !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([name, member]) => `${JSON.stringify(name)}:${canonicalJson(member)}`).join(',')}}`;
}

export interface FingerprintInput {
  /** The operation document exactly as sent. */
  query: string;
  operationName?: string | null | undefined;
  variables?: Record<string, unknown> | null | undefined;
}

/**
 * What makes two requests "the same request" for a key: the document as sent, the operation name and
 * the variables in canonical JSON (absent and `{}` alike). SHA-256, hex.
 */
export function fingerprintOf(input: FingerprintInput): string {
  const material = JSON.stringify([input.query, input.operationName ?? null, canonicalJson(input.variables ?? {})]);
  return createHash('sha256').update(material).digest('hex');
}
