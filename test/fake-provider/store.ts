import { createHash, randomBytes } from 'node:crypto';

/** The kinds of endpoint a test can count calls to and script faults for. */
export type EndpointName = 'authorize' | 'token' | 'revoke' | 'api' | 'list';

/** A scripted misbehaviour of one answer. Fields combine: a delay, then a drop or a status. */
export interface Fault {
  /** Wait this long before answering (or dropping). */
  delayMs?: number;
  /** Answer with this status instead of the real answer, e.g. 401, 403, 429, 503. */
  status?: number;
  /** Retry-After header (seconds) of a status answer; defaults to 1 for 429. */
  retryAfter?: number;
  /** More headers of a status answer, e.g. a rate limit's `x-ratelimit-remaining` and `x-ratelimit-reset`. */
  headers?: Record<string, string>;
  /** JSON body of a status answer; a provider-typical one when absent. */
  body?: unknown;
  /** Destroy the connection without answering. */
  drop?: boolean;
  /** Hold the request until this settles (a test's gate), then answer. */
  until?: Promise<unknown>;
}

/** Per-provider behaviour switches, reset by `reset()`. */
export interface ProviderKnobs {
  /** The authorize endpoint redirects with `error=access_denied`, as when a user clicks "Cancel". */
  denyAuthorization: boolean;
  /** Token answers carry no `expires_in`. */
  omitExpiresIn: boolean;
  /** Refresh answers carry no `refresh_token` (the client must keep the old one). */
  omitRefreshTokenOnRefresh: boolean;
  /** Lifetime of issued access tokens. */
  expiresInSeconds: number;
  /** Grant these scopes instead of the requested ones. */
  grantScopes: string[] | null;
  /** List endpoints that let the provider choose (Jira's `maxResults`) answer at most this many items a page. */
  listPageSize: number | null;
}

export const defaultKnobs = (): ProviderKnobs => ({
  denyAuthorization: false,
  omitExpiresIn: false,
  omitRefreshTokenOnRefresh: false,
  expiresInSeconds: 3600,
  grantScopes: null,
  listPageSize: null,
});

/** One authorization: the tokens issued for it die together when it is revoked. */
export interface Grant {
  id: string;
  provider: string;
  clientId: string;
  scopes: string[];
  revoked: boolean;
  /** The newest tokens of the grant, for tests to compare with what the gateway uses. */
  accessToken: string;
  refreshToken: string | null;
}

export interface AccessToken {
  provider: string;
  kind: 'oauth' | 'api';
  grantId: string | null;
  scopes: string[];
  expiresAt: number | null;
  revoked: boolean;
}

export interface RefreshToken {
  provider: string;
  grantId: string;
  /** Replaced by a newer refresh token (rotation) or revoked: answers invalid_grant. */
  dead: boolean;
}

export interface AuthCode {
  provider: string;
  clientId: string;
  redirectUri: string;
  scopes: string[];
  challenge: string | null;
  expiresAt: number;
  used: boolean;
  grantId: string | null;
}

export interface CallRecord {
  provider: string;
  endpoint: EndpointName;
  method: string;
  path: string;
  grantType: string | null;
  /** The request as received, for tests that check which credential reached which host. */
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export const secretToken = (prefix: string) => `${prefix}${randomBytes(18).toString('base64url')}`;
export const s256 = (verifier: string) => createHash('sha256').update(verifier).digest('base64url');

/** Everything the fake provider knows, per process; providers are told apart by their key. */
export class FakeStore {
  readonly clients = new Map<string, { provider: string; secret: string }>();
  readonly codes = new Map<string, AuthCode>();
  readonly grants = new Map<string, Grant>();
  readonly accessTokens = new Map<string, AccessToken>();
  readonly refreshTokens = new Map<string, RefreshToken>();
  readonly basicUsers = new Map<string, { provider: string; password: string }>();
  readonly calls: CallRecord[] = [];
  readonly faults = new Map<string, { fault: Fault; remaining: number }[]>();
  readonly knobs = new Map<string, ProviderKnobs>();
  /** What each provider's list endpoints list (test/fake-provider/inventory.ts); kept by `reset()`. */
  readonly inventories = new Map<string, Record<string, unknown>[]>();

