import type { Tracer } from '@opentelemetry/api';
import type { Plugin } from 'graphql-yoga';

/** Which exporter `OTEL_TRACES_EXPORTER` selects; `none` leaves tracing off. */
export type TracesExporter = 'none' | 'otlp' | 'console';

// Kept rather than @envelop/opentelemetry: that plugin's execution span is this same one span, but it
// records the document, the variables and the raw (unmasked) execution errors unless each is turned off,
// and brings @opentelemetry/sdk-trace-base and @envelop/on-resolve; the request's server span, with its
// attributes, is the router's anyway (request-telemetry.ts).

/**
 * A child span per GraphQL execution, under the request's server span (which the router's telemetry
 * opens, request-telemetry.ts). It carries no attribute: the document, variables and result may hold
 * credentials.
 */
export function useTracing(options: { tracer: Tracer; onDispose?: () => Promise<void> }): Plugin {
  const { tracer } = options;
  return {
    instrumentation: {
      execute: (_payload, wrapped) =>
        tracer.startActiveSpan('graphql.execute', async (span) => {
          try {
            await wrapped();
          } finally {
            span.end();
          }
        }),
    },
    async onDispose() {
      await options.onDispose?.();
    },
  };
}
