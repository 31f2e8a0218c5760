import { type Span, SpanKind, SpanStatusCode, type Tracer } from '@opentelemetry/api';
import type { Plugin } from 'graphql-yoga';
import type { RequestFactsMap } from '../limits/request-facts.js';
import type { RequestInfo } from './telemetry.plugin.js';

/** Which exporter `OTEL_TRACES_EXPORTER` selects; `none` leaves tracing off. */
export type TracesExporter = 'none' | 'otlp' | 'console';

/**
 * A server span per request and a child span per GraphQL execution. Spans carry the operation's name and
 * type, the request id, organization, cost, status and error codes: never the document, variables or
 * result, which may hold credentials.
 */
export function useTracing(options: {
  tracer: Tracer;
  facts: RequestFactsMap;
  requestInfo: RequestInfo;
  onDispose?: () => Promise<void>;
}): Plugin {
  const { tracer, facts, requestInfo } = options;
  const spans = new WeakMap<Request, Span>();
  return {
    instrumentation: {
      request: ({ request }, wrapped) => {
        const path = new URL(request.url, 'http://localhost').pathname;
        return tracer.startActiveSpan(
          `${request.method} ${path}`,
          { kind: SpanKind.SERVER, attributes: { 'http.request.method': request.method, 'url.path': path } },
          async (span) => {
            spans.set(request, span);
            try {
              await wrapped();
            } catch (error) {
              span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.name : 'error' });
              throw error;
            } finally {
              span.end();
            }
          },
        );
      },
      execute: (_payload, wrapped) =>
        tracer.startActiveSpan('graphql.execute', async (span) => {
          try {
            await wrapped();
          } finally {
            span.end();
          }
        }),
    },
    onResponse({ request, response }) {
      const span = spans.get(request);
      if (!span) return;
      const info = requestInfo(request);
      const requestFacts = facts.peek(request) ?? {};
      span.setAttribute('http.response.status_code', response.status);
      if (info?.requestId) span.setAttribute('gateway.request_id', info.requestId);
      if (info?.viewer) span.setAttribute('gateway.organization_id', info.viewer.organization.id);
      if (requestFacts.operationName) span.setAttribute('graphql.operation.name', requestFacts.operationName);
      if (requestFacts.operationType) span.setAttribute('graphql.operation.type', requestFacts.operationType);
      if (requestFacts.cost !== undefined) span.setAttribute('gateway.cost', requestFacts.cost);
      if (requestFacts.errorCodes?.length) span.setAttribute('gateway.error_codes', [...new Set(requestFacts.errorCodes)]);
      if (response.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    },
    async onDispose() {
      await options.onDispose?.();
    },
  };
}
