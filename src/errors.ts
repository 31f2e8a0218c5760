/**
 * Codes of expected failures. GraphQL mutations return them as `userErrors`; the CLI prints them.
 * Stable: clients branch on them.
 */
export type ServiceErrorCode =
  | 'VALIDATION'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'ALREADY_REVOKED'
  | 'FORBIDDEN'
  | 'NOT_CONFIGURED'
  | 'PROVIDER_REJECTED_CREDENTIALS'
  | 'PROVIDER_UNREACHABLE'
  | 'PROVIDER_ERROR'
  | 'OUTBOUND_BLOCKED'
  | 'CREDENTIAL_ORIGIN_MISMATCH'
  | 'CREDENTIAL_UNREADABLE';

/** An expected failure of a service call, carrying a code and the input field it concerns. */
export class ServiceError extends Error {
  override name = 'ServiceError';
  constructor(
    readonly code: ServiceErrorCode,
    message: string,
    readonly field: string[] = [],
  ) {
    super(message);
  }
}

/** The request's API key was revoked while the request ran; what it was about to commit was rolled back. */
export class RevokedKeyError extends Error {
  override name = 'RevokedKeyError';
  constructor() {
    super('The API key was revoked while this request ran; nothing was changed.');
  }
}
