import { RevokedKeyError, ServiceError } from '../errors.js';
import { unauthenticatedError } from './errors.js';
import { builder } from './builder.js';

export const UserErrorCode = builder.enumType('UserErrorCode', {
  description: 'Why a mutation did not do what was asked. Stable: clients may branch on it.',
  values: {
    VALIDATION: { description: 'An input value is invalid; `field` names it.' },
    NOT_FOUND: { description: 'The object does not exist, or is not visible to the caller.' },
    CONFLICT: { description: 'The change conflicts with the current state.' },
    ALREADY_REVOKED: { description: 'The object is already revoked.' },
    FORBIDDEN: { description: 'The caller may not make this change.' },
    NOT_CONFIGURED: { description: 'The deployment lacks what this needs, e.g. an OAuth2 client for the provider.' },
    PROVIDER_REJECTED_CREDENTIALS: { description: 'The provider refused the credential (HTTP 401/403, invalid_grant).' },
    PROVIDER_UNREACHABLE: { description: 'The provider timed out, rate limited or failed (5xx); nothing was changed but health.' },
    PROVIDER_ERROR: { description: 'The provider answered in a way the gateway cannot use.' },
    OUTBOUND_BLOCKED: { description: 'The provider address is not allowed by the outbound policy (private or internal address).' },
    CREDENTIAL_ORIGIN_MISMATCH: {
      description:
        'The stored credential is bound to the origin it was issued for, ' +
        "or the deployment's OAuth2 client to the origin it is registered at, " +
        'and the request would go elsewhere; nothing was sent. Reconnect the integration.',
    },
    CREDENTIAL_UNREADABLE: {
      description:
        'The stored credential failed to decrypt (altered, or sealed under a key this gateway lacks); ' +
        'nothing was sent. Reconnect the integration.',
    },
  } as const,
});

export interface UserErrorShape {
  code: ServiceError['code'];
  message: string;
  field: string[];
}

export const UserError = builder.objectRef<UserErrorShape>('UserError').implement({
  description: 'An expected failure of a mutation, returned as data.',
  fields: (t) => ({
    code: t.field({ type: UserErrorCode, resolve: (error) => error.code }),
    message: t.exposeString('message'),
    field: t.exposeStringList('field', { description: 'Path to the input field concerned, from `input`; empty when none.' }),
  }),
});

/**
 * Runs a service call for a mutation: a ServiceError becomes `userErrors`, a key revoked while the
 * request ran is UNAUTHENTICATED, anything else propagates (and is masked as an unexpected error).
 */
export async function asPayload<T extends object>(
  run: () => Promise<T>,
  empty: { [K in keyof T]: null },
): Promise<T & { userErrors: UserErrorShape[] }> {
  try {
    return { ...(await run()), userErrors: [] };
  } catch (error) {
    if (error instanceof ServiceError) {
      return { ...(empty as unknown as T), userErrors: [{ code: error.code, message: error.message, field: ['input', ...error.field] }] };
    }
    if (error instanceof RevokedKeyError) throw unauthenticatedError(error.message);
    throw error;
  }
}
