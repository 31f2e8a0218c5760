import { type ExecutionResult, GraphQLError } from 'graphql';
import { isAsyncIterable, mapAsyncIterator, maskError as yogaMaskError, type Plugin } from 'graphql-yoga';
import type { Logger } from '../../logger.js';
import { requestStateOf, type WithRequestState } from '../admission/request-state.js';

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

/** Each masked error, and the original it hides: for its log line and its request id (useMaskedErrorReports). */
const originals = new WeakMap<Error, unknown>();
const maskedOriginals = new WeakSet<object>();

/**
 * Yoga's error masking, with one addition: a database outage is a 503 SERVICE_UNAVAILABLE with
 * Retry-After rather than a 500. Never includes the original error, whatever NODE_ENV says. The request id
 * is added, and the original logged with it, by useMaskedErrorReports, which knows the request.
 */
export function maskError(error: unknown, message: string): Error {
  const masked = isDatabaseUnavailable(error)
    ? new GraphQLError('The service is temporarily unavailable; retry shortly.', {
        extensions: { code: 'SERVICE_UNAVAILABLE', http: { status: 503, headers: { 'Retry-After': UNAVAILABLE_RETRY_AFTER } } },
      })
    : yogaMaskError(error, message, false);
  if (masked !== error) {
    originals.set(masked, error);
    if (typeof error === 'object' && error !== null) maskedOriginals.add(error);
  }
  return masked;
}

/** Whether an error is one that maskError hid: Yoga reports it to its logger too, which leaves it to useMaskedErrorReports. */
export function isMaskedOriginal(error: unknown): boolean {
  return typeof error === 'object' && error !== null && maskedOriginals.has(error);
}

/** The masked error, carrying the request id; the original is logged once, with the same id. */
function reported(error: GraphQLError, requestId: string, logger: Logger): GraphQLError {
  if (!originals.has(error)) return error;
  const original = originals.get(error);
  originals.delete(error);
  logger.error({ err: original, requestId }, 'unexpected error');
  return new GraphQLError(error.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    extensions: { ...error.extensions, requestId },
  });
}

/**
 * Gives every masked error in an answer the request id, and logs the error it hides with the same id,
 * so that a client's report ("request id ...") finds the cause. Done here, where the request is known,
 * rather than through an AsyncLocalStorage: its promise hooks cost about a sixth of a small query's CPU.
 */
export function useMaskedErrorReports(logger: Logger): Plugin {
  const stamp = <R extends Pick<ExecutionResult, 'errors'>>(result: R, requestId: string): R => {
    if (!result.errors?.some((error) => originals.has(error))) return result;
    return { ...result, errors: result.errors.map((error) => reported(error, requestId, logger)) };
  };
  return {
    onResultProcess({ request, result, setResult, serverContext }) {
      const { requestId } = requestStateOf(serverContext as WithRequestState, request);
      if (Array.isArray(result)) setResult(result.map((one) => stamp(one, requestId)));
      else if (isAsyncIterable(result)) setResult(mapAsyncIterator(result, (one) => stamp(one, requestId)));
      else setResult(stamp(result, requestId));
    },
  };
}
