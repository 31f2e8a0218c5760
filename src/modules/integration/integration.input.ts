import type { Credential } from '../../connectors/credentials.js';
import type { ConnectorDefinition } from '../../connectors/types.js';
import type { AuthKind, ScheduleSettings } from '../../db/database.js';
import { ServiceError } from '../../errors.js';

const SCOPE = /^[\x21-\x7e]{1,200}$/;
const ENVIRONMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const WEBHOOK_EVENT = /^[A-Za-z0-9_.:*-]{1,100}$/;

/** C0 control characters (U+0000 to U+001F): a name is shown in lists and logs, on one line. */
const hasControlCharacter = (text: string) => [...text].some((character) => character.charCodeAt(0) < 0x20);

export function cleanDisplayName(value: string): string {
  const name = value.trim();
  if (name.length === 0 || name.length > 200 || hasControlCharacter(name)) {
    throw new ServiceError('VALIDATION', 'Display name must be 1-200 characters without control characters.', ['displayName']);
  }
  return name;
}

export function cleanEnvironment(value: string | null | undefined): string | null {
  if (value == null || value.trim() === '') return null;
  if (!ENVIRONMENT.test(value.trim())) {
    throw new ServiceError('VALIDATION', 'Environment must be 1-63 letters, digits, dots, dashes or underscores, e.g. staging.', [
      'environment',
    ]);
  }
  return value.trim();
}

export function cleanScopes(definition: ConnectorDefinition, scopes: readonly string[] | null | undefined, field: string[]): string[] {
  if (scopes == null) return [...definition.defaultScopes];
  if (scopes.length > 50) throw new ServiceError('VALIDATION', 'At most 50 scopes may be requested.', field);
  const bad = scopes.findIndex((scope) => !SCOPE.test(scope) || (scope.includes(',') && definition.oauth2?.scopeSeparator === ','));
  if (bad >= 0) throw new ServiceError('VALIDATION', 'A scope is 1-200 visible characters without separators.', [...field, String(bad)]);
  return [...new Set(scopes)];
}

export interface CredentialsInput {
  token?: string | null;
  username?: string | null;
  password?: string | null;
}

/** Builds the credential for a token or basic connection, or says which input is missing. */
export function credentialFromInput(authKind: AuthKind, input: CredentialsInput | null | undefined, field: string[]): Credential {
  const tooLong = (value: string) => value.length > 8192;
  if (authKind === 'API_TOKEN') {
    const token = input?.token?.trim();
    if (!token || tooLong(token) || /\s/.test(token))
      throw new ServiceError('VALIDATION', 'An API token is required (no spaces, at most 8192 characters).', [...field, 'token']);
    return { kind: 'API_TOKEN', token };
  }
  if (authKind === 'BASIC') {
    const username = input?.username ?? '';
    const password = input?.password ?? '';
    if (!username || tooLong(username) || username.includes(':'))
      throw new ServiceError('VALIDATION', 'A user name without ":" is required.', [...field, 'username']);
    if (!password || tooLong(password))
      throw new ServiceError('VALIDATION', 'A password or API secret is required.', [...field, 'password']);
    return { kind: 'BASIC', username, password };
  }
  throw new ServiceError('VALIDATION', 'OAuth2 credentials come from the provider, not from input.', field);
}

export interface WebhookInput {
  url?: string | null;
  events?: readonly string[] | null;
  enabled?: boolean | null;
  rotateSecret?: boolean | null;
}

/** Validates a webhook change; `url: null` clears the URL, absent fields stay as they are. */
export function cleanWebhook(input: WebhookInput, production: boolean): WebhookInput {
  const out: WebhookInput = { ...input };
  if (input.url != null) {
    let url: URL;
    try {
      url = new URL(input.url);
    } catch {
      throw new ServiceError('VALIDATION', 'Webhook URL must be an absolute URL.', ['webhook', 'url']);
    }
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && !production)) {
      throw new ServiceError('VALIDATION', 'Webhook URL must use https.', ['webhook', 'url']);
    }
    if (url.username || url.password || input.url.length > 2048)
      throw new ServiceError('VALIDATION', 'Webhook URL must not carry credentials and be at most 2048 characters.', ['webhook', 'url']);
    out.url = url.toString();
  }
  if (input.events != null) {
    if (input.events.length > 100) throw new ServiceError('VALIDATION', 'At most 100 webhook events.', ['webhook', 'events']);
    const bad = input.events.findIndex((event) => !WEBHOOK_EVENT.test(event));
    if (bad >= 0)
      throw new ServiceError('VALIDATION', 'A webhook event is 1-100 letters, digits or _.:*-', ['webhook', 'events', String(bad)]);
    out.events = [...new Set(input.events)];
  }
  return out;
}

export function cleanReturnUrl(value: string | null | undefined): string {
  try {
    const url = new URL(value ?? '');
    if ((url.protocol === 'https:' || url.protocol === 'http:') && value && value.length <= 2048) return url.toString();
  } catch {
    // Reported below.
  }
  throw new ServiceError('VALIDATION', 'returnUrl must be an absolute http(s) URL where the browser returns after authorizing.', [
    'oauth2',
    'returnUrl',
  ]);
}

/** The bounds of an integration's own health-check interval, in seconds: a minute to a day. */
export const HEALTH_CHECK_INTERVAL_BOUNDS = { min: 60, max: 86_400 } as const;

export interface ScheduleInput {
  /** Seconds between scheduled probes; null: the deployment's interval again; absent: unchanged. */
  healthCheckIntervalSeconds?: number | null;
  /** Pause (true) or resume (false) scheduled probes; absent or null: unchanged. */
  healthChecksPaused?: boolean | null;
}

/** Validates schedule settings into the columns they change; empty when none are given. */
export function cleanSchedule(input: ScheduleInput): ScheduleSettings {
  const out: ScheduleSettings = {};
  const interval = input.healthCheckIntervalSeconds;
  if (interval !== undefined) {
    const { min, max } = HEALTH_CHECK_INTERVAL_BOUNDS;
    if (interval !== null && (!Number.isInteger(interval) || interval < min || interval > max)) {
      throw new ServiceError('VALIDATION', `The health check interval is ${min} to ${max} seconds, or null for the default.`, [
        'healthCheckIntervalSeconds',
      ]);
    }
    out.health_check_interval_seconds = interval;
  }
  if (input.healthChecksPaused != null) out.health_checks_paused = input.healthChecksPaused;
  return out;
}

/**
 * The columns schedule settings write: pausing also drops the scheduled check. A changed interval, or
 * resumed checks, are scheduled by the engine's next sweep.
 */
export function schedulePatch(settings: ScheduleSettings): ScheduleSettings & { next_health_check_at?: null } {
  return settings.health_checks_paused ? { ...settings, next_health_check_at: null } : { ...settings };
}
