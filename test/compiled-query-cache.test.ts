import { randomUUID } from 'node:crypto';
import { type Compilable, type CompiledQuery, type Kysely, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtValues, CompiledQueryCache, one } from '../src/db/compiled-query-cache.js';
import type { Database, IntegrationHealth, IntegrationStatus } from '../src/db/database.js';
import type { PageRequest } from '../src/graphql/pagination.js';
import { byIdsQuery } from '../src/modules/integration/integration.repository.js';
import {
  candidatesQuery,
  countQuery,
  filterValues,
  type IntegrationFilter,
  type IntegrationOrderField,
  type ListColumn,
  type PageOptions,
  pageQuery,
  pageShapeKey,
  pageStatement,
} from '../src/modules/integration/integration-list.repository.js';
import { createOrgWithKeys, insertIntegrations } from './support/fixtures.js';
import { Random } from './support/fuzz-random.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';

const ORDERS: IntegrationOrderField[] = ['CREATED_AT', 'UPDATED_AT', 'DISPLAY_NAME', 'LAST_CHECKED_AT'];
const STATUSES: IntegrationStatus[] = ['PENDING_AUTHORIZATION', 'ACTIVE', 'NEEDS_REAUTH', 'ERROR', 'REVOKED'];
const HEALTHS: IntegrationHealth[] = ['UNKNOWN', 'HEALTHY', 'DEGRADED', 'UNHEALTHY'];
const COLUMNS: ListColumn[] = ['provider', 'display_name', 'status', 'health', 'last_check_at', 'end_user_id', 'created_at'];
const TEXTS = ['', 'a', 'billing', "o'brien", '50%_off\\x', '$1', 'ünïcode', ' spaced '];

function maybe<T>(random: Random, make: () => T): T | null | undefined {
  const roll = random.int(4);
  return roll === 0 ? null : roll === 1 ? undefined : make();
}

function someOf<T>(random: Random, items: readonly T[]): T[] {
  return Array.from({ length: random.int(items.length + 1) }, () => random.pick(items));
}

function randomFilter(random: Random): IntegrationFilter {
  return {
    providers: maybe(random, () => someOf(random, ['github', 'slack', 'stripe', 'x'])),
    statuses: maybe(random, () => someOf(random, STATUSES)),
    healths: maybe(random, () => someOf(random, HEALTHS)),
    environment: maybe(random, () => random.pick(TEXTS)),
    search: maybe(random, () => random.pick(TEXTS)),
    endUserId: maybe(random, () => random.pick(TEXTS)),
  };
}

function randomPage(random: Random): PageRequest {
  const cursor = random.bool() ? { key: random.pick([...TEXTS, '2026-11-30 10:00:00+00', '-infinity']), id: randomUUID() } : null;
  return { direction: random.bool() ? 'forward' : 'backward', limit: random.between(1, 100), cursor };
}

function randomOptions(random: Random, columnSets: readonly (readonly ListColumn[])[]): PageOptions {
  const columns = random.int(3);
  return {
    filter: randomFilter(random),
    orderBy: random.pick(ORDERS),
    direction: random.bool() ? 'ASC' : 'DESC',
    page: randomPage(random),
    ...(columns === 0 ? {} : { columns: columns === 1 ? 'all' : random.pick(columnSets) }),
  };
}

function fresh(query: Compilable): Pick<CompiledQuery, 'sql' | 'parameters'> {
  const { sql: text, parameters } = query.compile();
  return { sql: text, parameters };
}

function plain(query: CompiledQuery): Pick<CompiledQuery, 'sql' | 'parameters'> {
  return { sql: query.sql, parameters: query.parameters };
}

let database: TestDatabase;
let db: Kysely<Database>;

beforeAll(async () => {
  database = await createTestDatabase();
  db = database.db;
});

afterAll(async () => {
  await database?.drop();
});

