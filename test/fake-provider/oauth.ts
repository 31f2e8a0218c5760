import { randomUUID } from 'node:crypto';
import { findConnector } from '../../src/connectors/registry.js';
import { type Answer, type FakeProfile, type FakeRequest, json } from './profiles.js';
import { type Grant, s256, secretToken } from './store.js';

type Style = NonNullable<FakeProfile['oauth']>['style'];
type Problem = 'bad_client' | 'bad_code' | 'bad_refresh' | 'bad_request' | 'bad_grant_type';

/** Each dialect's error codes, as the real providers spell them. */
const ERRORS: Record<Style, Record<Problem, string>> = {
  standard: {
    bad_client: 'invalid_client',
    bad_code: 'invalid_grant',
    bad_refresh: 'invalid_grant',
    bad_request: 'invalid_request',
    bad_grant_type: 'unsupported_grant_type',
  },
  github: {
    bad_client: 'incorrect_client_credentials',
    bad_code: 'bad_verification_code',
    bad_refresh: 'bad_refresh_token',
    bad_request: 'invalid_request',
    bad_grant_type: 'unsupported_grant_type',
  },
  slack: {
    bad_client: 'invalid_client_id',
    bad_code: 'invalid_code',
    bad_refresh: 'invalid_refresh_token',
    bad_request: 'invalid_arguments',
    bad_grant_type: 'invalid_grant_type',
  },
};

function tokenError(style: Style, problem: Problem): Answer {
  const error = ERRORS[style][problem];
  if (style === 'slack') return json(200, { ok: false, error });
  if (style === 'github') return json(200, { error, error_description: `fake ${problem}` });
  return json(problem === 'bad_client' ? 401 : 400, { error, error_description: `fake ${problem}` });
}

function oauthOf(provider: string) {
  const definition = findConnector(provider)?.oauth2;
  if (!definition) throw new Error(`${provider} has no OAuth2 in the catalog`);
  return definition;
}

/** The authorization endpoint: approves at once (or denies, per knob) and redirects to the client. */
export function authorize(req: FakeRequest, profile: FakeProfile): Answer {
  const { query, store, provider } = req;
  const definition = oauthOf(provider);
  const client = store.clients.get(query.get('client_id') ?? '');
  let redirect: URL;
  try {
    redirect = new URL(query.get('redirect_uri') ?? '');
  } catch {
    return { status: 400, body: 'fake provider: redirect_uri is missing or not absolute' };
  }
  if (!client || client.provider !== provider) return { status: 400, body: 'fake provider: unknown client_id' };
  const back = (params: Record<string, string>) => {
    for (const [name, value] of Object.entries(params)) redirect.searchParams.set(name, value);
    const state = query.get('state');
    if (state !== null) redirect.searchParams.set('state', state);
    return { status: 302, headers: { location: redirect.toString() } };
  };
  const challenge = query.get('code_challenge');
  const required = profile.oauth?.requiredAuthorizeParams ?? {};
  const missing = Object.entries(required).some(([name, value]) => query.get(name) !== value);
  if (query.get('response_type') !== 'code') return back({ error: 'unsupported_response_type' });
  if (missing || (definition.pkce && (!challenge || query.get('code_challenge_method') !== 'S256'))) {
    return back({ error: 'invalid_request', error_description: 'PKCE S256 or a required parameter is missing' });
  }
  const knobs = store.knobsOf(provider);
  if (knobs.denyAuthorization) return back({ error: 'access_denied', error_description: 'The user denied the request' });
  const code = secretToken(`${provider}_code_`);
  store.codes.set(code, {
    provider,
    clientId: query.get('client_id') as string,
    redirectUri: redirect.toString(),
    scopes: (query.get('scope') ?? '').split(definition.scopeSeparator).filter(Boolean),
    challenge,
    expiresAt: Date.now() + 60_000,
    used: false,
    grantId: null,
  });
  return back({ code });
}

/** Client authentication by `client_secret_post` or `client_secret_basic`; the client id, or null. */
function authenticateClient(req: FakeRequest): string | null {
  let id = req.form.get('client_id');
  let secret = req.form.get('client_secret');
  const basic = /^Basic\s+(.+)$/i.exec(req.headers.authorization ?? '');
  if (basic?.[1]) {
    const [user, pass] = Buffer.from(basic[1], 'base64').toString().split(':').map(decodeURIComponent);
    id = user ?? null;
    secret = pass ?? null;
  }
  const client = req.store.clients.get(id ?? '');
  return client && client.provider === req.provider && client.secret === secret ? (id as string) : null;
}

