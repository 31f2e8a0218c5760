import { randomUUID } from 'node:crypto';
import type { Span } from '@opentelemetry/api';
import type { Credential } from '../../modules/api-key/api-key.service.js';
import type { Viewer } from '../../modules/api-key/viewer.js';
import type { EarlyClaim } from '../idempotency/early-claim.js';
import type { PendingAnswer } from '../idempotency/pending-answer.js';
import type { PrepaidCharge } from '../limits/rate-limiter.js';

/** What the pipeline learns about a request as it goes, for its headers, log line, metrics and span. */
export interface RequestFacts {
  operationName?: string;
  operationType?: string;
  /** Cost points of the operation, when measured. */
  cost?: number;
  /** The x-ratelimit-* headers to send. */
  rateLimitHeaders?: Record<string, string>;
  /** Codes of the errors in the answer. */
  errorCodes?: string[];
  /** Set by the REST routes: the request is counted in the REST metrics, under its operation id. */
  rest?: boolean;
  /** Why admission refused the request (`INVALID_TOKEN: the token has expired (exp)`); never the credential. */
  authenticationFailure?: string;
}

/** The Idempotency-Key a running mutation holds, and since when the key belongs to this request. */
export interface IdempotencyClaim {
  key: string;
  /**
   * When the key was first claimed for this request (the database's clock). A re-run after a crash or a
   * 5xx keeps it, so that it can resume what earlier attempts did; what an earlier use of the same key
   * did before its retention ended and it was purged is older, and must not be mistaken for this request's.
   */
  claimedAt: Date;
  /** Whether the key was claimed over an ended lease or retention window, so that an earlier attempt may have run. */
  takenOver: boolean;
}

/**
 * Everything the gateway knows about one request, in one object: created by the router when the request
 * arrives, carried to GraphQL in Yoga's server context (and so in every resolver's context), and read by
 * the telemetry when the answer goes out. Nothing about a request is kept anywhere else.
 */
export interface RequestState {
  /** The caller's `x-request-id` when well-formed, else a new UUID; echoed on the answer. */
  readonly requestId: string;
  /**
   * When the request arrived, before it waited for anything (authentication, a connection, a row lock):
   * a forced token refresh skips when another was recorded since, so it must not be a later time.
   */
  readonly arrivedAt: Date;
  /** `performance.now()` at arrival, for the request's duration. */
  readonly startedAt: number;
  /** The bearer credential, once read from `Authorization` (stored answers are sealed under it). */
  credential?: Credential;
  /** A bearer token shaped as a JWT, once read from `Authorization`, for the identity provider's verifier. */
  signedToken?: string;
  /**
   * A signed-in user's secrets, derived from the gateway's encryption keys (current first): their stored
   * answers are sealed under the first, since their tokens change; none for an API key.
   */
  userSecrets?: readonly string[];
  /** Set once the API key or the signed-in user's token is verified. */
  viewer?: Viewer;
  readonly facts: RequestFacts;
  /** The media type the answer is to be written in, from Accept. */
  answerType?: string;
  /** A rate-limit charge made with authentication, until the cost plugin takes it. */
  prepaid?: PrepaidCharge;
  /** An Idempotency-Key claim made with authentication, until the idempotency step takes it or gives it up. */
  earlyClaim?: EarlyClaim;
  /** The claim the running mutation holds. */
  idempotencyClaim?: IdempotencyClaim;
  /** What the Idempotency-Key step still has to do with the answer: store it, or replace it with a stored one. */
  pendingAnswer?: PendingAnswer;
  /** The request's server span, when tracing. */
  span?: Span;
  /** How GraphQL answered, for the router's telemetry when GraphQL wrote the answer to the socket itself. */
  answered?: { status: number; contentType: string | null };
}

/**
 * What the admitted caller's stored answers (Idempotency-Key) are sealed under, the first sealing and any
 * opening: the API key itself, or the signed-in user's secrets; null before admission.
 */
export function answerSecretsOf(state: RequestState): readonly string[] | null {
  if (state.viewer?.user) return state.userSecrets && state.userSecrets.length > 0 ? state.userSecrets : null;
  return state.credential ? [state.credential.token] : null;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The request id to use: the caller's when it is safe to echo and log, else a new one. */
export function requestIdFrom(offered: string | null | undefined): string {
  return offered && REQUEST_ID.test(offered) ? offered : randomUUID();
}

/** A new request's state, at its arrival. */
export function newRequestState(offeredRequestId: string | null | undefined): RequestState {
  return { requestId: requestIdFrom(offeredRequestId), arrivedAt: new Date(), startedAt: performance.now(), facts: {} };
}

/** Where the state travels: Yoga's server context, and so every GraphQL context. */
export interface WithRequestState {
  state?: RequestState;
}

/**
 * The request's state from Yoga's server (or GraphQL) context. The router always puts one there; a
 * request handed to GraphQL without the router (`yoga.fetch`) gets its own on first use.
 */
export function requestStateOf(context: WithRequestState, request: Request): RequestState {
  if (!context.state) context.state = newRequestState(request.headers.get('x-request-id'));
  return context.state;
}
