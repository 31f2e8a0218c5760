import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrgWithKeys, insertIntegration, type OrgFixture } from './support/fixtures.js';
import { createTestGateway, type TestGateway } from './support/gateway.js';
import { restClient } from './support/rest-client.js';

// REST requests spend the same budgets as GraphQL's, through the same rate limiter.

let gateway: TestGateway;
let org: OrgFixture;

beforeAll(async () => {
  gateway = await createTestGateway({ rateLimit: { apiKeyPoints: 30, organizationPoints: 1_000, integrationTests: 1 }, listen: true });
  org = await createOrgWithKeys(gateway.db, 'limited');
});
afterAll(async () => {
  await gateway.close();
});

describe('rate limits over REST', () => {
  it(
    'charges 1 + limit per page, reports x-ratelimit-*, and answers 429 with Retry-After when spent; ' + 'GraphQL shares the budget',
    async () => {
      const client = restClient(gateway.url, org.keys.VIEWER);
      const first = await client.GET('/integrations', { params: { query: { limit: 10 } } });
      expect(first.response.status).toBe(200);
      expect(first.response.headers.get('x-ratelimit-limit')).toBe('30');
      expect(first.response.headers.get('x-ratelimit-remaining')).toBe('19');
      expect(Number(first.response.headers.get('x-ratelimit-reset'))).toBeGreaterThan(Date.now() / 1000);
      const second = await client.GET('/integrations', { params: { query: { limit: 10 } } });
      expect(second.response.headers.get('x-ratelimit-remaining')).toBe('8');

      const refused = await client.GET('/integrations', { params: { query: { limit: 10 } } });
      expect(refused.response.status).toBe(429);
      expect(Number(refused.response.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(refused.response.headers.get('x-ratelimit-remaining')).toBe('8');
      expect(refused.error).toMatchObject({
        status: 429,
        code: 'RATE_LIMITED',
        detail: expect.stringContaining("API key's budget of 30"),
      });

      // What is left is what GraphQL may spend with the same key.
      const graphql = await gateway.graphql(org.keys.VIEWER, '{ integrations(first: 10) { edges { node { id } } } }');
      expect(graphql.status).toBe(429);
    },
  );

  it('limits tests per integration, as testIntegration is; a refused role is charged nothing', async () => {
    const { globalId } = await insertIntegration(gateway.db, org.organization.id);
    const editor = restClient(gateway.url, org.keys.EDITOR);
    const viewer = restClient(gateway.url, org.keys.VIEWER);
    const forbidden = await viewer.POST('/integrations/{id}/test', { params: { path: { id: globalId } } });
    expect(forbidden.response.status).toBe(403);
    expect(forbidden.response.headers.get('x-ratelimit-remaining')).toBeNull();

    const first = await editor.POST('/integrations/{id}/test', { params: { path: { id: globalId } } });
    expect(first.response.status).not.toBe(429);
    const second = await editor.POST('/integrations/{id}/test', { params: { path: { id: globalId } } });
    expect(second.response.status).toBe(429);
    expect(second.error).toMatchObject({
      code: 'RATE_LIMITED',
      detail: expect.stringContaining('This integration may be tested at most 1 times'),
    });
  });

  it('authenticates and charges a read in one statement, as GraphQL does: a page costs two in all', async () => {
    const counted = await createOrgWithKeys(gateway.db, 'counted-rest');
    await insertIntegration(gateway.db, counted.organization.id);
    const client = restClient(gateway.url, counted.keys.VIEWER);
    // The first use of a key records last_used_at in the background: let it land before measuring.
    expect((await client.GET('/integrations', { params: { query: { limit: 1 } } })).response.status).toBe(200);
    await expect
      .poll(
        async () =>
          (
            await gateway.db
              .selectFrom('api_keys')
              .select('last_used_at')
              .where('organization_id', '=', counted.organization.id)
              .where('role', '=', 'VIEWER')
              .executeTakeFirstOrThrow()
          ).last_used_at,
      )
      .not.toBeNull();
    gateway.statements.reset();
    const page = await client.GET('/integrations', { params: { query: { limit: 5 } } });
    expect(page.response.status).toBe(200);
    expect(page.response.headers.get('x-ratelimit-remaining')).toBe(String(30 - 2 - 6));
    expect(gateway.statements.count).toBe(2);
  });
});
