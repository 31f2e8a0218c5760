import { GraphQLError } from 'graphql';
import { maskError as yogaMaskError } from 'graphql-yoga';
import { currentRequestScope } from './request-scope.js';

// Errors that mean "the database cannot be reached", as pg and Node's sockets report them: network
// failures, SQLSTATE class 08 (connection exception), 57P01-57P03 (server shutting down or starting),
// 53300 (too many connections), and pg's pool and client messages.
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);
const SERVER_CODES = new Set(['57P01', '57P02', '57P03', '53300']);
const MESSAGE_STARTS = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error',
  'Connection terminated unexpectedly',
];
const MESSAGES = new RegExp(`^(${MESSAGE_STARTS.join('|')})`);

/**
 * Whether an error is the database being unreachable. Only the error itself is examined, not its
 * `cause`: a provider's failed fetch carries ECONNREFUSED as the cause of a "fetch failed" TypeError, and
 * a provider being down is not the gateway being unavailable.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  const candidate = error instanceof GraphQLError && error.originalError ? error.originalError : error;
  if (!(candidate instanceof Error)) return false;
  const code = (candidate as { code?: unknown }).code;
  if (typeof code === 'string' && (NETWORK_CODES.has(code) || SERVER_CODES.has(code) || /^08[0-9A-Z]{3}$/.test(code))) return true;
  return MESSAGES.test(candidate.message);
}

/** Seconds a client is asked to wait when the database is unavailable. */
const UNAVAILABLE_RETRY_AFTER = '5';

/**
 * Yoga's error masking, with two additions: the masked error carries the request id (which the log line
 * of the original error also carries), and a database outage is a 503 SERVICE_UNAVAILABLE with
 * Retry-After rather than a 500. Never includes the original error, whatever NODE_ENV says.
 */
export function maskError(error: unknown, message: string): Error {
  const requestId = currentRequestScope()?.requestId;
  if (isDatabaseUnavailable(error)) {
    return new GraphQLError('The service is temporarily unavailable; retry shortly.', {
      extensions: {
        code: 'SERVICE_UNAVAILABLE',
        ...(requestId ? { requestId } : {}),
        http: { status: 503, headers: { 'Retry-After': UNAVAILABLE_RETRY_AFTER } },
      },
    });
  }
  const masked = yogaMaskError(error, message, false);
  if (masked === error || !(masked instanceof GraphQLError) || !requestId) return masked;
  return new GraphQLError(masked.message, {
    nodes: masked.nodes,
    source: masked.source,
    positions: masked.positions,
    path: masked.path,
    extensions: { ...masked.extensions, requestId },
  });
}
