import type { Kysely } from 'kysely';
import type { Database, Role } from '../../db/database.js';
import { findKeyByPrefix } from '../../modules/api-key/api-key.repository.js';
import { type AuthenticationFailure, type Credential, hashKey, verifyFoundKey } from '../../modules/api-key/api-key.service.js';
import type { Viewer } from '../../modules/api-key/viewer.js';
import { type ClaimOutcome, type ClaimTerms, claimOutcome } from '../idempotency/idempotency.repository.js';
import type { BucketRow, CostBudget } from '../limits/rate-limit-store.js';
import { findKeyByPrefixCharging, findKeyByPrefixClaiming } from './admission.repository.js';
import type { VerifiedKeys } from './verified-keys.js';

/** Cost points to charge to the caller's budgets in the authentication statement itself. */
export interface ChargeOnAuthentication {
  points: number;
  budgets: readonly CostBudget[];
  /** Only a key of one of these roles is charged: the roles allowed to run the operation. */
  roles: readonly Role[];
}

/** What the authentication statement does besides authenticating, only when the key is valid: one of these. */
export interface AlsoOnAuthentication {
  /** Cost points to charge to the caller's budgets (limits/early-charge.ts). */
  charge?: ChargeOnAuthentication;
  /** An Idempotency-Key to claim for the caller's mutation (idempotency/early-claim.ts). */
  claim?: ClaimTerms;
}

export type Admitted =
  | {
      viewer: Viewer;
      /** The buckets charged, when `also.charge` was given and the key's role may run the operation. */
      charged?: BucketRow[];
      /** The outcome of `also.claim`; null when the key's row said nothing final, and the claim is to be made when the mutation runs. */
      claim?: ClaimOutcome | null;
    }
  | { failure: AuthenticationFailure };

/**
 * Where admission verifies a credential, and, in the same round trip when asked, charges the rate limit or
 * claims an Idempotency-Key. The PostgreSQL store fuses all three into one statement
 * (admission.repository.ts), which is what makes an authenticated, rate-limited request cost one round
 * trip before its operation runs. A key this process has verified lately costs none (verified-keys.ts),
 * and then the charge is made when the operation runs, as it is for any request; a claim still rides in
 * the statement that reads the key, which costs no more than claiming it alone.
 */
export interface AdmissionStore {
  authenticate(credential: Credential, also?: AlsoOnAuthentication): Promise<Admitted>;
  /**
   * Whether the credential's key is one this process verified lately, so that authenticating it costs no
   * statement and a charge given with it would not be made there (no need to work one out).
   */
  holdsVerified?(credential: Credential): boolean;
}

/** The store over the gateway's database, with the keys this process has verified. */
export function postgresAdmissionStore(db: Kysely<Database>, keys: VerifiedKeys): AdmissionStore {
  const recordUse = keys.recordUse.bind(keys);
  return {
    holdsVerified: (credential) => keys.holds(credential.prefix),
    async authenticate(credential, also = {}) {
      const presented = hashKey(credential.token);
      const { charge, claim } = also;
      // A mutation's claim rides in the statement that reads the key: it costs that statement either way.
      const known = keys.verify(credential.prefix, presented);
      if (known && (!claim || 'failure' in known)) return known;
      const generation = keys.generation;
      if (charge) {
        const found = await findKeyByPrefixCharging(
          db,
          credential.prefix,
          presented.toString('hex'),
          charge.points,
          charge.budgets,
          charge.roles,
        );
        const verified = verifyFoundKey(found, presented, recordUse);
        if ('failure' in verified || !found) return verified;
        keys.remember(found, generation);
        // Nothing charged (a role not allowed to run the operation): charged when it runs, which refuses it first.
        if (found.charged.length === 0) return verified;
        return { ...verified, charged: found.charged };
      }
      if (claim) {
        const found = await findKeyByPrefixClaiming(db, credential.prefix, presented.toString('hex'), claim);
        const verified = verifyFoundKey(found, presented, recordUse);
        if ('failure' in verified || !found) return verified;
        keys.remember(found, generation);
        const outcome = claimOutcome(claim.token, found.claimed, found.held, { apiKeyId: found.key.id, fingerprint: claim.fingerprint });
        return { ...verified, claim: outcome };
      }
      const found = await findKeyByPrefix(db, credential.prefix);
      const verified = verifyFoundKey(found, presented, recordUse);
      if (found && !('failure' in verified)) keys.remember(found, generation);
      return verified;
    },
  };
}
