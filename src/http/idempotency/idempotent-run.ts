import type { Kysely } from 'kysely';
import type { Database } from '../../db/database.js';
import type { Logger } from '../../logger.js';
import type { IdempotencyClaim } from '../admission/request-state.js';
import type { EarlyClaim } from './early-claim.js';
import { abandonKey, claimKey, completeKey, extendLease, releaseKey } from './idempotency.repository.js';
import type { ClaimTarget, PendingAnswer } from './pending-answer.js';
import { openResponseBody, type SealBinding, sealResponseBody } from './response-seal.js';

/** How soon a client should retry a key that is still in use: most mutations finish well within a second. */
const IN_USE_RETRY_AFTER = '1';

/** One mutation sent with an Idempotency-Key, by an admitted caller. */
export interface KeyedRequest {
  organizationId: string;
  /** The request's id, for the log lines about its claim. */
  requestId: string;
  /** The caller's id (`callerIdOf`): the API key's, or the signed-in user's. Only the same caller may replay. */
  apiKeyId: string;
  /**
   * What stored answers are sealed under, so that only the caller can replay them: the full API key, or
   * the signed-in user's secret (`answerSecretsOf`).
   */
  credential: string;
  /** Secrets that sealed the caller's answers before (a user's, under encryption keys since rotated): they still open. */
  formerCredentials?: readonly string[];
  key: string;
  /** What makes two requests "the same request" (idempotency-key.ts `fingerprintOf`). */
  fingerprint: string;
}

/** An answer as stored and replayed: status, the headers worth replaying, and the body. */
export interface KeptAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** What to do with a keyed request: refuse it, replay the stored answer, or run it holding the claim. */
export type Begun =
  | { kind: 'refused'; status: number; code: string; message: string; headers?: Record<string, string> }
  | { kind: 'replay'; answer: KeptAnswer }
  | { kind: 'run'; claim: IdempotencyClaim; pending: Extract<PendingAnswer, { kind: 'claimed' }> };

/**
 * Idempotency-Key for any mutation, whatever carries it (GraphQL, REST), with Stripe's and the IETF
 * draft's semantics: `begin` claims the key (or takes the claim made with authentication), `run` runs the
 * mutation holding the claim and renewing its lease, `finish` seals and stores the answer (a 5xx is not
 * an answer to keep: the retry resumes), `release` frees a key whose request never ran. All state lives
 * in `idempotency_keys`, so any number of gateway processes share it.
 */
