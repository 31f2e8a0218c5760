import { type Kysely, sql } from 'kysely';
import type { Database, OrganizationRow } from '../../../db/database.js';
import { organizationNamed, type Organization, toOrganization } from '../../../modules/organization/organization.repository.js';
import { type BucketRow, bucketCharge, type CostBudget } from '../../limits/rate-limit-store.js';

/**
 * A signed-in user's organization and the rate-limit charge in one statement, as an API key's are
 * (admission.repository.ts `findKeyByPrefixCharging`): the organization the token names and, only when
 * it exists, `points` charged to each budget (`user:<organization id>:<user id>`, `org:<organization id>`),
 * all or nothing. The token, and so the role, was verified before: only a role allowed to run the
 * operation gets here.
 */
export async function findOrganizationCharging(
  db: Kysely<Database>,
  reference: string,
  userId: string,
  points: number,
  budgets: readonly CostBudget[],
): Promise<{ organization: Organization; charged: BucketRow[] } | undefined> {
  const named = organizationNamed(reference);
  if (!named) return undefined;
  const where = 'id' in named ? sql`organizations.id = ${named.id}` : sql`organizations.slug = ${named.slug}`;
  const keys = budgets.map((budget) =>
    budget.scope === 'API_KEY' ? sql`'user:' || found.id || ':' || ${userId}::text` : sql`'org:' || found.id`,
  );
  const charges = budgets.map((budget) => ({ points, limit: budget.limit, windowSeconds: budget.windowSeconds }));
  const result = await sql<OrganizationRow & { charged: [string, number, number, boolean][] | null }>`
    with found as (select * from organizations where ${where}), charged as (
      select charged.* from found cross join lateral ${bucketCharge({ keys, charges })}
    )
    select found.*,
      (select json_agg(json_build_array(charged.key, charged.points, charged.ms_left, charged.admitted)) from charged) as charged
    from found`.execute(db);
  const row = result.rows[0];
  if (!row) return undefined;
  const { charged, ...organization } = row;
  return {
    organization: toOrganization(organization),
    charged: (charged ?? []).map(([key, spent, msLeft, admitted]) => ({ key, points: spent, ms_left: msLeft, admitted })),
  };
}
