import { timingSafeEqual } from 'node:crypto';
import type { Plugin } from 'graphql-yoga';
import { selectOperation } from '../limits/query-cost.js';
import type { RequestFactsMap } from '../limits/request-facts.js';
import type { Logger } from '../../logger.js';
import type { Viewer } from '../../modules/api-key/viewer.js';
import type { GatewayMetrics } from './gateway-metrics.js';
import { runInRequestScope } from './request-scope.js';

/** What `server.ts` settled about a request: its id, and once authenticated, its viewer. */
export type RequestInfo = (request: Request) => { requestId: string; viewer?: Viewer } | undefined;

/** Probes and scrapes: logged at debug level only, and not counted as GraphQL requests. */
const QUIET_PATHS = new Set(['/health', '/ready', '/metrics']);

export type RequestOutcome = 'ok' | 'error' | 'rejected' | 'unauthenticated' | 'rate_limited' | 'server_error';

function outcomeOf(status: number, errorCodes: readonly string[]): RequestOutcome {
  if (status >= 500) return 'server_error';
  if (status === 429) return 'rate_limited';
  if (status === 401) return 'unauthenticated';
  if (status >= 400) return 'rejected';
  return errorCodes.length > 0 ? 'error' : 'ok';
}

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
 * One structured log line per request (request id, organization, operation, duration, outcome, never
 * headers, variables or documents) and the request metrics. Runs each request inside a request scope,
 * so that every log line written while serving it carries its request id.
 */
export function useRequestTelemetry(options: {
  logger: Logger;
  metrics: GatewayMetrics;
  facts: RequestFactsMap;
  requestInfo: RequestInfo;
  graphqlEndpoint: string;
}): Plugin {
  const { logger, metrics, facts, requestInfo, graphqlEndpoint } = options;
  const started = new WeakMap<Request, number>();
  return {
    instrumentation: {
      request: ({ request }, wrapped) =>
        runInRequestScope(
          {
            get requestId() {
              return requestInfo(request)?.requestId;
            },
            get organizationId() {
              return requestInfo(request)?.viewer?.organization.id;
            },
          },
          wrapped,
        ),
    },
    onRequest({ request }) {
      started.set(request, performance.now());
    },
    onExecute({ args }) {
      // Recorded before any plugin may refuse the operation (authorization, cost), so that its line names it.
      const operation = selectOperation(args.document, args.operationName);
      const requestFacts = facts.of((args.contextValue as { request: Request }).request);
      requestFacts.operationType = operation?.operation;
      if (operation?.name?.value) requestFacts.operationName = operation.name.value;
    },
    onResultProcess({ request, result }) {
      facts.of(request).errorCodes = errorCodesOf(result);
    },
    onResponse({ request, response }) {
      const path = new URL(request.url, 'http://localhost').pathname;
      const begun = started.get(request);
      const seconds = begun === undefined ? 0 : (performance.now() - begun) / 1000;
      const info = requestInfo(request);
      const requestFacts = facts.peek(request) ?? {};
      const errorCodes = requestFacts.errorCodes ?? [];
      const outcome = outcomeOf(response.status, errorCodes);
      const line = {
        requestId: info?.requestId ?? response.headers.get('x-request-id') ?? undefined,
        method: request.method,
        path,
        status: response.status,
        durationMs: Math.round(seconds * 10_000) / 10,
        organization: info?.viewer?.organization.slug,
        organizationId: info?.viewer?.organization.id,
        apiKey: info?.viewer?.apiKey.prefix,
        operationName: requestFacts.operationName,
        operationType: requestFacts.operationType,
        cost: requestFacts.cost,
        outcome,
        ...(errorCodes.length > 0 ? { errorCodes: [...new Set(errorCodes)] } : {}),
      };
      if (QUIET_PATHS.has(path)) logger.debug(line, 'request');
      else if (outcome === 'server_error') logger.warn(line, 'request');
      else logger.info(line, 'request');

      if (path !== graphqlEndpoint || (request.method === 'GET' && response.headers.get('content-type')?.startsWith('text/html'))) return;
      const operation = metrics.operationLabel(requestFacts.operationName);
      const type = requestFacts.operationType ?? 'unknown';
      metrics.requests.inc({ operation, type, outcome });
      metrics.duration.observe({ operation, type }, seconds);
      for (const code of errorCodes) metrics.errors.inc({ code });
    },
  };
}

const sameSecret = (given: string, expected: string) => {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
};

/**
 * Serves Prometheus metrics at GET /metrics: to holders of `token` when one is configured, else to anyone
 * when `open`, else not at all (the path is then unknown: 404).
 */
export function useMetricsEndpoint(options: {
  metrics: GatewayMetrics;
  token: string | undefined;
  open?: boolean;
  endpoint?: string;
}): Plugin {
  const endpoint = options.endpoint ?? '/metrics';
  const served = options.token !== undefined || options.open !== false;
  return {
    async onRequest({ request, url, endResponse }) {
      if (url.pathname !== endpoint || !served) return;
      if (request.method !== 'GET') {
        endResponse(new Response(null, { status: 405, headers: { allow: 'GET' } }));
        return;
      }
      if (options.token !== undefined) {
        const presented = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.get('authorization') ?? '')?.[1];
        if (!presented || !sameSecret(presented, options.token)) {
          endResponse(
            new Response('metrics require "Authorization: Bearer <METRICS_TOKEN>"\n', {
              status: 401,
              headers: { 'www-authenticate': 'Bearer realm="metrics"', 'content-type': 'text/plain; charset=utf-8' },
            }),
          );
          return;
        }
      }
      const { contentType, body } = await options.metrics.exposition();
      endResponse(new Response(body, { status: 200, headers: { 'content-type': contentType } }));
    },
  };
}
