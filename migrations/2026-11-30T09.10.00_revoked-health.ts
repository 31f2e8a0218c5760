import { type Kysely, sql } from 'kysely';

// Frozen in time: this file never imports application code.

export async function up(db: Kysely<any>): Promise<void> {
  // A revoked integration's last probe no longer describes it: its health is unknown, and its last check
  // is the revocation. Integrations revoked before this rule get the same.
  await sql`
    update integrations
       set health = 'UNKNOWN',
           consecutive_failures = 0,
           last_check_at = revoked_at,
           last_check_ok = false,
           last_check_latency_ms = null,
           last_check_http_status = null,
           last_check_message = coalesce(status_reason, 'Revoked.') || ' The credential was deleted; no probe describes the integration any more.'
     where status = 'REVOKED' and revoked_at is not null and health <> 'UNKNOWN'
  `.execute(db);
}

export async function down(): Promise<void> {
  // The earlier health of revoked integrations is not kept; nothing to restore.
}
