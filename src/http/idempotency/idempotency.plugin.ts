import { type ExecutionArgs, getOperationAST, getVariableValues, GraphQLError, type OperationDefinitionNode, print } from 'graphql';
import type { Plugin, YogaInitialContext } from 'graphql-yoga';
import type { Kysely } from 'kysely';
import type { GatewayContext } from '../../context.js';
import type { Database } from '../../db/database.js';
import type { Logger } from '../../logger.js';
import { requestStateOf, type IdempotencyClaim, type WithRequestState } from '../admission/request-state.js';
import { checkIdempotencyKey, fingerprintOf, IDEMPOTENCY_HEADER } from './idempotency-key.js';
import type { ClaimTarget } from './pending-answer.js';
import { abandonKey, claimKey, completeKey, extendLease, purgeExpiredKeys, releaseKey } from './idempotency.repository.js';
import { openResponseBody, sealResponseBody } from './response-seal.js';

export interface IdempotencyOptions {
  /** Seconds a claim holds a key before another process may take over a retry of it. Default 60. */
  leaseSeconds?: number;
  /** Hours a finished key is kept (and replayed) before it is purged. Default 24. */
  ttlHours?: number;
  /** How often this process purges expired keys, in milliseconds; 0 turns it off. Default 10 minutes. */
  purgeIntervalMs?: number;
}

export const DEFAULT_LEASE_SECONDS = 60;
export const DEFAULT_TTL_HOURS = 24;
const DEFAULT_PURGE_INTERVAL_MS = 10 * 60_000;

/** Response headers worth replaying; the rest (request id, rate limits) belong to the request that gets them. */
const STORED_HEADERS = ['content-type'];
/** How soon a client should retry a key that is still in use: most mutations finish well within a second. */
const IN_USE_RETRY_AFTER = '1';

type Context = GatewayContext & YogaInitialContext & WithRequestState;
type Target = ClaimTarget;

/** The claim the request of this GraphQL context holds, when it runs a mutation under an Idempotency-Key. */
export function idempotencyClaimOf(context: object): IdempotencyClaim | null {
  return (context as WithRequestState).state?.idempotencyClaim ?? null;
}

function refusal(status: number, code: string, message: string, headers?: Record<string, string>) {
  return { errors: [new GraphQLError(message, { extensions: { code, http: { status, ...(headers ? { headers } : {}) } } })] };
}

/** Invalid variables are a request error: nothing runs, so the key must not be used up. */
function variablesInvalid(args: ExecutionArgs, operation: OperationDefinitionNode): boolean {
  const coerced = getVariableValues(
    args.schema,
    operation.variableDefinitions ?? [],
    (args.variableValues ?? {}) as Record<string, unknown>,
  );
  return 'errors' in coerced && coerced.errors !== undefined && coerced.errors.length > 0;
}

/**
 * Idempotency-Key for mutations (Stripe's and the IETF draft's semantics). The key is claimed in the
 * database at the moment execution starts, after authentication, parsing, validation, limits and
 * variable coercion have passed, so that a request refused before it runs stores nothing; or, for a
 * document this process has run before, in the authentication statement (`earlyClaims`, early-claim.ts),
 * in which case a request refused before it runs gives the claim up before its answer goes out. All
 * state lives in `idempotency_keys`, so any number of gateway processes share it.
 */
