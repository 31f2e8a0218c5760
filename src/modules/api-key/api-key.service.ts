import { hash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { Database, Role } from '../../db/database.js';
import { ROLES, type Viewer } from './viewer.js';
import { type EventOrigin, OPERATOR_ACTOR } from '../events/event-actor.js';
import { appendEvent } from '../events/event.repository.js';
import { ServiceError } from '../../errors.js';
import { announceApiKeyChanged } from './api-key.changes.js';
import { isUuid } from '../../ids.js';
import {
  type ApiKey,
  findApiKeysByPrefixStart,
  findKeyByPrefix,
  type KeyWithOrganization,
  insertApiKey,
  revokeApiKeyRow,
  touchApiKey,
} from './api-key.repository.js';

// igw_<12 hex: visible prefix>_<43 base64url: 256 random bits>. The prefix finds the row; the hash proves the key.
const KEY_PATTERN = /^(igw_[0-9a-f]{12})_[A-Za-z0-9_-]{43}$/;

/** SHA-256 suffices: the secret part carries 256 random bits, so there is nothing to brute-force. */
export function hashKey(key: string): Buffer {
  // One-shot: no Hash object per request.
  return hash('sha256', key, 'buffer') as unknown as Buffer;
}

export interface IssuedKey {
  apiKey: ApiKey;
  /** The full key; shown once, never stored. */
  secret: string;
}

/** Whom key events name when the caller names nobody: a call outside any request is the operator's. */
const BY_OPERATOR: EventOrigin = { actor: OPERATOR_ACTOR, requestId: null };

/** Runs `work` in the caller's transaction, or in a new one. */
function inTransaction<T>(db: Kysely<Database>, work: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
  return db.isTransaction ? work(db as Transaction<Database>) : db.transaction().execute(work);
}

/** `api_key.created` or `api_key.revoked`: the key's name, role and visible prefix, never the key. */
function appendKeyEvent(trx: Transaction<Database>, origin: EventOrigin, type: 'api_key.created' | 'api_key.revoked', key: ApiKey) {
  return appendEvent(trx, {
    organizationId: key.organizationId,
    type,
    subject: { type: 'ApiKey', id: key.id },
    actor: origin.actor,
    requestId: origin.requestId,
    data: { name: key.name, role: key.role, prefix: key.prefix },
  });
}

/** Issues a key, with its `api_key.created` event as `origin`'s, in the caller's transaction or its own. */
export async function issueApiKey(
  db: Kysely<Database>,
  input: { organizationId: string; role: Role; name?: string | null | undefined },
  origin: EventOrigin = BY_OPERATOR,
): Promise<IssuedKey> {
  const name = (input.name ?? '').trim() || `${input.role.toLowerCase()} key`;
  if (name.length > 200) throw new ServiceError('VALIDATION', 'Name must be at most 200 characters.', ['name']);
  if (!ROLES.includes(input.role)) throw new ServiceError('VALIDATION', 'Unknown role.', ['role']);
  const prefix = `igw_${randomBytes(6).toString('hex')}`;
  const secret = `${prefix}_${randomBytes(32).toString('base64url')}`;
  const apiKey = await inTransaction(db, async (trx) => {
    const inserted = await insertApiKey(trx, {
      organizationId: input.organizationId,
      name,
      role: input.role,
      prefix,
      keyHash: hashKey(secret).toString('hex'),
    });
    await appendKeyEvent(trx, origin, 'api_key.created', inserted);
    return inserted;
  });
  return { apiKey, secret };
}

export type AuthenticationFailure = 'MISSING' | 'MALFORMED' | 'UNKNOWN' | 'REVOKED';

/** A well-formed bearer credential: the key and its visible prefix. */
export interface Credential {
  token: string;
  prefix: string;
}

/** Reads the `Authorization` header without the database: a credential, or why there is none. */
export function credentialOf(authorization: string | null): Credential | { failure: 'MISSING' | 'MALFORMED' } {
  if (!authorization) return { failure: 'MISSING' };
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
  const token = match?.[1];
  const prefix = token ? KEY_PATTERN.exec(token)?.[1] : undefined;
  if (!token || !prefix) return { failure: 'MALFORMED' };
  return { token, prefix };
}

export type Authentication = { viewer: Viewer } | { failure: AuthenticationFailure };

/** How often a key's use is recorded at most (`last_used_at`, shown "to the minute"). */
export const KEY_USE_RECORD_MS = 60_000;

/** Whether a key whose use was last recorded at `lastUsedAt` is due to have it recorded again. */
export function keyUseDue(lastUsedAt: Date | null, now = Date.now()): boolean {
  return now - (lastUsedAt?.getTime() ?? 0) > KEY_USE_RECORD_MS;
}

/** Whether `presented` (a key's SHA-256) is the stored hex hash, compared in constant time. */
export function hashMatches(storedHex: string | Buffer, presented: Buffer): boolean {
  const stored = typeof storedHex === 'string' ? Buffer.from(storedHex, 'hex') : storedHex;
  return stored.length === presented.length && timingSafeEqual(stored, presented);
}

/**
 * Checks a key found by its prefix against the presented one (in constant time) and that it is not
 * revoked; hands a valid key to `recordUse`, which records its use at most once a minute, after the
 * answer is known and without delaying it.
 */
export function verifyFoundKey(
  found: KeyWithOrganization | undefined,
  presented: Buffer,
  recordUse: (key: ApiKey) => void,
): Authentication {
  if (!found) return { failure: 'UNKNOWN' };
  if (!hashMatches(found.keyHash, presented)) return { failure: 'UNKNOWN' };
  if (found.key.revokedAt) return { failure: 'REVOKED' };
  recordUse(found.key);
  return { viewer: { organization: found.organization, apiKey: found.key, role: found.key.role, user: null } };
}

/** Records a key's use in the background, in a statement of its own, when it is due. */
export function touchWhenDue(db: Kysely<Database>, onBackgroundError: (error: unknown) => void): (key: ApiKey) => void {
  return (key) => {
    if (keyUseDue(key.lastUsedAt)) touchApiKey(db, [key.id]).catch(onBackgroundError);
  };
}

/** Resolves an `Authorization` header (or a credential read from one) to a viewer, with one statement. */
export async function authenticate(
  db: Kysely<Database>,
  authorization: string | null | Credential,
  onBackgroundError: (error: unknown) => void = () => {},
): Promise<Authentication> {
  const credential = typeof authorization === 'object' && authorization !== null ? authorization : credentialOf(authorization);
  if ('failure' in credential) return credential;
  return verifyFoundKey(await findKeyByPrefix(db, credential.prefix), hashKey(credential.token), touchWhenDue(db, onBackgroundError));
}

/**
 * Revokes a key, with its `api_key.revoked` event as `origin`'s. `organizationId` confines the search to
 * one organization; null is the operator's CLI.
 */
export async function revokeApiKey(
  db: Kysely<Database>,
  organizationId: string | null,
  id: string,
  origin: EventOrigin = BY_OPERATOR,
): Promise<ApiKey> {
  const result = isUuid(id)
    ? await inTransaction(db, async (trx) => {
        const revoked = await revokeApiKeyRow(trx, organizationId, id);
        if (revoked?.changed) await appendKeyEvent(trx, origin, 'api_key.revoked', revoked.key);
        return revoked;
      })
    : undefined;
  if (!result) throw new ServiceError('NOT_FOUND', 'No such API key.', ['id']);
  if (!result.changed) throw new ServiceError('ALREADY_REVOKED', 'This API key is already revoked.', ['id']);
  // Committed when the transaction was this function's own; in a caller's, the notification at its commit follows.
  announceApiKeyChanged(result.key.prefix);
  return result.key;
}

/** A key's visible prefix, or enough of its start (`igw_` and 4 to 12 hex digits) to name one key. */
export const KEY_PREFIX_PATTERN = /^igw_[0-9a-f]{4,12}$/;

/**
 * Revokes the one key, of any organization (the operator's CLI), whose visible prefix is or starts with
 * `prefix`, as logs and `keys list` show it. A start that several keys share names none of them.
 */
export async function revokeApiKeyByPrefix(db: Kysely<Database>, prefix: string, origin: EventOrigin = BY_OPERATOR): Promise<ApiKey> {
  if (!KEY_PREFIX_PATTERN.test(prefix))
    throw new ServiceError('VALIDATION', 'Expected a key prefix: igw_ and 4 to 12 hex digits.', ['prefix']);
  const matches = await findApiKeysByPrefixStart(db, prefix, 5);
  const [only] = matches;
  if (!only) throw new ServiceError('NOT_FOUND', `No API key has the prefix ${prefix}.`, ['prefix']);
  if (matches.length > 1) {
    const listed = matches.map((key) => key.prefix).join(', ');
    throw new ServiceError(
      'VALIDATION',
      `${prefix} is the start of several keys' prefixes (${listed}${matches.length === 5 ? ', …' : ''}); give the whole prefix.`,
      ['prefix'],
    );
  }
  return revokeApiKey(db, null, only.id, origin);
}
