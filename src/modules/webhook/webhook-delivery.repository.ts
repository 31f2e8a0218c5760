import { type Kysely, type Selectable, sql } from 'kysely';
import type {
  Database,
  WebhookDeliveriesTable,
  WebhookDeliveryAttemptRow,
  WebhookDeliveryKind,
  WebhookDeliveryRow,
  WebhookDeliveryStatus,
} from '../../db/database.js';

/** The job that delivers an endpoint's due messages, and its key: one queued per endpoint. */
export const DELIVER_TASK = 'webhook.deliver';
export const deliverJobKey = (endpointId: string) => `webhook:${endpointId}`;

/** A message to insert for one endpoint. */
export interface NewDelivery {
  organizationId: string;
  endpointId: string;
  messageId: string;
  eventId: string | null;
  eventType: string;
  kind: WebhookDeliveryKind;
  subjectKey: string;
  position: string;
  payload: string;
}

/** Rows per insert statement: ten parameters each, well under PostgreSQL's 65,535. */
const INSERT_CHUNK = 1_000;

/** Inserts deliveries due now; an event already delivered to an endpoint is skipped. Their ids, in no order. */
export async function insertDeliveries(db: Kysely<Database>, deliveries: readonly NewDelivery[]): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < deliveries.length; start += INSERT_CHUNK) {
    const rows = deliveries.slice(start, start + INSERT_CHUNK).map((delivery) => ({
      organization_id: delivery.organizationId,
      endpoint_id: delivery.endpointId,
      message_id: delivery.messageId,
      event_id: delivery.eventId,
      event_type: delivery.eventType,
      kind: delivery.kind,
      subject_key: delivery.subjectKey,
      position: delivery.position,
      payload: delivery.payload,
      next_attempt_at: sql<Date>`now()`,
    }));
    const inserted = await db
      .insertInto('webhook_deliveries')
      .values(rows)
      // The predicate spelled as the partial index's, a literal: a parameter would not infer the index.
      .onConflict((conflict) => conflict.columns(['endpoint_id', 'event_id']).where(sql.ref('kind'), '=', sql.lit('EVENT')).doNothing())
      .returning('id')
      .execute();
    ids.push(...inserted.map((row) => row.id));
  }
  return ids;
}

/**
 * The databases (Kysely instances) whose job queue has been seen installed. Per instance, not per process:
 * a process may hold several databases (the test suites do), and one having the queue says nothing of
 * another. A transaction is an instance of its own: it asks again, one cheap statement.
 */
const queueSeen = new WeakSet<Kysely<Database>>();

/** Whether the job queue's schema exists yet (the first worker installs it); once seen, it stays. */
async function hasQueue(db: Kysely<Database>): Promise<boolean> {
  if (queueSeen.has(db)) return true;
  const row = await sql<{ installed: boolean }>`select to_regclass('graphile_worker._private_jobs') is not null as installed`.execute(db);
  const installed = row.rows[0]?.installed ?? false;
  if (installed) queueSeen.add(db);
  return installed;
}

/** The advisory lock that orders an endpoint's queuing writers and its delivery job's last look. */
const queueLockKey = (endpointId: unknown) => sql`hashtextextended('igw-webhook-queue:' || ${endpointId}::uuid, 0)`;

/**
 * Queues an endpoint again once a delivery job has sent all it could claim, under the endpoint's
 * exclusive queue lock: it waits for writers that queued the endpoint against this job's leases to
 * commit, and sees their messages (see `queueDeliveryJobs`).
 */
