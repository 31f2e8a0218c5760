import { GraphQLError } from 'graphql';
import { isUuid } from '../ids.js';

/** The types that `node(id)` can return; every other type name in an ID is refused. */
export const NODE_TYPES = ['ApiKey', 'HealthCheck', 'Integration', 'Organization'] as const;
export type NodeTypeName = (typeof NODE_TYPES)[number];

export function encodeGlobalID(typename: string, id: string | number | bigint): string {
  return Buffer.from(`${typename}:${id}`).toString('base64url');
}

export function invalidIdError(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'INVALID_ID' } });
}

/** Decodes an opaque ID; a malformed one is a client error with code INVALID_ID, never a server error. */
export function decodeGlobalID(globalID: string): { typename: NodeTypeName; id: string } {
  const text = globalID.length <= 200 && /^[A-Za-z0-9_-]+={0,2}$/.test(globalID) ? Buffer.from(globalID, 'base64url').toString('utf8') : '';
  const separator = text.indexOf(':');
  const typename = text.slice(0, separator) as NodeTypeName;
  const id = text.slice(separator + 1);
  if (separator < 0 || !NODE_TYPES.includes(typename) || !isUuid(id)) {
    throw invalidIdError('Invalid ID: it is not an ID this API issued.');
  }
  return { typename, id: id.toLowerCase() };
}

/** Decodes an ID that must name one type, e.g. the `id` of `integration(id:)`. */
export function decodeTypedID(globalID: string, expected: NodeTypeName): string {
  const decoded = decodeGlobalID(globalID);
  if (decoded.typename !== expected) {
    throw invalidIdError(`Invalid ID: expected the ID of ${article(expected)} ${expected}, got the ID of ${article(decoded.typename)} ${decoded.typename}.`);
  }
  return decoded.id;
}

function article(word: string): string {
  return /^[AEIOU]/.test(word) ? 'an' : 'a';
}
