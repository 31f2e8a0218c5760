import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueApiKey } from '../src/modules/api-key/api-key.service.js';
import { createOrgWithKeys, keyPrefix, type OrgFixture } from './support/fixtures.js';
import { createTestGateway, type TestGateway } from './support/gateway.js';

/**
 * Verified API keys kept in memory (src/http/admission/verified-keys.ts), on either database: trusted here
 * for a minute, so that only the notification of a change explains a refusal within a second.
 */
const WHO = '{ viewer { role } }';
const AUTHENTICATION = /from "api_keys"|from api_keys/;
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

let gateway: TestGateway;
let org: OrgFixture;

beforeAll(async () => {
  gateway = await createTestGateway({ apiKeyCache: { ttlMs: 60_000, size: 3, useFlushMs: 2_000 } });
  org = await createOrgWithKeys(gateway.db, 'verified-keys');
});
afterAll(() => gateway?.close());

/** Sends `WHO` and returns its status and the authentication statements it ran. */
async function who(key: string) {
  gateway.statements.reset();
  const res = await gateway.graphql(key, WHO);
  return { status: res.status, role: res.body.data?.viewer?.role, reads: gateway.statements.sql.filter((s) => AUTHENTICATION.test(s)) };
}

describe('verified keys kept in memory', () => {
  it('reads a key once, then authenticates it without the database', async () => {
    const { secret } = await issueApiKey(gateway.db, { organizationId: org.organization.id, role: 'VIEWER' });
    expect((await who(secret)).reads).toHaveLength(1);
    for (let i = 0; i < 3; i += 1) expect(await who(secret)).toEqual({ status: 200, role: 'VIEWER', reads: [] });
  });

  it('refuses a wrong secret for a known prefix as unknown, without the database', async () => {
    await who(org.keys.EDITOR);
    const wrong = await who(`${keyPrefix(org.keys.EDITOR)}_${randomBytes(32).toString('base64url')}`);
    expect(wrong).toMatchObject({ status: 401, reads: [] });
    expect((await who(org.keys.EDITOR)).status).toBe(200);
  });

  it('forgets a key changed by another party (a statement of its own, as the CLI or another process) within a second', async () => {
    const { secret, apiKey } = await issueApiKey(gateway.db, { organizationId: org.organization.id, role: 'EDITOR' });
    await who(secret);
    expect(await who(secret)).toEqual({ status: 200, role: 'EDITOR', reads: [] });
    // A role change is heard as a revocation is.
    await gateway.db.updateTable('api_keys').set({ role: 'VIEWER' }).where('id', '=', apiKey.id).execute();
    const changed = Date.now();
    let role = 'EDITOR';
    while (role === 'EDITOR' && Date.now() - changed < 5_000) {
      role = (await who(secret)).role;
      if (role === 'EDITOR') await sleep(10);
    }
    expect(role).toBe('VIEWER');
    expect(Date.now() - changed).toBeLessThan(1_000);
    await gateway.db.updateTable('api_keys').set({ revoked_at: new Date() }).where('id', '=', apiKey.id).execute();
    const revoked = Date.now();
    let status = 200;
    while (status === 200 && Date.now() - revoked < 5_000) {
      status = (await who(secret)).status;
      if (status === 200) await sleep(10);
    }
    expect(status).toBe(401);
    expect(Date.now() - revoked).toBeLessThan(1_000);
  });

  it('keeps at most API_KEY_CACHE_SIZE keys: the longest kept is read again', async () => {
    const keys = [];
    for (let i = 0; i < 4; i += 1)
      keys.push((await issueApiKey(gateway.db, { organizationId: org.organization.id, role: 'VIEWER' })).secret);
    for (const key of keys) expect((await who(key)).reads).toHaveLength(1);
    // Size 3: the first was let go for the fourth; the last three are still known.
    for (const key of keys.slice(1)) expect((await who(key)).reads).toEqual([]);
    expect((await who(keys[0] as string)).reads).toHaveLength(1);
  });

  it("records the use of several keys in one statement, and a key's use at most once a minute", async () => {
    const keys = [];
    for (let i = 0; i < 3; i += 1)
      keys.push((await issueApiKey(gateway.db, { organizationId: org.organization.id, role: 'VIEWER' })).secret);
    // The uses of the keys of the tests before are written first.
    await sleep(2_500);
    gateway.statements.reset();
    await Promise.all(keys.map((key) => gateway.graphql(key, WHO)));
    for (let i = 0; i < 3; i += 1) await Promise.all(keys.map((key) => gateway.graphql(key, WHO)));
    await sleep(2_500);
    const updates = gateway.statements.sql.filter((text) => /^update "api_keys"/.test(text));
    expect(updates).toHaveLength(1);
    const used = await gateway.db
      .selectFrom('api_keys')
      .select('last_used_at')
      .where(
        'prefix',
        'in',
        keys.map((key) => keyPrefix(key)),
      )
      .execute();
    expect(used.every((row) => row.last_used_at !== null)).toBe(true);
  });
});
