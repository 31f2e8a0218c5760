import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeGlobalID } from '../src/graphql/global-id.js';
import { userIdOf } from '../src/http/admission/oidc/oidc-verifier.js';
import { insertIntegration } from './support/fixtures.js';
import { createTestGateway, type TestGateway } from './support/gateway.js';
import {
  startIdentityProvider,
  type TestIdentityProvider,
  tokenFromUnpublishedKey,
  tokenSignedWithPublicKey,
  unsignedToken,
} from './support/identity-provider.js';
import { CONNECT, CONNECTING_GATEWAY, RETURN_URL } from './support/integration-flows.js';
import { restClient } from './support/rest-client.js';

/**
 * Sign-in for frontends: a bearer JWT from the organization's identity provider (a real OpenID provider
 * on loopback, with discovery, a JWKS and signed tokens) admits its user, on GraphQL and REST alike, to
 * the organization its claim names and with the role its claim grants; every token that is not exactly
 * right gets the 401 a bad API key gets, with the reason in the log line only.
 */
let idp: TestIdentityProvider;
let gw: TestGateway;
let acmeIntegration: string;
let globexIntegration: string;

/** A cooldown short enough for the rotation test to wait out, long enough to see it hold. */
const JWKS_COOLDOWN_MS = 3_000;
const READ =
  '{ viewer { role organization { slug } apiKey { id } user { subject issuer } } ' +
  'integrations(first: 10) { edges { node { id displayName } } } }';
const now = () => Math.floor(Date.now() / 1000);

beforeAll(async () => {
  idp = await startIdentityProvider();
  gw = await createTestGateway({
    ...CONNECTING_GATEWAY,
    oidc: idp.gatewayOptions({ jwksCooldownMs: JWKS_COOLDOWN_MS }),
    rateLimit: { apiKeyPoints: 200 },
    listen: true,
  });
  acmeIntegration = (await insertIntegration(gw.db, gw.world.acme.organization.id, { displayName: 'Acme GitHub' })).globalId;
  globexIntegration = (await insertIntegration(gw.db, gw.world.globex.organization.id, { displayName: 'Globex GitHub' })).globalId;
}, 180_000);
afterAll(async () => {
  await gw?.close();
  await idp?.close();
});

const rest = (token: string, path = '/v1/integrations', init: RequestInit = {}) =>
  gw.fetch(path, { ...init, headers: { authorization: `Bearer ${token}`, ...init.headers } });

describe('a valid token', () => {
  it("reads its organization's integrations over GraphQL and REST, as a user with no API key", async () => {
    const token = await idp.token({ claims: { sub: 'reader-1' } });
    const read = await gw.graphql(token, READ);
    expect(read.status).toBe(200);
    expect(read.body.data).toEqual({
      viewer: { role: 'VIEWER', organization: { slug: 'acme' }, apiKey: null, user: { subject: 'reader-1', issuer: idp.issuer } },
      integrations: { edges: [{ node: { id: acmeIntegration, displayName: 'Acme GitHub' } }] },
    });
    const other = await gw.graphql(token, 'query($id: ID!) { node(id: $id) { id } }', { id: globexIntegration });
    expect(other.body.data).toEqual({ node: null });

    const listed = await rest(token);
    expect(listed.status).toBe(200);
    expect(((await listed.json()) as { data: { display_name: string }[] }).data.map((item) => item.display_name)).toEqual(['Acme GitHub']);
    expect((await rest(token, `/v1/integrations/${globexIntegration}`)).status).toBe(404);

    // The request's log line names the user, and never the token.
    const line = gw.logs.map((text) => JSON.parse(text)).find((entry) => entry.msg === 'request' && entry.user === 'reader-1');
    expect(line).toMatchObject({ organization: 'acme', status: 200 });
    expect(gw.logs.join('\n')).not.toContain(token.split('.')[2]);
  });

  it('may name its organization by slug, id or GraphQL ID', async () => {
    const { organization } = gw.world.globex;
    for (const org of ['globex', organization.id, encodeGlobalID('Organization', organization.id)]) {
      const read = await gw.graphql(await idp.token({ claims: { org } }), READ);
      expect(read.body.data?.viewer.organization).toEqual({ slug: 'globex' });
      expect(read.body.data?.integrations.edges).toEqual([{ node: { id: globexIntegration, displayName: 'Globex GitHub' } }]);
    }
  });

  it('is accepted within the documented 30 seconds of clock skew', async () => {
    const justExpired = await idp.token({ claims: { exp: now() - 10, iat: now() - 3600, nbf: now() - 3600 } });
    expect((await gw.graphql(justExpired, READ)).status).toBe(200);
    const almostValid = await idp.token({ claims: { nbf: now() + 10 } });
    expect((await gw.graphql(almostValid, READ)).status).toBe(200);
  });
});

