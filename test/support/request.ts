/** Anything that answers a web-standard fetch: a test gateway (test/support/gateway.ts). */
export interface Fetcher {
  fetch(url: string, init: RequestInit): Response | Promise<Response>;
}

/** Header values that replace the request helper's default of the same name; null leaves that header out. */
export type HeaderOverrides = Record<string, string | null>;

export interface GraphQLRequest {
  /** An API key, sent as `Authorization: Bearer <key>`; null sends no Authorization header. */
  key: string | null;
  query: string;
  variables?: Record<string, unknown>;
  operationName?: string;
  /**
   * Headers beside the defaults (`Content-Type: application/json`, `Accept: application/graphql-response+json`),
   * such as `Idempotency-Key` or `X-Request-Id`.
   */
  headers?: HeaderOverrides;
}

export interface GraphQLAnswer<T = any> {
  status: number;
  headers: Headers;
  /** The request's ID as the gateway answered it (`X-Request-Id`). */
  requestId: string;
  /** The body exactly as sent, to compare byte for byte. */
  text: string;
  /** The body parsed (`{}` when empty); errors and extensions are loose, since suites assert on their shape. */
  body: { data?: T; errors?: any; extensions?: any };
}

/**
 * POSTs one GraphQL request to `/graphql`: the one way suites send GraphQL, to a test gateway (in
 * process) or to the base URL of a gateway on a port (`http://127.0.0.1:<port>`, a gateway process).
 * Suites that send malformed HTTP on purpose use the gateway's `fetch` or a socket instead.
 */
export async function sendGraphQL<T = any>(target: Fetcher | string, request: GraphQLRequest): Promise<GraphQLAnswer<T>> {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/graphql-response+json' };
  if (request.key !== null) headers.authorization = `Bearer ${request.key}`;
  for (const [name, value] of Object.entries(request.headers ?? {})) {
    if (value === null) delete headers[name];
    else headers[name] = value;
  }
  const { query, variables, operationName } = request;
  const init = { method: 'POST', headers, body: JSON.stringify({ query, variables, operationName }) };
  const response = typeof target === 'string' ? await fetch(`${target}/graphql`, init) : await target.fetch('/graphql', init);
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    requestId: response.headers.get('x-request-id') ?? '',
    text,
    body: text ? JSON.parse(text) : {},
  };
}
