import { createSchema, createYoga } from 'graphql-yoga';
import { describe, expect, it } from 'vitest';
import { useCsrfPrevention } from './hardening.js';

// The rule on its own, on a server that would accept any credential: the gateway itself answers every
// request without a Bearer key 401 before the rule runs.
const yoga = createYoga({
  schema: createSchema({ typeDefs: 'type Query { ok: Boolean }', resolvers: { Query: { ok: () => true } } }),
  plugins: [useCsrfPrevention()],
});
const get = (headers: Record<string, string>) =>
  yoga.fetch(`http://gateway.test/graphql?query=${encodeURIComponent('{ ok }')}`, { headers: { accept: 'application/json', ...headers } });

describe('CSRF rule', () => {
  it('needs a CSRF header on a GET that could authenticate by what a browser attaches on its own', async () => {
    for (const headers of [{}, { cookie: 'session=1' }, { authorization: 'Basic dXNlcjpwYXNz' }] as Record<string, string>[]) {
      const response = await get(headers);
      expect(response.status, JSON.stringify(headers)).toBe(403);
      expect((await response.json()).errors[0].extensions.code).toBe('CSRF_HEADER_REQUIRED');
    }
    expect((await get({ cookie: 'session=1', 'x-graphql-yoga-csrf': '1' })).status).toBe(200);
  });

  it('lets a GET carrying a Bearer credential through: a browser cannot add one to a simple request', async () => {
    for (const authorization of ['Bearer igw_x', 'bearer igw_x']) expect((await get({ authorization })).status, authorization).toBe(200);
  });
});