export class IdempotentRuns {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly logger: Logger,
    private readonly terms: { leaseSeconds: number; ttlHours: number },
  ) {}

  /** Claims the key for this request, or says why not; `early` is a claim made with authentication, if any. */
  async begin(request: KeyedRequest, early?: EarlyClaim): Promise<Begun> {
    const { organizationId, requestId, apiKeyId, key, fingerprint } = request;
    const same =
      early &&
      early.organizationId === organizationId &&
      early.apiKeyId === apiKeyId &&
      early.terms.key === key &&
      early.terms.fingerprint === fingerprint;
    if (early?.outcome?.kind === 'claimed' && !same) await this.release(earlyTarget(early, requestId));
    const { leaseSeconds, ttlHours } = this.terms;
    const outcome =
      same && early.outcome
        ? early.outcome
        : await claimKey(this.db, { organizationId, key, apiKeyId, fingerprint, leaseSeconds, ttlHours });
    const binding: SealBinding = { organizationId, key, fingerprint };
    switch (outcome.kind) {
      case 'mismatch':
        return {
          kind: 'refused',
          status: 422,
          code: 'IDEMPOTENCY_KEY_REUSED',
          message:
            outcome.reason === 'api-key'
              ? 'This Idempotency-Key was already used by another API key or user of the organization; use a new key.'
              : 'This Idempotency-Key was already used for a different request (document, operation name or variables); ' +
                'use a new key for a new request.',
        };
      case 'in-progress':
        return {
          kind: 'refused',
          status: 409,
          code: 'IDEMPOTENCY_KEY_IN_USE',
          message: 'A request with this Idempotency-Key is still running; retry shortly to get its answer.',
          headers: { 'Retry-After': IN_USE_RETRY_AFTER },
        };
      case 'completed': {
        let body: string | null = null;
        for (const secret of [request.credential, ...(request.formerCredentials ?? [])]) {
          body ??= openResponseBody(outcome.response.sealedBody, secret, binding);
        }
        if (body === null) throw new Error('a stored idempotent response could not be opened');
        return { kind: 'replay', answer: { status: outcome.response.status, headers: outcome.response.headers, body } };
      }
      case 'claimed': {
        if (outcome.takenOver)
          this.logger.info({ organizationId, requestId }, 'idempotency key claimed over an expired lease or retention window');
        return {
          kind: 'run',
          claim: { key, claimedAt: outcome.claimedAt, takenOver: outcome.takenOver },
          pending: {
            kind: 'claimed',
            target: { organizationId, key, token: outcome.token, requestId },
            credential: request.credential,
            binding,
          },
        };
      }
    }
  }

  /** Runs the mutation holding the claim, renewing the lease meanwhile; a mutation that throws leaves the key to its retry. */
  async run<T>(target: ClaimTarget, execute: () => Promise<T> | T): Promise<T> {
    const renew = setInterval(
      () => {
        extendLease(this.db, target, this.terms.leaseSeconds).then(
          (held) => held || this.logger.warn(logged(target), 'idempotency lease lost while running'),
          (error: unknown) => this.logger.warn({ err: error, ...logged(target) }, 'renewing an idempotency lease failed'),
        );
      },
      (this.terms.leaseSeconds * 1000) / 3,
    );
    renew.unref();
    try {
      return await execute();
    } catch (error) {
      await this.abandon(target);
      throw error;
    } finally {
      clearInterval(renew);
    }
  }

  /**
   * Stores the answer the claim's request got, sealed under its credential, for replays. A 5xx (the
   * database unreachable, an outage) is not an answer to keep: the retry runs again and resumes what
   * this attempt did, so the key stays bound to this request. Never throws: the answer still goes out.
   */
  async finish(pending: Extract<PendingAnswer, { kind: 'claimed' }>, answer: KeptAnswer): Promise<void> {
    const { target } = pending;
    try {
      if (answer.status >= 500) return await this.abandon(target);
      const sealedBody = sealResponseBody(answer.body, pending.credential, pending.binding);
      const stored = await completeKey(
        this.db,
        target,
        { status: answer.status, headers: answer.headers, sealedBody },
        this.terms.ttlHours,
      );
      if (!stored) this.logger.warn(logged(target), 'idempotency lease was taken over before the response was stored');
    } catch (error) {
      // The claim's lease expires and a retry runs the mutation again.
      this.logger.error({ err: error, ...logged(target) }, 'storing an idempotent response failed');
    }
  }

  /** Frees a claim whose request never ran; if even that fails, the lease runs out instead. */
  release(target: ClaimTarget): Promise<void> {
    return releaseKey(this.db, target).catch((error: unknown) =>
      this.logger.warn({ err: error, ...logged(target) }, 'releasing an idempotency key failed'),
    );
  }

  /** Ends the lease of a claim whose request ran but has no answer to keep; the retry resumes it. */
  private abandon(target: ClaimTarget): Promise<void> {
    return abandonKey(this.db, target).catch((error: unknown) =>
      this.logger.warn({ err: error, ...logged(target) }, 'ending an idempotency lease failed'),
    );
  }
}

/** The key row a claim made with authentication holds. */
export const earlyTarget = (early: EarlyClaim, requestId: string): ClaimTarget => ({
  organizationId: early.organizationId,
  key: early.terms.key,
  token: early.terms.token,
  requestId,
});

/** What a log line about a claim says of it: its organization and request, never its key or token. */
const logged = (target: ClaimTarget) => ({ organizationId: target.organizationId, requestId: target.requestId });
