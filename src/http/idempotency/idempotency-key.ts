import { createHash } from 'node:crypto';
import { configure } from 'safe-stable-stringify';

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

// Keys sorted by UTF-16 code units at every depth, `undefined` members left out and `undefined` array
// items as null, as JSON.stringify does: the form stored fingerprints were made with, which the test
// beside this file holds it to. Variables are parsed JSON, so no circular value reaches it; one would
// throw, as it did before.
const stableJson = configure({ circularValue: Error });

/**
 * JSON with object keys sorted at every depth, so that `{"a":1,"b":2}` and `{"b":2,"a":1}` are the same
 * request. `undefined` members are left out, as JSON.stringify leaves them out.
 */
export function canonicalJson(value: unknown): string {
  return stableJson(value) ?? 'null';
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
