/** Anything that answers a fetch: a gateway's `yoga.fetch`, in process, over the same HTTP handling as a port. */
export interface Fetcher {
  fetch(url: string, init: RequestInit): Response | Promise<Response>;
}

export interface GraphQLRequest {
  /** An API key, sent as `Authorization: Bearer <key>`; null sends no Authorization header. */
  key: string | null;
  query: string;
  variables?: Record<string, unknown>;
  operationName?: string;
  /**
   * Headers beside the defaults (`Content-Type: application/json`, `Accept: application/graphql-response+json`):
   * a value replaces the default of the same name, null leaves that header out.
   */
  headers?: Record<string, string | null>;
}

export interface GraphQLAnswer<T = any> {
  status: number;
  headers: Headers;
  /** The body exactly as sent, to compare byte for byte. */
  text: string;
  /** The body parsed (`{}` when empty). */
  body: {
    data?: T;
    errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, any> }[];
    extensions?: Record<string, any>;
  };
}

/** POSTs one GraphQL request to `/graphql`: the one way suites send GraphQL in process. */
export async function sendGraphQL<T = any>(gateway: Fetcher, request: GraphQLRequest): Promise<GraphQLAnswer<T>> {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/graphql-response+json' };
  if (request.key !== null) headers.authorization = `Bearer ${request.key}`;
  for (const [name, value] of Object.entries(request.headers ?? {})) {
    if (value === null) delete headers[name];
    else headers[name] = value;
  }
  const { query, variables, operationName } = request;
  const response = await gateway.fetch('http://gateway.test/graphql', {
    method: 'POST',
    headers,
    body: JSON.stringify({ query, variables, operationName }),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, body: text ? JSON.parse(text) : {} };
}
