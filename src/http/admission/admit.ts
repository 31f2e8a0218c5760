import type { Logger } from '../../logger.js';
import { type AuthenticationFailure, type Credential, credentialOf } from '../../modules/api-key/api-key.service.js';
import type { EarlyClaimPlan } from '../idempotency/early-claim.js';
import { type EarlyChargePlan, prepaidCharge } from '../limits/early-charge.js';
import type { RateLimiter } from '../limits/rate-limiter.js';
import { callerIdOf } from '../../modules/api-key/viewer.js';
import type { AdmissionStore } from './admission-store.js';
import { IdentityProviderUnavailableError } from './oidc/oidc-verifier.js';
import { signIn, type UserAdmission } from './oidc/user-admission.js';
import type { RequestState } from './request-state.js';

/** Why a request was not admitted: an API key's failures, or a signed-in user's token refused (INVALID_TOKEN). */
export type AdmissionFailure = AuthenticationFailure | 'INVALID_TOKEN';

/** Why a request was not admitted, with the message its 401 carries. */
export const FAILURE_MESSAGES: Record<AdmissionFailure, string> = {
  MISSING: 'Authentication required: send "Authorization: Bearer <API key>".',
  MALFORMED: 'The Authorization header is not "Bearer <API key>" with a key this gateway issued.',
  UNKNOWN: 'The API key is not valid.',
  REVOKED: 'The API key has been revoked.',
  // One message whatever was wrong with the token: why is in the log line only.
  INVALID_TOKEN: 'The token is not valid for this gateway.',
};

/** A bearer token shaped as a JWS compact serialization (three base64url parts; the last is empty for `alg: none`). */
const JWT_SHAPE = /^Bearer[ \t]+([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)[ \t]*$/i;

/** What to do together with authentication: charge a known query's cost, or claim a known mutation's Idempotency-Key. */
export interface AdmissionPlan {
  charge: EarlyChargePlan | null;
  claim: EarlyClaimPlan | null;
}

export interface Admission {
  store: AdmissionStore;
  rateLimiter: RateLimiter | null;
  logger: Logger;
  /** Sign-in by the organization's identity provider, when configured (AUTH_OIDC_*): bearer JWTs. */
  users?: UserAdmission | null;
}

/**
 * Reads the request's bearer credential into its state, without the database; a failure when there is
 * none. Which kind it is, is decided by its shape: an API key (`igw_...`, api-key.service.ts), or a JWT,
 * which `admit` verifies when sign-in is configured and refuses as MALFORMED otherwise.
 */
export function readCredential(state: RequestState, authorization: string | null): AuthenticationFailure | null {
  const credential = credentialOf(authorization);
  if ('failure' in credential) {
    const jwt = credential.failure === 'MALFORMED' && authorization ? JWT_SHAPE.exec(authorization)?.[1] : undefined;
    if (!jwt) return credential.failure;
    state.signedToken = jwt;
    return null;
  }
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
): Promise<AdmissionFailure | null> {
  const { store, rateLimiter, logger } = admission;
  const credential = state.credential as Credential | undefined;
  if (!credential && state.signedToken !== undefined) return admitSignedIn(admission, state, state.signedToken, plan?.charge ?? null);
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
      apiKeyId: callerIdOf(viewer),
      terms: claim.terms,
      outcome: result.claim,
    };
  }
  return null;
}

/**
 * Admits the bearer of a JWT from the organization's identity provider. A known query's cost is charged
 * in the statement that finds the organization, as for a key; an Idempotency-Key is claimed when the
 * mutation runs. The budget and the key are the user's own. Throws IdentityProviderUnavailableError when
 * the provider cannot be reached.
 */
async function admitSignedIn(
  admission: Admission,
  state: RequestState,
  jwt: string,
  charge: EarlyChargePlan | null,
): Promise<AdmissionFailure | null> {
  const { users, logger, rateLimiter } = admission;
  if (!users) return refuse(logger, state, 'MALFORMED', 'a JWT was sent, and sign-in by an identity provider is not configured');
  let signedIn: Awaited<ReturnType<typeof signIn>>;
  try {
    signedIn = await signIn(users, jwt, charge);
  } catch (error) {
    if (!charge || error instanceof IdentityProviderUnavailableError) throw error;
    logger.warn({ err: error, requestId: state.requestId }, 'charging with sign-in failed; doing it when the operation runs');
    signedIn = await signIn(users, jwt);
  }
  if ('refused' in signedIn) return refuse(logger, state, 'INVALID_TOKEN', signedIn.refused);
  state.viewer = signedIn.viewer;
  state.userSecrets = signedIn.secrets;
  if (charge && rateLimiter && signedIn.charged && signedIn.charged.length > 0)
    state.prepaid = prepaidCharge(rateLimiter, charge, signedIn.viewer, signedIn.charged);
  return null;
}

/** Logs why a request was refused (never its credential) and notes it for the request's log line. */
function refuse(logger: Logger, state: RequestState, failure: AdmissionFailure, reason?: string): AdmissionFailure {
  logger.info({ requestId: state.requestId, failure, ...(reason ? { reason } : {}) }, 'authentication failed');
  state.facts.authenticationFailure = reason ? `${failure}: ${reason}` : failure;
  return failure;
}
