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

/** A prefix's whole groups of three bytes, encoded once, and the bytes left over. */
interface PrefixSplit {
  head: string;
  tail: string;
}

/**
 * The base64url of the UTF-8 of `prefixOf(name) + rest`, as `Buffer.from(prefixOf(name) + rest)
 * .toString('base64url')` writes it, for the few names of one kind (types, list orders). Every group of
 * three bytes is four characters of its own, so a prefix's whole groups are encoded once per name and only
 * the rest per call, as single bytes when it is printable ASCII. Every ID and cursor on a page is such a
 * pair (a type or list name, then a row's id): about half the cost.
 */
export class PrefixedBase64url {
  readonly #splits = new Map<string, PrefixSplit | null>();
  /** Names are code's own (types, orders), a few dozen; the cap only bounds a mistake. */
  static readonly MAX_NAMES = 256;

  constructor(private readonly prefixOf: (name: string) => string) {}

  /** `restIsAscii`: the caller has checked that `rest` is printable ASCII. */
  encode(name: string, rest: string, restIsAscii = PRINTABLE_ASCII.test(rest)): string {
    let split = this.#splits.get(name);
    if (split === undefined) {
      const prefix = this.prefixOf(name);
      const cut = prefix.length - (prefix.length % 3);
      split = PRINTABLE_ASCII.test(prefix)
        ? { head: Buffer.from(prefix.slice(0, cut), 'latin1').toString('base64url'), tail: prefix.slice(cut) }
        : null;
      if (this.#splits.size < PrefixedBase64url.MAX_NAMES) this.#splits.set(name, split);
    }
    if (split === null) return Buffer.from(this.prefixOf(name) + rest).toString('base64url');
    return split.head + Buffer.from(split.tail + rest, restIsAscii ? 'latin1' : 'utf8').toString('base64url');
  }
}

const globalIds = new PrefixedBase64url((typename) => `${typename}:`);

/** The opaque ID the API shows for a row: base64url of `<type>:<uuid>`. */
export function encodeGlobalID(typename: string, id: string | number | bigint): string {
  return globalIds.encode(typename, typeof id === 'string' ? id : String(id));
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
