import { STATUS_CODES } from 'node:http';
import { GraphQLError } from 'graphql';
import { RevokedKeyError, ServiceError, type ServiceErrorCode } from '../../errors.js';

/** The media type of every REST error (RFC 9457). */
export const PROBLEM_TYPE = 'application/problem+json';

/** One offending field: a JSON Pointer into the request (the body, or `/query/<name>`, `/path/<name>`). */
export interface ProblemField {
  pointer: string;
  detail: string;
}

/** The HTTP status of each expected failure a service reports; GraphQL returns the same codes as `userErrors`. */
export const SERVICE_ERROR_STATUS: Record<ServiceErrorCode, number> = {
  VALIDATION: 422,
  NOT_FOUND: 404,
  CONFLICT: 409,
  ALREADY_REVOKED: 409,
  FORBIDDEN: 403,
  NOT_CONFIGURED: 422,
  PROVIDER_REJECTED_CREDENTIALS: 422,
  // A provider's outage is the gateway's 502: not an answer to keep for an Idempotency-Key, so a retry runs again.
  PROVIDER_UNREACHABLE: 502,
  PROVIDER_ERROR: 502,
  OUTBOUND_BLOCKED: 422,
  CREDENTIAL_ORIGIN_MISMATCH: 409,
  CREDENTIAL_UNREADABLE: 409,
};

/** An RFC 9457 answer. */
export function problem(
  status: number,
  code: string,
  detail: string,
  options: { errors?: ProblemField[]; headers?: Record<string, string>; requestId?: string } = {},
): Response {
  // `about:blank`: the status says what kind of problem it is; `code` (an extension member) says which.
  const body = {
    type: 'about:blank',
    title: STATUS_CODES[status] ?? 'Error',
    status,
    detail,
    code,
    ...(options.requestId ? { instance: `urn:request:${options.requestId}` } : {}),
    ...(options.errors && options.errors.length > 0 ? { errors: options.errors } : {}),
  };
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': PROBLEM_TYPE, ...options.headers } });
}

const snake = (name: string) => name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);

/** A JSON Pointer from a path of member names, each escaped (RFC 6901); a service's camelCase names become the body's snake_case. */
export function pointerOf(path: readonly (string | number)[], names: 'service' | 'request' = 'service'): string {
  return path
    .map((part) => {
      const name = names === 'service' ? snake(String(part)) : String(part);
      return `/${name.replace(/~/g, '~0').replace(/\//g, '~1')}`;
    })
    .join('');
}

/**
 * The problem for an error a service or a shared helper threw, or null for an unexpected one (a 500 for
 * the router). A service's `id` field is the path's; its other fields are the body's, in snake_case.
 */
export function problemOf(error: unknown, requestId: string): Response | null {
  if (error instanceof ServiceError) {
    const [first] = error.field;
    const pointer = first === 'id' ? '/path/id' : (RENAMED_FIELDS[pointerOf(error.field)] ?? pointerOf(error.field));
    return problem(SERVICE_ERROR_STATUS[error.code], error.code, error.message, {
      requestId,
      errors: error.field.length > 0 ? [{ pointer, detail: error.message }] : [],
    });
  }
  if (error instanceof RevokedKeyError) {
    return problem(401, 'UNAUTHENTICATED', error.message, {
      requestId,
      headers: { 'www-authenticate': 'Bearer realm="integrations-gateway"' },
    });
  }
  if (error instanceof GraphQLError && typeof error.extensions.code === 'string') {
    // REST's own translations name their place (`pointer`); the shared validation (cursors, filters)
    // reports in GraphQL's terms, whose argument names become REST's.
    const { pointer: named, argument } = error.extensions;
    const pointer =
      typeof named === 'string'
        ? named
        : typeof argument === 'string'
          ? (ARGUMENT_POINTERS[argument] ?? `/query/${argument.replace(/^filter\./, '')}`)
          : null;
    const message = error.message.replace(/`(after|before)`/g, '`cursor`').replace(/filter\.(\w+)/g, '$1');
    return problem(400, error.extensions.code, message, { requestId, errors: pointer ? [{ pointer, detail: message }] : [] });
  }
  return null;
}

/** Service input fields that the REST body names otherwise (GraphQL nests the return URL in `oauth2`). */
const RENAMED_FIELDS: Record<string, string> = { '/oauth2/return_url': '/return_url' };

const ARGUMENT_POINTERS: Record<string, string> = {
  after: '/query/cursor',
  before: '/query/cursor',
  first: '/query/limit',
  'filter.endUserId': '/query/end_user_id',
};
