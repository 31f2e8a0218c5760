import type { OperationLimits } from './limits/cost.plugin.js';
import type { DocumentLimits } from './limits/document-limits.js';
import type { LocalBudgetOptions } from './limits/local-budgets.js';
import type { RateLimitBudgets } from './limits/rate-limiter.js';
import type { TracesExporter } from './observability/tracing.js';

// Types and defaults only, so that reading the configuration loads none of the gateway's plugins.

export type QueryLimits = OperationLimits & DocumentLimits;

/** Query limits when none are configured: room for the real nested queries, none for abuse. */
export const DEFAULT_QUERY_LIMITS: QueryLimits = { maxCost: 25_000, maxDepth: 15, maxAliases: 30, maxTokens: 2_000, maxDirectives: 20 };
export const DEFAULT_MAX_REQUEST_BODY_BYTES = 100 * 1024;

/** How the gateway protects and observes itself; read from the environment by `config.ts`. */
export interface HardeningConfig {
  /** Serve GraphiQL on GET /graphql to browsers. */
  graphiql: boolean;
  /** Answer introspection queries (`__schema`, `__type`). */
  introspection: boolean;
  /** Remove "Did you mean …?" from errors. */
  hideSuggestions: boolean;
  maxRequestBodyBytes: number;
  queryLimits: QueryLimits;
  /** Budgets; `local`: counted in each process and flushed to PostgreSQL (local-budgets.ts), unless `flushMs` is 0. */
  rateLimit: RateLimitBudgets & { enabled: boolean; redisUrl: string | undefined; local: LocalBudgetOptions };
  /** Bearer token required to read /metrics. */
  metricsToken: string | undefined;
  /** Without a token: serve /metrics to anyone (true), or not at all (false, 404). */
  metricsPublic: boolean;
  tracesExporter: TracesExporter;
}
