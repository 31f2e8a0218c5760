import type { Viewer } from '../../modules/api-key/viewer.js';
import type { BucketCharge, BucketState, ChargeResult, CostBudget, RateLimitStore } from './rate-limit-store.js';

/** Budgets of cost points, each per window. A budget of 0 is not enforced. */
export interface RateLimitBudgets {
  windowSeconds: number;
  /** Points an API key, or a signed-in user, may spend per window. */
  apiKeyPoints: number;
  /** Points all keys of an organization may spend together per window. */
  organizationPoints: number;
  /** `testIntegration` calls per integration per `integrationTestWindowSeconds`: each one reaches a provider. */
  integrationTests: number;
  integrationTestWindowSeconds: number;
}

export type RateLimitScope = 'API_KEY' | 'ORGANIZATION' | 'INTEGRATION_TEST';

/** What the x-ratelimit-* headers report: the cost budget nearest to exhaustion. */
export interface BudgetReport {
  limit: number;
  remaining: number;
  resetAt: Date;
}

export interface RateLimitOutcome {
  report: BudgetReport | null;
  /** The first budget without room for the request, which was then charged to none: it must not run. */
  exceeded: { scope: RateLimitScope; limit: number; retryAfterSeconds: number; integrationId?: string } | null;
}

export interface ScopedCharge extends BucketCharge {
  scope: RateLimitScope;
  integrationId?: string;
}

/** A request charged while it was authenticated, before GraphQL ran (see `src/http/limits/early-charge.ts`). */
export interface PrepaidCharge {
  /** The document text, operation name and variables that were measured and charged. */
  query: string;
  operationName: string | null;
  variables: unknown;
  measured: { complexity: number; depth: number };
  outcome: RateLimitOutcome;
}

/** Whose cost budgets a request spends: its caller's own (`callerBucketOf`) and its organization's. */
export interface BudgetOwner {
  callerBucket: string;
  organizationId: string;
}

/**
 * The bucket of the caller's own budget: an API key's (`apikey:<key id>`), or a signed-in user's in the
 * organization they act for (`user:<organization id>:<user id>`), so that each user has a budget of their own.
 */
export function callerBucketOf(viewer: Viewer): string {
  return viewer.apiKey ? `apikey:${viewer.apiKey.id}` : `user:${viewer.organization.id}:${viewer.user.id}`;
}

/** Whose budgets the viewer's requests spend. */
export function budgetOwnerOf(viewer: Viewer): BudgetOwner {
  return { callerBucket: callerBucketOf(viewer), organizationId: viewer.organization.id };
}

/** Whose budget a spent budget of this scope was, in words: "API key's", "user's" or "organization's". */
export function budgetOwnerName(scope: 'API_KEY' | 'ORGANIZATION', viewer: Viewer): string {
  if (scope === 'ORGANIZATION') return "organization's";
  return viewer.apiKey ? "API key's" : "user's";
}

const bucketKey = (scope: CostBudget['scope'], owner: BudgetOwner) =>
  scope === 'API_KEY' ? owner.callerBucket : `org:${owner.organizationId}`;

/** Charges requests to their budgets in the shared store, all or nothing, in one round trip. */
export class RateLimiter {
  constructor(
    readonly store: RateLimitStore,
    readonly budgets: RateLimitBudgets,
  ) {}

  /** The cost budgets every request is charged to (those of size 0 are not enforced, so not charged). */
  costBudgets(): CostBudget[] {
    const { budgets } = this;
    const all: CostBudget[] = [
      { scope: 'API_KEY', limit: budgets.apiKeyPoints, windowSeconds: budgets.windowSeconds },
      { scope: 'ORGANIZATION', limit: budgets.organizationPoints, windowSeconds: budgets.windowSeconds },
    ];
    return all.filter((budget) => budget.limit > 0);
  }

  /** The charges of `cost` points to the cost budgets of a caller (a key, a user) and its organization. */
  costCharges(owner: BudgetOwner, cost: number): ScopedCharge[] {
    return this.costBudgets().map((budget) => ({
      scope: budget.scope,
      key: bucketKey(budget.scope, owner),
      points: cost,
      limit: budget.limit,
      windowSeconds: budget.windowSeconds,
    }));
  }

  /**
   * Charges `cost` points to the viewer's own budget (its key's, or its user's) and its organization's, and
   * one probe to each integration in `integrationTests` (ids; repeated ids count each time): to all of them
   * if every one has room, else to none.
   */
  async charge(viewer: Viewer, cost: number, integrationTests: readonly string[] = []): Promise<RateLimitOutcome> {
    const { budgets } = this;
    const charges = this.costCharges(budgetOwnerOf(viewer), cost);
    if (budgets.integrationTests > 0) {
      const counts = new Map<string, number>();
      for (const id of integrationTests) counts.set(id, (counts.get(id) ?? 0) + 1);
      for (const [integrationId, points] of counts) {
        // Keyed by organization too: probing another organization's ID must not spend that organization's budget.
        const key = `test:${viewer.organization.id}:${integrationId}`;
        charges.push({
          scope: 'INTEGRATION_TEST',
          integrationId,
          key,
          points,
          limit: budgets.integrationTests,
          windowSeconds: budgets.integrationTestWindowSeconds,
        });
      }
    }
    if (charges.length === 0) return { report: null, exceeded: null };
    return this.outcomeOf(charges, await this.store.charge(charges));
  }

  /**
   * What charges came to: the cost budget nearest to exhaustion (after the charge, or as it stands when
   * the request was refused), and when refused, the first budget that had no room for it.
   */
  outcomeOf(charges: readonly ScopedCharge[], result: ChargeResult): RateLimitOutcome {
    const now = Date.now();
    let report: BudgetReport | null = null;
    let exceeded: RateLimitOutcome['exceeded'] = null;
    const refusal = (charge: ScopedCharge, state: BucketState): NonNullable<RateLimitOutcome['exceeded']> => ({
      scope: charge.scope,
      limit: state.limit,
      retryAfterSeconds: Math.max(1, Math.ceil(state.resetInMs / 1000)),
      ...(charge.integrationId ? { integrationId: charge.integrationId } : {}),
    });
    charges.forEach((charge, index) => {
      const state = result.states[index];
      if (!state) return;
      if (!exceeded && !result.admitted && state.spent + charge.points > state.limit) exceeded = refusal(charge, state);
      if (charge.scope !== 'INTEGRATION_TEST') {
        const remaining = Math.max(0, state.limit - state.spent);
        if (!report || remaining < report.remaining) report = { limit: state.limit, remaining, resetAt: new Date(now + state.resetInMs) };
      }
    });
    // Refused by the store, whatever the numbers say: the request still must not run.
    const [first, firstState] = [charges[0], result.states[0]];
    if (!result.admitted && !exceeded && first && firstState) exceeded = refusal(first, firstState);
    return { report, exceeded };
  }
}
