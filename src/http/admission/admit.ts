import type { Logger } from '../../logger.js';
import { type AuthenticationFailure, type Credential, credentialOf } from '../../modules/api-key/api-key.service.js';
import type { EarlyClaimPlan } from '../idempotency/early-claim.js';
import { type EarlyChargePlan, prepaidCharge } from '../limits/early-charge.js';
import type { RateLimiter } from '../limits/rate-limiter.js';
import type { AdmissionStore } from './admission-store.js';
import type { RequestState } from './request-state.js';

/** Why a request was not admitted, with the message its 401 carries. */
export const FAILURE_MESSAGES: Record<AuthenticationFailure, string> = {
  MISSING: 'Authentication required: send "Authorization: Bearer <API key>".',
  MALFORMED: 'The Authorization header is not "Bearer <API key>" with a key this gateway issued.',
  UNKNOWN: 'The API key is not valid.',
  REVOKED: 'The API key has been revoked.',
};

/** What to do together with authentication: charge a known query's cost, or claim a known mutation's Idempotency-Key. */
export interface AdmissionPlan {
  charge: EarlyChargePlan | null;
  claim: EarlyClaimPlan | null;
}

export interface Admission {
  store: AdmissionStore;
  rateLimiter: RateLimiter | null;
  logger: Logger;
}

/** Reads the request's bearer credential into its state, without the database; a failure when there is none. */
export function readCredential(state: RequestState, authorization: string | null): AuthenticationFailure | null {
  const credential = credentialOf(authorization);
  if ('failure' in credential) return credential.failure;
  state.credential = credential;
  return null;
}

/**
 * Admits a request: authenticates its credential and, in the same statement when `plan` says so, charges
 * its rate limit or claims its Idempotency-Key. On success the viewer, the charge and the claim are in the
 * request's state, where the cost and idempotency steps take them instead of doing the work again; on
 * failure nothing is charged or claimed and the reason is returned (and logged, without the key).
 * GraphQL admits every request through this; any other authenticated route calls it the same way.
 */
export async function admit(
  admission: Admission,
  state: RequestState,
  plan: AdmissionPlan | null = null,
): Promise<AuthenticationFailure | null> {
  const { store, rateLimiter, logger } = admission;
  const credential = state.credential as Credential | undefined;
  if (!credential) return refuse(logger, state, 'MISSING');
  const charge = plan?.charge ?? null;
  const claim = plan?.claim ?? null;
  let result: Awaited<ReturnType<AdmissionStore['authenticate']>>;
  try {
    result = await store.authenticate(credential, {
      ...(charge ? { charge: { points: charge.points, budgets: charge.budgets, roles: charge.roles } } : {}),
      ...(claim ? { claim: claim.terms } : {}),
    });
  } catch (error) {
    if (!charge && !claim) throw error;
    // Charged or claimed on its own when it runs instead, where a failing budget store lets it through.
    logger.warn(
      { err: error, requestId: state.requestId },
      'charging or claiming with authentication failed; doing it when the operation runs',
    );
    result = await store.authenticate(credential);
  }
  if ('failure' in result) return refuse(logger, state, result.failure);
  const { viewer } = result;
  state.viewer = viewer;
  if (charge && rateLimiter && result.charged) state.prepaid = prepaidCharge(rateLimiter, charge, viewer, result.charged);
  if (claim && result.claim !== undefined) {
    state.earlyClaim = {
      params: claim.params,
      organizationId: viewer.organization.id,
      apiKeyId: viewer.apiKey.id,
      terms: claim.terms,
      outcome: result.claim,
    };
  }
  return null;
}

function refuse(logger: Logger, state: RequestState, failure: AuthenticationFailure): AuthenticationFailure {
  logger.info({ requestId: state.requestId, failure }, 'authentication failed');
  return failure;
}
