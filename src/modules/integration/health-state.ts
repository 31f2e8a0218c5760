import type { ProbeOutcome } from '../../connectors/probe.js';
import type { IntegrationHealth, IntegrationStatus, IntegrationUpdate } from '../../db/database.js';

/** Consecutive transient failures after which an integration counts as UNHEALTHY rather than DEGRADED. */
export const UNHEALTHY_AFTER_FAILURES = 3;

export interface HealthState {
  status: IntegrationStatus;
  statusReason: string | null;
  health: IntegrationHealth;
  consecutiveFailures: number;
}

/**
 * The one state machine for what a probe means: OK makes an integration HEALTHY and ACTIVE (missing
 * required scopes keep it DEGRADED); a rejected credential needs re-authorization; timeouts, rate
 * limits and provider errors degrade it, and repeated failures make it UNHEALTHY.
 *
 * `refreshRefused` is why the provider refused the integration's refresh token, while no successful
 * refresh or new credential has replaced it. The integration then stays NEEDS_REAUTH with that reason
 * whatever the probe says: an OK probe only shows that the current access token still works, until it
 * expires, so health is DEGRADED, never HEALTHY.
 */
export function nextHealthState(
  current: HealthState,
  outcome: ProbeOutcome,
  missingRequiredScopes: readonly string[],
  refreshRefused: string | null = null,
): HealthState {
  if (current.status === 'REVOKED') return current;
  if (outcome.ok && refreshRefused !== null) {
    return { status: 'NEEDS_REAUTH', statusReason: refreshRefused, health: 'DEGRADED', consecutiveFailures: 0 };
  }
  if (outcome.ok) {
    const degraded = missingRequiredScopes.length > 0;
    return {
      status: 'ACTIVE',
      statusReason: degraded ? `Missing required scopes: ${missingRequiredScopes.join(', ')}` : null,
      health: degraded ? 'DEGRADED' : 'HEALTHY',
      consecutiveFailures: 0,
    };
  }
  const failures = current.consecutiveFailures + 1;
  if (outcome.kind === 'rejected') {
    return { status: 'NEEDS_REAUTH', statusReason: refreshRefused ?? outcome.message, health: 'UNHEALTHY', consecutiveFailures: failures };
  }
  return {
    status: refreshRefused !== null ? 'NEEDS_REAUTH' : current.status,
    statusReason: refreshRefused ?? current.statusReason,
    health: healthAfterFailures(failures),
    consecutiveFailures: failures,
  };
}

/** Health after `failures` failed probes or refreshes in a row that did not reject the credential. */
export function healthAfterFailures(failures: number): 'DEGRADED' | 'UNHEALTHY' {
  return failures >= UNHEALTHY_AFTER_FAILURES ? 'UNHEALTHY' : 'DEGRADED';
}

/** Scopes in `required` that a known grant lacks; none while the grant is unknown. */
export function missingFrom(granted: readonly string[] | null, required: readonly string[]): string[] {
  if (granted === null) return [];
  const have = new Set(granted);
  return required.filter((scope) => !have.has(scope));
}

/**
 * The summary of the last check when something other than a probe has just made the last probe
 * untrue of the credential (it was revoked, or the provider refused its refresh): the check shows that
 * event, not a probe's success from before it.
 */
export function lastCheckAfter(
  at: Date,
  message: string,
): Pick<IntegrationUpdate, 'last_check_at' | 'last_check_ok' | 'last_check_latency_ms' | 'last_check_http_status' | 'last_check_message'> {
  return {
    last_check_at: at,
    last_check_ok: false,
    last_check_latency_ms: null,
    last_check_http_status: null,
    last_check_message: message,
  };
}