function tokenAnswer(
  req: FakeRequest,
  profile: FakeProfile,
  grant: Grant,
  tokens: { accessToken: string; refreshToken: string | null },
): Answer {
  const oauth = profile.oauth as NonNullable<FakeProfile['oauth']>;
  const knobs = req.store.knobsOf(req.provider);
  const body: Record<string, unknown> = {
    ...(oauth.style === 'slack' ? { ok: true, team: { id: 'T0FAKE', name: 'Fake Workspace' } } : {}),
    access_token: tokens.accessToken,
    token_type: oauth.tokenType,
    scope: grant.scopes.join(oauthOf(req.provider).scopeSeparator),
    ...(knobs.omitExpiresIn ? {} : { expires_in: knobs.expiresInSeconds }),
    ...(tokens.refreshToken ? { refresh_token: tokens.refreshToken } : {}),
  };
  // GitHub answers form-encoded unless asked for JSON.
  if (oauth.style === 'github' && !String(req.headers.accept ?? '').includes('json')) {
    return {
      status: 200,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(body as Record<string, string>).toString(),
    };
  }
  return json(200, body, { 'cache-control': 'no-store' });
}

/** The token endpoint: authorization_code (with PKCE) and refresh_token grants. */
export function token(req: FakeRequest, profile: FakeProfile): Answer {
  const { form, store, provider } = req;
  const style = (profile.oauth as NonNullable<FakeProfile['oauth']>).style;
  const definition = oauthOf(provider);
  const knobs = store.knobsOf(provider);
  const clientId = authenticateClient(req);
  if (!clientId) return tokenError(style, 'bad_client');
  const grantType = form.get('grant_type');
  if (grantType === 'authorization_code') {
    const code = store.codes.get(form.get('code') ?? '');
    if (!code || code.provider !== provider || code.clientId !== clientId || code.expiresAt <= Date.now())
      return tokenError(style, 'bad_code');
    if (code.used) {
      // RFC 6749 4.1.2: a code used twice revokes what it issued.
      if (code.grantId) store.revokeGrant(code.grantId);
      return tokenError(style, 'bad_code');
    }
    code.used = true;
    if (form.get('redirect_uri') !== code.redirectUri) return tokenError(style, 'bad_code');
    const verifier = form.get('code_verifier');
    if (code.challenge ? !verifier || s256(verifier) !== code.challenge : verifier !== null) return tokenError(style, 'bad_code');
    const scopes = knobs.grantScopes ?? code.scopes;
    const grant: Grant = { id: randomUUID(), provider, clientId, scopes, revoked: false, accessToken: '', refreshToken: null };
    store.grants.set(grant.id, grant);
    code.grantId = grant.id;
    return tokenAnswer(req, profile, grant, store.issueTokens(grant, knobs.expiresInSeconds, true));
  }
  if (grantType === 'refresh_token') {
    const presented = form.get('refresh_token') ?? '';
    const record = store.refreshTokens.get(presented);
    const grant = record ? store.grants.get(record.grantId) : undefined;
    if (!record || !grant || record.dead || grant.revoked || record.provider !== provider || grant.clientId !== clientId) {
      return tokenError(style, 'bad_refresh');
    }
    if (definition.rotatesRefreshTokens) record.dead = true;
    const issued = store.issueTokens(grant, knobs.expiresInSeconds, definition.rotatesRefreshTokens);
    if (!definition.rotatesRefreshTokens) grant.refreshToken = presented;
    const refreshToken = knobs.omitRefreshTokenOnRefresh ? null : (issued.refreshToken ?? presented);
    if (knobs.omitRefreshTokenOnRefresh && issued.refreshToken) {
      // A provider that does not hand out a new refresh token keeps the old one working.
      record.dead = false;
      store.refreshTokens.delete(issued.refreshToken);
      grant.refreshToken = presented;
    }
    return tokenAnswer(req, profile, grant, { accessToken: issued.accessToken, refreshToken });
  }
  return tokenError(style, 'bad_grant_type');
}

/** RFC 7009: revoking a refresh token ends its grant; an access token dies alone. Unknown tokens: 200. */
export function revoke(req: FakeRequest): Answer {
  if (!authenticateClient(req)) return json(401, { error: 'invalid_client' });
  const presented = req.form.get('token');
  if (!presented) return json(400, { error: 'invalid_request' });
  const refresh = req.store.refreshTokens.get(presented);
  if (refresh && refresh.provider === req.provider) req.store.revokeGrant(refresh.grantId);
  const access = req.store.accessTokens.get(presented);
  if (access && access.provider === req.provider) access.revoked = true;
  return { status: 200, body: '' };
}