  knobsOf(provider: string): ProviderKnobs {
    let knobs = this.knobs.get(provider);
    if (!knobs) {
      knobs = defaultKnobs();
      this.knobs.set(provider, knobs);
    }
    return knobs;
  }

  /** Takes the next scripted fault of an endpoint, if any. */
  takeFault(provider: string, endpoint: EndpointName): Fault | undefined {
    const queue = this.faults.get(`${provider}:${endpoint}`);
    const next = queue?.[0];
    if (!queue || !next) return undefined;
    next.remaining -= 1;
    if (next.remaining <= 0) queue.shift();
    return next.fault;
  }

  /** A live (issued, unexpired, unrevoked) access or API token of the provider. */
  liveToken(provider: string, token: string | null | undefined): AccessToken | undefined {
    const record = token ? this.accessTokens.get(token) : undefined;
    if (!record || record.provider !== provider || record.revoked) return undefined;
    if (record.grantId && this.grants.get(record.grantId)?.revoked) return undefined;
    if (record.expiresAt !== null && record.expiresAt <= Date.now()) return undefined;
    return record;
  }

  issueApiToken(provider: string, scopes: string[]): string {
    const token = secretToken(`${provider}_pat_`);
    this.accessTokens.set(token, { provider, kind: 'api', grantId: null, scopes, expiresAt: null, revoked: false });
    return token;
  }

  addBasicUser(provider: string, username = `user-${randomBytes(3).toString('hex')}@example.com`): { username: string; password: string } {
    const password = secretToken(`${provider}_pw_`);
    this.basicUsers.set(`${provider}:${username}`, { provider, password });
    return { username, password };
  }

  checkBasic(provider: string, header: string | undefined): boolean {
    const match = /^Basic\s+(.+)$/i.exec(header ?? '');
    if (!match?.[1]) return false;
    const decoded = Buffer.from(match[1], 'base64').toString();
    const colon = decoded.indexOf(':');
    const user = this.basicUsers.get(`${provider}:${decoded.slice(0, colon)}`);
    return Boolean(user && colon > 0 && user.password === decoded.slice(colon + 1));
  }

  /** Issues access (and refresh) tokens for a grant, recording them as the grant's newest. */
  issueTokens(grant: Grant, expiresInSeconds: number, withRefresh: boolean): { accessToken: string; refreshToken: string | null } {
    const accessToken = secretToken(`${grant.provider}_at_`);
    this.accessTokens.set(accessToken, {
      provider: grant.provider,
      kind: 'oauth',
      grantId: grant.id,
      scopes: grant.scopes,
      expiresAt: Date.now() + expiresInSeconds * 1000,
      revoked: false,
    });
    grant.accessToken = accessToken;
    if (!withRefresh) return { accessToken, refreshToken: null };
    const refreshToken = secretToken(`${grant.provider}_rt_`);
    this.refreshTokens.set(refreshToken, { provider: grant.provider, grantId: grant.id, dead: false });
    grant.refreshToken = refreshToken;
    return { accessToken, refreshToken };
  }

  /** Kills a whole grant: every access and refresh token issued under it. */
  revokeGrant(grantId: string): void {
    const grant = this.grants.get(grantId);
    if (grant) grant.revoked = true;
    for (const record of this.refreshTokens.values()) if (record.grantId === grantId) record.dead = true;
  }

  /** Every secret the fake issued or holds, for tests asserting none of them leaks. */
  secrets(): string[] {
    return [
      ...[...this.clients.values()].map((client) => client.secret),
      ...this.accessTokens.keys(),
      ...this.refreshTokens.keys(),
      ...[...this.basicUsers.values()].map((user) => user.password),
      ...this.codes.keys(),
    ];
  }
}
