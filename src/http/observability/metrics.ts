import client from 'prom-client';
import { workerSlot } from '../../cluster.js';

/**
 * Process-wide metrics, shared by every gateway in the process: the Node.js runtime and calls to
 * providers. Gateway-specific metrics live in `gateway-metrics.ts`; `/metrics` serves both.
 */
export const processRegistry = new client.Registry();
client.collectDefaultMetrics({ register: processRegistry });

/**
 * Which process answered this scrape: under a cluster (WEB_CONCURRENCY > 1) each worker keeps its own
 * metrics, and a scrape reaches one of them; `worker` is its slot (1..N), empty outside a cluster.
 */
new client.Gauge({
  name: 'gateway_process_info',
  help: 'Always 1; labels: the process id and cluster worker slot of the process that answered.',
  labelNames: ['pid', 'worker'] as const,
  registers: [processRegistry],
  collect() {
    this.set({ pid: String(process.pid), worker: String(workerSlot() ?? '') }, 1);
  },
});

/** How a call to a provider ended. */
export type ProviderCallOutcome =
  | 'success'
  /** The provider refused the credential (401/403). */
  | 'unauthorized'
  /** The provider answered 429. */
  | 'rate_limited'
  /** Another 4xx. */
  | 'client_error'
  /** A 5xx. */
  | 'server_error'
  | 'timeout'
  /** DNS, connection or TLS failure. */
  | 'network_error'
  /** Refused by the outbound policy before any connection. */
  | 'blocked';

const providerCalls = new client.Counter({
  name: 'gateway_provider_calls_total',
  help: 'Calls to providers, by provider and outcome.',
  labelNames: ['provider', 'outcome'] as const,
  registers: [processRegistry],
});

const providerCallDuration = new client.Histogram({
  name: 'gateway_provider_call_duration_seconds',
  help: 'Duration of calls to providers, by provider and outcome.',
  labelNames: ['provider', 'outcome'] as const,
  buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [processRegistry],
});

/** Provider labels are connector keys; anything else is folded into one label, to bound cardinality. */
const providerLabel = (provider: string) => (/^[a-z0-9][a-z0-9_-]{0,39}$/.test(provider) ? provider : 'other');

/**
 * Records one call to a provider: `recordProviderCall('github', 'success', 0.231)`. For the connector
 * and outbound code; cheap and synchronous, never throws.
 */
export function recordProviderCall(provider: string, outcome: ProviderCallOutcome, seconds: number): void {
  const labels = { provider: providerLabel(provider), outcome };
  providerCalls.inc(labels);
  if (Number.isFinite(seconds) && seconds >= 0) providerCallDuration.observe(labels, seconds);
}
