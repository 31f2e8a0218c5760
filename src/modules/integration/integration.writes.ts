import { type Insertable, type Kysely, sql, type Transaction } from 'kysely';
import type {
  Database,
  IntegrationRow,
  IntegrationUpdate,
  NewIntegrationEventRow,
  NewIntegrationRow,
  OAuthStateRow,
  OAuthStatesTable,
} from '../../db/database.js';
import { type HealthCheck, toHealthCheck } from '../health-check/health-check.repository.js';

type Db = Kysely<Database> | Transaction<Database>;

export async function insertIntegrationRow(trx: Db, values: NewIntegrationRow): Promise<IntegrationRow> {
  return trx.insertInto('integrations').values(values).returningAll().executeTakeFirstOrThrow();
}

/** Reads an integration of the organization and locks its row until the transaction ends. */
export async function lockIntegrationRow(
  trx: Transaction<Database>,
  organizationId: string,
  id: string,
): Promise<IntegrationRow | undefined> {
  return trx
    .selectFrom('integrations')
    .selectAll()
    .where('organization_id', '=', organizationId)
    .where('id', '=', id)
    .forUpdate()
    .executeTakeFirst();
}

export async function findIntegrationRow(db: Db, organizationId: string, id: string): Promise<IntegrationRow | undefined> {
  return db.selectFrom('integrations').selectAll().where('organization_id', '=', organizationId).where('id', '=', id).executeTakeFirst();
}

/** Updates a row, bumping its version and update time; the caller holds the row lock. */
export async function updateIntegrationRow(trx: Db, id: string, patch: IntegrationUpdate): Promise<IntegrationRow> {
  return trx
    .updateTable('integrations')
    .set({ ...patch, row_version: sql<number>`row_version + 1`, updated_at: sql<Date>`now()` })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

export interface NewHealthCheck {
  organizationId: string;
  integrationId: string;
  ok: boolean;
  httpStatus: number | null;
  latencyMs: number | null;
  errorCode: string | null;
  message: string | null;
  identity: Record<string, unknown> | null;
  grantedScopes: string[] | null;
  missingScopes: string[];
}

export async function insertHealthCheckRow(trx: Db, check: NewHealthCheck): Promise<HealthCheck> {
  const row = await trx
    .insertInto('integration_health_checks')
    .values({
      organization_id: check.organizationId,
      integration_id: check.integrationId,
      ok: check.ok,
      http_status: check.httpStatus,
      latency_ms: check.latencyMs,
      error_code: check.errorCode,
      message: check.message,
      identity: check.identity === null ? null : JSON.stringify(check.identity),
      granted_scopes: check.grantedScopes,
      missing_scopes: check.missingScopes,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toHealthCheck(row);
}

export async function insertEventRow(
  trx: Db,
  event: Omit<NewIntegrationEventRow, 'detail'> & { detail: Record<string, unknown> },
): Promise<void> {
  await trx
    .insertInto('integration_events')
    .values({ ...event, detail: JSON.stringify(event.detail) })
    .execute();
}

export async function insertOAuthState(trx: Db, values: Omit<Insertable<OAuthStatesTable>, 'created_at' | 'used_at'>): Promise<void> {
  await trx.insertInto('oauth_states').values(values).execute();
}

/** Marks a state used, atomically, so that it works once; returns the row as it was, used or not. */
export async function consumeOAuthState(db: Db, stateHash: string): Promise<{ row: OAuthStateRow; firstUse: boolean } | undefined> {
  const consumed = await db
    .updateTable('oauth_states')
    .set({ used_at: sql<Date>`now()` })
    .where('state_hash', '=', stateHash)
    .where('used_at', 'is', null)
    .returningAll()
    .executeTakeFirst();
  if (consumed) return { row: consumed, firstUse: true };
  const row = await db.selectFrom('oauth_states').selectAll().where('state_hash', '=', stateHash).executeTakeFirst();
  return row && { row, firstUse: false };
}

/** Ends pending authorizations of an integration, e.g. when it is revoked or reconnected. */
export async function expireOAuthStates(trx: Db, integrationId: string): Promise<void> {
  await trx
    .updateTable('oauth_states')
    .set({ used_at: sql<Date>`now()` })
    .where('integration_id', '=', integrationId)
    .where('used_at', 'is', null)
    .execute();
}

/** Events that matter for resuming carry the request's Idempotency-Key; see ResumeScope. */
export interface ResumeLookup {
  key: string;
  field: string;
  since: Date;
  /** False for a key claimed afresh: no earlier attempt wrote anything, and no statement is spent looking. */
  earlierAttempt: boolean;
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
  resume: ResumeLookup,
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
