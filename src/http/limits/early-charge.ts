import type { GraphQLParams } from 'graphql-yoga';
import type { Role } from '../../db/database.js';
import { coercedVariables, rolesAllowedToRun, rootFieldsOf } from '../../graphql/operation-authorization.js';
import type { Viewer } from '../../modules/api-key/viewer.js';
import type { OperationLimits } from './cost.plugin.js';
import { type OperationCosts, selectOperation } from './query-cost.js';
import { type BucketRow, chargeResult, type CostBudget } from './rate-limit-store.js';
import { budgetOwnerOf, type PrepaidCharge, type RateLimiter } from './rate-limiter.js';

/**
 * Charging the rate limit in the authentication statement.
 *
 * Every request costs an authentication statement, and every operation a rate-limit charge before it
 * runs: two round trips to PostgreSQL before the first byte of data, on every request. The charge
 * needs the operation's cost, which needs the document; but a dashboard sends the same few documents
 * over and over, and a document this process has already parsed, validated and measured has the same
 * cost for the same variables. For such a document (a query: mutations, those answered from a stored
 * Idempotency-Key answer included, are charged when they run, where testIntegration's budget per tested
 * integration is also worked out from its arguments), the cost is known as soon as the body is read, and the
 * authentication statement charges it too (`findKeyByPrefixCharging`), only if the key is valid and its
 * role may run every root field of the operation (one that may not is refused whole, and charged nothing). The
 * cost plugin then takes the outcome instead of charging again, and answers 429 or reports the budget
 * exactly as it does for a request charged on its own. Everything else, a first sight of a document,
 * mutations, budgets kept in Redis, is charged as before, in a statement of its own. A key this process
 * verified lately needs no statement (verified-keys.ts): its request is charged when it runs, to budgets
 * counted in the process (local-budgets.ts) without a statement either; a signed-in user's, whose
 * organization is read on every request, still is charged in that statement.
 */
export interface EarlyChargePlan {
  query: string;
  operationName: string | null;
  variables: unknown;
  measured: { complexity: number; depth: number };
  points: number;
  budgets: CostBudget[];
  /** The roles allowed to run the operation: a key of another role is not charged. */
  roles: Role[];
}

/** What to charge with the authentication of a request with these parameters, or null to charge it later. */
export function planEarlyCharge(
  params: GraphQLParams,
  deps: { costs: OperationCosts; limits: OperationLimits; rateLimiter: RateLimiter | null },
): EarlyChargePlan | null {
  const { costs, limits, rateLimiter } = deps;
  if (rateLimiter?.store.kind !== 'postgres' || typeof params.query !== 'string') return null;
  const document = costs.known(params.query);
  if (!document) return null;
  const operationName = params.operationName ?? null;
  const operation = selectOperation(document, operationName);
  if (operation?.operation !== 'query') return null;
  const variables = params.variables ?? null;
  if (variables !== null && (typeof variables !== 'object' || Array.isArray(variables))) return null;
  const coerced = coercedVariables(costs.schema, operation, variables);
  if (!coerced) return null;
  const roles = rolesAllowedToRun(costs.schema, operation, rootFieldsOf(document, operation, coerced));
  if (roles.length === 0) return null;
  let measured: ReturnType<typeof costs.measure>;
  try {
    measured = costs.measure(params.query, document, operationName, variables as Record<string, unknown> | null);
  } catch {
    return null; // the cost plugin reports it when the operation runs
  }
  if (!measured) return null;
  const points = Math.max(1, measured.complexity);
  // Refused before charging when it runs: not charged here either.
  if (measured.depth > limits.maxDepth || points > limits.maxCost) return null;
  const budgets = rateLimiter.costBudgets();
  if (budgets.length === 0) return null;
  return {
    query: params.query,
    operationName,
    variables,
    measured: { complexity: measured.complexity, depth: measured.depth },
    points,
    budgets,
    roles,
  };
}

/** The charge made at authentication, as the cost plugin takes it from the request's state. */
export function prepaidCharge(
  rateLimiter: RateLimiter,
  plan: EarlyChargePlan,
  viewer: Viewer,
  charged: readonly BucketRow[],
): PrepaidCharge {
  const charges = rateLimiter.costCharges(budgetOwnerOf(viewer), plan.points);
  return {
    query: plan.query,
    operationName: plan.operationName,
    variables: plan.variables,
    measured: plan.measured,
    outcome: rateLimiter.outcomeOf(charges, chargeResult(charges, charged)),
  };
}
