import { GraphQLError } from 'graphql';
import { type NodeTypeName, parseGlobalID } from '../ids.js';

export { encodeGlobalID, type NodeTypeName } from '../ids.js';

export function invalidIdError(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'INVALID_ID' } });
}

/** Decodes an opaque ID; a malformed one is a client error with code INVALID_ID, never a server error. */
export function decodeGlobalID(globalID: string): { typename: NodeTypeName; id: string } {
  const decoded = parseGlobalID(globalID);
  if (!decoded) throw invalidIdError('Invalid ID: it is not an ID this API issued.');
  return decoded;
}

/** Decodes an ID that must name one type, e.g. the `id` of `integration(id:)`. */
export function decodeTypedID(globalID: string, expected: NodeTypeName): string {
  const decoded = decodeGlobalID(globalID);
  if (decoded.typename !== expected) {
    throw invalidIdError(
      `Invalid ID: expected the ID of ${article(expected)} ${expected}, got the ID of ${article(decoded.typename)} ${decoded.typename}.`,
    );
  }
  return decoded.id;
}

function article(word: string): string {
  return /^[AEIOU]/.test(word) ? 'an' : 'a';
}
