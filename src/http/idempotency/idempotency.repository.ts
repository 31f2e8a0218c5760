import { randomUUID } from 'node:crypto';
import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { Database } from '../../db/database.js';

/** Who asks for a key, and for which request. */
export interface ClaimRequest {
  organizationId: string;
  key: string;
  apiKeyId: string;
  fingerprint: string;
  leaseSeconds: number;
  ttlHours: number;
}

/** A finished request's answer; the body is sealed (see `response-seal.ts`). */
export interface StoredResponse {
  status: number;
  headers: Record<string, string>;
  sealedBody: string;
}

export type ClaimOutcome =
  /**
   * This request runs; `token` proves the claim when completing, releasing or extending it. `claimedAt`
   * is when the key was first claimed for this request: a takeover after a crash keeps it, so that the
   * re-run finds what earlier attempts did, and nothing a previous use of the key (purged) did.
   */
  | { kind: 'claimed'; token: string; takenOver: boolean; claimedAt: Date }
  | { kind: 'completed'; response: StoredResponse }
  | { kind: 'in-progress' }
  /** The key belongs to another request: other document, operation name or variables, or another API key. */
  | { kind: 'mismatch'; reason: 'request' | 'api-key' };

type Target = { organizationId: string; key: string; token: string };

const seconds = (value: number) => sql<Date>`now() + (${Math.round(value)}::int * interval '1 second')`;
const hours = (value: number) => sql<Date>`now() + (${Math.round(value)}::int * interval '1 hour')`;

/**
 * Selected in RETURNING, so that it runs only when the statement wrote a row: that statement's own
 * transaction then commits without waiting for the WAL flush. Claims and stored answers can afford it.
 * A claim's request writes its own changes in a transaction that commits synchronously, which flushes the
 * WAL up to and past the claim; a claim lost in a crash is lost together with everything its request
 * did. A stored answer lost in a crash leaves the claim, whose lease runs out, after which the retry
 * resumes by the key as after any crash. Waiting for the flush costs a disk sync per statement
 * (BENCHMARKS.md, W5).
 */
const ASYNC_COMMIT = sql<string>`set_config('synchronous_commit', 'off', true) as async_commit`;

/** A few tries cover the races between the upsert and the read (a row released or purged in between). */
const CLAIM_ATTEMPTS = 3;

/** What a claim writes besides who claims: the key, the request's fingerprint, the lease and retention. */
export interface ClaimTerms {
  key: string;
  fingerprint: string;
  /** Proves the claim when completing, releasing or extending it. */
  token: string;
  leaseSeconds: number;
  ttlHours: number;
}

/** A claim's row, as the upsert returns it when it claimed. */
export interface ClaimedRow {
  taken_over: boolean;
  created_at: Date;
}

/**
 * The upsert that claims a key for the organization and API key `claimant` selects (`organization_id`,
 * `id`; from `from`, where `where` holds): it inserts the row, or takes over a row whose retention
 * ended, or one of the same request and API key whose lease expired (its process died); otherwise it
 * writes nothing. A takeover of a crashed attempt's lease continues that attempt (created_at kept); a
 * new use after retention is a new request. xmax is 0 on a freshly inserted row and set on one the upsert
 * replaced. Written as SQL rather than with the query builder: it runs on every mutation with a key, and
 * building and compiling this upsert cost more than the rest of the key's work (BENCHMARKS.md, W5).
 */
export function claimUpsert(
  claimant: {
    organizationId: RawBuilder<unknown>;
    apiKeyId: RawBuilder<unknown>;
    from?: RawBuilder<unknown>;
    where?: RawBuilder<unknown>;
  },
  terms: ClaimTerms,
): RawBuilder<ClaimedRow> {
  return sql<ClaimedRow>`
      insert into idempotency_keys as held (
        organization_id, key, api_key_id, fingerprint, state, lease_token, lease_expires_at, expires_at)
      select ${claimant.organizationId}, ${terms.key}::text, ${claimant.apiKeyId}, ${terms.fingerprint}::text, 'IN_PROGRESS'::text,
             ${terms.token}::uuid, ${seconds(terms.leaseSeconds)}, ${hours(terms.ttlHours)}
      ${claimant.from ? sql`from ${claimant.from}` : sql``} ${claimant.where ? sql`where ${claimant.where}` : sql``}
      on conflict (organization_id, key) do update set
        api_key_id = excluded.api_key_id,
        fingerprint = excluded.fingerprint,
        state = 'IN_PROGRESS',
        lease_token = excluded.lease_token,
        lease_expires_at = excluded.lease_expires_at,
        response_status = null,
        response_headers = null,
        response_body = null,
        created_at = case when held.expires_at <= now() then now() else held.created_at end,
        completed_at = null,
        expires_at = excluded.expires_at
      where held.expires_at <= now()
         or (held.state = 'IN_PROGRESS' and held.lease_expires_at <= now()
             and held.fingerprint = excluded.fingerprint and held.api_key_id = excluded.api_key_id)
      returning (xmax::text <> '0') as taken_over, created_at, ${ASYNC_COMMIT}`;
}

/** A key's row as it stands, with its lease and retention read against the database's clock. */
export interface HeldKeyRow {
  api_key_id: string;
  fingerprint: string;
  state: string;
  response_status: number | null;
  response_headers: Record<string, string> | null;
  response_body: string | null;
  leased: boolean;
  live: boolean;
}

/**
 * What a request gets from a key it did not claim, by the key's row as it stands; null when the row says
 * nothing final (gone, or past its retention: it changed since the claim was tried), and the claim is tried again.
 */