describe('a token that is not exactly right', () => {
  const refusals: [string, () => Promise<string>, string][] = [
    ['for another audience', () => idp.token({ claims: { aud: 'another-application' } }), 'another audience (aud)'],
    ['expired', () => idp.token({ claims: { exp: now() - 120, iat: now() - 3600, nbf: now() - 3600 } }), 'expired (exp)'],
    ['not valid yet', () => idp.token({ claims: { nbf: now() + 120 } }), 'not valid yet (nbf)'],
    ['from another issuer', () => idp.token({ claims: { iss: 'https://login.example.com' } }), 'another issuer (iss)'],
    ['without exp', () => idp.token({ claims: { exp: undefined } }), '"exp" claim is missing'],
    ['without sub', () => idp.token({ claims: { sub: undefined } }), '"sub" claim is missing'],
    ['unsigned (alg: none)', async () => unsignedToken(idp.claims()), 'algorithm none is not allowed'],
    [
      'HS256 signed with the public key',
      async () => tokenSignedWithPublicKey(idp.claims(), await idp.currentKey()),
      'HS256 is not allowed',
    ],
    ['signed by a key never published (unknown kid)', () => tokenFromUnpublishedKey(idp.claims(), 'key-unknown'), 'matches the token'],
    [
      "signed by another key under the issuer's kid",
      async () => tokenFromUnpublishedKey(idp.claims(), (await idp.currentKey()).kid),
      'signature',
    ],
    ['for an organization that does not exist', () => idp.token({ claims: { org: 'initech' } }), 'no organization'],
    ['for several organizations', () => idp.token({ claims: { org: ['acme', 'globex'] } }), 'not one organization'],
    ['without an organization', () => idp.token({ claims: { org: undefined } }), 'no "org" claim'],
    ['with a role this gateway does not know', () => idp.token({ claims: { role: 'superuser' } }), 'not a role of this gateway'],
    ['with roles none of which is this gateway’s', () => idp.token({ claims: { role: ['staff', 'billing'] } }), 'names no role'],
  ];

  it.each(refusals)(
    '%s gets the 401 of a bad API key, on GraphQL and REST, with the reason in the log only',
    async (_name, make, reason) => {
      const token = await make();
      const badKey = await gw.graphql(`igw_000000000000_${'A'.repeat(43)}`, READ);
      const answer = await gw.graphql(token, READ);
      expect(answer.status).toBe(401);
      expect(answer.headers.get('www-authenticate')).toBe(badKey.headers.get('www-authenticate'));
      expect(answer.body).toEqual({
        errors: [{ message: 'The token is not valid for this gateway.', extensions: badKey.body.errors[0].extensions }],
      });
      expect(answer.body.data).toBeUndefined();

      const problem = await rest(token);
      expect(problem.status).toBe(401);
      expect(problem.headers.get('www-authenticate')).toBe(badKey.headers.get('www-authenticate'));
      expect(await problem.json()).toMatchObject({
        status: 401,
        code: 'UNAUTHENTICATED',
        detail: 'The token is not valid for this gateway.',
      });

      const lines = gw.logs.map((text) => JSON.parse(text)).filter((entry) => entry.requestId === answer.requestId);
      expect(lines.find((entry) => entry.msg === 'authentication failed')).toMatchObject({ failure: 'INVALID_TOKEN' });
      expect(lines.find((entry) => entry.msg === 'request')?.authenticationFailure).toContain(reason);
      for (const part of token.split('.').filter((segment) => segment.length > 0)) expect(gw.logs.join('\n')).not.toContain(part);
    },
  );
});

