import { GraphQLError } from 'graphql';
import { asciiBase64url, isUuid } from '../ids.js';

/** Largest page any connection serves. */
export const MAX_PAGE_SIZE = 100;

/** A validated request for one page of a keyset-paginated list. */
export interface PageRequest {
  /** `forward` pages with first/after, `backward` with last/before. */
  direction: 'forward' | 'backward';
  limit: number;
  /** The position to continue from, exclusive. */
  cursor: CursorPosition | null;
}

/** A row's position: its sort key as PostgreSQL prints it, and its id as the tie-breaker. */
export interface CursorPosition {
  key: string;
  id: string;
}

export interface ConnectionArgs {
  first?: number | null | undefined;
  last?: number | null | undefined;
  after?: string | null | undefined;
  before?: string | null | undefined;
}

function argumentError(message: string, code: string, extra: Record<string, unknown> = {}): GraphQLError {
  return new GraphQLError(message, { extensions: { code, ...extra } });
}

/**
 * Validates Relay connection arguments. `scope` names the list and its order, so that a cursor taken
 * from one list, or under another order, is refused rather than silently misread.
 */
export function parsePageArgs(args: ConnectionArgs, scope: string, idShape: (id: string) => boolean = isUuid): PageRequest {
  const { first, last, after, before } = args;
  if (first == null && last == null) {
    throw argumentError('You must provide a `first` or `last` value to paginate this connection.', 'MISSING_PAGINATION_BOUNDARIES');
  }
  if (first != null && last != null) {
    throw argumentError('Passing both `first` and `last` to paginate this connection is not supported.', 'INVALID_PAGINATION_ARGUMENTS');
  }
  if (first != null && before != null) {
    throw argumentError('`before` pages backwards; use it with `last`, not `first`.', 'INVALID_PAGINATION_ARGUMENTS');
  }
  if (last != null && after != null) {
    throw argumentError('`after` pages forwards; use it with `first`, not `last`.', 'INVALID_PAGINATION_ARGUMENTS');
  }
  const name = first != null ? 'first' : 'last';
  const limit = (first ?? last) as number;
  if (limit < 1) {
    throw argumentError(`\`${name}\` must be between 1 and ${MAX_PAGE_SIZE}; it was ${limit}.`, 'INVALID_PAGINATION_ARGUMENTS', {
      argument: name,
    });
  }
  if (limit > MAX_PAGE_SIZE) {
    throw argumentError(
      `Requesting ${limit} records on this connection exceeds the \`${name}\` limit of ${MAX_PAGE_SIZE} records.`,
      'EXCESSIVE_PAGINATION',
      { argument: name, limit: MAX_PAGE_SIZE },
    );
  }
  const cursorArg = first != null ? after : before;
  return {
    direction: first != null ? 'forward' : 'backward',
    limit,
    cursor: cursorArg == null ? null : decodeCursor(cursorArg, scope, first != null ? 'after' : 'before', idShape),
  };
}

/** Printable ASCII other than `"` and `\\`: a string JSON writes as itself between quotes, one byte a character. */
const JSON_PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

const [BRACKET_OPEN, BRACKET_CLOSE, QUOTE, COMMA] = [0x5b, 0x5d, 0x22, 0x2c];

/**
 * The base64url of `[scope, key, id]` as JSON. Scopes, keys that are times or ids (nearly every cursor) and
 * ids are plain ASCII: their JSON is written byte by byte and encoded at once (`asciiBase64url`), the same
 * text at about half the cost, and the cursor the only string made (a page of 100 encodes 100 of them when
 * its edges' cursors are selected).
 */
export function encodeCursor(scope: string, position: CursorPosition): string {
  const { key, id } = position;
  if (
    JSON_PLAIN.test(key) &&
    JSON_PLAIN.test(id) &&
    JSON_PLAIN.test(scope) &&
    asciiBase64url.start(scope.length + key.length + id.length + 10)
  ) {
    return asciiBase64url
      .char(BRACKET_OPEN)
      .char(QUOTE)
      .text(scope)
      .char(QUOTE)
      .char(COMMA)
      .char(QUOTE)
      .text(key)
      .char(QUOTE)
      .char(COMMA)
      .char(QUOTE)
      .text(id)
      .char(QUOTE)
      .char(BRACKET_CLOSE)
      .finish();
  }
  return Buffer.from(JSON.stringify([scope, key, id])).toString('base64url');
}

