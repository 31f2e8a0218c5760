import { type AuditResult, serverAudits } from 'graphql-http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestGateway, type TestGateway } from './support/gateway.js';

/**
 * The GraphQL over HTTP conformance audit of `graphql-http` against the hardened gateway, every request
 * carrying a valid API key (the gateway answers 401 to anything else). Every MUST and SHOULD passes; the
 * MAYs the gateway declines are form-encoded requests (it reads JSON and GraphQL bodies only).
 */
let gateway: TestGateway;
let key: string;
/** Every answer the audit received, to check the error bodies too. */
const answers: { name: string; status: number; contentType: string | null; text: string }[] = [];
let auditing = '';

beforeAll(async () => {
  gateway = await createTestGateway({ world: true, rateLimit: {}, hardening: { hideSuggestions: true } });
  key = gateway.world.acme.keys.VIEWER;
});
afterAll(async () => {
  await gateway?.close();
});

async function fetchWithKey(input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${key}`);
  const response = await gateway.fetch(input instanceof Request ? input.url : String(input), { ...init, headers });
  answers.push({
    name: auditing,
    status: response.status,
    contentType: response.headers.get('content-type'),
    text: await response.clone().text(),
  });
  return response;
}

describe('graphql-http audit', () => {
  it('passes every MUST and SHOULD of the GraphQL over HTTP audit', async () => {
    const results: AuditResult[] = [];
    for (const audit of serverAudits({ url: 'http://gateway.test/graphql', fetchFn: fetchWithKey })) {
      auditing = audit.name;
      results.push(await audit.fn());
    }
    expect(results.length).toBeGreaterThan(50);
    const failed = results
      .filter((result) => result.status !== 'ok' && !result.name.startsWith('MAY'))
      .map((result) => `${result.name}: ${'reason' in result ? result.reason : ''}`);
    expect(failed).toEqual([]);
    // The MAYs not taken are form-encoded requests, refused 415 by design.
    const declined = results.filter((result) => result.status !== 'ok').map((result) => result.name);
    for (const name of declined) expect(name).toMatch(/^MAY .*x-www-form-urlencoded/);
  });

  it('gives every error in the answers a code, and no answer is a 5xx', () => {
    expect(answers.length).toBeGreaterThan(50);
    for (const answer of answers) {
      expect(answer.status, answer.name).toBeLessThan(500);
      if (!answer.contentType?.includes('json') || answer.text === '') continue;
      const body = JSON.parse(answer.text);
      for (const error of body.errors ?? []) expect(typeof error.extensions?.code, `${answer.name}: ${answer.text}`).toBe('string');
    }
  });
});
