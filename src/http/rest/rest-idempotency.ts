import { callerIdOf, type Viewer } from '../../modules/api-key/viewer.js';
import type { testIntegration } from '../../modules/integration/test.service.js';
import { answerSecretsOf, type IdempotencyClaim, type RequestState } from '../admission/request-state.js';
import { checkIdempotencyKey, fingerprintOf, IDEMPOTENCY_HEADER } from '../idempotency/idempotency-key.js';
import type { IdempotentRuns } from '../idempotency/idempotent-run.js';
import { problem } from './problem.js';

/** Who runs a mutation and under which request, as the integration services take it. */
export type MutationActor = Parameters<typeof testIntegration>[2];

/** Response headers worth replaying; the rest (request id, rate limits) belong to the request that gets them. */
const STORED_HEADERS = ['content-type', 'location'];

/** The operation a keyed request runs: its name (events of a re-run resume by it) and what it was sent with. */
export interface KeyedOperation {
  /** The operation id, e.g. `connectIntegration`. */
  name: string;
  /** The route as declared, e.g. `PATCH /integrations/{id}`: `/v1` and the unprefixed path are one request. */
  route: string;
  /** Path parameters and body: what makes two requests with one key "the same request". */
  input: Record<string, unknown>;
}

function actorOf(viewer: Viewer, state: RequestState, name: string, claim: IdempotencyClaim | null): MutationActor {
  return {
    viewer,
    requestId: state.requestId,
    resume: claim ? { key: claim.key, field: name, since: claim.claimedAt, earlierAttempt: claim.takenOver } : null,
    startedAt: state.arrivedAt,
  };
}

/**
 * Runs a REST mutation under its `Idempotency-Key`, if it has one, through the same claim -> run -> store
 * -> replay steps as GraphQL (idempotency/idempotent-run.ts): a stored answer is replayed byte for byte
 * with `Idempotent-Replayed: true`, a key still running is 409, a key used for another request is 422.
 * `execute` gets the actor, with the resume scope a re-run after a crash needs, and returns the answer.
 */
export async function runKeyed(
  runs: IdempotentRuns,
  state: RequestState,
  header: string | undefined,
  operation: KeyedOperation,
  execute: (actor: MutationActor) => Promise<Response>,
): Promise<Response> {
  const viewer = state.viewer;
  const [credential, ...formerCredentials] = answerSecretsOf(state) ?? [];
  if (!viewer || !credential) throw new Error('a REST mutation ran without an admitted caller');
  if (header === undefined) return execute(actorOf(viewer, state, operation.name, null));
  const checked = checkIdempotencyKey(header);
  if (!checked.ok) {
    return problem(400, 'IDEMPOTENCY_KEY_INVALID', checked.message, {
      requestId: state.requestId,
      errors: [{ pointer: `/header/${IDEMPOTENCY_HEADER}`, detail: checked.message }],
    });
  }
  const fingerprint = fingerprintOf({ query: `REST ${operation.route}`, variables: operation.input });
  const begun = await runs.begin({
    organizationId: viewer.organization.id,
    requestId: state.requestId,
    apiKeyId: callerIdOf(viewer),
    credential,
    formerCredentials,
    key: checked.key,
    fingerprint,
  });
  switch (begun.kind) {
    case 'refused':
      return problem(begun.status, begun.code, begun.message, {
        requestId: state.requestId,
        ...(begun.headers ? { headers: begun.headers } : {}),
      });
    case 'replay': {
      const { status, headers, body } = begun.answer;
      return new Response(body, { status, headers: { ...headers, 'idempotent-replayed': 'true' } });
    }
    case 'run': {
      state.idempotencyClaim = begun.claim;
      const answer = await runs.run(begun.pending.target, () => execute(actorOf(viewer, state, operation.name, begun.claim)));
      const body = await answer.text();
      const headers: Record<string, string> = {};
      for (const name of STORED_HEADERS) {
        const value = answer.headers.get(name);
        if (value !== null) headers[name] = value;
      }
      await runs.finish(begun.pending, { status: answer.status, headers, body });
      return new Response(body, { status: answer.status, headers: answer.headers });
    }
  }
}
