import type { AuthKind } from '../db/database.js';
import { type Credential, type HttpClient, type ProviderErrorCode, TRANSPORT_MESSAGES, transportErrorCode } from './credentials.js';
import { oauthEndpoints } from './oauth-endpoints.js';
import { assertBoundOrigin, type CredentialOrigins, originOf } from './origins.js';
import { providerRetryAfterMs, rateLimitSpent } from './rate-limit-headers.js';
import { apiBase, expandTemplate, joinUrl } from './template.js';
import type { ConnectorTarget } from './settings.js';
import type { AnswerSource, ConnectorDefinition, ProbeDefinition } from './types.js';

export interface ProbeOutcome {
  ok: boolean;
  /** `rejected`: the credential is refused; `transient`: may pass on retry; `failed`: anything else. */
  kind: 'ok' | 'rejected' | 'transient' | 'failed';
  httpStatus: number | null;
  latencyMs: number;
  errorCode: ProviderErrorCode | null;
  message: string;
  identity: Record<string, unknown> | null;
  grantedScopes: string[] | null;
  /**
   * How long the provider asked not to be called again (its `Retry-After`, or its rate limit's reset),
   * in milliseconds: scheduled probes wait at least this long. Absent when it did not say.
   */
  retryAfterMs?: number;
}

/** The headers that present a credential, per the connector's placement for the auth kind. */
export function credentialHeaders(target: ConnectorTarget, credential: Credential): Record<string, string> {
  const placement = target.definition.credentials[credential.kind as AuthKind];
  if (!placement) throw new Error(`${target.definition.key} has no placement for ${credential.kind}`);
  if (credential.kind === 'BASIC') {
    return { authorization: `Basic ${Buffer.from(`${credential.username}:${credential.password}`).toString('base64')}` };
  }
  const token = credential.kind === 'OAUTH2' ? credential.accessToken : credential.token;
  if (placement.kind === 'bearer' || placement.kind === 'basic') return { authorization: `Bearer ${token}` };
  const name = expandTemplate(placement.name, target.config, target.definition.configFields).toLowerCase();
  // A bare token in the Authorization header is sent with the Bearer scheme, the common convention.
  const value =
    name === 'authorization' && placement.format === '{token}' ? `Bearer ${token}` : placement.format.replace('{token}', token);
  return { [name]: value };
}

/** The value at a dotted path into a JSON body; undefined when any step is missing. */
export function readPath(body: unknown, path: string): unknown {
  return path
    .split('.')
    .reduce<unknown>((value, key) => (value && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined), body);
}

function read(source: AnswerSource, response: Response, body: unknown): unknown {
  return 'header' in source ? response.headers.get(source.header) : readPath(body, source.body);
}

function scopesFrom(source: AnswerSource | undefined, response: Response, body: unknown): string[] | null {
  if (!source) return null;
  const value = read(source, response, body);
  if (Array.isArray(value)) return value.filter((scope): scope is string => typeof scope === 'string');
  if (typeof value !== 'string') return null;
  const separator = 'header' in source ? (source.separator ?? ',') : ' ';
  return value
    .split(separator)
    .map((scope) => scope.trim())
    .filter(Boolean);
}

export function probeFor(definition: ConnectorDefinition, authKind: AuthKind): ProbeDefinition {
  return definition.probeByAuthKind?.[authKind] ?? definition.probe;
}

function failure(
  kind: ProbeOutcome['kind'],
  errorCode: ProviderErrorCode,
  httpStatus: number | null,
  latencyMs: number,
  detail?: string,
): ProbeOutcome {
  const message = detail ? `${TRANSPORT_MESSAGES[errorCode]} (${detail})` : TRANSPORT_MESSAGES[errorCode];
  return { ok: false, kind, httpStatus, latencyMs, errorCode, message, identity: null, grantedScopes: null };
}