describe('compiled query cache', () => {
  // Four thousand compiles: seconds on a loaded machine, more than the default timeout on a busy one.
  it('gives the text and parameters of a fresh compile for random pages, candidates, counts and ids', () => {
    const random = new Random(19);
    const cache = new CompiledQueryCache(10_000);
    const columnSets = Array.from({ length: 4 }, () => someOf(random, COLUMNS));
    const shapes = new Set<string>();
    for (let i = 0; i < 1_000; i++) {
      const organizationId = randomUUID();
      const options = randomOptions(random, columnSets);
      const search = random.pick([null, 'rare', 'common'] as const);
      const candidates = search === 'rare' ? Array.from({ length: random.between(1, 40) }, () => randomUUID()) : null;
      const withSearch = { ...options, filter: { ...options.filter, search: search ? random.pick(TEXTS) || 'x' : null } };
      const { shape, values } = pageStatement(organizationId, withSearch, candidates);
      const key = pageShapeKey(shape);
      shapes.add(`${key}${values.cursorKey === null}${JSON.stringify(Object.values(values).map((v) => v === null))}`);
      const cached = cache.compile(db, key, values, (built) => pageQuery(db, shape, built));
      expect(plain(cached)).toEqual(fresh(pageQuery(db, shape, builtValues(values))));

      const filter = filterValues(organizationId, options.filter);
      expect(plain(cache.compile(db, 'candidates', filter, (built) => candidatesQuery(db, built)))).toEqual(
        fresh(candidatesQuery(db, builtValues(filter))),
      );
      expect(plain(cache.compile(db, 'count', filter, (built) => countQuery(db, built)))).toEqual(
        fresh(countQuery(db, builtValues(filter))),
      );

      const ids = { organizationId, ids: Array.from({ length: random.between(1, 5) }, () => randomUUID()) };
      expect(plain(cache.compile(db, 'by-ids', ids, (built) => byIdsQuery(db, built)))).toEqual(fresh(byIdsQuery(db, ids)));
    }
    // Hundreds of combinations of order, direction, search kind, column set, cursor and filters.
    expect(shapes.size).toBeGreaterThan(600);
    // Every order, in both directions, with and without a common search.
    expect(new Set([...shapes].map((shape) => shape.split(':').slice(0, 4).join(':'))).size).toBe(16);
  }, 120_000);

  it('reads the same rows as a fresh compile', async () => {
    const random = new Random(7);
    const org = await createOrgWithKeys(db, `cache-${randomUUID().slice(0, 8)}`);
    await insertIntegrations(db, org.organization.id, 30, (i) => ({ displayName: `${random.pick(TEXTS)} ${i}` }));

    const cache = new CompiledQueryCache(100);
    for (let i = 0; i < 40; i++) {
      const options = { ...randomOptions(random, [['display_name', 'status']]), page: { ...randomPage(random), cursor: null } };
      const candidates = random.bool(0.2) ? [randomUUID()] : null;
      const { shape, values } = pageStatement(org.organization.id, options, candidates);
      const cached = cache.compile(db, pageShapeKey(shape), values, (built) => pageQuery(db, shape, built));
      const expected = await pageQuery(db, shape, builtValues(values)).execute();
      expect((await db.executeQuery(cached)).rows).toEqual(expected);
    }
  });

  it('keys a shape by the lengths of lists and by null and boolean values, which Kysely may write into the text', () => {
    const cache = new CompiledQueryCache(100);
    const build = (values: { flag: boolean | null; ids: readonly string[]; name: string | null }) =>
      db
        .selectFrom('integrations')
        .select('id')
        .where('id', 'in', values.ids)
        .where('display_name', 'is', values.name === null ? null : values.name)
        .where(sql<boolean>`health_checks_paused`, 'is', values.flag);
    for (const values of [
      { flag: true, ids: ['a'], name: 'x' },
      { flag: false, ids: ['a', 'b'], name: null },
      { flag: null, ids: ['c'], name: 'y' },
      { flag: true, ids: ['a', 'b', 'c'], name: null },
      { flag: true, ids: ['d'], name: 'z' },
    ]) {
      expect(plain(cache.compile(db, 'is', values, build))).toEqual(fresh(build(values)));
    }
  });

  it('binds one(array) as one parameter whatever its length', () => {
    const cache = new CompiledQueryCache(1);
    const build = (values: { ids: readonly string[] }) =>
      db.selectFrom('integrations').select('id').where('id', '=', sql<string>`any(${values.ids}::uuid[])`);
    for (const ids of [['a'], ['a', 'b'], ['c', 'd', 'e']]) {
      const cached = cache.compile(db, 'any', { ids: one(ids) }, build);
      expect(plain(cached)).toEqual(fresh(build({ ids })));
      expect(cached.parameters).toEqual([ids]);
    }
  });

  it('refuses a builder that reads a value, and a list bound as one parameter', () => {
    const cache = new CompiledQueryCache(10);
    expect(() =>
      cache.compile(db, 'reads', { limit: 10 }, (values) =>
        db
          .selectFrom('integrations')
          .select('id')
          .limit(values.limit + 1),
      ),
    ).toThrow(/was read while building/);
    expect(() =>
      cache.compile(db, 'escapes', { search: 'a' }, (values) =>
        db.selectFrom('integrations').select('id').where('display_name', 'ilike', `%${values.search}%`),
      ),
    ).toThrow(/was read while building/);
    expect(() =>
      cache.compile(db, 'list', { ids: ['a', 'b'] }, (values) =>
        db.selectFrom('integrations').select('id').where('id', '=', sql<string>`any(${values.ids}::uuid[])`),
      ),
    ).toThrow(/pass it as one\(array\)/);
  });

  it('keeps at most its bound of shapes and compiles the others afresh, still equal', () => {
    const cache = new CompiledQueryCache(2);
    const built: number[] = [];
    for (const round of [1, 2]) {
      for (const length of [1, 2, 3, 4]) {
        const values = { organizationId: randomUUID(), ids: Array.from({ length }, () => randomUUID()) };
        const compiled = cache.compile(db, 'by-ids', values, (v) => {
          built.push(length);
          return byIdsQuery(db, v);
        });
        expect(plain(compiled)).toEqual(fresh(byIdsQuery(db, values)));
      }
      expect(built).toEqual(round === 1 ? [1, 2, 3, 4] : [1, 2, 3, 4, 3, 4]);
    }
  });

  it('gives the same text object to every request of a shape, which names one prepared statement', () => {
    const cache = new CompiledQueryCache(10);
    const first = cache.compile(db, 'by-ids', { organizationId: randomUUID(), ids: [randomUUID()] }, (v) => byIdsQuery(db, v));
    const second = cache.compile(db, 'by-ids', { organizationId: randomUUID(), ids: [randomUUID()] }, (v) => byIdsQuery(db, v));
    expect(second.sql).toBe(first.sql);
    expect(second.parameters).not.toEqual(first.parameters);
    expect(second.queryId).not.toBe(first.queryId);
  });
});