describe('roles', () => {
  const connectInput = () => ({
    provider: 'gitlab',
    authKind: 'API_TOKEN',
    displayName: `GitLab ${randomUUID().slice(0, 8)}`,
    config: {},
    credentials: { token: gw.fake.issueApiToken('gitlab') },
  });

  it('a VIEWER (no role claim) reads and may not mutate; an EDITOR mutates, recorded under its subject', async () => {
    const viewer = await idp.token({ claims: { sub: 'viewer-2' } });
    const refused = await gw.graphql(viewer, CONNECT, { input: connectInput() });
    expect(refused.body.errors).toEqual([
      expect.objectContaining({ message: 'Your role does not allow this operation.', extensions: { code: 'FORBIDDEN' } }),
    ]);
    const restRefused = await rest(viewer, '/v1/integrations', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ provider: 'gitlab', display_name: 'x', auth_kind: 'api_token', credentials: { token: 'x' }, config: {} }),
    });
    expect(restRefused.status).toBe(403);

    const editor = await idp.token({ claims: { sub: 'editor-2', role: 'editor' } });
    const connected = await gw.graphql(editor, CONNECT, { input: connectInput() });
    expect(connected.body.data?.connectIntegration).toMatchObject({ userErrors: [], integration: { status: 'ACTIVE' } });
    const id = connected.body.data.connectIntegration.integration.id as string;
    const events = await gw.db
      .selectFrom('integration_events')
      .select(['type', 'actor_key_id', 'actor_subject'])
      .where('integration_id', '=', (await gw.row(id)).id)
      .execute();
    expect(events).toContainEqual({ type: 'integration.connected', actor_key_id: null, actor_subject: 'editor-2' });

    // Over REST, with the typed client, as the same user.
    const client = restClient(gw.url, editor);
    const created = await client.POST('/integrations', {
      body: {
        provider: 'gitlab',
        display_name: 'GitLab over REST',
        auth_kind: 'api_token',
        credentials: { token: gw.fake.issueApiToken('gitlab') },
        config: {},
      },
    });
    expect(created.response.status).toBe(201);

    // Revoked by the user: the reason and the row say who.
    const revoked = await client.DELETE('/integrations/{id}', { params: { path: { id } } });
    expect(revoked.response.status).toBe(200);
    const row = await gw.row(id);
    expect(row).toMatchObject({
      status: 'REVOKED',
      status_reason: 'Revoked by user editor-2.',
      revoked_by_key_id: null,
      revoked_by_subject: 'editor-2',
    });
  });

  it('an EDITOR user may not issue a connect session: a backend issues them with its key', async () => {
    const editor = await idp.token({ claims: { sub: 'editor-3', role: 'editor' } });
    const before = await gw.db
      .selectFrom('connect_sessions')
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirstOrThrow();
    const answer = await gw.graphql(
      editor,
      'mutation($input: CreateConnectSessionInput!) { createConnectSession(input: $input) { token userErrors { code message } } }',
      { input: { endUser: { id: 'end-user-1' } } },
    );
    expect(answer.body.data?.createConnectSession).toEqual({
      token: null,
      userErrors: [{ code: 'FORBIDDEN', message: 'Connect sessions are created with an API key, by a backend.' }],
    });
    const after = await gw.db
      .selectFrom('connect_sessions')
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirstOrThrow();
    expect(Number(after.n)).toBe(Number(before.n));
  });

  it("an OAuth2 connection a user starts is recorded under the user's subject when the provider sends the browser back", async () => {
    const editor = await idp.token({ claims: { sub: 'editor-oauth', role: 'EDITOR' } });
    const input = { provider: 'github', authKind: 'OAUTH2', displayName: 'GitHub by a user', oauth2: { returnUrl: RETURN_URL } };
    const started = await gw.graphql(editor, CONNECT, { input });
    const { authorizationUrl, integration } = started.body.data.connectIntegration;
    const { location } = await gw.authorize(authorizationUrl);
    expect(location?.searchParams.get('outcome')).toBe('connected');
    const events = await gw.db
      .selectFrom('integration_events')
      .select(['type', 'actor_key_id', 'actor_subject'])
      .where('integration_id', '=', (await gw.row(integration.id)).id)
      .execute();
    expect(events).toContainEqual({ type: 'integration.authorized', actor_key_id: null, actor_subject: 'editor-oauth' });
  });

  it('a list of roles grants the highest this gateway knows, its other entries ignored', async () => {
    const token = await idp.token({ claims: { role: ['staff', 'Editor', 'viewer'] } });
    expect((await gw.graphql(token, READ)).body.data?.viewer.role).toBe('EDITOR');
  });
});

