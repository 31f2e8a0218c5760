import { readFileSync } from 'node:fs';
import SwaggerParser from '@apidevtools/swagger-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRestWorld, type RestWorld } from './support/rest-client.js';

// The OpenAPI document: generated from the routes, committed, valid, and describing what the server serves.

let w: RestWorld;
beforeAll(async () => {
  w = await createRestWorld();
});
afterAll(() => w.close());

const committed = () => JSON.parse(readFileSync(new URL('../openapi.json', import.meta.url), 'utf8'));

describe('GET /openapi.json', () => {
  it('serves the committed document, without a key', async () => {
    const res = await w.raw('/openapi.json');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/json');
    expect(await res.json()).toEqual(committed());
    expect((await w.raw('/openapi.json', { method: 'POST' })).status).toBe(405);
  });

  it('is a valid OpenAPI 3.1 document (swagger-parser), every operation secured and answering problems', async () => {
    const document = committed();
    const api = (await SwaggerParser.validate(structuredClone(document))) as typeof document;
    expect(api.openapi).toBe('3.1.0');
    const operations = Object.entries(document.paths as Record<string, Record<string, any>>).flatMap(([path, item]) =>
      Object.entries(item).map(([method, operation]) => ({ path, method, operation })),
    );
    expect(operations.map(({ method, path }) => `${method.toUpperCase()} ${path}`).sort()).toEqual([
      'DELETE /integrations/{id}',
      'GET /integrations',
      'GET /integrations/{id}',
      'GET /integrations/{id}/health-checks',
      'GET /integrations/{id}/resources',
      'GET /integrations/{id}/sync-runs',
      'PATCH /integrations/{id}',
      'POST /connect-sessions',
      'POST /integrations',
      'POST /integrations/{id}/sync',
      'POST /integrations/{id}/test',
    ]);
    for (const { operation } of operations) {
      expect(operation.security).toEqual([{ bearer: [] }]);
      for (const status of ['400', '401', '403', '429']) {
        expect(operation.responses[status].content['application/problem+json'].schema).toEqual({ $ref: '#/components/schemas/Problem' });
      }
    }
  });

  it('lists every operation at a path the server answers, under /v1 and unprefixed', async () => {
    const headers = { authorization: `Bearer ${w.gw.world.acme.keys.VIEWER}` };
    for (const [path, item] of Object.entries(committed().paths as Record<string, object>)) {
      const concrete = path.replace('{id}', 'nope');
      for (const method of Object.keys(item)) {
        for (const prefix of ['/v1', '']) {
          const res = await w.raw(`${prefix}${concrete}`, { method: method.toUpperCase(), headers });
          // A real route answers with its own problem (or data); an unknown path would be a bare 404.
          expect(res.headers.get('content-type'), `${method} ${prefix}${concrete}`).toMatch(/^application\/(problem\+)?json/);
        }
      }
    }
  });
});

describe('GET /docs', () => {
  it("serves the interactive reference from the gateway's own files, and nothing from elsewhere", async () => {
    const page = await w.raw('/docs');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    const policy = page.headers.get('content-security-policy') ?? '';
    expect(policy).toContain("script-src 'self'");
    expect(policy).toContain("connect-src 'self'");
    const html = await page.text();
    expect(html).toContain('data-url="/openapi.json"');
    expect(html).toContain('<script src="/docs/scalar.js"></script>');
    expect(html).not.toMatch(/(src|href)="https?:/);

    const script = await w.raw('/docs/scalar.js');
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toContain('text/javascript');
    expect((await script.text()).length).toBeGreaterThan(100_000);
    const etag = script.headers.get('etag') as string;
    const cached = await w.raw('/docs/scalar.js', { headers: { 'if-none-match': etag } });
    expect(cached.status).toBe(304);
  });
});
