import type { Kysely } from 'kysely';
import client from 'prom-client';
import type { DatabaseHandle } from '../../db/connection.js';
import type { Database } from '../../db/database.js';
import { processRegistry } from './metrics.js';

/** Operation names come from clients: past this many distinct ones, new names count as `other`. */
const MAX_OPERATION_LABELS = 200;
/** The integrations gauge reads the database at most this often, however often Prometheus scrapes. */
const INTEGRATION_COUNT_TTL_MS = 10_000;

async function countIntegrations(db: Kysely<Database>) {
  return db
    .selectFrom('integrations')
    .select(['status', 'health', (eb) => eb.fn.countAll<number>().as('count')])
    .groupBy(['status', 'health'])
    .execute();
}

/** One gateway's metrics: its requests, and the state of its database, read when scraped. */
export class GatewayMetrics {
  readonly registry = new client.Registry();
  readonly #operations = new Set<string>();

  readonly requests = new client.Counter({
    name: 'gateway_graphql_requests_total',
    help: 'GraphQL requests, by operation name, operation type and outcome.',
    labelNames: ['operation', 'type', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly duration = new client.Histogram({
    name: 'gateway_graphql_request_duration_seconds',
    help: 'Time to answer GraphQL requests, by operation name and type.',
    labelNames: ['operation', 'type'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly errors = new client.Counter({
    name: 'gateway_graphql_errors_total',
    help: 'Errors in GraphQL answers (extensions.code) and REST problems (code), by code.',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });

  readonly restRequests = new client.Counter({
    name: 'gateway_rest_requests_total',
    help: 'REST requests, by operation id (as in openapi.json), HTTP status and outcome.',
    labelNames: ['operation', 'status', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly restDuration = new client.Histogram({
    name: 'gateway_rest_request_duration_seconds',
    help: 'Time to answer REST requests, by operation id.',
    labelNames: ['operation'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  /**
   * `documentCaches`: the entries of each per-document cache of the GraphQL server (parse, compiled,
   * counted, cost), read when scraped.
   */
  constructor(
    database: DatabaseHandle,
    onCollectError: (error: unknown) => void = () => {},
    documentCaches: (() => Record<string, number>) | null = null,
  ) {
    if (documentCaches) {
      new client.Gauge({
        name: 'gateway_graphql_document_cache_entries',
        help: 'Entries in each per-document cache of GraphQL (parse, compiled, counted, cost); each has a fixed bound.',
        labelNames: ['cache'] as const,
        registers: [this.registry],
        collect() {
          for (const [cache, entries] of Object.entries(documentCaches())) this.set({ cache }, entries);
        },
      });
    }
    let cached: { at: number; rows: Awaited<ReturnType<typeof countIntegrations>> } | null = null;
    new client.Gauge({
      name: 'gateway_integrations',
      help: 'Integrations of all organizations, by status and health.',
      labelNames: ['status', 'health'] as const,
      registers: [this.registry],
      async collect() {
        try {
          if (!cached || Date.now() - cached.at > INTEGRATION_COUNT_TTL_MS)
            cached = { at: Date.now(), rows: await countIntegrations(database.db) };
        } catch (error) {
          onCollectError(error); // keep the last values rather than fail the whole scrape
          return;
        }
        this.reset();
        for (const row of cached.rows) this.set({ status: row.status, health: row.health }, Number(row.count));
      },
    });
    const poolStats = database.poolStats;
    if (poolStats) {
      new client.Gauge({
        name: 'gateway_db_pool_connections',
        help: 'Connections of the PostgreSQL pool: total open, idle, and requests waiting for one.',
        labelNames: ['state'] as const,
        registers: [this.registry],
        collect() {
          const stats = poolStats();
          this.set({ state: 'total' }, stats.total);
          this.set({ state: 'idle' }, stats.idle);
          this.set({ state: 'waiting' }, stats.waiting);
        },
      });
    }
  }

  /** A bounded label for a client-chosen operation name. */
  operationLabel(name: string | undefined): string {
    if (!name) return 'anonymous';
    if (this.#operations.has(name)) return name;
    if (this.#operations.size >= MAX_OPERATION_LABELS || !/^[_A-Za-z][_0-9A-Za-z]{0,99}$/.test(name)) return 'other';
    this.#operations.add(name);
    return name;
  }

  /** The text served at /metrics: this gateway's metrics and the process-wide ones. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    const merged = client.Registry.merge([processRegistry, this.registry]);
    return { contentType: merged.contentType, body: await merged.metrics() };
  }
}
