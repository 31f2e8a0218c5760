import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { createOrgWithKeys } from './support/fixtures.js';
import { createTestGateway, type TestGateway, type TestGatewayOptions } from './support/gateway.js';
import { graphiqlOptions } from './support/graphiql-page.js';
import { sendGraphQL } from './support/request.js';

const KEY = `igw_0123456789ab_${'K'.repeat(43)}`;

interface Page {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A GET over a real socket, with the Host header given (fetch cannot set it). */
function get(port: number, path: string, headers: Record<string, string> = {}): Promise<Page> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, headers: { accept: 'text/html', ...headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('GraphiQL served by the gateway', () => {
  let database: TestDatabase;
  const gateways: TestGateway[] = [];

  async function listen(graphiql: TestGatewayOptions['graphiql']) {
    const gateway = await createTestGateway({ database, graphiql, listen: true });
    gateways.push(gateway);
    return gateway;
  }

  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    for (const gateway of gateways) await gateway.close();
    await database.drop();
  });

  it('links only its own assets, under a Content-Security-Policy that allows nothing else', async () => {
    const { port } = await listen(true);
    const page = await get(port, '/graphql', { host: `localhost:${port}` });
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['cache-control']).toBe('no-store');
    expect(page.headers['content-security-policy']).toContain("default-src 'none'; script-src 'self'; worker-src 'self'");
    expect(page.body).not.toMatch(/(src|href)="(https?:)?\/\//);
    const linked = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1] as string);
    expect(linked.sort()).toEqual([
      '/graphiql/favicon.ico',
      '/graphiql/graphiql.css',
      '/graphiql/graphiql.js',
      '/graphiql/setup.js',
      '/graphiql/start.js',
    ]);
    for (const path of [...linked, '/graphiql/editor.worker.js', '/graphiql/json.worker.js', '/graphiql/graphql.worker.js']) {
      const asset = await get(port, path);
      expect(asset.status, path).toBe(200);
      expect(asset.headers['content-type'], path).toMatch(/^(text\/javascript|text\/css|image\/)/);
      const again = await get(port, path, { 'if-none-match': String(asset.headers.etag) });
      expect(again.status, path).toBe(304);
    }
    expect((await get(port, '/graphiql/nothing.js')).status).toBe(404);
  });

  it('opens with an example query that runs against this schema', async () => {
    const gateway = await listen(true);
    const { port } = gateway;
    const { defaultQuery } = graphiqlOptions((await get(port, '/graphql')).body);
    expect(defaultQuery).toContain('integrations(first: 10)');
    const { keys } = await createOrgWithKeys(database.db, 'acme');
    const { body } = await sendGraphQL(gateway, { key: keys.VIEWER, query: defaultQuery as string, headers: { accept: null } });
    expect(body.errors).toBeUndefined();
    expect(body.data).toEqual({
      viewer: { role: 'VIEWER', organization: { name: 'Org acme', slug: 'acme' } },
      integrations: { totalCount: 0, edges: [] },
    });
  });

  it('prefills the Authorization header only for a browser on this machine asking under a loopback name', async () => {
    const { port } = await listen({ authorization: `Bearer ${KEY}` });
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`]) {
      const options = graphiqlOptions((await get(port, '/graphql', { host })).body);
      expect(JSON.parse(options.headers as string), host).toEqual({ Authorization: `Bearer ${KEY}` });
    }
    // A DNS name that resolves to this machine (or a rebinding page) gets no key.
    for (const host of [`gateway.example.com:${port}`, `localhost.example.com`, `10.0.0.5:${port}`]) {
      const page = await get(port, '/graphql', { host });
      expect(page.status, host).toBe(200);
      expect(page.body, host).not.toContain(KEY);
      expect(graphiqlOptions(page.body).headers, host).toBeUndefined();
    }
  });

  it('has no key to give when none was printed, and no page when turned off', async () => {
    const plain = await listen(true);
    const page = await get(plain.port, '/graphql', { host: `localhost:${plain.port}` });
    expect(graphiqlOptions(page.body).headers).toBeUndefined();
    expect(page.body).not.toMatch(/igw_/);
    const off = await listen(false);
    const refused = await get(off.port, '/graphql', { host: `localhost:${off.port}` });
    expect(String(refused.headers['content-type'])).not.toMatch(/text\/html/);
    expect(refused.body).not.toMatch(/graphiql/i);
    expect((await get(off.port, '/graphiql/graphiql.js')).status).toBe(404);
  });
});
