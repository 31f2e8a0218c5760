import { randomUUID } from 'node:crypto';
import type { DocumentNode } from 'graphql';
import type { GraphQLParams } from 'graphql-yoga';
import { selectOperation } from '../limits/query-cost.js';
import { checkIdempotencyKey, fingerprintOf, IDEMPOTENCY_HEADER } from './idempotency-key.js';
import type { ClaimOutcome, ClaimTerms } from './idempotency.repository.js';

/**
 * Claiming an Idempotency-Key in the authentication statement.
 *
 * A mutation sent with a key costs its claim before it runs and its stored answer after: two round trips
 * to PostgreSQL besides the mutation's own. When the mutation's document is one this process has parsed
 * before, the request is known to be a mutation as soon as its body is read, and the claim rides in the
 * authentication statement (`findKeyByPrefixClaiming`), which makes it only when the API key is valid.
 * The idempotency plugin then takes the outcome instead of claiming when the mutation runs, and acts on it
 * exactly as on its own claim. A request refused before it runs (invalid, over a limit, rate limited)
 * gives its claim up before it is answered, so that, as before, it leaves nothing behind. Anything else
 * (a first sight of a document, a malformed key) is claimed when it runs, as before.
 */
export interface EarlyClaim {
  /** The parameters the claim's fingerprint was taken of. */
  params: GraphQLParams;
  organizationId: string;
  apiKeyId: string;
  terms: ClaimTerms;
  /** Null when the key's row said nothing final (it changed meanwhile): the plugin claims it itself. */
  outcome: ClaimOutcome | null;
}

/** A claim to make with authentication, for a request with these parameters. */
export interface EarlyClaimPlan {
  params: GraphQLParams;
  terms: ClaimTerms;
}

export class EarlyClaims {
  constructor(private readonly terms: { leaseSeconds: number; ttlHours: number }) {}

  /** What to claim with the authentication of this request, or null to claim when it runs. */
  plan(request: Request, params: GraphQLParams, document: DocumentNode | undefined): EarlyClaimPlan | null {
    const raw = request.headers.get(IDEMPOTENCY_HEADER);
    if (raw === null || !document || typeof params.query !== 'string') return null;
    if (selectOperation(document, params.operationName)?.operation !== 'mutation') return null;
    const variables = params.variables ?? null;
    if (variables !== null && (typeof variables !== 'object' || Array.isArray(variables))) return null;
    const checked = checkIdempotencyKey(raw);
    if (!checked.ok) return null;
    const fingerprint = fingerprintOf({
      query: params.query,
      operationName: params.operationName,
      variables: variables as Record<string, unknown> | null,
    });
    return {
      params,
      terms: { key: checked.key, fingerprint, token: randomUUID(), leaseSeconds: this.terms.leaseSeconds, ttlHours: this.terms.ttlHours },
    };
  }
}
