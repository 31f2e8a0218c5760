import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { countApiKeys, type OrgFixture } from './support/fixtures.js';
import { createTestGateway, type TestGateway } from './support/gateway.js';

/** One test per bug that test/fuzz.test.ts found, each the smallest request that showed it. */
let gateway: TestGateway;
let org: OrgFixture;

beforeAll(async () => {
  gateway = await createTestGateway({ world: true, hardening: { metricsPublic: false } });
  org = gateway.world.acme;
});
afterAll(async () => {
  await gateway?.close();
});

const post = (body: string | object, headers: Record<string, string> = {}) =>
  gateway.fetch('/graphql', {
    method: 'POST',
    headers: { authorization: `Bearer ${org.keys.ADMIN}`, 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

async function refusal(response: Response, status: number, code: string) {
  expect(response.status).toBe(status);
  const body = await response.json();
  expect(body.data).toBeUndefined();
  expect(body.errors.map((error: any) => error.extensions?.code)).toEqual([code]);
  return body.errors[0];
}

describe('requests the fuzz suite found answered wrongly', () => {
  it('refuses an Accept it cannot answer in before running the mutation (was: ran it, then 406)', async () => {
    const before = await countApiKeys(gateway.db);
    for (const accept of ['application/xml', 'text/html', 'application/json; charset=latin1']) {
      const response = await post({ query: 'mutation { createApiKey(input: { role: VIEWER }) { key } }' }, { accept });
      expect(response.status, accept).toBe(406);
      expect(response.headers.get('accept')).toContain('application/json');
    }
    expect(await countApiKeys(gateway.db)).toBe(before);
  });

  it('answers an unreadable content type with 415 and a coded JSON error (was: an empty body)', async () => {
    await refusal(await post('<query/>', { 'content-type': 'application/xml' }), 415, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('refuses multipart requests, there being no uploads (was: 500 for `operations: null`)', async () => {
    const multipart = '--b\r\nContent-Disposition: form-data; name="operations"\r\n\r\nnull\r\n--b--\r\n';
    await refusal(
      await post(multipart, { 'content-type': 'multipart/form-data; boundary=b', 'x-graphql-yoga-csrf': '1' }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    );
  });

  it('refuses a subscription to a field the Subscription type lacks as invalid (was: 500 from graphql-jit)', async () => {
    const error = await refusal(
      await post({ query: 'subscription { viewer { role } }' }, { accept: 'application/graphql-response+json' }),
      400,
      'GRAPHQL_VALIDATION_FAILED',
    );
    expect(error.message).toBe('Cannot query field "viewer" on type "Subscription".');
  });

  it('gives variables that do not coerce the code BAD_USER_INPUT and a 400 (was: no code, 200)', async () => {
    const query = 'query($first: Int) { integrations(first: $first) { totalCount } }';
    await refusal(
      await post({ query, variables: { first: 'ten' } }, { accept: 'application/graphql-response+json' }),
      400,
      'BAD_USER_INPUT',
    );
    await refusal(await post({ query, variables: { first: 'ten' } }, { accept: 'application/json' }), 200, 'BAD_USER_INPUT');
  });

  it('does not echo a malformed body back in the error (was: extensions.originalError quoted it)', async () => {
    const response = await post('{"query": "{ viewer { role } }", "credentials": {"token": "s3cr3t-value"');
    const text = await response.text();
    expect(response.status).toBe(400);
    expect(JSON.parse(text).errors[0].extensions).toEqual({ code: 'BAD_REQUEST' });
    expect(text).not.toContain('s3cr3t-value');
  });

  it('refuses deeply nested documents and variables before parsing them (was: 500, stack overflow)', async () => {
    const lists = `{ nodes(ids: ${'['.repeat(900)}"x"${']'.repeat(900)}) { id } }`;
    const error = await refusal(await post({ query: lists }), 400, 'MAX_DEPTH_EXCEEDED');
    expect(error.extensions).toMatchObject({ limit: 50, found: 902 });
    // Written out: JSON.stringify itself runs out of stack on a value this deep.
    const deep = `{"query":"{ viewer { role } }","variables":{"deep":${'['.repeat(5_000)}1${']'.repeat(5_000)}}}`;
    await refusal(await post(deep, { accept: 'application/graphql-response+json' }), 400, 'MAX_DEPTH_EXCEEDED');
    // Braces inside strings and comments do not count.
    const quoted = await post({ query: `{ viewer { role } } # ${'{'.repeat(200)}`, variables: { s: '['.repeat(200) } });
    expect(response200(await quoted.json())).toEqual({ viewer: { role: 'ADMIN' } });
  });

  it('refuses U+0000 in strings, which PostgreSQL cannot store (was: 500 INTERNAL_SERVER_ERROR)', async () => {
    const before = await countApiKeys(gateway.db);
    const graphqlResponse = { accept: 'application/graphql-response+json' };
    await refusal(
      await post({ query: 'mutation { createApiKey(input: { role: VIEWER, name: "a\\u0000b" }) { key } }' }, graphqlResponse),
      400,
      'GRAPHQL_VALIDATION_FAILED',
    );
    await refusal(
      await post(
        { query: 'mutation($n: String) { createApiKey(input: { role: VIEWER, name: $n }) { key } }', variables: { n: 'a\u0000b' } },
        graphqlResponse,
      ),
      400,
      'BAD_USER_INPUT',
    );
    await refusal(
      await post(
        { query: 'query($s: String) { integrations(first: 1, filter: { search: $s }) { totalCount } }', variables: { s: '\u0000' } },
        graphqlResponse,
      ),
      400,
      'BAD_USER_INPUT',
    );
    expect(await countApiKeys(gateway.db)).toBe(before);
  });
});

function response200(body: any) {
  expect(body.errors).toBeUndefined();
  return body.data;
}

describe('/metrics in production', () => {
  const production = { NODE_ENV: 'production', ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64') };

  it('is not served without METRICS_TOKEN unless METRICS_PUBLIC opens it', () => {
    expect(loadConfig(production).hardening).toMatchObject({ metricsToken: undefined, metricsPublic: false });
    expect(loadConfig({ ...production, METRICS_PUBLIC: 'true' }).hardening.metricsPublic).toBe(true);
    expect(loadConfig({}).hardening.metricsPublic).toBe(true);
    expect(() => loadConfig({ METRICS_PUBLIC: 'yes' })).toThrow(/METRICS_PUBLIC/);
  });

  it('answers 404 when closed', async () => {
    expect((await gateway.fetch('/metrics')).status).toBe(404);
  });
});
