const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Database ids are UUIDs; anything else is rejected before it reaches SQL, where it would be a cast error. */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/** The types that `node(id)` can return; every other type name in an ID is refused. */
export const NODE_TYPES = ['ApiKey', 'HealthCheck', 'Integration', 'Organization', 'WebhookDelivery', 'WebhookEndpoint'] as const;
export type NodeTypeName = (typeof NODE_TYPES)[number];

/** Printable ASCII: one byte a character, the same in UTF-8 and Latin-1. */
const PRINTABLE_ASCII = /^[ -~]*$/;

/**
 * Writes a text of printable ASCII piece by piece into one scratch buffer, and reads it out as base64url:
 * the encoded string is the only string made, where `Buffer.from(a + b).toString('base64url')` makes the
 * joined text, a Buffer and the result. Every ID and cursor on a page is encoded so (for a page of 100, a
 * tenth of what W1 allocated went to them). Used synchronously, from `start()` to `finish()`, by one
 * caller at a time, as JavaScript runs.
 */
class AsciiBase64url {
  readonly #scratch = Buffer.allocUnsafe(2048);
  #at = 0;

  /** Starts a text of at most `length` characters; false when it would not fit (encode it another way). */
  start(length: number): boolean {
    this.#at = 0;
    return length <= this.#scratch.length;
  }

  /** Appends a string the caller knows to be printable ASCII (see `isPrintableAscii`). */
  text(piece: string): this {
    this.#at += this.#scratch.write(piece, this.#at, 'latin1');
    return this;
  }

  /** Appends one ASCII character by its code. */
  char(code: number): this {
    this.#scratch[this.#at] = code;
    this.#at += 1;
    return this;
  }

  finish(): string {
    return this.#scratch.toString('base64url', 0, this.#at);
  }
}

export const asciiBase64url = new AsciiBase64url();

export function isPrintableAscii(text: string): boolean {
  return PRINTABLE_ASCII.test(text);
}

const COLON = 0x3a;

/** The opaque ID the API shows for a row: base64url of `<type>:<uuid>`. */
export function encodeGlobalID(typename: string, id: string | number | bigint): string {
  const text = typeof id === 'string' ? id : String(id);
  if (isPrintableAscii(text) && isPrintableAscii(typename) && asciiBase64url.start(typename.length + 1 + text.length)) {
    return asciiBase64url.text(typename).char(COLON).text(text).finish();
  }
  return Buffer.from(`${typename}:${text}`).toString('base64url');
}

/** The type and row id of an ID this API issued; null for anything else. */
export function parseGlobalID(globalID: string): { typename: NodeTypeName; id: string } | null {
  const text =
    globalID.length <= 200 && /^[A-Za-z0-9_-]+={0,2}$/.test(globalID) ? Buffer.from(globalID, 'base64url').toString('utf8') : '';
  const separator = text.indexOf(':');
  const typename = text.slice(0, separator) as NodeTypeName;
  const id = text.slice(separator + 1);
  if (separator < 0 || !NODE_TYPES.includes(typename) || !isUuid(id)) return null;
  return { typename, id: id.toLowerCase() };
}
