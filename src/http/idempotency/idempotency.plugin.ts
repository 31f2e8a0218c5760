import { type ExecutionArgs, getOperationAST, getVariableValues, GraphQLError, type OperationDefinitionNode, print } from 'graphql';
import type { Plugin, YogaInitialContext } from 'graphql-yoga';
import type { Kysely } from 'kysely';
import type { GatewayContext } from '../../context.js';
import type { Database } from '../../db/database.js';
import type { Logger } from '../../logger.js';
import { answerSecretsOf, requestStateOf, type IdempotencyClaim, type WithRequestState } from '../admission/request-state.js';
import { callerIdOf } from '../../modules/api-key/viewer.js';
import { checkIdempotencyKey, fingerprintOf, IDEMPOTENCY_HEADER } from './idempotency-key.js';
import { purgeExpiredKeys } from './idempotency.repository.js';
import { earlyTarget, IdempotentRuns } from './idempotent-run.js';

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

type Context = GatewayContext & YogaInitialContext & WithRequestState;

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
 * Idempotency-Key for GraphQL mutations, through the same claim -> run -> store -> replay steps any route
 * uses (idempotent-run.ts). The key is claimed at the moment execution starts, after authentication,
 * parsing, validation, limits and variable coercion have passed, so that a request refused before it runs
 * stores nothing; or, for a document this process has run before, in the authentication statement
 * (early-claim.ts), in which case a request refused before it runs gives the claim up before its answer
 * goes out.
 */
export function useIdempotency(deps: { db: Kysely<Database>; logger: Logger }, options: IdempotencyOptions = {}): Plugin {
  const { db, logger } = deps;
  const runs = new IdempotentRuns(db, logger, {
    leaseSeconds: options.leaseSeconds ?? DEFAULT_LEASE_SECONDS,
    ttlHours: options.ttlHours ?? DEFAULT_TTL_HOURS,
  });

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
        const state = requestStateOf(context, request);
        const [credential, ...formerCredentials] = answerSecretsOf(state) ?? [];
        if (!credential) throw new Error('an authenticated request without a bearer credential');
        // Claimed with authentication (early-claim.ts) when the request was known to be this mutation by
        // then, with the fingerprint of these very parameters.
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
        const begun = await runs.begin(
          {
            organizationId: context.viewer.organization.id,
            requestId: context.requestId,
            apiKeyId: callerIdOf(context.viewer),
            credential,
            formerCredentials,
            key: checked.key,
            fingerprint,
          },
          early,
        );
        switch (begun.kind) {
          case 'refused':
            return refusal(begun.status, begun.code, begun.message, begun.headers);
          case 'replay':
            state.pendingAnswer = { kind: 'replay', ...begun.answer };
            return { data: null }; // a placeholder: the stored response replaces the whole answer
          case 'run': {
            state.pendingAnswer = begun.pending;
            // Mutations resume by it after a takeover instead of repeating what the first attempt did.
            state.idempotencyClaim = begun.claim;
            let result: unknown;
            try {
              result = await runs.run(begun.pending.target, () => executeFn(args));
            } catch (error) {
              state.pendingAnswer = undefined;
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
              await runs.release(begun.pending.target);
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
      if (unused?.outcome?.kind === 'claimed') await runs.release(earlyTarget(unused, state.requestId));
      const claim = state.pendingAnswer;
      if (claim?.kind !== 'claimed') return;
      state.pendingAnswer = undefined;
      const headers: Record<string, string> = {};
      for (const name of STORED_HEADERS) {
        const value = response.headers.get(name);
        if (value !== null) headers[name] = value;
      }
      let body = '';
      try {
        if (response.status < 500) body = await response.clone().text();
      } catch (error) {
        // The answer still goes out; the claim's lease expires and a retry runs the mutation again.
        logger.error(
          { err: error, organizationId: claim.target.organizationId, requestId: state.requestId },
          'reading an idempotent response to store it failed',
        );
        return;
      }
      await runs.finish(claim, { status: response.status, headers, body });
    },
    onDispose() {
      if (purgeTimer) clearInterval(purgeTimer);
    },
  };
}
