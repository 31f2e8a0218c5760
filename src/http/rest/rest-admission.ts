import type { Context, MiddlewareHandler } from 'hono';
import type { Role } from '../../db/database.js';
import { hasRole, ROLES } from '../../modules/api-key/viewer.js';
import { type Admission, type AdmissionFailure, type AdmissionPlan, admit, FAILURE_MESSAGES, readCredential } from '../admission/admit.js';
import { IdentityProviderUnavailableError, SIGN_IN_RETRY_AFTER_SECONDS, SIGN_IN_UNAVAILABLE } from '../admission/oidc/oidc-verifier.js';
import type { RequestState } from '../admission/request-state.js';
import { forbiddenMessage } from '../../graphql/errors.js';
import type { RestEnv } from './rest-env.js';
import { budgetOwnerName, type RateLimitOutcome } from '../limits/rate-limiter.js';
import { PROBLEM_TYPE, problem } from './problem.js';

/** What an operation costs, in the cost points of the GraphQL API, and which integrations it probes. */
export interface RestCharge {
  points: number;
  /** Integrations the operation probes (row ids): each spends one of the integration's test budget. */
  probes?: string[];
}

/** The facts an operation gives the request's log line. */
export interface RestOperation {
  operationId: string;
  type: 'query' | 'mutation';
  /** The least role that may run it: VIEWER reads, EDITOR writes, as in GraphQL. */
  role: Role;
  /** Its cost, worked out from the raw request (before validation, which comes after admission). */
  charge: (c: Context<RestEnv>) => RestCharge;
}

const AUTHENTICATE = { 'www-authenticate': 'Bearer realm="integrations-gateway"' };

function rateLimitHeaders(outcome: RateLimitOutcome): Record<string, string> {
  if (!outcome.report) return {};
  return {
    'x-ratelimit-limit': String(outcome.report.limit),
    'x-ratelimit-remaining': String(outcome.report.remaining),
    'x-ratelimit-reset': String(Math.ceil(outcome.report.resetAt.getTime() / 1000)),
  };
}

/**
 * The charge to make in the authentication statement itself, as GraphQL does for a query it has seen:
 * one round trip for both. Only for budgets kept in PostgreSQL, and not for a probe, whose budget per
 * integration that statement does not charge; only a key whose role may run the operation is charged.
 */
function fusedCharge(admission: Admission, operation: RestOperation, cost: RestCharge): AdmissionPlan | null {
  const { rateLimiter } = admission;
  if (rateLimiter?.store.kind !== 'postgres' || (cost.probes?.length ?? 0) > 0) return null;
  const budgets = rateLimiter.costBudgets();
  if (budgets.length === 0) return null;
  const charge = {
    query: `REST ${operation.operationId}`,
    operationName: null,
    variables: null,
    measured: { complexity: cost.points, depth: 1 },
    points: cost.points,
    budgets,
    // ROLES runs from the least to the most privileged.
    roles: ROLES.slice(ROLES.indexOf(operation.role)),
  };
  return { charge, claim: null };
}

/** Charges the operation to the caller's budgets (unless admission did); a refusal when one is spent, else null. */
async function charge(admission: Admission, state: RequestState, cost: RestCharge): Promise<Response | null> {
  const { rateLimiter, logger } = admission;
  const viewer = state.viewer;
  if (!rateLimiter || !viewer) return null;
  let outcome: RateLimitOutcome;
  const prepaid = state.prepaid;
  state.prepaid = undefined;
  try {
    outcome = prepaid ? prepaid.outcome : await rateLimiter.charge(viewer, cost.points, cost.probes ?? []);
  } catch (error) {
    // A budget store that fails must not take the API down with it, as for GraphQL.
    logger.warn({ err: error, store: rateLimiter.store.kind, requestId: state.requestId }, 'rate limit store failed; request not limited');
    return null;
  }
  const headers = rateLimitHeaders(outcome);
  state.facts.rateLimitHeaders = headers;
  if (!outcome.exceeded) return null;
  const { scope, limit, retryAfterSeconds } = outcome.exceeded;
  const detail =
    scope === 'INTEGRATION_TEST'
      ? `This integration may be tested at most ${limit} times per ${rateLimiter.budgets.integrationTestWindowSeconds} seconds; ` +
        `retry in ${retryAfterSeconds} seconds.`
      : `The ${budgetOwnerName(scope, viewer)} budget of ${limit} cost points ` +
        `per ${rateLimiter.budgets.windowSeconds} seconds is spent; retry in ${retryAfterSeconds} seconds.`;
  return problem(429, 'RATE_LIMITED', detail, {
    requestId: state.requestId,
    headers: { ...headers, 'retry-after': String(retryAfterSeconds) },
  });
}

/** The role check, then the charge: a refusal, or null to run the operation. */
async function authorizeAndCharge(
  admission: Admission,
  state: RequestState,
  operation: RestOperation,
  cost: RestCharge,
): Promise<Response | null> {
  const viewer = state.viewer;
  if (!viewer || !hasRole(viewer, operation.role)) {
    state.prepaid = undefined;
    return problem(403, 'FORBIDDEN', forbiddenMessage(viewer ?? { apiKey: true }), { requestId: state.requestId });
  }
  return charge(admission, state, cost);
}

/** Notes a problem's code for the request's log line and span, as GraphQL notes its errors' codes. */
async function noteProblem(state: RequestState, response: Response): Promise<void> {
  if (response.headers.get('content-type') !== PROBLEM_TYPE) return;
  const body = (await response.clone().json()) as { code?: unknown };
  if (typeof body.code === 'string') state.facts.errorCodes = [body.code];
}

/**
 * Admits a REST request exactly as GraphQL admits one (`admit()`: the same keys, the same 401s), then
 * refuses a role below the operation's with 403 and charges its cost to the same budgets (429 with
 * `Retry-After` when one is spent), before its parameters or body are even read: a caller without a
 * valid key learns nothing else. The answer carries the x-ratelimit-* headers.
 */
export function admitted(admission: Admission, operation: RestOperation): MiddlewareHandler<RestEnv> {
  return async (c, next) => {
    const state = c.get('state');
    state.facts.rest = true;
    state.facts.operationName = operation.operationId;
    state.facts.operationType = operation.type;
    const cost = operation.charge(c);
    state.facts.cost = cost.points;
    let failure: AdmissionFailure | null;
    try {
      failure =
        readCredential(state, c.req.header('authorization') ?? null) ??
        (await admit(admission, state, fusedCharge(admission, operation, cost)));
    } catch (error) {
      if (!(error instanceof IdentityProviderUnavailableError)) throw error;
      admission.logger.warn({ err: error, requestId: state.requestId }, 'sign-in unavailable');
      const unavailable = problem(503, 'SIGN_IN_UNAVAILABLE', SIGN_IN_UNAVAILABLE, {
        requestId: state.requestId,
        headers: { 'retry-after': String(SIGN_IN_RETRY_AFTER_SECONDS) },
      });
      await noteProblem(state, unavailable);
      return unavailable;
    }
    const refused = failure
      ? problem(401, 'UNAUTHENTICATED', FAILURE_MESSAGES[failure], { requestId: state.requestId, headers: AUTHENTICATE })
      : await authorizeAndCharge(admission, state, operation, cost);
    if (refused) {
      await noteProblem(state, refused);
      return refused;
    }
    await next();
    for (const [name, value] of Object.entries(state.facts.rateLimitHeaders ?? {})) c.res.headers.set(name, value);
    await noteProblem(state, c.res);
  };
}
