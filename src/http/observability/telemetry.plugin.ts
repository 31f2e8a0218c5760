import { timingSafeEqual } from 'node:crypto';
import type { Plugin } from 'graphql-yoga';
import { requestStateOf, type WithRequestState } from '../admission/request-state.js';
import { selectOperation } from '../limits/query-cost.js';
import type { GatewayMetrics } from './gateway-metrics.js';

function errorCodesOf(result: unknown): string[] {
  const results = Array.isArray(result) ? result : [result];
  const codes: string[] = [];
  for (const single of results) {
    const errors = (single as { errors?: readonly { extensions?: { code?: unknown } }[] } | null)?.errors ?? [];
    for (const error of errors) codes.push(typeof error.extensions?.code === 'string' ? error.extensions.code : 'UNKNOWN');
  }
  return codes;
}

/**
 * Notes in the request's state what GraphQL alone knows, for the request's log line, metrics and span
 * (written by the router's telemetry, request-telemetry.ts): the operation's name and type, the codes of
 * the errors in the answer.
 */
export function useOperationFacts(): Plugin {
  return {
    onExecute({ args }) {
      // Recorded before any plugin may refuse the operation (authorization, cost), so that its line names it.
      const operation = selectOperation(args.document, args.operationName);
      const context = args.contextValue as WithRequestState & { request: Request };
      const facts = requestStateOf(context, context.request).facts;
      facts.operationType = operation?.operation;
      if (operation?.name?.value) facts.operationName = operation.name.value;
    },
    onResultProcess({ request, result, serverContext }) {
      requestStateOf(serverContext as WithRequestState, request).facts.errorCodes = errorCodesOf(result);
    },
  };
}

const sameSecret = (given: string, expected: string) => {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
};

/** Who may read /metrics: holders of `token` when one is configured, else anyone when `open`, else no one. */
export interface MetricsAccess {
  token: string | undefined;
  open?: boolean;
}

/** Whether GET /metrics exists at all (a closed endpoint is an unknown path: 404). */
export const metricsServed = (access: MetricsAccess) => access.token !== undefined || access.open !== false;

/** The answer to GET /metrics: Prometheus exposition, or 401 without the configured token. */
export async function metricsResponse(request: Request, metrics: GatewayMetrics, access: MetricsAccess): Promise<Response> {
  if (access.token !== undefined) {
    const presented = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.get('authorization') ?? '')?.[1];
    if (!presented || !sameSecret(presented, access.token)) {
      return new Response('metrics require "Authorization: Bearer <METRICS_TOKEN>"\n', {
        status: 401,
        headers: { 'www-authenticate': 'Bearer realm="metrics"', 'content-type': 'text/plain; charset=utf-8' },
      });
    }
  }
  const { contentType, body } = await metrics.exposition();
  return new Response(body, { status: 200, headers: { 'content-type': contentType } });
}
