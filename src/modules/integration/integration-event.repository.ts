import { type Kysely, sql, type Transaction } from 'kysely';
import type { Database, NewIntegrationEventRow } from '../../db/database.js';

// The audit trail of integrations, and the lookup a re-run of an idempotent request resumes by.

type Db = Kysely<Database> | Transaction<Database>;

/**
 * What a mutation run under an Idempotency-Key records in its events, so that a re-run of the same
 * request (its lease taken over after a crash, or retried after a 5xx) resumes what an earlier attempt did.
 */
export interface ResumeScope {
  /** The request's Idempotency-Key. */
  key: string;
  /** The mutation field's response key (its alias): several mutations in one document resume apart. */
  field: string;
  /** When the key was first claimed for this request; events of an earlier use of the key are older. */
  since: Date;
  /**
   * Whether an earlier attempt of this request may have run: the key was claimed over an ended lease (a
   * crash, a 5xx). A key claimed afresh has no earlier attempt, so nothing is searched for.
   */
  earlierAttempt: boolean;
}

/** Appends an event to an integration's audit trail; `detail` is stored as JSON. */
export async function insertEventRow(
  trx: Db,
  event: Omit<NewIntegrationEventRow, 'detail'> & { detail: Record<string, unknown> },
): Promise<void> {
  await trx
    .insertInto('integration_events')
    .values({ ...event, detail: JSON.stringify(event.detail) })
    .execute();
}

/**
 * How far before its claim time an earlier attempt's event may be stamped: events are stamped by the
 * database's clock or, after a token refresh, by the gateway's, which may differ a little. An earlier
 * use of the key ended at least a retention window (24 hours or more) before it could be claimed again.
 */
const CLOCK_SKEW_MS = 60 * 60_000;

/**
 * The newest event an earlier attempt of this request (same Idempotency-Key, same mutation field)
 * wrote, if it got that far: a re-run after a lease takeover uses it to resume instead of repeating a
 * provider call or creating a duplicate.
 */
export async function findResumableEvent(
  db: Db,
  organizationId: string,
  types: readonly string[],
  resume: ResumeScope,
): Promise<{ type: string; integration_id: string | null; detail: Record<string, unknown> } | undefined> {
  if (!resume.earlierAttempt) return undefined;
  return (
    db
      .selectFrom('integration_events')
      .select(['type', 'integration_id', 'detail'])
      .where('organization_id', '=', organizationId)
      // Spelled as the partial index integration_events_idempotency_idx is, so that the planner uses it.
      .where(sql<boolean>`detail ? 'idempotencyKey'`)
      .where(sql<string>`detail->>'idempotencyKey'`, '=', resume.key)
      .where('type', 'in', types)
      .where(sql<string>`detail->>'idempotencyField'`, '=', resume.field)
      .where('created_at', '>=', new Date(resume.since.getTime() - CLOCK_SKEW_MS))
      .orderBy('created_at', 'desc')
      .executeTakeFirst()
  );
}

/**
 * Did an event of this type for the integration commit after `since`? `since` is a request's arrival,
 * to the millisecond; events are stamped to the microsecond, so an event in the same millisecond as the
 * arrival counts as before it: a request that arrives right after a refresh commits (in-process, well
 * within a millisecond) still gets the refresh it forced, and only one that committed later is waited for.
 */
export async function eventRecordedSince(
  db: Db,
  organizationId: string,
  integrationId: string,
  type: string,
  since: Date,
): Promise<boolean> {
  const found = await db
    .selectFrom('integration_events')
    .select('id')
    .where('organization_id', '=', organizationId)
    .where('integration_id', '=', integrationId)
    .where(sql<Date>`date_trunc('milliseconds', created_at)`, '>', since)
    .where('type', '=', type)
    .limit(1)
    .executeTakeFirst();
  return found !== undefined;
}
