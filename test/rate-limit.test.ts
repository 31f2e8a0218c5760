import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeGlobalID } from '../src/graphql/global-id.js';
import type { RateLimitStore } from '../src/http/limits/rate-limit-store.js';
import { RateLimiter } from '../src/http/limits/rate-limiter.js';
import { createOrgWithKeys, insertIntegrations } from './support/fixtures.js';
import { createTestGateway, type TestGateway } from './support/gateway.js';
import { captureLogs } from './support/logs.js';

/** Costs 1 + 2 × (edges 1 + node 1) = 5 points. */
const FIVE_POINTS = '{ integrations(first: 2) { edges { node { id } } } }';
const ONE_POINT = '{ viewer { role } }';
const TEST = 'mutation Test($id: ID!) { testIntegration(input: {id: $id}) { userErrors { code } } }';
const TEST_TWICE =
  'mutation($id: ID!) { a: testIntegration(input: {id: $id}) { userErrors { code } } ' +
  'b: testIntegration(input: {id: $id}) { userErrors { code } } }';

const unknownIntegration = () => encodeGlobalID('Integration', randomUUID());
let slugs = 0;

describe.each(['postgres', 'redis'] as const)('budgets stored in %s', (store) => {
  let gateway: TestGateway;
  /** A second gateway on the same store: another process behind the load balancer. */
  let sibling: TestGateway;
  const budgets = {
    store,
    redisPrefix: `igw-test-${randomUUID()}`,
    windowSeconds: 60,
    apiKeyPoints: 20,
    organizationPoints: 30,
    integrationTests: 2,
  };

  beforeAll(async () => {
    gateway = await createTestGateway({ rateLimit: budgets });
    sibling = await createTestGateway({ rateLimit: budgets, database: gateway.database });
  });
  afterAll(async () => {
    await sibling?.close();
    await gateway?.close();
  });

  const newOrg = async () => {
    const org = await createOrgWithKeys(gateway.db, `rate-${store}-${++slugs}`);
    await insertIntegrations(gateway.db, org.organization.id, 3);
    return org;
  };

  it('answers with x-ratelimit headers and the remaining budget in extensions.cost', async () => {
    const org = await newOrg();
    const before = Math.floor(Date.now() / 1000);
    const res = await gateway.graphql(org.keys.VIEWER, ONE_POINT);
    // The window opens when the request is charged, somewhere between these two instants.
    const after = Math.floor(Date.now() / 1000);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-ratelimit-limit')).toBe('20');
    expect(res.headers.get('x-ratelimit-remaining')).toBe('19');
    const reset = Number(res.headers.get('x-ratelimit-reset'));
    expect(reset).toBeGreaterThanOrEqual(before + 59);
    expect(reset).toBeLessThanOrEqual(after + 61);
    expect(res.body.extensions.cost).toMatchObject({ requested: 1, maximum: 25_000, limit: 20, remaining: 19 });
    expect(Date.parse(res.body.extensions.cost.resetAt)).toBeGreaterThan(Date.now());
    const next = await gateway.graphql(org.keys.VIEWER, FIVE_POINTS);
    expect(next.headers.get('x-ratelimit-remaining')).toBe('14');
  });

  it("refuses with 429 RATE_LIMITED and Retry-After once an API key's budget is spent, running nothing", async () => {
    const org = await newOrg();
    for (let i = 0; i < 4; i += 1) expect((await gateway.graphql(org.keys.VIEWER, FIVE_POINTS)).status).toBe(200);
    gateway.statements.reset();
    const res = await gateway.graphql(org.keys.VIEWER, FIVE_POINTS);
    expect(res.status).toBe(429);
    expect(res.body.data).toBeUndefined();
    expect(res.body.errors).toHaveLength(1);
    expect(res.body.errors[0].extensions).toEqual({ code: 'RATE_LIMITED', scope: 'API_KEY', limit: 20, retryAfter: expect.any(Number) });
    const retryAfter = Number(res.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(res.body.errors[0].extensions.retryAfter).toBe(retryAfter);
    expect(res.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(gateway.statements.sql.filter((text) => /"integrations"/.test(text))).toEqual([]);
    // Another key of the same organization still has its own budget (and the organization's).
    expect((await gateway.graphql(org.keys.EDITOR, ONE_POINT)).status).toBe(200);
  });

  it("shares an organization's budget among its keys and among gateway processes", async () => {
    const org = await newOrg();
    const stranger = await newOrg();
    for (let i = 0; i < 3; i += 1) expect((await gateway.graphql(org.keys.VIEWER, FIVE_POINTS)).status).toBe(200);
    for (let i = 0; i < 2; i += 1) expect((await sibling.graphql(org.keys.EDITOR, FIVE_POINTS)).status).toBe(200);
    const last = await sibling.graphql(org.keys.EDITOR, FIVE_POINTS);
    expect(last.status).toBe(200);
    // The organization's 30 points are spent: the headers report the budget nearest to exhaustion.
    expect(last.headers.get('x-ratelimit-limit')).toBe('30');
    expect(last.headers.get('x-ratelimit-remaining')).toBe('0');
    const refused = await gateway.graphql(org.keys.ADMIN, ONE_POINT);
    expect(refused.status).toBe(429);
    expect(refused.body.errors[0].extensions).toMatchObject({ code: 'RATE_LIMITED', scope: 'ORGANIZATION', limit: 30 });
    // Nobody else is starved.
    const other = await sibling.graphql(stranger.keys.VIEWER, ONE_POINT);
    expect(other.status).toBe(200);
    expect(other.headers.get('x-ratelimit-remaining')).toBe('19');
  });

  it("charges a refused request to no budget: a key past its own budget leaves its organization's to the other keys", async () => {
    const org = await newOrg();
    for (let i = 0; i < 3; i += 1) expect((await gateway.graphql(org.keys.VIEWER, FIVE_POINTS)).status).toBe(200);
    for (let i = 0; i < 4; i += 1) expect((await sibling.graphql(org.keys.VIEWER, ONE_POINT)).status).toBe(200);
    // 19 of 20 points spent: five do not fit, and are not charged; the one left still does.
    const refused = await gateway.graphql(org.keys.VIEWER, FIVE_POINTS);
    expect(refused.status).toBe(429);
    expect(refused.body.errors[0].extensions).toMatchObject({ code: 'RATE_LIMITED', scope: 'API_KEY', limit: 20 });
    expect(refused.headers.get('x-ratelimit-remaining')).toBe('1');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const last = await sibling.graphql(org.keys.VIEWER, ONE_POINT);
    expect(last.status).toBe(200);
    expect(last.headers.get('x-ratelimit-remaining')).toBe('0');
    for (let i = 0; i < 10; i += 1) expect((await (i % 2 ? gateway : sibling).graphql(org.keys.VIEWER, FIVE_POINTS)).status).toBe(429);
    // The organization spent 20 of its 30 points, whatever the VIEWER kept sending.
    expect((await gateway.graphql(org.keys.EDITOR, FIVE_POINTS)).headers.get('x-ratelimit-remaining')).toBe('5');
    expect((await sibling.graphql(org.keys.ADMIN, FIVE_POINTS)).headers.get('x-ratelimit-remaining')).toBe('0');
    const spent = await gateway.graphql(org.keys.EDITOR, ONE_POINT);
    expect(spent.status).toBe(429);
    expect(spent.body.errors[0].extensions).toMatchObject({ code: 'RATE_LIMITED', scope: 'ORGANIZATION', limit: 30 });
  });

  it('charges every budget of a request or none of them, also when requests race', async () => {
    const store = gateway.rateLimitStore as RateLimitStore;
    const budget = (name: string, limit: number, points: number) => ({ key: `all-or-none:${name}`, points, limit, windowSeconds: 60 });
    const [key, org, other] = [randomUUID(), randomUUID(), randomUUID()];
    // The organization has no room: the key is not charged either.
    const refused = await store.charge([budget(key, 20, 5), budget(org, 3, 5)]);
    expect(refused.admitted).toBe(false);
    expect(refused.states.map((state) => state.spent)).toEqual([0, 0]);
    const admitted = await store.charge([budget(key, 20, 20), budget(org, 3, 3)]);
    expect(admitted.admitted).toBe(true);
    expect(admitted.states.map((state) => [state.spent, state.limit])).toEqual([
      [20, 20],
      [3, 3],
    ]);
    expect(admitted.states.every((state) => state.resetInMs > 0 && state.resetInMs <= 60_000)).toBe(true);
    // And the reverse: the key has no room, so the other budget is not charged.
    expect((await store.charge([budget(key, 20, 1), budget(other, 10, 1)])).admitted).toBe(false);
    expect((await store.charge([budget(other, 10, 10)])).admitted).toBe(true);

    // Thirty one-point requests at once, from two gateways' worth of callers: exactly ten fit the key.
    const [racer, shared] = [randomUUID(), randomUUID()];
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        (i % 2 ? sibling : gateway).rateLimitStore?.charge([budget(racer, 10, 1), budget(shared, 100, 1)]),
      ),
    );
    expect(results.filter((result) => result?.admitted)).toHaveLength(10);
    const after = await store.charge([budget(racer, 10, 0), budget(shared, 100, 0)]);
    expect(after.states.map((state) => state.spent)).toEqual([10, 10]);
  });

  it('limits testIntegration per integration, counting every call in a document', async () => {
    const org = await newOrg();
    const target = unknownIntegration();
    for (let i = 0; i < 2; i += 1) {
      const res = await gateway.graphql(org.keys.EDITOR, TEST, { id: target });
      expect(res.status).toBe(200);
      expect(res.body.data.testIntegration.userErrors).toEqual([{ code: 'NOT_FOUND' }]);
    }
    gateway.statements.reset();
    const refused = await sibling.graphql(org.keys.EDITOR, TEST, { id: target });
    expect(refused.status).toBe(429);
    expect(refused.body.errors[0].extensions).toMatchObject({ code: 'RATE_LIMITED', scope: 'INTEGRATION_TEST', limit: 2 });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(gateway.statements.sql.filter((text) => /"integrations"/.test(text))).toEqual([]);
    // Other integrations have their own budget; two calls in one document spend two.
    const another = unknownIntegration();
    expect((await gateway.graphql(org.keys.EDITOR, TEST_TWICE, { id: another })).status).toBe(200);
    expect((await gateway.graphql(org.keys.EDITOR, TEST, { id: another })).status).toBe(429);
    // Probing this organization's integration ID from another organization spends none of its budget.
    const intruder = await newOrg();
    const fresh = unknownIntegration();
    for (let i = 0; i < 3; i += 1) await gateway.graphql(intruder.keys.EDITOR, TEST, { id: fresh });
    expect((await gateway.graphql(org.keys.EDITOR, TEST, { id: fresh })).status).toBe(200);
  });

  it("charges nothing for a VIEWER's testIntegration calls, which it may not run: editors can still test", async () => {
    const org = await newOrg();
    const target = unknownIntegration();
    const fields = Array.from({ length: 11 }, (_, i) => `t${i}: testIntegration(input: {id: $id}) { __typename }`);
    const eleven = `mutation($id: ID!) { ${fields.join(' ')} }`;
    for (const via of [gateway, sibling]) {
      const refused = await via.graphql(org.keys.VIEWER, eleven, { id: target });
      expect(refused.status).toBe(200);
      expect(refused.body.data).toBeNull();
      expect(refused.body.errors.map((error: any) => error.extensions.code)).toEqual(Array.from({ length: 11 }, () => 'FORBIDDEN'));
      expect(refused.headers.get('x-ratelimit-limit')).toBeNull();
    }
    // The key's and the organization's budgets are untouched too: a refused request spends nothing.
    const own = await gateway.graphql(org.keys.VIEWER, ONE_POINT);
    expect(own.headers.get('x-ratelimit-remaining')).toBe('19');
    for (let i = 0; i < 2; i += 1) {
      const res = await sibling.graphql(org.keys.EDITOR, TEST, { id: target });
      expect(res.status).toBe(200);
      expect(res.body.data.testIntegration.userErrors).toEqual([{ code: 'NOT_FOUND' }]);
    }
  });

  it('charges nothing for a query the role may not run, even one the gateway has run before', async () => {
    const org = await newOrg();
    const keys = '{ apiKeys { id } }';
    expect((await gateway.graphql(org.keys.ADMIN, keys)).status).toBe(200);
    // Known now: with budgets in PostgreSQL, it would be charged with its authentication.
    for (let i = 0; i < 3; i += 1) {
      const refused = await gateway.graphql(org.keys.VIEWER, keys);
      expect(refused.body.errors.map((error: any) => error.extensions.code)).toEqual(['FORBIDDEN']);
      expect(refused.headers.get('x-ratelimit-limit')).toBeNull();
    }
    expect((await gateway.graphql(org.keys.VIEWER, ONE_POINT)).headers.get('x-ratelimit-remaining')).toBe('19');
  });

  it('starts a new window when the last one ends', async () => {
    const quick = await createTestGateway({
      database: gateway.database,
      rateLimit: { ...budgets, windowSeconds: 1, apiKeyPoints: 2 },
    });
    try {
      const org = await newOrg();
      expect((await quick.graphql(org.keys.VIEWER, ONE_POINT)).status).toBe(200);
      expect((await quick.graphql(org.keys.VIEWER, ONE_POINT)).status).toBe(200);
      const refused = await quick.graphql(org.keys.VIEWER, ONE_POINT);
      expect(refused.status).toBe(429);
      await new Promise((resolve) => setTimeout(resolve, Number(refused.headers.get('retry-after')) * 1000 + 100));
      const again = await quick.graphql(org.keys.VIEWER, ONE_POINT);
      expect(again.status).toBe(200);
      expect(again.headers.get('x-ratelimit-remaining')).toBe('1');
    } finally {
      await quick.close();
    }
  });
});

describe('a failing budget store', () => {
  it('lets requests through and logs a warning, rather than taking the API down', async () => {
    const logs = captureLogs('warn');
    const broken: RateLimitStore = { kind: 'redis', charge: () => Promise.reject(new Error('connection lost')), close: async () => {} };
    const gateway = await createTestGateway({
      logger: logs.logger,
      hardening: {
        rateLimiter: new RateLimiter(broken, {
          windowSeconds: 60,
          apiKeyPoints: 1,
          organizationPoints: 1,
          integrationTests: 1,
          integrationTestWindowSeconds: 60,
        }),
      },
    });
    try {
      const org = await createOrgWithKeys(gateway.db, 'broken-store');
      for (let i = 0; i < 3; i += 1) {
        const res = await gateway.graphql(org.keys.VIEWER, ONE_POINT);
        expect(res.status).toBe(200);
        expect(res.headers.get('x-ratelimit-limit')).toBeNull();
      }
      const warnings = logs.lines().filter((line) => line.msg === 'rate limit store failed; request not limited');
      expect(warnings).toHaveLength(3);
      expect(warnings[0]?.requestId).toEqual(expect.any(String));
    } finally {
      await gateway.close();
    }
  });
});