function invalidCursorError(argument: string): GraphQLError {
  return argumentError(
    `The \`${argument}\` cursor is not valid for this list and order; use a cursor this list returned.`,
    'INVALID_CURSOR',
    {
      argument,
    },
  );
}

/**
 * A timestamptz as PostgreSQL prints it as text (ISO date style, any session time zone, offsets with
 * seconds included): the only keys a time order's cursors hold. The cast alone is not enough, since it
 * also reads words such as `now`, `yesterday` or `epoch` as times.
 */
const PRINTED_TIMESTAMP = /^\d{4,}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d{1,6})?[+-]\d{2}(?::\d{2}){0,2}(?: BC)?$/;

/** Which cursor keys an order's sort key can have printed; any other key was forged. */
export const cursorKeyShapes = {
  timestamp: (key: string) => PRINTED_TIMESTAMP.test(key),
  /** A time where the order puts rows without one first, as `-infinity`. */
  timestampOrMinusInfinity: (key: string) => key === '-infinity' || PRINTED_TIMESTAMP.test(key),
  text: (_key: string) => true,
} as const;

/**
 * Runs a keyset page statement. A cursor whose key is not one the order's sort key can print, or that
 * PostgreSQL rejects as data (SQLSTATE class 22: its key does not cast back to the order's type), was
 * forged or corrupted: that is the client's INVALID_CURSOR, not a server error.
 */
export async function withCursorCheck<T>(
  page: PageRequest,
  run: () => Promise<T>,
  keyShape: (key: string) => boolean = cursorKeyShapes.text,
): Promise<T> {
  if (page.cursor && !keyShape(page.cursor.key)) throw invalidCursorError(page.direction === 'forward' ? 'after' : 'before');
  try {
    return await run();
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    if (page.cursor && typeof code === 'string' && code.startsWith('22')) {
      throw invalidCursorError(page.direction === 'forward' ? 'after' : 'before');
    }
    throw error;
  }
}

function decodeCursor(cursor: string, scope: string, argument: string, idShape: (id: string) => boolean): CursorPosition {
  const invalid = () => invalidCursorError(argument);
  if (cursor.length > 1024) throw invalid();
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (!Array.isArray(decoded) || decoded.length !== 3) throw invalid();
  const [cursorScope, key, id] = decoded as unknown[];
  if (cursorScope !== scope || typeof id !== 'string' || !idShape(id)) throw invalid();
  if (typeof key !== 'string') throw invalid();
  return { key, id };
}

export interface PageInfo {
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  startCursor: string | null;
  endCursor: string | null;
}

export interface Connection<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: PageInfo;
}

/** An edge whose cursor is encoded when it is read: most pages select the cursors of none or two of their edges. */
class LazyEdge<T> {
  #cursor: string | undefined;
  constructor(
    readonly node: T,
    private readonly scope: string,
    private readonly position: CursorPosition,
  ) {}

  get cursor(): string {
    this.#cursor ??= encodeCursor(this.scope, this.position);
    return this.#cursor;
  }
}

/**
 * A page's PageInfo whose cursors are encoded when they are read: a page asked for `hasNextPage` alone (as
 * every nested page of history usually is) encodes none.
 */
class LazyPageInfo<T> implements PageInfo {
  constructor(
    readonly hasNextPage: boolean,
    readonly hasPreviousPage: boolean,
    private readonly edges: readonly LazyEdge<T>[],
  ) {}

  get startCursor(): string | null {
    return this.edges[0]?.cursor ?? null;
  }

  get endCursor(): string | null {
    return this.edges.at(-1)?.cursor ?? null;
  }
}

/**
 * Builds a Relay connection from rows fetched in paging order with one extra row (limit + 1),
 * which tells exactly whether more exist in the paging direction.
 */
export function toConnection<T>(rows: readonly { item: T; position: CursorPosition }[], page: PageRequest, scope: string): Connection<T> {
  const hasMore = rows.length > page.limit;
  const kept = rows.slice(0, page.limit);
  if (page.direction === 'backward') kept.reverse();
  const edges = kept.map((row) => new LazyEdge(row.item, scope, row.position));
  const forward = page.direction === 'forward';
  return { edges, pageInfo: new LazyPageInfo(forward ? hasMore : false, forward ? false : hasMore, edges) };
}
