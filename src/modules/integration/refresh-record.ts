import type { IntegrationRow, IntegrationUpdate } from '../../db/database.js';

// What a token refresh leaves on the integration row (its start record, kept while its outcome is
// unknown) and the names of the events it records.

/** A token this close to expiry is refreshed before use. */
export const EXPIRY_SKEW_MS = 60_000;

/** Recorded with the new tokens; a forced refresh looks for one since its request began. */
export const TOKENS_REFRESHED = 'integration.tokens_refreshed';

/** Recorded when a refresh finds that an earlier one's outcome was lost and the provider refuses the grant. */
export const REFRESH_OUTCOME_LOST = 'integration.refresh_outcome_lost';

/** Recorded when the provider answered a refresh of a credential that a newer one replaced meanwhile; its tokens are not stored. */
export const REFRESH_SUPERSEDED = 'integration.refresh_superseded';

/** Whether an OAuth2 access token is expired or within `EXPIRY_SKEW_MS` of it. */
export function isExpired(row: Pick<IntegrationRow, 'credential_expires_at'>, now = Date.now()): boolean {
  return row.credential_expires_at !== null && row.credential_expires_at.getTime() - EXPIRY_SKEW_MS <= now;
}

/** A refresh that started and never recorded an outcome, as its start record says. */
export interface LostRefresh {
  startedAt: Date;
  requestId: string | null;
}

/** The columns of a refresh's start record. */
export type RefreshRecord = Pick<IntegrationUpdate, 'refresh_started_at' | 'refresh_attempt_id' | 'refresh_request_id'>;

/**
 * What a new credential starts with, written in the transaction that stores it (new tokens from a refresh
 * or an OAuth2 callback, a token or basic reconnection, a replacement): no refresh of the credential it
 * replaces in flight or lost, and no refusal of that credential's refresh token.
 */
export const NEW_CREDENTIAL_REFRESH: { readonly [column in keyof RefreshRecord | 'refresh_refused_at' | 'refresh_refused_reason']: null } =
  {
    refresh_started_at: null,
    refresh_attempt_id: null,
    refresh_request_id: null,
    refresh_refused_at: null,
    refresh_refused_reason: null,
  };

/** The start record to leave with an outcome: none, or a lost refresh's, which the next refresh still has to report. */
export function recordAfter(lost: LostRefresh | null): RefreshRecord {
  // A lost refresh's record belongs to no attempt: the next refresh finds it orphaned, as this one did.
  return { refresh_started_at: lost?.startedAt ?? null, refresh_attempt_id: null, refresh_request_id: lost?.requestId ?? null };
}

/** The sentence a refusal adds when an earlier refresh's outcome was lost. */
export function lostReason(lost: LostRefresh): string {
  const by = lost.requestId ? ` by request ${lost.requestId}` : '';
  return (
    ` The outcome of an earlier token refresh, started at ${lost.startedAt.toISOString()}${by}, was lost: the gateway process` +
    ' stopped before recording it, after the provider may have rotated the refresh token. Reconnect the integration.'
  );
}
