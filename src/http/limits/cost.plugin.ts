import { type DocumentNode, getArgumentValues, GraphQLError, type GraphQLSchema, type OperationDefinitionNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { GatewayContext } from '../../context.js';
import { decodeTypedID } from '../../graphql/global-id.js';
import { coercedVariables, rootFieldsOf } from '../../graphql/operation-authorization.js';
import type { Logger } from '../../logger.js';
import { operationCostsOf, selectOperation } from './query-cost.js';
import { budgetOwnerName, type RateLimiter, type RateLimitOutcome } from './rate-limiter.js';
import { requestStateOf, type WithRequestState } from '../admission/request-state.js';

/** Limits on an operation's shape, measured with the schema's cost model before it runs. */
export interface OperationLimits {
  /** Most cost points one operation may request. */
  maxCost: number;
  /** Deepest nesting of fields. */
  maxDepth: number;
}

/** The mutation that reaches a provider on every call, and so has its own per-integration budget. */
const PROBING_MUTATION = 'testIntegration';

/** A request error like a validation error: 400 for graphql-response+json clients, 200 for application/json ones. */
function requestError(message: string, extensions: Record<string, unknown>): GraphQLError {
  return new GraphQLError(message, { extensions: { ...extensions, http: { status: 400, spec: true } } });
}

/**
 * IDs of the integrations that the operation's `testIntegration` fields probe: only fields that run, and
 * only for a caller allowed to run them (useOperationAuthorization refuses the operation otherwise).
 */
function probedIntegrations(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  rawVariables: Record<string, unknown>,
): string[] {
  const field = schema.getMutationType()?.getFields()[PROBING_MUTATION];
  if (operation.operation !== 'mutation' || !field) return [];
  const variables = coercedVariables(schema, operation, rawVariables);
  if (!variables) return [];
  return rootFieldsOf(document, operation, variables)
    .filter((node) => node.name.value === PROBING_MUTATION)
    .flatMap((node) => {
      try {
        const args = getArgumentValues(field, node, variables) as { input?: { id?: unknown } };
        return [decodeTypedID(String(args.input?.id), 'Integration')];
      } catch {
        return []; // an invalid ID: the mutation answers with its own error, and probes nothing
      }
    });
}

/** Whether the variables charged at authentication are the ones the operation runs with. */
function sameVariables(charged: unknown, running: unknown): boolean {
  if (charged === running) return true;
  const empty = (value: unknown) =>
    value === null || value === undefined || (typeof value === 'object' && Object.keys(value as object).length === 0);
  if (empty(charged) && empty(running)) return true;
  return JSON.stringify(charged) === JSON.stringify(running);
}

function rateLimitHeaders(outcome: RateLimitOutcome): Record<string, string> {
  const headers: Record<string, string> = {};
  if (outcome.report) {
    headers['x-ratelimit-limit'] = String(outcome.report.limit);
    headers['x-ratelimit-remaining'] = String(outcome.report.remaining);
    headers['x-ratelimit-reset'] = String(Math.ceil(outcome.report.resetAt.getTime() / 1000));
  }
  return headers;
}

/**
 * Measures every operation before it runs (`@pothos/plugin-complexity` with the cost model of
 * `query-cost.ts`), refuses one over the cost or depth limit, charges its cost to the caller's budgets,
 * refuses it with HTTP 429 when a budget is spent, and reports `extensions.cost` on the answer.
 */
export function useOperationCost(options: { limits: OperationLimits; rateLimiter: RateLimiter | null; logger: Logger }): Plugin {
  const { limits, rateLimiter, logger } = options;
  const plugin: Plugin = {
    async onExecute({ args, setResultAndStopExecution }) {
      const context = args.contextValue as unknown as GatewayContext &
        WithRequestState & { request: Request; params?: { query?: string } };
      const state = requestStateOf(context, context.request);
      const requestFacts = state.facts;
      const variables = (args.variableValues ?? {}) as Record<string, unknown>;
      const operation = selectOperation(args.document, args.operationName);

      // The document parsed and validated: its cost is remembered by its text from now on, and a request
      // sending it again is charged with its authentication (early-charge.ts).
      const costs = operationCostsOf(args.schema);
      const query = context.params?.query;
      if (typeof query === 'string') costs.remember(query, args.document);
      // The charge made with authentication, taken once.
      const prepaid = state.prepaid;
      state.prepaid = undefined;
      const charged =
        prepaid &&
        prepaid.query === query &&
        prepaid.operationName === (args.operationName ?? null) &&
        sameVariables(prepaid.variables, args.variableValues)
          ? prepaid
          : undefined;

      let measured: { complexity: number; depth: number } | null;
      try {
        measured = charged ? charged.measured : costs.measure(query, args.document, args.operationName, variables);
      } catch (error) {
        if (error instanceof GraphQLError) return setResultAndStopExecution({ errors: [error] });
        throw error;
      }
      if (!measured) return; // unknown operation or invalid variables: execution refuses it whole
      const requested = Math.max(1, measured.complexity);
      requestFacts.cost = requested;
      const cost: Record<string, unknown> = { requested, maximum: limits.maxCost };
      if (measured.depth > limits.maxDepth) {
        return setResultAndStopExecution({
          errors: [
            requestError(`The operation is nested ${measured.depth} fields deep; at most ${limits.maxDepth} are allowed.`, {
              code: 'MAX_DEPTH_EXCEEDED',
              limit: limits.maxDepth,
              found: measured.depth,
            }),
          ],
          extensions: { cost },
        });
      }
      if (requested > limits.maxCost) {
        return setResultAndStopExecution({
          errors: [
            requestError(
              `The operation costs ${requested} points; at most ${limits.maxCost} are allowed per operation. ` +
                'Request smaller pages (first/last).',
              {
                code: 'MAX_COST_EXCEEDED',
                limit: limits.maxCost,
                requested,
              },
            ),
          ],
          extensions: { cost },
        });
      }
      if (rateLimiter && operation) {
        let outcome: RateLimitOutcome | null = charged?.outcome ?? null;
        if (!charged) {
          try {
            outcome = await rateLimiter.charge(
              context.viewer,
              requested,
              probedIntegrations(args.schema, args.document, operation, variables),
            );
          } catch (error) {
            // A budget store that fails must not take the API down with it: the request goes through.
            logger.warn(
              { err: error, store: rateLimiter.store.kind, requestId: context.requestId },
              'rate limit store failed; request not limited',
            );
          }
        }
        if (outcome) {
          requestFacts.rateLimitHeaders = rateLimitHeaders(outcome);
          if (outcome.report)
            Object.assign(cost, {
              remaining: outcome.report.remaining,
              limit: outcome.report.limit,
              resetAt: outcome.report.resetAt.toISOString(),
            });
          if (outcome.exceeded) {
            const { scope, limit, retryAfterSeconds } = outcome.exceeded;
            const { integrationTestWindowSeconds, windowSeconds } = rateLimiter.budgets;
            const owner = scope === 'INTEGRATION_TEST' ? '' : budgetOwnerName(scope, context.viewer);
            const message =
              scope === 'INTEGRATION_TEST'
                ? `This integration may be tested at most ${limit} times per ${integrationTestWindowSeconds} seconds; ` +
                  `retry in ${retryAfterSeconds} seconds.`
                : `The ${owner} budget of ${limit} cost points per ${windowSeconds} seconds is spent; ` +
                  `retry in ${retryAfterSeconds} seconds.`;
            return setResultAndStopExecution({
              errors: [
                new GraphQLError(message, {
                  extensions: {
                    code: 'RATE_LIMITED',
                    scope,
                    limit,
                    retryAfter: retryAfterSeconds,
                    http: { status: 429, headers: { 'Retry-After': String(retryAfterSeconds) } },
                  },
                }),
              ],
              extensions: { cost },
            });
          }
        }
      }
      return {
        onExecuteDone({ result, setResult }) {
          if (!('data' in result) && !('errors' in result)) return; // a stream: not served here
          setResult({ ...result, extensions: { ...result.extensions, cost } });
        },
      };
    },
    onResponse({ request, response, serverContext }) {
      const headers = requestStateOf(serverContext as WithRequestState, request).facts.rateLimitHeaders;
      if (headers) for (const [name, value] of Object.entries(headers)) response.headers.set(name, value);
    },
    // A subscription is measured, limited and charged when it starts, as any operation: the same step,
    // which reads only the operation and the way to answer it without running it.
    async onSubscribe({ args, setResultAndStopExecution }) {
      await plugin.onExecute?.({ args, setResultAndStopExecution } as unknown as Parameters<NonNullable<Plugin['onExecute']>>[0]);
    },
  };
  return plugin;
}
