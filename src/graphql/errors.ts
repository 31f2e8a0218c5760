import { type ExecutionResult, GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';

export function unauthenticatedError(message: string): GraphQLError {
  return new GraphQLError(message, {
    extensions: {
      code: 'UNAUTHENTICATED',
      http: { status: 401, headers: { 'WWW-Authenticate': 'Bearer realm="integrations-gateway"' } },
    },
  });
}

/** The FORBIDDEN message for a caller: its API key's role, or a signed-in user's. */
export function forbiddenMessage(viewer: { apiKey: unknown }): string {
  return viewer.apiKey ? "Your API key's role does not allow this operation." : 'Your role does not allow this operation.';
}

export function forbiddenError(
  message = "Your API key's role does not allow this operation.",
  options: { path?: readonly (string | number)[] } = {},
): GraphQLError {
  return new GraphQLError(message, { ...(options.path ? { path: options.path } : {}), extensions: { code: 'FORBIDDEN' } });
}

/**
 * Gives every error of a result a code, so that clients can branch on `extensions.code` alone:
 * - graphql-js reports a variable that does not coerce ("Variable "$first" got invalid value …") with no
 *   code; it is a request error like a validation error, so it becomes BAD_USER_INPUT, answered 400 to
 *   graphql-response+json clients and 200 to application/json ones (GraphQL over HTTP, 6.4.2).
 * - Yoga's "POST body sent invalid JSON." carries the parser's message in `extensions.originalError`,
 *   which quotes the body: it is dropped, so that a credential in a malformed body is never echoed.
 * Any other error without a code would be a bug of the gateway; it gets INTERNAL_SERVER_ERROR rather than
 * no code, and the fuzz suite (test/fuzz.test.ts) looks for it.
 */
export function withErrorCode(error: GraphQLError): GraphQLError {
  const extensions = error.extensions ?? {};
  const hasCode = typeof extensions.code === 'string';
  if (hasCode && !('originalError' in extensions)) return error;
  const { originalError: echo, ...kept } = extensions;
  const requestError = !hasCode && error.path === undefined;
  const code = hasCode ? extensions.code : requestError ? 'BAD_USER_INPUT' : 'INTERNAL_SERVER_ERROR';
  let http = kept.http as { status?: number; spec?: boolean } | undefined;
  // Yoga answers an error with an `originalError` 400 even to application/json clients; without it, the
  // error's status would apply only to graphql-response+json ones, so `spec` is turned off to keep the 400.
  if (echo !== undefined && http) http = { ...http, spec: false };
  if (requestError && !http) http = { status: 400, spec: true };
  return new GraphQLError(error.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    originalError: error.originalError,
    extensions: { ...kept, code, ...(http ? { http } : {}) },
  });
}

/** Applies `withErrorCode` to every answer before it is serialized (and before it is logged and counted). */
export function useErrorCodes(): Plugin {
  return {
    onResultProcess({ result, setResult }) {
      if (Array.isArray(result) || !result || typeof result !== 'object' || !('errors' in result)) return;
      const { errors } = result as ExecutionResult;
      if (!errors?.length || errors.every((error) => typeof error.extensions?.code === 'string' && !('originalError' in error.extensions)))
        return;
      setResult({ ...(result as ExecutionResult), errors: errors.map(withErrorCode) });
    },
  };
}
