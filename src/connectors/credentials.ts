/** A provider credential as sealed in the vault. Never leaves the gateway. */
export type Credential =
  | { kind: 'API_TOKEN'; token: string }
  | { kind: 'BASIC'; username: string; password: string }
  | {
      kind: 'OAUTH2';
      accessToken: string;
      refreshToken: string | null;
      tokenType: string;
      /**
       * ISO-8601: from the provider's `expires_in`, or the lifetime its connector documents; null when
       * neither says (a token that does not expire, or one the engine refreshes by age).
       */
      expiresAt: string | null;
      /** ISO-8601: when the provider issued these tokens; absent from credentials sealed before it was recorded. */
      obtainedAt?: string;
    };

/** Everything secret about one integration, sealed as one value. */
export interface SecretBundle {
  credential: Credential | null;
  webhookSecret: string | null;
}

export const EMPTY_BUNDLE: SecretBundle = { credential: null, webhookSecret: null };

/** Calls the gateway makes to providers: the outbound module's SSRF-guarded client. */
export type { HttpClient } from '../outbound/http-client.js';

/** Failure classes of a provider call, shared by probes, token calls and revocation. */
export type ProviderErrorCode =
  | 'PROVIDER_REJECTED_CREDENTIALS'
  | 'PROVIDER_UNREACHABLE'
  | 'PROVIDER_TIMEOUT'
  | 'PROVIDER_RATE_LIMITED'
  | 'PROVIDER_ERROR'
  | 'OUTBOUND_BLOCKED';

/** Maps a thrown transport error to a code without ever reading request details into a message. */
export function transportErrorCode(error: unknown): ProviderErrorCode {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'OUTBOUND_BLOCKED' || code === 'PROVIDER_TIMEOUT' || code === 'PROVIDER_UNREACHABLE') return code;
  const name = (error as { name?: unknown } | null)?.name;
  if (name === 'TimeoutError' || name === 'AbortError') return 'PROVIDER_TIMEOUT';
  return 'PROVIDER_UNREACHABLE';
}

export const TRANSPORT_MESSAGES: Record<ProviderErrorCode, string> = {
  PROVIDER_REJECTED_CREDENTIALS: 'The provider rejected the credential.',
  PROVIDER_UNREACHABLE: 'The provider could not be reached.',
  PROVIDER_TIMEOUT: 'The provider did not answer in time.',
  PROVIDER_RATE_LIMITED: 'The provider is rate limiting requests.',
  PROVIDER_ERROR: 'The provider answered with an error.',
  OUTBOUND_BLOCKED: 'The provider address is not allowed by the outbound policy.',
};
