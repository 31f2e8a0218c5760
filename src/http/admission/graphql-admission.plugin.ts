import type { GraphQLParams, Plugin } from 'graphql-yoga';
import { GraphQLError } from 'graphql';
import { unauthenticatedError } from '../../graphql/errors.js';
import type { AuthenticationFailure } from '../../modules/api-key/api-key.service.js';
import type { EarlyClaims } from '../idempotency/early-claim.js';
import { planEarlyCharge } from '../limits/early-charge.js';
import { declaredBodyLength } from '../limits/request-checks.js';
import type { OperationLimits } from '../limits/cost.plugin.js';
import type { OperationCosts } from '../limits/query-cost.js';
import { isAnswerableJsonPost } from '../media-types.js';
import { type Admission, type AdmissionPlan, admit, FAILURE_MESSAGES, readCredential } from './admit.js';
import { IdentityProviderUnavailableError, SIGN_IN_UNAVAILABLE, SIGN_IN_RETRY_AFTER_SECONDS } from './oidc/oidc-verifier.js';
import { type RequestState, requestStateOf, type WithRequestState } from './request-state.js';

/** The identity provider cannot be reached: no token can be verified, which says nothing of this one (503). */
function signInUnavailableError(): GraphQLError {
  return new GraphQLError(SIGN_IN_UNAVAILABLE, {
    extensions: {
      code: 'SIGN_IN_UNAVAILABLE',
      http: { status: 503, headers: { 'Retry-After': String(SIGN_IN_RETRY_AFTER_SECONDS) } },
    },
  });
}

/** What GraphQL needs to plan the work done with authentication: the cost model, limits and claim terms. */
export interface GraphQLAdmission extends Admission {
  costs: OperationCosts;
  limits: OperationLimits;
  maxBodyBytes: number;
  claims: EarlyClaims;
}

/**
 * The plan for a request with these parameters: a known query's charge, else a known mutation's claim. A
 * key this process verified lately is authenticated without a statement, so its charge is not worked out
 * here: the request is charged when it runs, as the store would have left it.
 */
function planFor(request: Request, params: GraphQLParams, admission: GraphQLAdmission, state: RequestState): AdmissionPlan {
  const verified = state.credential !== undefined && admission.store.holdsVerified?.(state.credential) === true;
  const charge = verified ? null : planEarlyCharge(params, admission);
  const query = params.query;
  const claim = charge
    ? null
    : admission.claims.plan(request, params, typeof query === 'string' ? admission.costs.known(query) : undefined);
  return { charge, claim };
}

/**
 * Whether the checks made before a request's body is read (media types, body size) would all let it
 * through: only such a request is admitted after its body is read (to charge or claim at the same time);
 * any other is admitted first, so that a caller without a valid key is answered 401 before any other
 * refusal, whatever it sends. The checks are the ones those steps make, asked, not copied.
 */
function readableBeforeAdmission(request: Request, maxBodyBytes: number): boolean {
  if (!isAnswerableJsonPost(request)) return false;
  const length = declaredBodyLength(request);
  return typeof length === 'number' && length <= maxBodyBytes;
}

/**
 * Admits every GraphQL request before its document is even parsed, so that an unauthenticated caller
 * learns nothing about the schema, and answers 401 when the key is missing or invalid. A JSON POST that
 * passes every check made before its body is read is admitted once its body is read (and before any
 * answer), so that the same statement charges a query this process has run before to the rate limit, or
 * claims the Idempotency-Key of such a mutation.
 */
export function useGraphQLAdmission(admission: GraphQLAdmission): Plugin {
  const admitted = async (state: RequestState, plan: AdmissionPlan | null) => {
    let failure: Awaited<ReturnType<typeof admit>>;
    try {
      failure = await admit(admission, state, plan);
    } catch (error) {
      if (!(error instanceof IdentityProviderUnavailableError)) throw error;
      admission.logger.warn({ err: error, requestId: state.requestId }, 'sign-in unavailable');
      throw signInUnavailableError();
    }
    if (failure) throw unauthenticatedError(FAILURE_MESSAGES[failure]);
  };
  const refuse = (state: RequestState, failure: AuthenticationFailure): never => {
    admission.logger.info({ requestId: state.requestId, failure }, 'authentication failed');
    throw unauthenticatedError(FAILURE_MESSAGES[failure]);
  };
  return {
    async onRequestParse({ request, serverContext, requestParser, setRequestParser }) {
      const state = requestStateOf(serverContext as WithRequestState, request);
      const failure = readCredential(state, request.headers.get('authorization'));
      if (failure) return refuse(state, failure);
      if (requestParser && readableBeforeAdmission(request, admission.maxBodyBytes)) {
        setRequestParser(async (parsing) => {
          let params: Awaited<ReturnType<typeof requestParser>>;
          try {
            params = await requestParser(parsing);
          } catch (error) {
            await admitted(state, null);
            throw error;
          }
          await admitted(state, planFor(request, params as GraphQLParams, admission, state));
          return params;
        });
        return;
      }
      await admitted(state, null);
    },
    onResponse({ request, response, serverContext }) {
      const state = requestStateOf(serverContext as WithRequestState, request);
      response.headers.set('x-request-id', state.requestId);
      state.answered = { status: response.status, contentType: response.headers.get('content-type') };
    },
  };
}
