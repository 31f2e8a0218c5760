import type { Kysely } from 'kysely';
import type { Database } from '../db/database.js';
import type { ApiKey } from '../modules/api-key/api-key.repository.js';
import type { MutationActor } from '../modules/integration/integration.audit.js';
import { SCHEDULER_ACTOR } from '../modules/events/event-actor.js';
import { toOrganization } from '../modules/organization/organization.repository.js';

/**
 * The key id the audit trail shows for what the background engine did (the nil UUID): no API key
 * has it, so an event with it was recorded by the scheduler, not by a request.
 */
export const SCHEDULER_KEY_ID = '00000000-0000-0000-0000-000000000000';

/**
 * The actor the engine's jobs act as, for an organization's integration: the services record its
 * events under SCHEDULER_KEY_ID and the request id `scheduler:<task>:<job>`. Undefined when the
 * organization no longer exists.
 */
export async function schedulerActor(
  db: Kysely<Database>,
  organizationId: string,
  task: string,
  jobId: string,
): Promise<MutationActor | undefined> {
  const row = await db.selectFrom('organizations').selectAll().where('id', '=', organizationId).executeTakeFirst();
  if (!row) return undefined;
  const organization = toOrganization(row);
  const apiKey: ApiKey = {
    id: SCHEDULER_KEY_ID,
    organizationId,
    name: 'scheduler',
    role: 'EDITOR',
    prefix: 'scheduler',
    createdAt: organization.createdAt,
    lastUsedAt: null,
    revokedAt: null,
  };
  return {
    viewer: { organization, apiKey, role: 'EDITOR' },
    requestId: `scheduler:${task}:${jobId}`,
    resume: null,
    startedAt: new Date(),
    as: SCHEDULER_ACTOR,
  };
}
