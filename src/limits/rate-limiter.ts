import type { Viewer } from '../modules/api-key/api-key.service.js';
import type { BucketCharge, BucketState, RateLimitStore } from './rate-limit-store.js';

/** Budgets of cost points, each per window. A budget of 0 is not enforced. */
export interface RateLimitBudgets {
  windowSeconds: number;
  /** Points an API key may spend per window. */
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
  /** The first budget the request overran; the request must not run. */
  exceeded: { scope: RateLimitScope; limit: number; retryAfterSeconds: number; integrationId?: string } | null;
}

interface ScopedCharge extends BucketCharge {
  scope: RateLimitScope;
  integrationId?: string;
}

/** Charges requests to their budgets in the shared store, in one round trip. */
export class RateLimiter {
  constructor(
    readonly store: RateLimitStore,
    readonly budgets: RateLimitBudgets,
  ) {}

  /**
   * Charges `cost` points to the viewer's key and organization, and one probe to each integration in
   * `integrationTests` (ids; repeated ids count each time).
   */
  async charge(viewer: Viewer, cost: number, integrationTests: readonly string[] = []): Promise<RateLimitOutcome> {
    const { budgets } = this;
    const charges: ScopedCharge[] = [];
    const costCharge = (scope: RateLimitScope, key: string, limit: number) =>
      limit > 0 && charges.push({ scope, key, points: cost, limit, windowSeconds: budgets.windowSeconds });
    costCharge('API_KEY', `apikey:${viewer.apiKey.id}`, budgets.apiKeyPoints);
    costCharge('ORGANIZATION', `org:${viewer.organization.id}`, budgets.organizationPoints);
    if (budgets.integrationTests > 0) {
      const counts = new Map<string, number>();
      for (const id of integrationTests) counts.set(id, (counts.get(id) ?? 0) + 1);
      for (const [integrationId, points] of counts) {
        // Keyed by organization too: probing another organization's ID must not spend that organization's budget.
        const key = `test:${viewer.organization.id}:${integrationId}`;
        charges.push({ scope: 'INTEGRATION_TEST', integrationId, key, points, limit: budgets.integrationTests, windowSeconds: budgets.integrationTestWindowSeconds });
      }
    }
    if (charges.length === 0) return { report: null, exceeded: null };
    const states = await this.store.charge(charges);
    const now = Date.now();
    let report: BudgetReport | null = null;
    let exceeded: RateLimitOutcome['exceeded'] = null;
    charges.forEach((charge, index) => {
      const state = states[index] as BucketState;
      if (!exceeded && state.spent > state.limit) {
        exceeded = {
          scope: charge.scope,
          limit: state.limit,
          retryAfterSeconds: Math.max(1, Math.ceil(state.resetInMs / 1000)),
          ...(charge.integrationId ? { integrationId: charge.integrationId } : {}),
        };
      }
      if (charge.scope !== 'INTEGRATION_TEST') {
        const remaining = Math.max(0, state.limit - state.spent);
        if (!report || remaining < report.remaining) report = { limit: state.limit, remaining, resetAt: new Date(now + state.resetInMs) };
      }
    });
    return { report, exceeded };
  }
}
