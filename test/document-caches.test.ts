import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMPILE_ON_EXECUTION, COMPILED_OPERATION_CACHE_SIZE, COUNTED_OPERATION_CACHE_SIZE } from '../src/graphql/compiled-execution.js';
import { REMEMBERED_DOCUMENTS } from '../src/http/limits/query-cost.js';
import { DOCUMENT_CACHE_SIZE } from '../src/server.js';
import { insertIntegrations, type OrgFixture } from './support/fixtures.js';
import { createTestGateway, type TestGateway } from './support/gateway.js';

let gateway: TestGateway;
let org: OrgFixture;

beforeAll(async () => {
  gateway = await createTestGateway({ world: true });
  org = gateway.world.acme;
  await insertIntegrations(gateway.db, org.organization.id, 3, () => ({ status: 'ACTIVE', health: 'HEALTHY' }));
});
afterAll(() => gateway?.close());

/** Entries in each per-document cache, from the gateway's metrics. */
async function cacheEntries(): Promise<Record<string, number>> {
  const text = await (await gateway.fetch('/metrics')).text();
  const entries: Record<string, number> = {};
  for (const match of text.matchAll(/^gateway_graphql_document_cache_entries\{cache="(\w+)"\} (\d+)$/gm))
    entries[match[1] as string] = Number(match[2]);
  return entries;
}

/** A document of its own for every `i`, as a client inlining its literals sends: the alias and `first` differ. */
const distinct = (i: number) => `query Page { page${i}: integrations(first: ${1 + (i % 3)}) { edges { node { id status } } } }`;

describe('per-document caches under a stream of distinct documents', () => {
  it('stay at their bounds, and a document evicted from them is answered again', { timeout: 180_000 }, async () => {
    const bound = Math.max(DOCUMENT_CACHE_SIZE, REMEMBERED_DOCUMENTS, COUNTED_OPERATION_CACHE_SIZE);
    const count = bound + 50;
    const page = async (i: number) => {
      const answer = await gateway.graphql(org.keys.VIEWER, distinct(i));
      expect(answer.body.errors).toBeUndefined();
      expect(answer.body.data?.[`page${i}`].edges).toHaveLength(1 + (i % 3));
    };
    // Documents sent once are counted (by digest) and their costs remembered (the document held weakly),
    // never kept parsed or compiled.
    for (let i = 0; i < count; i += 1) await page(i);
    expect(await cacheEntries()).toEqual({
      parse: 0,
      compiled: 0,
      counted: COUNTED_OPERATION_CACHE_SIZE,
      cost: REMEMBERED_DOCUMENTS,
    });

    // Documents that come back are kept from their second execution on, each cache up to its bound.
    const again = Math.max(DOCUMENT_CACHE_SIZE, REMEMBERED_DOCUMENTS, COMPILED_OPERATION_CACHE_SIZE) + 10;
    for (let i = 0; i < again; i += 1) {
      for (let time = 1; time <= COMPILE_ON_EXECUTION; time += 1) await page(count + i);
      if (i === COMPILED_OPERATION_CACHE_SIZE - 1) expect((await cacheEntries()).compiled).toBe(COMPILED_OPERATION_CACHE_SIZE);
    }
    const entries = await cacheEntries();
    expect(entries).toEqual({
      parse: DOCUMENT_CACHE_SIZE,
      compiled: COMPILED_OPERATION_CACHE_SIZE,
      counted: expect.any(Number),
      cost: REMEMBERED_DOCUMENTS,
    });
    expect(entries.counted).toBeLessThanOrEqual(COUNTED_OPERATION_CACHE_SIZE);

    // The first of them left every cache: parsed, measured, counted and compiled again, the same answer.
    for (let time = 1; time <= COMPILE_ON_EXECUTION + 1; time += 1) await page(count);
    expect(await cacheEntries()).toEqual({ ...entries, counted: expect.any(Number) });
  });

  it('compiles each operation of a document on its own', async () => {
    const document = 'query Role { viewer { role } } query Pages { integrations(first: 2) { edges { node { id } } } }';
    const send = (operationName: string) =>
      gateway.fetch('/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${org.keys.VIEWER}` },
        body: JSON.stringify({ query: document, operationName }),
      });
    // Each operation twice: the first runs uncompiled, the second compiled.
    for (let time = 1; time <= COMPILE_ON_EXECUTION; time += 1) {
      expect(((await (await send('Role')).json()) as { data: unknown }).data).toEqual({ viewer: { role: 'VIEWER' } });
      const pages = (await (await send('Pages')).json()) as { data: { integrations: { edges: unknown[] } } };
      expect(pages.data.integrations.edges).toHaveLength(2);
    }
    expect((await cacheEntries()).compiled).toBeGreaterThanOrEqual(2);
  });
});