export function outcomeOfHeld(row: HeldKeyRow | undefined, request: { apiKeyId: string; fingerprint: string }): ClaimOutcome | null {
  if (!row?.live) return null;
  if (row.api_key_id !== request.apiKeyId) return { kind: 'mismatch', reason: 'api-key' };
  if (row.fingerprint !== request.fingerprint) return { kind: 'mismatch', reason: 'request' };
  if (row.state === 'COMPLETED' && row.response_status !== null && row.response_body !== null) {
    return {
      kind: 'completed',
      response: { status: row.response_status, headers: row.response_headers ?? {}, sealedBody: row.response_body },
    };
  }
  if (row.state === 'IN_PROGRESS' && row.leased) return { kind: 'in-progress' };
  return null;
}

/** The claim made with `token`, as its upsert returned it. */
function claimedWith(token: string, claimed: ClaimedRow): ClaimOutcome {
  return { kind: 'claimed', token, takenOver: claimed.taken_over, claimedAt: claimed.created_at };
}

/** The outcome of the claim made with `token`, from what its upsert returned and the key's row. */
export function claimOutcome(
  token: string,
  claimed: ClaimedRow | undefined,
  held: HeldKeyRow | undefined,
  request: { apiKeyId: string; fingerprint: string },
): ClaimOutcome | null {
  return claimed ? claimedWith(token, claimed) : outcomeOfHeld(held, request);
}

/**
 * Claims a key atomically. One statement claims it (`claimUpsert`); when it does not, the row as it
 * stands says what the caller gets.
 */
export async function claimKey(db: Kysely<Database>, request: ClaimRequest): Promise<ClaimOutcome> {
  for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt += 1) {
    const token = randomUUID();
    const terms = {
      key: request.key,
      fingerprint: request.fingerprint,
      token,
      leaseSeconds: request.leaseSeconds,
      ttlHours: request.ttlHours,
    };
    const { rows } = await claimUpsert(
      { organizationId: sql`${request.organizationId}::uuid`, apiKeyId: sql`${request.apiKeyId}::uuid` },
      terms,
    ).execute(db);
    const [claimed] = rows;
    if (claimed) return claimedWith(token, claimed);

    const row = await db
      .selectFrom('idempotency_keys')
      .select(['api_key_id', 'fingerprint', 'state', 'response_status', 'response_headers', 'response_body'])
      .select([sql<boolean>`lease_expires_at > now()`.as('leased'), sql<boolean>`expires_at > now()`.as('live')])
      .where('organization_id', '=', request.organizationId)
      .where('key', '=', request.key)
      .executeTakeFirst();
    const outcome = outcomeOfHeld(row as HeldKeyRow | undefined, request);
    if (outcome) return outcome;
  }
  // Still changing under us: as good as in progress, and the client retries.
  return { kind: 'in-progress' };
}

/** Stores the answer of the request holding the claim; false when its lease was taken over meanwhile. */
export async function completeKey(db: Kysely<Database>, target: Target, response: StoredResponse, ttlHours: number): Promise<boolean> {
  const { rows } = await sql<{ async_commit: string }>`
    update idempotency_keys set
      state = 'COMPLETED', lease_token = null, lease_expires_at = null,
      response_status = ${response.status}, response_headers = ${JSON.stringify(response.headers)}::jsonb,
      response_body = ${response.sealedBody},
      completed_at = now(), expires_at = ${hours(ttlHours)}
    where organization_id = ${target.organizationId} and key = ${target.key} and lease_token = ${target.token}
    returning ${ASYNC_COMMIT}`.execute(db);
  return rows.length > 0;
}

/** Gives a claim up without storing anything, so that the same key can be used again at once. */
export async function releaseKey(db: Kysely<Database>, target: Target): Promise<void> {
  await db
    .deleteFrom('idempotency_keys')
    .where('organization_id', '=', target.organizationId)
    .where('key', '=', target.key)
    .where('lease_token', '=', target.token)
    .where('state', '=', 'IN_PROGRESS')
    .execute();
}

/**
 * Ends the lease of a request that ran but leaves no answer to keep (it failed with a 5xx, or threw):
 * the key stays bound to this request and its claim time, so that the retry takes over at once and
 * resumes what this attempt did, instead of starting as a new request.
 */
export async function abandonKey(db: Kysely<Database>, target: Target): Promise<void> {
  await db
    .updateTable('idempotency_keys')
    .set({ lease_token: null, lease_expires_at: sql<Date>`now()` })
    .where('organization_id', '=', target.organizationId)
    .where('key', '=', target.key)
    .where('lease_token', '=', target.token)
    .where('state', '=', 'IN_PROGRESS')
    .execute();
}

/** Pushes the lease of a request still running further out; false when it was lost. */
export async function extendLease(db: Kysely<Database>, target: Target, leaseSeconds: number): Promise<boolean> {
  const result = await db
    .updateTable('idempotency_keys')
    .set({ lease_expires_at: seconds(leaseSeconds) })
    .where('organization_id', '=', target.organizationId)
    .where('key', '=', target.key)
    .where('lease_token', '=', target.token)
    .where('state', '=', 'IN_PROGRESS')
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Deletes keys past their retention, in batches so that no statement holds many locks; returns the count. */
export async function purgeExpiredKeys(db: Kysely<Database>, batchSize = 1000): Promise<number> {
  let total = 0;
  for (;;) {
    const result = await sql`
      delete from idempotency_keys
      where (organization_id, key) in (
        select organization_id, key from idempotency_keys where expires_at <= now() limit ${batchSize}
      )`.execute(db);
    const deleted = Number(result.numAffectedRows ?? 0n);
    total += deleted;
    if (deleted < batchSize) return total;
  }
}
