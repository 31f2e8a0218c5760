import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrgWithKeys, insertHealthChecks, insertIntegration, insertIntegrations } from './support/fixtures.js';
import { createTestGateway, type TestGateway } from './support/gateway.js';

const VARIABLES = '$first: Int, $after: String, $last: Int, $before: String, $filter: IntegrationFilter, $orderBy: IntegrationOrder';
const LIST = `query List(${VARIABLES}) {
  integrations(first: $first, after: $after, last: $last, before: $before, filter: $filter, orderBy: $orderBy) {
    totalCount
    edges { cursor node { id displayName } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}`;

interface Page {
  totalCount: number;
  edges: { cursor: string; node: { id: string; displayName: string } }[];
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
}

const BASE = Date.parse('2026-01-01T00:00:00.000Z');
const at = (seconds: number) => new Date(BASE + seconds * 1000);
const b64 = (text: string) => Buffer.from(text).toString('base64url');

let gateway: TestGateway;
let key: string;
/** The 25 listed integrations of the main organization, in CREATED_AT ASC order; every fifth is `staging`. */
let ids: string[];
let rawIds: string[];
let organizationId: string;

beforeAll(async () => {
  gateway = await createTestGateway();
  const org = await createOrgWithKeys(gateway.db, 'pager');
  key = org.keys.VIEWER;
  const rows = await insertIntegrations(gateway.db, org.organization.id, 25, (i) => ({
    displayName: `Item ${String(i).padStart(2, '0')}`,
    environment: i % 5 === 0 ? 'staging' : 'production',
    createdAt: at(i),
  }));
  ids = rows.map((row) => row.globalId);
  rawIds = rows.map((row) => row.id);
  organizationId = org.organization.id;
  await insertHealthChecks(gateway.db, organizationId, rawIds[0]!, 3);
});
afterAll(() => gateway?.close());

async function list(vars: Record<string, unknown>, as = key): Promise<Page> {
  const res = await gateway.graphql(as, LIST, vars);
  expect(res.status).toBe(200);
  expect(res.body.errors).toBeUndefined();
  return res.body.data.integrations as Page;
}

async function expectListError(vars: Record<string, unknown>, code: string) {
  const res = await gateway.graphql(key, LIST, vars);
  expect(res.status).toBe(200);
  expect(res.body.data).toBeNull();
  expect(res.body.errors).toHaveLength(1);
  const [error] = res.body.errors!;
  expect(error!.extensions?.code).toBe(code);
  expect(error!.path).toEqual(['integrations']);
  expect(error!.message).not.toMatch(/unexpected/i);
  return error!;
}

function expectCursorsMatchEdges(page: Page) {
  expect(page.pageInfo.startCursor).toBe(page.edges[0]?.cursor ?? null);
  expect(page.pageInfo.endCursor).toBe(page.edges.at(-1)?.cursor ?? null);
}

/** Walks the whole list forwards, checking pageInfo on every page; returns the pages. */
async function walkForward(size: number, vars: Record<string, unknown> = {}, as = key): Promise<Page[]> {
  const pages: Page[] = [];
  let after: string | null = null;
  for (;;) {
    const page = await list({ ...vars, first: size, after }, as);
    expectCursorsMatchEdges(page);
    pages.push(page);
    if (!page.pageInfo.hasNextPage) return pages;
    expect(page.edges).toHaveLength(size);
    after = page.pageInfo.endCursor;
  }
}

