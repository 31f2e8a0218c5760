import type { Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { BatchSpanProcessor, ConsoleSpanExporter, NodeTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
import type { TracesExporter } from './tracing.js';

// Loaded only when tracing is configured: the SDK and exporter take a while to import.

export interface Tracing {
  tracer: Tracer;
  /** Flushes pending spans and stops the exporter. */
  shutdown(): Promise<void>;
}

/**
 * Starts an OpenTelemetry tracer provider. `otlp` sends spans over OTLP/HTTP to
 * `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), read by the exporter itself;
 * the service is named by `OTEL_SERVICE_NAME`.
 */
export function startTracing(exporter: Exclude<TracesExporter, 'none'>): Tracing {
  const processor =
    exporter === 'otlp' ? new BatchSpanProcessor(new OTLPTraceExporter()) : new SimpleSpanProcessor(new ConsoleSpanExporter());
  const provider = new NodeTracerProvider({ spanProcessors: [processor] });
  provider.register();
  return { tracer: provider.getTracer('integrations-gateway'), shutdown: () => provider.shutdown() };
}
