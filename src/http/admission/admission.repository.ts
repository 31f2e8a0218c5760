import { type Kysely, sql } from 'kysely';
import type { Database, Role } from '../../db/database.js';
import {
  type FoundRow,
  foundByPrefix,
  type KeyWithOrganization,
  toKeyWithOrganization,
} from '../../modules/api-key/api-key.repository.js';
import { type ClaimedRow, type ClaimTerms, claimUpsert, type HeldKeyRow } from '../idempotency/idempotency.repository.js';
import { type BucketRow, bucketCharge, type CostBudget } from '../limits/rate-limit-store.js';

// Admission's fused statements: the API key by its visible prefix (api-key.repository.ts `foundByPrefix`),
// and, in the same statement, the work that rides on a valid key.

/**
 * Authentication and the rate-limit charge in one statement: the key by its visible prefix, with its
 * organization, and, only when `keyHash` is the key's, the key is not revoked and its role is one of
 * `roles` (those allowed to run the operation), `points` charged to each budget (`apikey:<key id>`,
 * `org:<organization id>`), all or nothing as every charge is (`bucketCharge`). One round trip instead
 * of two for every request whose cost is known before it is parsed.
 */
export async function findKeyByPrefixCharging(
  db: Kysely<Database>,
  prefix: string,
  keyHash: string,
  points: number,
  budgets: readonly CostBudget[],
  roles: readonly Role[],
): Promise<(KeyWithOrganization & { charged: BucketRow[] }) | undefined> {
  const keys = budgets.map((budget) => (budget.scope === 'API_KEY' ? sql`'apikey:' || found.id` : sql`'org:' || found.organization_id`));
  const charges = budgets.map((budget) => ({ points, limit: budget.limit, windowSeconds: budget.windowSeconds }));
  // The charge runs only for a row that passes the filter: the function is called once per row of `valid`.
  const result = await sql<FoundRow & { charged: [string, number, number, boolean][] | null }>`
    with found as (${foundByPrefix(prefix)}), charged as (
      select charged.* from (
        select * from found where found.key_hash = ${keyHash} and found.revoked_at is null and found.role in (${sql.join(roles)})
      ) as found
      cross join lateral ${bucketCharge({ keys, charges })}
    )
    select found.*,
      (select json_agg(json_build_array(charged.key, charged.points, charged.ms_left, charged.admitted)) from charged) as charged
    from found`.execute(db);
  const row = result.rows[0];
  if (!row) return undefined;
  return {
    ...toKeyWithOrganization(row),
    charged: (row.charged ?? []).map(([key, charged, msLeft, admitted]) => ({ key, points: charged, ms_left: msLeft, admitted })),
  };
}

/**
 * Authentication and an Idempotency-Key claim in one statement: the key by its visible prefix, with its
 * organization; only when `keyHash` is the key's and the key is not revoked, the claim (`claimUpsert`);
 * and the key's row as it stood, which says what the request gets when the claim was not made.
 */
export async function findKeyByPrefixClaiming(
  db: Kysely<Database>,
  prefix: string,
  keyHash: string,
  terms: ClaimTerms,
): Promise<(KeyWithOrganization & { claimed: ClaimedRow | undefined; held: HeldKeyRow | undefined }) | undefined> {
  const claim = claimUpsert(
    {
      organizationId: sql`found.organization_id`,
      apiKeyId: sql`found.id`,
      from: sql`found`,
      where: sql`found.key_hash = ${keyHash} and found.revoked_at is null`,
    },
    terms,
  );
  const result = await sql<
    FoundRow & { claim_taken_over: boolean | null; claim_created_at: Date | null } & {
      [K in keyof HeldKeyRow as `held_${K}`]: HeldKeyRow[K] | null;
    }
  >`
    with found as (${foundByPrefix(prefix)}), claimed as (${claim})
    select found.*, claimed.taken_over as claim_taken_over, claimed.created_at as claim_created_at,
           held.api_key_id as held_api_key_id, held.fingerprint as held_fingerprint, held.state as held_state,
           held.response_status as held_response_status, held.response_headers as held_response_headers,
           held.response_body as held_response_body,
           held.lease_expires_at > now() as held_leased, held.expires_at > now() as held_live
    from found
    left join claimed on true
    left join idempotency_keys as held on held.organization_id = found.organization_id and held.key = ${terms.key}`.execute(db);
  const row = result.rows[0];
  if (!row) return undefined;
  return {
    ...toKeyWithOrganization(row),
    claimed: row.claim_taken_over === null ? undefined : { taken_over: row.claim_taken_over, created_at: row.claim_created_at as Date },
    held:
      row.held_api_key_id === null
        ? undefined
        : {
            api_key_id: row.held_api_key_id,
            fingerprint: row.held_fingerprint as string,
            state: row.held_state as string,
            response_status: row.held_response_status,
            response_headers: row.held_response_headers,
            response_body: row.held_response_body,
            leased: row.held_leased === true,
            live: row.held_live === true,
          },
  };
}