describe('what belongs to a user', () => {
  it("an Idempotency-Key is the user's: replayed under a fresh token, refused to another user of the organization", async () => {
    const key = randomUUID();
    const input = {
      provider: 'gitlab',
      authKind: 'API_TOKEN',
      displayName: 'Idempotent GitLab',
      config: {},
      credentials: { token: gw.fake.issueApiToken('gitlab') },
    };
    const send = async (sub: string) =>
      gw.fetch('/graphql', {
        method: 'POST',
        headers: {
          authorization: `Bearer ${await idp.token({ claims: { sub, role: 'EDITOR', jti: randomUUID() } })}`,
          'content-type': 'application/json',
          'idempotency-key': key,
        },
        body: JSON.stringify({ query: CONNECT, variables: { input } }),
      });
    const first = await send('editor-3');
    const firstText = await first.text();
    expect(JSON.parse(firstText).data.connectIntegration.userErrors).toEqual([]);
    const again = await send('editor-3');
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await again.text()).toBe(firstText);
    const stranger = await send('editor-4');
    expect(stranger.status).toBe(422);
    expect(await stranger.json()).toMatchObject({ errors: [{ extensions: { code: 'IDEMPOTENCY_KEY_REUSED' } }] });
    const held = await gw.db.selectFrom('idempotency_keys').select('api_key_id').where('key', '=', key).executeTakeFirstOrThrow();
    expect(held.api_key_id).toBe(userIdOf(idp.issuer, 'editor-3'));
  });

  it('a rate-limit budget per user of an organization, beside each API key', async () => {
    // 200 points per caller per window: a user spends theirs, another user and the organization's keys still have theirs.
    const spender = await idp.token({ claims: { sub: 'spender' } });
    const page = '{ integrations(first: 50) { edges { node { id } } } }';
    const first = await gw.graphql(spender, page);
    expect(first.status).toBe(200);
    const { requested } = first.body.extensions.cost;
    expect(requested * 2).toBeGreaterThan(200);
    const last = await gw.graphql(spender, page);
    expect(last.status).toBe(429);
    expect(last.body.errors[0].message).toContain("The user's budget");
    expect((await gw.graphql(await idp.token({ claims: { sub: 'saver' } }), page)).status).toBe(200);
    expect((await gw.graphql(gw.world.acme.keys.VIEWER, page)).status).toBe(200);
    const buckets = await gw.db.selectFrom('rate_limit_buckets').select('key').execute();
    expect(buckets.map((bucket) => bucket.key)).toContain(`user:${gw.world.acme.organization.id}:${userIdOf(idp.issuer, 'spender')}`);
  });

  it('a query the gateway has seen is charged in the statement that finds the organization, as for an API key', async () => {
    const token = await idp.token({ claims: { sub: 'counted' } });
    const query = '{ integrations(first: 5) { edges { node { id } } } }';
    expect((await gw.graphql(token, query)).status).toBe(200); // first sight: parsed, measured, charged on its own
    gw.statements.reset();
    const answer = await gw.graphql(token, query);
    expect(answer.status).toBe(200);
    const charging = gw.statements.sql.filter((text) => text.includes('rate_limit_charge'));
    expect(charging).toHaveLength(1);
    expect(charging[0]).toContain('from organizations');
    expect(gw.statements.sql.filter((text) => /from "?organizations"?/.test(text))).toHaveLength(1);
    const first = answer.body.extensions.cost;
    const again = (await gw.graphql(token, query)).body.extensions.cost;
    expect(again.remaining).toBe(first.remaining - first.requested);
  });

  it('API keys keep working beside tokens', async () => {
    const read = await gw.graphql(gw.world.acme.keys.VIEWER, READ);
    expect(read.body.data?.viewer).toMatchObject({ role: 'VIEWER', apiKey: { id: expect.any(String) }, user: null });
  });
});