export async function queueAfterDrain(db: Kysely<Database>, endpointId: string): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(${queueLockKey(endpointId)})`.execute(trx);
    await queueDeliveryJobs(trx, [endpointId]);
  });
}

/**
 * Queues each endpoint's delivery job for the moment its earliest deliverable message is due: the
 * first pending message of each subject (a later one waits for it), not before a lease another job
 * holds on it ends. Computed by the statement itself from what is committed. Inside a transaction the
 * job commits with it. Where the queue is not installed yet, the sweep queues it once it is.
 *
 * A writer computes against the leases of a job that is still sending, which queues the endpoint
 * again when it has finished (`queueAfterDrain`). The two are serialized per endpoint (a shared lock
 * here, held to the writer's commit; an exclusive one there): either the writer commits first and the
 * finishing job sees its messages, or the job's leases are gone when the writer looks. Without it, a
 * writer that committed after the job's last look left its messages until the lease's end (minutes).
 */
export async function queueDeliveryJobs(db: Kysely<Database>, endpointIds: readonly string[]): Promise<void> {
  if (endpointIds.length === 0 || !(await hasQueue(db))) return;
  const ids = [...new Set(endpointIds)];
  await sql`select pg_advisory_xact_lock_shared(${queueLockKey(sql.ref('ep.id'))}) from unnest(${sql.val(ids)}::uuid[]) as ep(id)`.execute(
    db,
  );
  await sql`
    select graphile_worker.add_job(${DELIVER_TASK}, json_build_object('endpointId', ep.id),
      job_key := 'webhook:' || ep.id, run_at := due.at, max_attempts := 5)
    from unnest(${sql.val(ids)}::uuid[]) as ep(id)
    cross join lateral (
      select min(greatest(d.next_attempt_at, coalesce(d.lease_expires_at, d.next_attempt_at))) as at
      from webhook_deliveries d
      where d.endpoint_id = ep.id and d.status = 'PENDING'
        and not exists (
          select 1 from webhook_deliveries p
          where p.endpoint_id = d.endpoint_id and p.subject_key = d.subject_key and p.status = 'PENDING'
            and (p.position, p.created_at, p.id) < (d.position, d.created_at, d.id))
    ) due
    where due.at is not null`.execute(db);
}

/** The advisory lock under which an endpoint's claims take turns. */
const claimLockKey = (endpointId: string) => sql`hashtextextended('igw-webhook-claim:' || ${endpointId}::uuid, 0)`;

/** Deliveries one job attempts in a row for one subject, in order, per claim. */
const CHAIN_LIMIT = 20;

/**
 * Claims up to `limit` due messages of an endpoint for this job (a lease of `leaseMs`), in order:
 * for each subject, the pending messages from its first one on, as long as none before them waits
 * (a retry not due yet, or a message another job holds); at most `CHAIN_LIMIT` per subject. A
 * message claimed by another job meanwhile is skipped by the update's own condition. The endpoint is
 * share-locked before any of its messages, in the order of the endpoint's writers (which fail its
 * pending messages under the endpoint's lock): two multi-row updates of one endpoint's messages never
 * cross.
 *
 * Two delivery jobs of one endpoint can run at once (a job queued while another runs starts beside it),
 * so claims of an endpoint take turns under an advisory lock, and each claim reads what the one before
 * it committed. Without it, a claim whose snapshot predates another's chose a subject's run from its
 * first message on, found the first ones leased by then, and took the rest: they went out beside, or
 * before, the messages ahead of them.
 */
export async function claimDeliveries(
  db: Kysely<Database>,
  endpointId: string,
  owner: string,
  limit: number,
  leaseMs: number,
): Promise<WebhookDeliveryRow[]> {
  if (!db.isTransaction) return db.transaction().execute((trx) => claimDeliveries(trx, endpointId, owner, limit, leaseMs));
  // Taken before the claim's statement, whose snapshot then holds every claim before it.
  await sql`select pg_advisory_xact_lock(${claimLockKey(endpointId)})`.execute(db);
  const rows = await sql<WebhookDeliveryRow>`
    with oldest as (
      -- Every message before one of these is among them (same order), so the window below sees its predecessors.
      select id, subject_key, position, created_at, next_attempt_at, lease_expires_at
      from webhook_deliveries
      where endpoint_id = (select id from webhook_endpoints where id = ${endpointId} for share) and status = 'PENDING'
      order by position, created_at, id
      limit ${limit * 4}
    ), pending as (
      select id, position, created_at,
        row_number() over subject as rank,
        bool_and(next_attempt_at <= now() and coalesce(lease_expires_at <= now(), true)) over subject as run_ready
      from oldest
      window subject as (partition by subject_key order by position, created_at, id rows between unbounded preceding and current row)
    ), chosen as (
      select id from pending where run_ready and rank <= ${CHAIN_LIMIT}
      order by position, created_at, id
      limit ${limit}
    )
    update webhook_deliveries d
    set lease_owner = ${owner}, lease_expires_at = now() + make_interval(secs => ${leaseMs / 1000})
    from chosen
    where d.id = chosen.id and d.status = 'PENDING' and coalesce(d.lease_expires_at <= now(), true)
    returning d.*`.execute(db);
  return rows.rows;
}

/** The outcome of one attempt, as it is recorded. */
export interface AttemptRecord {
  deliveryId: string;
  attempt: number;
  attemptedAt: Date;
  httpStatus: number | null;
  latencyMs: number | null;
  error: string | null;
  responseBody: string | null;
  /** Delivered (2xx). */
  ok: boolean;
  /** When the next attempt is due; null when delivered or given up. */
  nextAttemptAt: Date | null;
}

/**
 * Records attempts and their deliveries' new state in two statements; the leases end. A delivery this
 * job no longer holds (failed meanwhile because its endpoint was disabled) keeps its state; its attempt
 * is still logged.
 */
export async function recordAttempts(db: Kysely<Database>, records: readonly AttemptRecord[], owner: string): Promise<void> {
  if (records.length === 0) return;
  await db
    .insertInto('webhook_delivery_attempts')
    .values(
      records.map((record) => ({
        delivery_id: record.deliveryId,
        attempt: record.attempt,
        attempted_at: record.attemptedAt,
        http_status: record.httpStatus,
        latency_ms: record.latencyMs,
        error: record.error,
        response_body: record.responseBody,
        next_attempt_at: record.nextAttemptAt,
      })),
    )
    .execute();
  const values = sql.join(
    records.map((record) => {
      const status: WebhookDeliveryStatus = record.ok ? 'SUCCEEDED' : record.nextAttemptAt ? 'PENDING' : 'FAILED';
      return sql`(${record.deliveryId}::uuid, ${status}, ${record.attempt}::int, ${record.attemptedAt.toISOString()}::timestamptz,
        ${record.httpStatus}::int, ${record.error}::text, ${record.nextAttemptAt?.toISOString() ?? null}::timestamptz)`;
    }),
  );
  await sql`
    update webhook_deliveries d set
      status = v.status, attempts = v.attempt, last_attempt_at = v.attempted_at, last_http_status = v.http_status,
      last_error = v.error, next_attempt_at = v.next_at, lease_owner = null, lease_expires_at = null,
      finished_at = case when v.status = 'PENDING' then null else now() end
    from (values ${values}) as v(id, status, attempt, attempted_at, http_status, error, next_at)
    where d.id = v.id and d.lease_owner = ${owner}`.execute(db);
}

/** Ends this job's leases on messages it did not attempt (they wait behind a failed one of their subject). */
export async function releaseDeliveries(db: Kysely<Database>, ids: readonly string[], owner: string): Promise<void> {
  if (ids.length === 0) return;
  await db
    .updateTable('webhook_deliveries')
    .set({ lease_owner: null, lease_expires_at: null })
    .where('id', 'in', [...ids])
    .where('lease_owner', '=', owner)
    .execute();
}

export type DeliveryRow = Selectable<WebhookDeliveriesTable>;
export type AttemptRow = WebhookDeliveryAttemptRow;

/**
 * Endpoints with a message due now and no delivery job queued for them: a job lost (the queue was not
 * installed when the message was written, a job given up after its attempts), which the sweep queues again.
 */
export async function endpointsMissingJobs(db: Kysely<Database>, limit: number): Promise<string[]> {
  const rows = await sql<{ endpoint_id: string }>`
    select distinct d.endpoint_id from webhook_deliveries d
    where d.status = 'PENDING' and d.next_attempt_at <= now() and coalesce(d.lease_expires_at <= now(), true)
      and not exists (select 1 from graphile_worker.jobs j where j.key = 'webhook:' || d.endpoint_id)
    limit ${limit}`.execute(db);
  return rows.rows.map((row) => row.endpoint_id);
}

/** Deletes finished deliveries (and their attempts) older than the retention, a bounded batch at a time. */
export async function purgeFinishedDeliveries(db: Kysely<Database>, retentionDays: number, batch: number): Promise<number> {
  const result = await sql`
    delete from webhook_deliveries where id in (
      select id from webhook_deliveries
      where status <> 'PENDING' and finished_at < now() - make_interval(days => ${retentionDays})
      limit ${batch})`.execute(db);
  return Number(result.numAffectedRows ?? 0);
}