describe('integrations pagination arguments', () => {
  it.each([
    ['neither first nor last', {}, 'MISSING_PAGINATION_BOUNDARIES'],
    ['first above 100', { first: 101 }, 'EXCESSIVE_PAGINATION'],
    ['last above 100', { last: 500 }, 'EXCESSIVE_PAGINATION'],
    ['first of zero', { first: 0 }, 'INVALID_PAGINATION_ARGUMENTS'],
    ['negative first', { first: -3 }, 'INVALID_PAGINATION_ARGUMENTS'],
    ['last of zero', { last: 0 }, 'INVALID_PAGINATION_ARGUMENTS'],
    ['both first and last', { first: 5, last: 5 }, 'INVALID_PAGINATION_ARGUMENTS'],
  ])('rejects %s with %s', async (_name, vars, code) => {
    await expectListError(vars, code);
  });

  it('rejects a before cursor with first, and an after cursor with last', async () => {
    const cursor = (await list({ first: 3 })).pageInfo.endCursor;
    await expectListError({ first: 3, before: cursor }, 'INVALID_PAGINATION_ARGUMENTS');
    await expectListError({ last: 3, after: cursor }, 'INVALID_PAGINATION_ARGUMENTS');
  });

  it('accepts page sizes 1 and 100 from either end', async () => {
    expect((await list({ first: 1 })).edges.map((e) => e.node.id)).toEqual([ids[0]]);
    expect((await list({ last: 1 })).edges.map((e) => e.node.id)).toEqual([ids[24]]);
    expect((await list({ first: 100 })).edges).toHaveLength(25);
    expect((await list({ last: 100 })).edges).toHaveLength(25);
  });

  it('refuses malformed and foreign cursors with INVALID_CURSOR', async () => {
    const descCursor = (await list({ first: 2, orderBy: { field: 'CREATED_AT', direction: 'DESC' } })).pageInfo.endCursor;
    const nameCursor = (await list({ first: 2, orderBy: { field: 'DISPLAY_NAME', direction: 'ASC' } })).pageInfo.endCursor;
    const checkRes = await gateway.graphql(
      key,
      'query($id: ID!) { integration(id: $id) { healthChecks(first: 1) { pageInfo { endCursor } } } }',
      {
        id: ids[0],
      },
    );
    const healthCursor = checkRes.body.data.integration.healthChecks.pageInfo.endCursor;
    expect(healthCursor).toEqual(expect.any(String));
    const cursors = [
      'garbage!!',
      b64('junk that is not json'),
      b64('{"scope":"integrations"}'),
      b64(JSON.stringify(['integrations:CREATED_AT:ASC', '2026-01-01', 'not-a-uuid'])),
      b64(JSON.stringify(['integrations:CREATED_AT:ASC', 'not a timestamp', rawIds[3]])),
      // Words that PostgreSQL's cast reads as times, which no list prints as a key.
      ...['yesterday', 'now', 'epoch', 'infinity', '-infinity', 'today allballs'].map((word) =>
        b64(JSON.stringify(['integrations:CREATED_AT:ASC', word, rawIds[3]])),
      ),
      b64(JSON.stringify(['integrations:LAST_CHECKED_AT:ASC', 'infinity', rawIds[3]])),
      'x'.repeat(2000),
      descCursor,
      nameCursor,
      healthCursor,
    ];
    for (const cursor of cursors) {
      const error = await expectListError({ first: 5, after: cursor }, 'INVALID_CURSOR');
      expect(error.extensions?.argument).toBe('after');
    }
    const error = await expectListError({ last: 5, before: 'garbage' }, 'INVALID_CURSOR');
    expect(error.extensions?.argument).toBe('before');

    const [scope, , id] = JSON.parse(Buffer.from(healthCursor, 'base64url').toString('utf8')) as [string, string, string];
    const forgedCheck = await gateway.graphql(
      key,
      'query($id: ID!, $c: String) { integration(id: $id) { healthChecks(first: 1, after: $c) { edges { node { id } } } } }',
      {
        id: ids[0],
        c: b64(JSON.stringify([scope, 'yesterday', id])),
      },
    );
    expect(forgedCheck.body.errors?.[0]?.extensions?.code).toBe('INVALID_CURSOR');
  });

  it('takes back the cursors of rows never checked, whose key in the LAST_CHECKED_AT order is -infinity', async () => {
    const page = await list({ first: 2, orderBy: { field: 'LAST_CHECKED_AT', direction: 'ASC' } });
    const [, key] = JSON.parse(Buffer.from(String(page.pageInfo.endCursor), 'base64url').toString('utf8')) as [string, string];
    expect(key).toBe('-infinity');
    expect(
      (await list({ first: 2, after: page.pageInfo.endCursor, orderBy: { field: 'LAST_CHECKED_AT', direction: 'ASC' } })).edges,
    ).toHaveLength(2);
  });
});