/** The URL the probe of a credential of this kind goes to (an absolute probe path replaces the API base). */
export function probeUrl(target: ConnectorTarget, authKind: AuthKind): string {
  const probe = probeFor(target.definition, authKind);
  const values = { ...target.config, oauthApi: target.settings.oauthApiUrl };
  return joinUrl(apiBase(target), expandTemplate(probe.path, values, target.definition.configFields));
}

/** The origins a credential of this kind is sent to under the target as it resolves now: what a new credential is bound to. */
export function credentialOrigins(target: ConnectorTarget, authKind: AuthKind): CredentialOrigins {
  const endpoints = authKind === 'OAUTH2' ? oauthEndpoints(target) : null;
  return {
    api: originOf(probeUrl(target, authKind)),
    token: endpoints ? originOf(endpoints.tokenUrl) : null,
    revoke: endpoints?.revokeUrl ? originOf(endpoints.revokeUrl) : null,
  };
}

/**
 * Sends the connector's probe with the credential and classifies the answer. A probe URL outside the
 * credential's bound API origin is refused (CredentialOriginError) before anything is sent.
 */
export async function runProbe(
  target: ConnectorTarget,
  credential: Credential,
  http: HttpClient,
  timeoutMs: number,
  origins: CredentialOrigins,
): Promise<ProbeOutcome> {
  const probe = probeFor(target.definition, credential.kind as AuthKind);
  const url = probeUrl(target, credential.kind as AuthKind);
  assertBoundOrigin(origins, 'api', url);
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  let response: Response;
  try {
    response = await http(url, {
      method: probe.method,
      headers: { accept: 'application/json', ...target.definition.apiHeaders, ...probe.headers, ...credentialHeaders(target, credential) },
      timeoutMs,
      provider: target.definition.key,
      idempotent: true,
    });
  } catch (error) {
    return failure('transient', transportErrorCode(error), null, elapsed());
  }
  const text = await response.text().catch(() => '');
  const latencyMs = elapsed();
  const status = response.status;
  const retryAfter = providerRetryAfterMs(status, response.headers);
  const waitFor = retryAfter === null ? {} : { retryAfterMs: retryAfter };
  // A spent rate limit is no refusal of the credential, though GitHub answers it with a 403.
  if (status === 429 || (status === 403 && rateLimitSpent(response.headers)))
    return { ...failure('transient', 'PROVIDER_RATE_LIMITED', status, latencyMs, `HTTP ${status}`), ...waitFor };
  if (status === 401 || status === 403) return failure('rejected', 'PROVIDER_REJECTED_CREDENTIALS', status, latencyMs, `HTTP ${status}`);
  if (status >= 500) return { ...failure('transient', 'PROVIDER_ERROR', status, latencyMs, `HTTP ${status}`), ...waitFor };
  if (status < 200 || status >= 300) return failure('failed', 'PROVIDER_ERROR', status, latencyMs, `HTTP ${status}`);
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (probe.okFlag && readPath(body, probe.okFlag.body) !== true) {
    const error = String(readPath(body, probe.okFlag.errorBody) ?? 'unknown_error').slice(0, 100);
    if (probe.okFlag.rejectedErrors.includes(error)) return failure('rejected', 'PROVIDER_REJECTED_CREDENTIALS', status, latencyMs, error);
    if (error === 'ratelimited') return failure('transient', 'PROVIDER_RATE_LIMITED', status, latencyMs, error);
    return failure('failed', 'PROVIDER_ERROR', status, latencyMs, error);
  }
  const identity: Record<string, unknown> = {};
  for (const [name, source] of Object.entries(probe.identity)) {
    const value = read(source, response, body);
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') identity[name] = value;
  }
  return {
    ok: true,
    kind: 'ok',
    httpStatus: status,
    latencyMs,
    errorCode: null,
    message: `HTTP ${status} in ${latencyMs} ms`,
    identity,
    grantedScopes: scopesFrom(probe.grantedScopes, response, body),
  };
}
