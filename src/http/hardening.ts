import { useCSRFPrevention } from '@graphql-yoga/plugin-csrf-prevention';
import type { Tracer } from '@opentelemetry/api';
import { GraphQLError, NoSchemaIntrospectionCustomRule } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { DatabaseHandle } from '../db/connection.js';
import { useErrorCodes } from '../graphql/errors.js';
import { useOperationAuthorization } from '../graphql/operation-authorization.js';
import { useRequestMediaTypes } from './media-types.js';
import { useKnownOperationTypes, useNestingLimit, useRequestBodyLimit, useVariableChecks } from './limits/request-checks.js';
import { DEFAULT_MAX_REQUEST_BODY_BYTES, DEFAULT_QUERY_LIMITS, type HardeningConfig, type QueryLimits } from './hardening.config.js';
import { useOperationCost } from './limits/cost.plugin.js';
import { useDocumentLimits } from './limits/document-limits.js';
import { useHideSuggestions } from './limits/hide-suggestions.plugin.js';
import { LocalBudgets, type LocalBudgetOptions } from './limits/local-budgets.js';
import { postgresRateLimitStore, type RateLimitStore } from './limits/rate-limit-store.js';
import { RateLimiter } from './limits/rate-limiter.js';
import type { Logger } from '../logger.js';
import { maskError, useMaskedErrorReports } from './observability/mask-error.js';
import { useOperationFacts } from './observability/telemetry.plugin.js';
import { useTracing } from './observability/tracing.js';

export { DEFAULT_MAX_REQUEST_BODY_BYTES, DEFAULT_QUERY_LIMITS, type HardeningConfig, type QueryLimits } from './hardening.config.js';
export { acceptsAnswer } from './media-types.js';

/** What `createGateway` takes. Everything is optional: absent, limits are the defaults and nothing is rate limited. */
export interface HardeningOptions {
  queryLimits?: Partial<QueryLimits>;
  /** Charges requests to budgets; `null` or absent: no rate limiting (and no x-ratelimit headers). */
  rateLimiter?: RateLimiter | null;
  introspection?: boolean;
  hideSuggestions?: boolean;
  maxRequestBodyBytes?: number;
  metricsToken?: string;
  /** Without `metricsToken`: serve /metrics to anyone (default), or not at all (`false`: 404). */
  metricsPublic?: boolean;
  /** Records spans when given. */
  tracer?: Tracer;
  /** Run when the gateway is disposed: closes what `hardeningFromConfig` opened. */
  dispose?: () => Promise<void>;
}

/** Headers any of which marks a GET or form request as not a browser's "simple" cross-site request. */
const CSRF_HEADERS = ['x-graphql-yoga-csrf', 'apollo-require-preflight', 'x-apollo-operation-name'];

/**
 * A request a browser cannot have sent on its own: it carries a Bearer credential, which a page can only
 * add through fetch, and a cross-site fetch with Authorization is preflighted (CORS). A browser attaches
 * cookies, and Basic credentials it has cached, to a plain cross-site GET, never a Bearer token.
 */
const BEARER = /^bearer\s/i;

/**
 * Yoga's CSRF prevention, with a code on its error, for requests that could authenticate by what a
 * browser attaches on its own (cookies, Basic): those need one of CSRF_HEADERS unless their content type
 * makes browsers preflight them. A request carrying `Authorization: Bearer` cannot be forged, so every
 * client's GET works as it is. The gateway accepts only Bearer keys today, so the others are refused 401
 * first (this runs after authentication, so that a request without a key learns nothing but 401); the
 * rule stands for any credential a browser sends by itself.
 */
export function useCsrfPrevention(): Plugin {
  const csrf = useCSRFPrevention({ requestHeaders: CSRF_HEADERS });
  return {
    onRequestParse(payload) {
      if (BEARER.test(payload.request.headers.get('authorization') ?? '')) return;
      try {
        return csrf.onRequestParse?.(payload);
      } catch {
        throw new GraphQLError(`A GET or form request must carry one of these headers: ${CSRF_HEADERS.join(', ')}.`, {
          extensions: { code: 'CSRF_HEADER_REQUIRED', http: { status: 403 } },
        });
      }
    },
  };
}