export function useIdempotency(deps: { db: Kysely<Database>; logger: Logger }, options: IdempotencyOptions = {}): Plugin {
  const { db, logger } = deps;
  const leaseSeconds = options.leaseSeconds ?? DEFAULT_LEASE_SECONDS;
  const ttlHours = options.ttlHours ?? DEFAULT_TTL_HOURS;

  const purgeIntervalMs = options.purgeIntervalMs ?? DEFAULT_PURGE_INTERVAL_MS;
  const purgeTimer =
    purgeIntervalMs > 0
      ? setInterval(() => {
          purgeExpiredKeys(db).then(
            (count) => count > 0 && logger.info({ count }, 'purged expired idempotency keys'),
            (error: unknown) => logger.warn({ err: error }, 'purging idempotency keys failed'),
          );
        }, purgeIntervalMs)
      : null;
  // Housekeeping must never keep a process alive on its own.
  purgeTimer?.unref();

  /** Frees a claim whose request never ran; if even that fails, the lease runs out instead. */
  const release = (target: Target) =>
    releaseKey(db, target).catch((error: unknown) =>
      logger.warn({ err: error, organizationId: target.organizationId }, 'releasing an idempotency key failed'),
    );
  /** Ends the lease of a claim whose request ran but has no answer to keep; the retry resumes it. */
  const abandon = (target: Target) =>
    abandonKey(db, target).catch((error: unknown) =>
      logger.warn({ err: error, organizationId: target.organizationId }, 'ending an idempotency lease failed'),
    );

  /** Runs the mutation holding the claim, renewing the lease while it runs so that no one takes it over. */
  async function runClaimed(execute: () => unknown, target: Target): Promise<unknown> {
    const renew = setInterval(
      () => {
        extendLease(db, target, leaseSeconds).then(
          (held) => held || logger.warn({ organizationId: target.organizationId }, 'idempotency lease lost while running'),
          (error: unknown) => logger.warn({ err: error }, 'renewing an idempotency lease failed'),
        );
      },
      (leaseSeconds * 1000) / 3,
    );
    renew.unref();
    try {
      return await execute();
    } finally {
      clearInterval(renew);
    }
  }

  return {
    onExecute({ executeFn, setExecuteFn }) {
      setExecuteFn(async (args: ExecutionArgs) => {
        const context = args.contextValue as Context;
        const { request, params } = context;
        const raw = request.headers.get(IDEMPOTENCY_HEADER);
        const operation = raw === null ? null : getOperationAST(args.document, args.operationName);
        // Queries ignore the header; a mutation whose variables are invalid fails before running.
        if (raw === null || operation?.operation !== 'mutation' || variablesInvalid(args, operation)) return executeFn(args);

        const checked = checkIdempotencyKey(raw);
        if (!checked.ok) return refusal(400, 'IDEMPOTENCY_KEY_INVALID', checked.message);
        const credential = context.state?.credential?.token;
        if (!credential) throw new Error('an authenticated request without a bearer credential');
        const organizationId = context.viewer.organization.id;
        // Claimed with authentication (early-claim.ts) when the request was known to be this mutation by
        // then, with the fingerprint of these very parameters.
        const state = requestStateOf(context, request);
        const early = state.earlyClaim;
        state.earlyClaim = undefined;
        const fingerprint =
          early && early.params === params
            ? early.terms.fingerprint
            : fingerprintOf({
                query: params.query ?? print(args.document),
                operationName: params.operationName,
                variables: params.variables,
              });
        const binding = { organizationId, key: checked.key, fingerprint };
        const apiKeyId = context.viewer.apiKey.id;
        const same =
          early &&
          early.organizationId === organizationId &&
          early.apiKeyId === apiKeyId &&
          early.terms.key === checked.key &&
          early.terms.fingerprint === fingerprint;
        if (early?.outcome?.kind === 'claimed' && !same)
          await release({ organizationId: early.organizationId, key: early.terms.key, token: early.terms.token });
        const outcome =
          same && early.outcome
            ? early.outcome
            : await claimKey(db, { organizationId, key: checked.key, apiKeyId, fingerprint, leaseSeconds, ttlHours });

        switch (outcome.kind) {
          case 'mismatch':
            return refusal(
              422,
              'IDEMPOTENCY_KEY_REUSED',
              outcome.reason === 'api-key'
                ? 'This Idempotency-Key was already used by another API key of the organization; use a new key.'
                : 'This Idempotency-Key was already used for a different request (document, operation name or variables); use a new key for a new request.',
            );
          case 'in-progress':
            return refusal(
              409,
              'IDEMPOTENCY_KEY_IN_USE',
              'A request with this Idempotency-Key is still running; retry shortly to get its answer.',
              {
                'Retry-After': IN_USE_RETRY_AFTER,
              },
            );
          case 'completed': {
            const body = openResponseBody(outcome.response.sealedBody, credential, binding);
            if (body === null) throw new Error('a stored idempotent response could not be opened');
            state.pendingAnswer = { kind: 'replay', status: outcome.response.status, headers: outcome.response.headers, body };
            return { data: null }; // a placeholder: the stored response replaces the whole answer
          }
          case 'claimed': {
            if (outcome.takenOver) logger.info({ organizationId }, 'idempotency key claimed over an expired lease or retention window');
            const target = { organizationId, key: checked.key, token: outcome.token };
            state.pendingAnswer = { kind: 'claimed', target, credential, binding };
            // Mutations resume by it after a takeover instead of repeating what the first attempt did.
            state.idempotencyClaim = { key: checked.key, claimedAt: outcome.claimedAt, takenOver: outcome.takenOver };
            let result: unknown;
            try {
              result = await runClaimed(() => executeFn(args), target);
            } catch (error) {
              state.pendingAnswer = undefined;
              await abandon(target);
              throw error;
            }
            // No `data` is a request error (execution never started): leave the key free for a fixed retry.
            if (
              result !== null &&
              typeof result === 'object' &&
              !(Symbol.asyncIterator in result) &&
              (result as { data?: unknown }).data === undefined
            ) {
              state.pendingAnswer = undefined;
              await release(target);
            }
            return result as Awaited<ReturnType<typeof executeFn>>;
          }
        }
      });
    },
    onResultProcess({ request, setResultProcessor, serverContext }) {
      const replay = requestStateOf(serverContext as WithRequestState, request).pendingAnswer;
      if (replay?.kind !== 'replay') return;
      setResultProcessor(
        (_result, fetchAPI) =>
          new fetchAPI.Response(replay.body, { status: replay.status, headers: { ...replay.headers, 'idempotent-replayed': 'true' } }),
        replay.headers['content-type']?.split(';')[0] ?? '*/*',
      );
    },
    async onResponse({ request, response, serverContext }) {
      const state = requestStateOf(serverContext as WithRequestState, request);
      // A claim made with authentication for a request that never ran (refused, or not a mutation after
      // all) is given up before the answer goes out, so that the key is free for the corrected request.
      const unused = state.earlyClaim;
      state.earlyClaim = undefined;
      if (unused?.outcome?.kind === 'claimed')
        await release({ organizationId: unused.organizationId, key: unused.terms.key, token: unused.terms.token });
      const claim = state.pendingAnswer;
      if (claim?.kind !== 'claimed') return;
      state.pendingAnswer = undefined;
      try {
        // A 5xx (the database unreachable, an outage) is not an answer to keep: the retry runs again and
        // resumes what this attempt did, so the key stays bound to this request.
        if (response.status >= 500) return await abandon(claim.target);
        const body = await response.clone().text();
        const headers: Record<string, string> = {};
        for (const name of STORED_HEADERS) {
          const value = response.headers.get(name);
          if (value !== null) headers[name] = value;
        }
        const sealedBody = sealResponseBody(body, claim.credential, claim.binding);
        const stored = await completeKey(db, claim.target, { status: response.status, headers, sealedBody }, ttlHours);
        if (!stored)
          logger.warn({ organizationId: claim.target.organizationId }, 'idempotency lease was taken over before the response was stored');
      } catch (error) {
        // The answer still goes out; the claim's lease expires and a retry runs the mutation again.
        logger.error({ err: error, organizationId: claim.target.organizationId }, 'storing an idempotent response failed');
      }
    },
    onDispose() {
      if (purgeTimer) clearInterval(purgeTimer);
    },
  };
}
