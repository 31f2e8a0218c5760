import { findConnector } from '../../connectors/registry.js';
import type { AuthKind } from '../../db/database.js';
import { ServiceError } from '../../errors.js';
import type { EndUser } from '../integration/integration.model.js';

// What createConnectSession accepts, checked before anything is stored.

/** How long a connect session lives unless asked otherwise, and the bounds of what may be asked. */
export const SESSION_TTL_SECONDS = { default: 30 * 60, min: 60, max: 24 * 60 * 60 } as const;

const AUTH_KINDS: readonly AuthKind[] = ['OAUTH2', 'API_TOKEN', 'BASIC'];
const LOOPBACK = new Set(['127.0.0.1', '[::1]', 'localhost']);
const EMAIL = /^[^\s@<>"]{1,64}@[^\s@<>"]{1,255}$/;

/** C0 control characters and DEL: these labels are shown on a page and in lists, on one line. */
const hasControlCharacter = (text: string) => [...text].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f);

function label(value: string | null | undefined, max: number, field: string[], what: string): string | null {
  if (value == null || value.trim() === '') return null;
  const text = value.trim();
  if (text.length > max || hasControlCharacter(text))
    throw new ServiceError('VALIDATION', `${what} must be at most ${max} characters without control characters.`, field);
  return text;
}

export interface EndUserInput {
  id: string;
  displayName?: string | null;
  email?: string | null;
}

export function cleanEndUser(input: EndUserInput): EndUser {
  const id = label(input.id, 200, ['endUser', 'id'], 'The end user id');
  if (!id) throw new ServiceError('VALIDATION', "The end user id is required: your product's identifier of the user.", ['endUser', 'id']);
  const email = label(input.email, 320, ['endUser', 'email'], 'The email');
  if (email !== null && !EMAIL.test(email))
    throw new ServiceError('VALIDATION', 'The email is not an email address.', ['endUser', 'email']);
  return { id, displayName: label(input.displayName, 200, ['endUser', 'displayName'], 'The display name'), email };
}

/** Whether a URL's scheme and host may receive the end user: https anywhere, plain http only on this machine. */
function secureOrLoopback(url: URL): boolean {
  return url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK.has(url.hostname));
}

/** An absolute https URL (or http on loopback) without credentials, where the browser returns with the outcome. */
export function cleanSessionReturnUrl(value: string | null | undefined): string | null {
  if (value == null || value === '') return null;
  let url: URL | null = null;
  try {
    url = new URL(value);
  } catch {
    // Reported below.
  }
  if (!url || !secureOrLoopback(url) || url.username || url.password || value.length > 2048 || url.hash) {
    throw new ServiceError(
      'VALIDATION',
      'returnUrl must be an absolute https URL (http only on localhost or a loopback address), without credentials or fragment.',
      ['returnUrl'],
    );
  }
  return url.toString();
}

/** Exact origins (`https://app.example.com`, or `http://127.0.0.1:3000`): no path, no wildcard, no `null`. */
export function cleanAllowedOrigins(values: readonly string[] | null | undefined): string[] {
  if (values == null) return [];
  if (values.length > 20) throw new ServiceError('VALIDATION', 'At most 20 allowed origins.', ['allowedOrigins']);
  return [
    ...new Set(
      values.map((value, index) => {
        let url: URL | null = null;
        try {
          url = new URL(value);
        } catch {
          // Reported below.
        }
        if (!url || url.origin !== value || !secureOrLoopback(url) || value.includes('*')) {
          throw new ServiceError(
            'VALIDATION',
            `"${value.slice(0, 100)}" is not an exact origin such as https://app.example.com ` +
              '(scheme, host and port only; http only on localhost or a loopback address).',
            ['allowedOrigins', String(index)],
          );
        }
        return url.origin;
      }),
    ),
  ];
}

export function cleanAllowedProviders(values: readonly string[] | null | undefined): string[] | null {
  if (values == null) return null;
  if (values.length === 0 || values.length > 50)
    throw new ServiceError('VALIDATION', 'Name 1 to 50 providers, or leave allowedProviders out for every one.', ['allowedProviders']);
  values.forEach((key, index) => {
    if (!findConnector(key))
      throw new ServiceError('VALIDATION', `Unknown provider "${key.slice(0, 64)}"; see the providers query.`, [
        'allowedProviders',
        String(index),
      ]);
  });
  return [...new Set(values)];
}

export function cleanAllowedAuthKinds(values: readonly string[] | null | undefined): AuthKind[] | null {
  if (values == null) return null;
  if (values.length === 0)
    throw new ServiceError('VALIDATION', 'Name at least one auth kind, or leave allowedAuthKinds out for every one.', [
      'allowedAuthKinds',
    ]);
  const bad = values.findIndex((kind) => !AUTH_KINDS.includes(kind as AuthKind));
  if (bad >= 0) throw new ServiceError('VALIDATION', `Auth kinds are ${AUTH_KINDS.join(', ')}.`, ['allowedAuthKinds', String(bad)]);
  return [...new Set(values as AuthKind[])];
}

export function cleanExpiresIn(value: number | null | undefined): number {
  if (value == null) return SESSION_TTL_SECONDS.default;
  const { min, max } = SESSION_TTL_SECONDS;
  if (!Number.isInteger(value) || value < min || value > max)
    throw new ServiceError('VALIDATION', `expiresInSeconds is ${min} to ${max} (24 hours); ${SESSION_TTL_SECONDS.default} when absent.`, [
      'expiresInSeconds',
    ]);
  return value;
}