describe('walking integrations page by page', () => {
  it('walks forwards in pages of 7, every row once and in order, hasNextPage exact', async () => {
    const pages = await walkForward(7);
    expect(pages.map((p) => p.edges.length)).toEqual([7, 7, 7, 4]);
    expect(pages.map((p) => p.pageInfo.hasNextPage)).toEqual([true, true, true, false]);
    expect(pages.flatMap((p) => p.edges.map((e) => e.node.id))).toEqual(ids);
  });

  it('walks backwards with last/before, each page in list order, hasPreviousPage exact', async () => {
    const pages: Page[] = [];
    let before: string | null = null;
    for (;;) {
      const page = await list({ last: 7, before });
      expectCursorsMatchEdges(page);
      pages.push(page);
      if (!page.pageInfo.hasPreviousPage) break;
      before = page.pageInfo.startCursor;
    }
    expect(pages.map((p) => p.edges.length)).toEqual([7, 7, 7, 4]);
    expect(pages.map((p) => p.pageInfo.hasPreviousPage)).toEqual([true, true, true, false]);
    expect(pages[0]!.edges.map((e) => e.node.id)).toEqual(ids.slice(18));
    expect(pages.reverse().flatMap((p) => p.edges.map((e) => e.node.id))).toEqual(ids);
  });

  it('turns back from a middle page to exactly the page before it', async () => {
    const first = await list({ first: 7 });
    const second = await list({ first: 7, after: first.pageInfo.endCursor });
    expect(second.edges.map((e) => e.node.id)).toEqual(ids.slice(7, 14));
    const back = await list({ last: 7, before: second.pageInfo.startCursor });
    expect(back.edges).toEqual(first.edges);
    expect(back.pageInfo.hasPreviousPage).toBe(false);
  });

  it('returns an empty page past either end', async () => {
    const all = await list({ first: 100 });
    const pastEnd = await list({ first: 5, after: all.edges.at(-1)!.cursor });
    expect(pastEnd.edges).toEqual([]);
    expect(pastEnd.pageInfo).toMatchObject({ hasNextPage: false, startCursor: null, endCursor: null });
    const beforeStart = await list({ last: 5, before: all.edges[0]!.cursor });
    expect(beforeStart.edges).toEqual([]);
    expect(beforeStart.pageInfo).toMatchObject({ hasPreviousPage: false, startCursor: null, endCursor: null });
  });

  it('keeps totalCount at the number of matching rows on every page, and under a filter', async () => {
    expect((await walkForward(10)).map((p) => p.totalCount)).toEqual([25, 25, 25]);
    expect((await list({ last: 1 })).totalCount).toBe(25);
    const staging = await walkForward(2, { filter: { environment: 'staging' } });
    expect(staging.map((p) => p.totalCount)).toEqual([5, 5, 5]);
    expect(staging.flatMap((p) => p.edges.map((e) => e.node.id))).toEqual(ids.filter((_, i) => i % 5 === 0));
  });
});

describe('keyset stability', () => {
  it('neither skips nor repeats rows that exist throughout while rows are inserted and deleted between pages', async () => {
    const org = await createOrgWithKeys(gateway.db, 'churn');
    const orgId = org.organization.id;
    const rows = await insertIntegrations(gateway.db, orgId, 20, (i) => ({ displayName: `Churn ${i}`, createdAt: at(1000 + i * 10) }));
    const remove = (index: number) => gateway.db.deleteFrom('integrations').where('id', '=', rows[index]!.id).execute();
    const add = async (seconds: number) =>
      (await insertIntegration(gateway.db, orgId, { displayName: 'New', createdAt: at(seconds) })).globalId;
    const added: Record<string, string> = {};
    const churn: (() => Promise<void>)[] = [
      async () => {
        await remove(3); // the row the cursor points at
        await remove(10); // a row not yet reached
        added.behind = await add(995); // before the cursor: a forward walk cannot see it
        added.ahead = await add(1155); // between rows 15 and 16
      },
      async () => {
        await remove(5); // a row already seen
        added.end = await add(5000);
      },
    ];
    const seen: string[] = [];
    let after: string | null = null;
    for (let pageIndex = 0; ; pageIndex += 1) {
      const page = await list({ first: 4, after }, org.keys.VIEWER);
      seen.push(...page.edges.map((e) => e.node.id));
      await churn[pageIndex]?.();
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(new Set(seen).size).toBe(seen.length);
    const survivors = rows.filter((_, i) => ![3, 5, 10].includes(i)).map((r) => r.globalId);
    for (const id of survivors) expect(seen).toContain(id);
    expect(seen).toContain(rows[3]!.globalId);
    expect(seen).not.toContain(rows[10]!.globalId);
    expect(seen).toContain(added.ahead);
    expect(seen.at(-1)).toBe(added.end);
    expect(seen).not.toContain(added.behind);
  });

  it('pages through rows with identical created_at using the id as tie-breaker, both directions', async () => {
    const org = await createOrgWithKeys(gateway.db, 'ties');
    const rows = await insertIntegrations(gateway.db, org.organization.id, 13, () => ({ createdAt: at(42) }));
    const byId = [...rows].sort((a, b) => (a.id < b.id ? -1 : 1)).map((r) => r.globalId);
    for (const direction of ['ASC', 'DESC'] as const) {
      const orderBy = { field: 'CREATED_AT', direction };
      const expected = direction === 'ASC' ? byId : [...byId].reverse();
      const forward = await walkForward(5, { orderBy }, org.keys.VIEWER);
      expect(forward.flatMap((p) => p.edges.map((e) => e.node.id))).toEqual(expected);
      const backward: string[] = [];
      let before: string | null = null;
      do {
        const page = await list({ last: 5, before, orderBy }, org.keys.VIEWER);
        backward.unshift(...page.edges.map((e) => e.node.id));
        before = page.pageInfo.hasPreviousPage ? page.pageInfo.startCursor : null;
      } while (before);
      expect(backward).toEqual(expected);
    }
  });
});
