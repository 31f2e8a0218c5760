import { type Span, SpanKind, SpanStatusCode, type Tracer } from '@opentelemetry/api';
import type { Logger } from '../../logger.js';
import type { RequestState } from '../admission/request-state.js';
import type { GatewayMetrics } from './gateway-metrics.js';

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

/** How a request was answered, as the router saw it. */
export interface Answered {
  status: number;
  contentType: string | null;
}

export interface RequestTelemetry {
  /**
   * Serves a request, inside its server span when tracing; then writes its log line, metrics and span
   * attributes.
   */
  observe(request: { method: string; path: string }, state: RequestState, serve: () => Promise<Answered>): Promise<void>;
}

/**
 * One structured log line per request (request id, organization, operation, duration, outcome; never
 * headers, variables or documents), the request metrics for GraphQL requests, and a server span per
 * request when a tracer is given. Spans and lines carry the operation's name and type, the request id,
 * organization, cost, status and error codes: never the document, variables or result.
 */
export function requestTelemetry(deps: {
  logger: Logger;
  metrics: GatewayMetrics;
  tracer?: Tracer | undefined;
  graphqlEndpoint: string;
}): RequestTelemetry {
  const { logger, metrics, tracer, graphqlEndpoint } = deps;

  const record = (request: { method: string; path: string }, state: RequestState, answered: Answered, span: Span | undefined) => {
    const { facts, viewer } = state;
    const seconds = (performance.now() - state.startedAt) / 1000;
    const errorCodes = facts.errorCodes ?? [];
    const outcome = outcomeOf(answered.status, errorCodes);
    const line = {
      requestId: state.requestId,
      method: request.method,
      path: request.path,
      status: answered.status,
      durationMs: Math.round(seconds * 10_000) / 10,
      organization: viewer?.organization.slug,
      organizationId: viewer?.organization.id,
      apiKey: viewer?.apiKey?.prefix,
      user: viewer?.user?.subject,
      operationName: facts.operationName,
      operationType: facts.operationType,
      cost: facts.cost,
      outcome,
      ...(facts.authenticationFailure ? { authenticationFailure: facts.authenticationFailure } : {}),
      ...(errorCodes.length > 0 ? { errorCodes: [...new Set(errorCodes)] } : {}),
    };
    if (QUIET_PATHS.has(request.path)) logger.debug(line, 'request');
    else if (outcome === 'server_error') logger.warn(line, 'request');
    else logger.info(line, 'request');

    if (span) {
      span.setAttribute('http.response.status_code', answered.status);
      span.setAttribute('gateway.request_id', state.requestId);
      if (viewer) span.setAttribute('gateway.organization_id', viewer.organization.id);
      if (facts.operationName) span.setAttribute('graphql.operation.name', facts.operationName);
      if (facts.operationType) span.setAttribute('graphql.operation.type', facts.operationType);
      if (facts.cost !== undefined) span.setAttribute('gateway.cost', facts.cost);
      if (errorCodes.length > 0) span.setAttribute('gateway.error_codes', [...new Set(errorCodes)]);
      if (answered.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    }

    if (facts.rest && facts.operationName) {
      // Operation ids are the router's own (openapi.json), never the client's: a bounded label as they are.
      metrics.restRequests.inc({ operation: facts.operationName, status: String(answered.status), outcome });
      metrics.restDuration.observe({ operation: facts.operationName }, seconds);
      for (const code of errorCodes) metrics.errors.inc({ code });
      return;
    }
    const graphqlPath = request.path === graphqlEndpoint || request.path === `${graphqlEndpoint}/`;
    if (!graphqlPath || (request.method === 'GET' && answered.contentType?.startsWith('text/html'))) return;
    const operation = metrics.operationLabel(facts.operationName);
    const type = facts.operationType ?? 'unknown';
    metrics.requests.inc({ operation, type, outcome });
    metrics.duration.observe({ operation, type }, seconds);
    for (const code of errorCodes) metrics.errors.inc({ code });
  };

  return {
    async observe(request, state, serve) {
      if (!tracer) {
        record(request, state, await serve(), undefined);
        return;
      }
      const attributes = { 'http.request.method': request.method, 'url.path': request.path };
      await tracer.startActiveSpan(`${request.method} ${request.path}`, { kind: SpanKind.SERVER, attributes }, async (span) => {
        state.span = span;
        try {
          record(request, state, await serve(), span);
        } catch (error) {
          span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.name : 'error' });
          throw error;
        } finally {
          span.end();
        }
      });
    },
  };
}