function useNoIntrospection(): Plugin {
  return {
    onValidate({ addValidationRule }) {
      addValidationRule(NoSchemaIntrospectionCustomRule);
    },
  };
}

export interface GatewayHardening {
  plugins: Plugin[];
  maskedErrors: { maskError: typeof maskError };
  maxRequestBodySize: number;
}

/** The plugins and Yoga options that limit and observe every GraphQL request. */
export function gatewayHardening(options: HardeningOptions, deps: { logger: Logger }): GatewayHardening {
  const { logger } = deps;
  const limits = { ...DEFAULT_QUERY_LIMITS, ...options.queryLimits };
  const rateLimiter = options.rateLimiter ?? null;
  const maxRequestBodySize = options.maxRequestBodyBytes ?? DEFAULT_MAX_REQUEST_BODY_BYTES;
  const plugins: Plugin[] = [
    // First, while each masked error is still the one masking gave.
    useMaskedErrorReports(logger),
    // Then: the operation facts record the codes this gives.
    useErrorCodes(),
    useOperationFacts(),
    ...(options.tracer ? [useTracing({ tracer: options.tracer })] : []),
    // Before the CSRF rule: a body the gateway does not read is 415 whoever sends it.
    useRequestMediaTypes(),
    useCsrfPrevention(),
    useRequestBodyLimit(maxRequestBodySize),
    useNestingLimit(limits.maxDepth),
    useKnownOperationTypes(),
    useVariableChecks(limits.maxDepth),
    ...useDocumentLimits(limits),
    ...(options.introspection === false ? [useNoIntrospection()] : []),
    // Before the cost: an operation the caller's role may not run is refused whole and charged nothing.
    useOperationAuthorization(),
    useOperationCost({ limits, rateLimiter, logger }),
    ...(options.hideSuggestions ? [useHideSuggestions()] : []),
    {
      async onDispose() {
        await rateLimiter?.store.close();
        await options.dispose?.();
      },
    },
  ];
  return { plugins, maskedErrors: { maskError }, maxRequestBodySize };
}

/** Budgets in PostgreSQL: counted in this process and flushed in batches, or (`flushMs` 0) charged request by request. */
export function postgresBudgets(database: Pick<DatabaseHandle, 'db'>, local: LocalBudgetOptions, logger: Logger): RateLimitStore {
  const shared = postgresRateLimitStore(database.db);
  if (local.flushMs <= 0) return shared;
  return new LocalBudgets(database.db, shared, local, (error) => logger.warn({ err: error }, 'rate limit: flushing budgets failed'));
}

/** Opens what the configuration asks for (the budget store, the tracer) and returns the gateway's options. */
export async function hardeningFromConfig(config: HardeningConfig, database: DatabaseHandle, logger: Logger): Promise<HardeningOptions> {
  const { rateLimit } = config;
  let rateLimiter: RateLimiter | null = null;
  if (rateLimit.enabled) {
    // Redis's client and the tracing SDK are imported only when configured: they slow every start otherwise.
    const store = rateLimit.redisUrl
      ? await (await import('./limits/redis-rate-limit-store.js')).openRedisRateLimitStore(rateLimit.redisUrl)
      : postgresBudgets(database, rateLimit.local, logger);
    rateLimiter = new RateLimiter(store, rateLimit);
  }
  const tracing =
    config.tracesExporter === 'none' ? null : (await import('./observability/tracing-sdk.js')).startTracing(config.tracesExporter);
  return {
    queryLimits: config.queryLimits,
    rateLimiter,
    introspection: config.introspection,
    hideSuggestions: config.hideSuggestions,
    maxRequestBodyBytes: config.maxRequestBodyBytes,
    metricsPublic: config.metricsPublic,
    ...(config.metricsToken === undefined ? {} : { metricsToken: config.metricsToken }),
    ...(tracing ? { tracer: tracing.tracer, dispose: () => tracing.shutdown() } : {}),
  };
}