describe("the issuer's keys", () => {
  it('are fetched once, refetched for an unknown kid at most once per cooldown, and a rotated key is picked up', async () => {
    await gw.graphql(await idp.token(), READ);
    const fetched = idp.fetches.jwks;
    expect(idp.fetches.discovery).toBe(1);
    // A flood of made-up key ids within the cooldown costs the provider nothing.
    for (let i = 0; i < 5; i += 1) {
      expect((await gw.graphql(await tokenFromUnpublishedKey(idp.claims(), `made-up-${i}`), READ)).status).toBe(401);
    }
    expect(idp.fetches.jwks).toBeLessThanOrEqual(fetched + 1);
    const afterFlood = idp.fetches.jwks;

    // The provider rotates to a new key: once the cooldown has passed, its first token fetches the set again.
    await new Promise((resolve) => setTimeout(resolve, JWKS_COOLDOWN_MS + 100));
    const before = await idp.token({ claims: { sub: 'rotating' } });
    const kid = await idp.rotate();
    const after = await idp.token({ claims: { sub: 'rotating' } });
    expect(JSON.parse(Buffer.from(after.split('.')[0] as string, 'base64url').toString()).kid).toBe(kid);
    expect((await gw.graphql(after, READ)).body.data?.viewer.user.subject).toBe('rotating');
    expect(idp.fetches.jwks).toBe(afterFlood + 1);
    // The retired key's tokens still verify while the provider publishes it.
    expect((await gw.graphql(before, READ)).status).toBe(200);
    expect(idp.fetches.discovery).toBe(1);
  });
});

describe('without sign-in configured', () => {
  it('a JWT is a malformed credential, as before', async () => {
    const plain = await createTestGateway({ world: true });
    try {
      const answer = await plain.graphql(await idp.token(), READ);
      expect(answer.status).toBe(401);
      expect(answer.body.errors[0].message).toContain('with a key this gateway issued');
    } finally {
      await plain.close();
    }
  });
});

describe('an identity provider that cannot be reached', () => {
  it('is 503 with Retry-After, not a 401 that would sign the user out', async () => {
    const down = await createTestGateway({
      world: true,
      oidc: { ...idp.gatewayOptions(), issuer: 'http://127.0.0.1:9', fetchTimeoutMs: 500 },
    });
    try {
      const token = await idp.token();
      const answer = await down.graphql(token, READ);
      expect(answer.status).toBe(503);
      expect(answer.headers.get('retry-after')).toBe('5');
      expect(answer.body.errors[0].extensions.code).toBe('SIGN_IN_UNAVAILABLE');
      const problem = await down.fetch('/v1/integrations', { headers: { authorization: `Bearer ${token}` } });
      expect(problem.status).toBe(503);
      expect(await problem.json()).toMatchObject({ code: 'SIGN_IN_UNAVAILABLE' });
    } finally {
      await down.close();
    }
  });
});
