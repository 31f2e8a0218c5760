import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { decodeTypedID } from '../src/graphql/global-id.js';
import { purgeExpiredKeys } from '../src/http/idempotency/idempotency.repository.js';
import { openResponseBody } from '../src/http/idempotency/response-seal.js';
import { createTestGateway, type TestGateway } from './support/gateway.js';
import { CONNECT, CONNECTING_GATEWAY, crashBeforeStoring, REFRESH, RETURN_URL } from './support/integration-flows.js';
import { sendGraphQL } from './support/request.js';

/**
 * A mutation whose process died after it committed, but before its answer was stored, is run again by
 * the next retry with the same Idempotency-Key once the lease has expired. These tests leave exactly that
 * behind (the key IN_PROGRESS, its lease expired, no answer) and send the retry through the plugin, so
 * that the real path runs: claim takeover, the mutation again, resuming by the key.
 */
let gw: TestGateway;
/** Every response body sent in this file, and the webhook signing secrets that some of them returned. */
const texts: string[] = [];
const webhookSecrets: string[] = [];

beforeAll(async () => {
  gw = await createTestGateway({ ...CONNECTING_GATEWAY, services: { probeTimeoutMs: 400 } });
});
afterAll(() => gw.close());
beforeEach(() => gw.fake.reset());

const TEST =
  'mutation($input: TestIntegrationInput!) { testIntegration(input: $input) ' +
  '{ healthCheck { id checkedAt ok httpStatus } integration { id health } userErrors { code } } }';

async function send(key: string, query: string, variables: Record<string, unknown>) {
  const answer = await sendGraphQL(gw, { key: gw.world.acme.keys.EDITOR, query, variables, headers: { 'idempotency-key': key } });
  texts.push(answer.text);
  const secret = (Object.values(answer.body.data ?? {})[0] as { webhookSigningSecret?: string } | undefined)?.webhookSigningSecret;
  if (secret) webhookSecrets.push(secret);
  return answer;
}

/**
 * The key was used 25 hours ago and its retention (24 hours) has ended; with `purge`, the purge ran too.
 * What that use did (its events) is as old as it would be.
 */
async function retentionEnds(key: string, purge: boolean) {
  await sql`update integration_events set created_at = created_at - interval '25 hours' where detail->>'idempotencyKey' = ${key}`.execute(
    gw.db,
  );
  await gw.db
    .updateTable('idempotency_keys')
    .set({
      created_at: sql<Date>`created_at - interval '25 hours'`,
      completed_at: sql<Date>`completed_at - interval '25 hours'`,
      expires_at: sql<Date>`now() - interval '1 second'`,
    })
    .where('key', '=', key)
    .execute();
  if (purge) expect(await purgeExpiredKeys(gw.db)).toBeGreaterThanOrEqual(1);
}

const healthChecks = async (id: string) =>
  Number(
    (
      await gw.db
        .selectFrom('integration_health_checks')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('integration_id', '=', decodeTypedID(id, 'Integration'))
        .executeTakeFirstOrThrow()
    ).n,
  );
const integrations = async () =>
  Number(
    (
      await gw.db
        .selectFrom('integrations')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('organization_id', '=', gw.world.acme.organization.id)
        .executeTakeFirstOrThrow()
    ).n,
  );
const eventsOf = async (id: string, type: string) => (await gw.events(id)).filter((event) => event.type === type);
const tokenIntegration = async (provider = 'github') => {
  const connected = await gw.connect(provider, 'API_TOKEN');
  texts.push(JSON.stringify(connected.body));
  return connected.body.data.connectIntegration.integration.id as string;
};

describe('a re-run after a lease takeover resumes instead of repeating', () => {
  it('testIntegration returns the recorded health check: no second probe, no second health-check row', async () => {
    const id = await tokenIntegration();
    const key = randomUUID();
    const first = (await send(key, TEST, { input: { id } })).body.data.testIntegration;
    expect(first.healthCheck).toMatchObject({ ok: true, httpStatus: 200 });
    const checks = await healthChecks(id);
    await crashBeforeStoring(gw.db, key);
    gw.fake.reset();

    const retried = await send(key, TEST, { input: { id } });
    expect(retried.status).toBe(200);
    expect(retried.headers.get('idempotent-replayed')).toBeNull();
    expect(retried.body.data.testIntegration).toEqual(first);
    expect(gw.fake.calls('github', 'api')).toBe(0);
    expect(await healthChecks(id)).toBe(checks);
    const tested = await eventsOf(id, 'integration.tested');
    expect(tested.filter((event) => event.detail.idempotencyKey === key)).toEqual([
      expect.objectContaining({ detail: expect.objectContaining({ healthCheckId: decodeTypedID(first.healthCheck.id, 'HealthCheck') }) }),
    ]);
    // Its answer is stored now, and replayed.
    expect((await send(key, TEST, { input: { id } })).headers.get('idempotent-replayed')).toBe('true');
  });

  it('refreshIntegration replacing a credential does not probe again or store it twice', async () => {
    const id = await tokenIntegration('pagerduty');
    const key = randomUUID();
    const input = { id, credentials: { token: gw.fake.issueApiToken('pagerduty') } };
    const first = (await send(key, REFRESH, { input })).body.data.refreshIntegration;
    expect(first.userErrors).toEqual([]);
    const after = await gw.row(id);
    const checks = await healthChecks(id);
    await crashBeforeStoring(gw.db, key);
    gw.fake.reset();

    const retried = (await send(key, REFRESH, { input })).body.data.refreshIntegration;
    expect(retried.userErrors).toEqual([]);
    expect(retried.integration).toMatchObject({ id, status: 'ACTIVE', health: 'HEALTHY' });
    expect(gw.fake.calls('pagerduty')).toBe(0);
    expect(await healthChecks(id)).toBe(checks);
    expect((await gw.row(id)).secret_version).toBe(after.secret_version);
    expect(await eventsOf(id, 'integration.credentials_replaced')).toHaveLength(1);
    expect((await gw.secretsOf(id)).credential).toEqual({ kind: 'API_TOKEN', token: input.credentials.token });
  });

  it('refreshIntegration rotating the webhook secret returns the same secret again instead of rotating twice', async () => {
    const id = await tokenIntegration('gitlab');
    const key = randomUUID();
    const input = { id, webhook: { url: 'https://hooks.example.com/resume', enabled: true, rotateSecret: true } };
    const first = (await send(key, REFRESH, { input })).body.data.refreshIntegration;
    expect(first.webhookSigningSecret).toMatch(/^whsec_/);
    const after = await gw.row(id);
    await crashBeforeStoring(gw.db, key);

    const retried = (await send(key, REFRESH, { input })).body.data.refreshIntegration;
    expect(retried.userErrors).toEqual([]);
    expect(retried.webhookSigningSecret).toBe(first.webhookSigningSecret);
    const row = await gw.row(id);
    expect(row.secret_version).toBe(after.secret_version);
    expect(row.webhook_secret_rotated_at).toEqual(after.webhook_secret_rotated_at);
    expect((await gw.secretsOf(id)).webhookSecret).toBe(first.webhookSigningSecret);
    expect(await eventsOf(id, 'integration.webhook_updated')).toHaveLength(1);

    // Without rotateSecret, a resumed webhook change returns no secret.
    const other = randomUUID();
    const quiet = { id, webhook: { enabled: false } };
    expect((await send(other, REFRESH, { input: quiet })).body.data.refreshIntegration.webhookSigningSecret).toBeNull();
    await crashBeforeStoring(gw.db, other);
    expect((await send(other, REFRESH, { input: quiet })).body.data.refreshIntegration).toMatchObject({
      webhookSigningSecret: null,
      userErrors: [],
    });
  });

  it('refreshIntegration(refreshTokens) makes no second token call', async () => {
    const id = await gw.connectOAuth('gitlab');
    const key = randomUUID();
    gw.fake.reset();
    const first = (await send(key, REFRESH, { input: { id, refreshTokens: true } })).body.data.refreshIntegration;
    expect(first.userErrors).toEqual([]);
    expect(gw.fake.calls('gitlab', 'token')).toBe(1);
    await crashBeforeStoring(gw.db, key);

    const retried = (await send(key, REFRESH, { input: { id, refreshTokens: true } })).body.data.refreshIntegration;
    expect(retried.userErrors).toEqual([]);
    expect(retried.integration.credentialExpiresAt).toBe(first.integration.credentialExpiresAt);
    expect(gw.fake.calls('gitlab', 'token')).toBe(1);
    expect((await gw.secretsOf(id)).credential).toMatchObject({ refreshToken: gw.fake.latestGrant('gitlab')?.refreshToken });
  });

  it('connectIntegration with OAUTH2 starts the authorization again on the same integration, with a fresh URL', async () => {
    const key = randomUUID();
    const input = { provider: 'gitlab', authKind: 'OAUTH2', displayName: 'resumed', oauth2: { returnUrl: RETURN_URL } };
    const first = (await send(key, CONNECT, { input })).body.data.connectIntegration;
    expect(first.authorizationUrl).toEqual(expect.any(String));
    const before = await integrations();
    await crashBeforeStoring(gw.db, key);

    const retried = (await send(key, CONNECT, { input })).body.data.connectIntegration;
    expect(retried.userErrors).toEqual([]);
    expect(retried.integration).toMatchObject({ id: first.integration.id, status: 'PENDING_AUTHORIZATION' });
    expect(retried.authorizationUrl).toEqual(expect.any(String));
    expect(retried.authorizationUrl).not.toBe(first.authorizationUrl);
    expect(await integrations()).toBe(before);
    // The lost URL's state is withdrawn; the new one completes the connection.
    expect((await gw.authorize(first.authorizationUrl)).location?.searchParams.get('error')).toBe('state_already_used');
    expect((await gw.authorize(retried.authorizationUrl)).location?.searchParams.get('outcome')).toBe('connected');
    expect(await gw.row(first.integration.id)).toMatchObject({ status: 'ACTIVE' });
  });
});

describe('a stored failure is replayed, and nothing runs again', () => {
  it.each([
    ['the provider rejected the credential', 'PROVIDER_REJECTED_CREDENTIALS', () => 'not-a-token-the-fake-issued'],
    [
      'the provider was unreachable',
      'PROVIDER_UNREACHABLE',
      () => {
        gw.fake.fault('gitlab', 'api', { status: 503 }, Infinity);
        return gw.fake.issueApiToken('gitlab');
      },
    ],
  ])('%s', async (_name, code, arrange) => {
    const key = randomUUID();
    const input = { provider: 'gitlab', authKind: 'API_TOKEN', displayName: 'refused', credentials: { token: arrange() } };
    const first = await send(key, CONNECT, { input });
    expect(first.body.data.connectIntegration.userErrors).toEqual([expect.objectContaining({ code })]);
    const calls = gw.fake.calls('gitlab');
    gw.fake.reset();
    const before = await integrations();
    const replay = await send(key, CONNECT, { input });
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.text).toBe(first.text);
    expect(calls).toBeGreaterThan(0);
    expect(gw.fake.calls('gitlab')).toBe(0);
    expect(await integrations()).toBe(before);
  });
});

describe('a request with several mutations is one idempotent unit', () => {
  const TWO = `mutation($a: ID!, $b: ID!) {
    one: testIntegration(input: { id: $a }) { healthCheck { id ok } userErrors { code } }
    two: testIntegration(input: { id: $b }) { healthCheck { id ok } userErrors { code } }
  }`;

  it('its re-run resumes each mutation by its own record, also two of the same integration', async () => {
    const a = await tokenIntegration();
    const b = await tokenIntegration();
    for (const variables of [
      { a, b },
      { a, b: a },
    ]) {
      const key = randomUUID();
      const first = (await send(key, TWO, variables)).body.data;
      expect(first.one.healthCheck.id).not.toBe(first.two.healthCheck.id);
      const checks = [await healthChecks(a), await healthChecks(b)];
      await crashBeforeStoring(gw.db, key);
      gw.fake.reset();
      const retried = await send(key, TWO, variables);
      expect(retried.body.data).toEqual(first);
      expect(gw.fake.calls('github', 'api')).toBe(0);
      expect([await healthChecks(a), await healthChecks(b)]).toEqual(checks);
    }
  });

  it('after a 5xx half-way, the retry resumes the mutation that committed and runs the one that did not', async () => {
    const a = await tokenIntegration();
    const b = await tokenIntegration();
    const bId = decodeTypedID(b, 'Integration');
    // The database refusing b's health check as a server shutting down would (SQLSTATE 57P01): a 503.
    await sql`create function igw_test_refuse() returns trigger language plpgsql as $$
      begin raise exception 'shutting down' using errcode = '57P01'; end $$`.execute(gw.db);
    await sql
      .raw(
        'create trigger igw_test_refuse before insert on integration_health_checks ' +
          `for each row when (new.integration_id = '${bId}') execute function igw_test_refuse()`,
      )
      .execute(gw.db);
    const key = randomUUID();
    let first: Awaited<ReturnType<typeof send>>;
    try {
      first = await send(key, TWO, { a, b });
    } finally {
      await sql`drop trigger igw_test_refuse on integration_health_checks`.execute(gw.db);
      await sql`drop function igw_test_refuse()`.execute(gw.db);
    }
    expect(first.status).toBe(503);
    expect(first.body.errors?.[0]?.extensions?.code).toBe('SERVICE_UNAVAILABLE');
    const checkA = (await eventsOf(a, 'integration.tested')).at(-1)?.detail.healthCheckId;
    expect(checkA).toEqual(expect.any(String));
    const checks = [await healthChecks(a), await healthChecks(b)];
    gw.fake.reset();

    const retried = await send(key, TWO, { a, b });
    expect(retried.status).toBe(200);
    expect(decodeTypedID(retried.body.data.one.healthCheck.id, 'HealthCheck')).toBe(checkA);
    expect(retried.body.data.two).toMatchObject({ healthCheck: { ok: true }, userErrors: [] });
    expect(gw.fake.calls('github', 'api')).toBe(1);
    expect([await healthChecks(a), await healthChecks(b)]).toEqual([checks[0], (checks[1] ?? 0) + 1]);
  });
});

describe('a key used again after its retention ended is a new request', () => {
  it.each([
    ['purged', true],
    ['expired, not yet purged', false],
  ])('testIntegration (%s) probes and records a new check', async (_name, purge) => {
    const id = await tokenIntegration();
    const key = randomUUID();
    const first = (await send(key, TEST, { input: { id } })).body.data.testIntegration;
    await retentionEnds(key, purge);
    gw.fake.reset();
    const again = await send(key, TEST, { input: { id } });
    expect(again.headers.get('idempotent-replayed')).toBeNull();
    expect(again.body.data.testIntegration.healthCheck.id).not.toBe(first.healthCheck.id);
    expect(gw.fake.calls('github', 'api')).toBe(1);
  });

  it('connectIntegration creates a new integration rather than answering with the old one', async () => {
    const key = randomUUID();
    const input = {
      provider: 'github',
      authKind: 'API_TOKEN',
      displayName: 'reused key',
      credentials: { token: gw.fake.issueApiToken('github') },
    };
    const first = (await send(key, CONNECT, { input })).body.data.connectIntegration;
    await retentionEnds(key, true);
    const again = (await send(key, CONNECT, { input })).body.data.connectIntegration;
    expect(again.userErrors).toEqual([]);
    expect(again.integration.id).not.toBe(first.integration.id);
  });

  it('a lease takeover keeps the claim time, so that the re-run still finds what the first attempt did', async () => {
    const id = await tokenIntegration();
    const key = randomUUID();
    const first = (await send(key, TEST, { input: { id } })).body.data.testIntegration;
    const claimed = await gw.db.selectFrom('idempotency_keys').select('created_at').where('key', '=', key).executeTakeFirstOrThrow();
    await crashBeforeStoring(gw.db, key);
    // The client comes back two hours later, within the retention window.
    await gw.db
      .updateTable('idempotency_keys')
      .set({ created_at: sql<Date>`now() - interval '2 hours'` })
      .where('key', '=', key)
      .execute();
    await sql`update integration_events set created_at = now() - interval '2 hours' where detail->>'idempotencyKey' = ${key}`.execute(
      gw.db,
    );
    gw.fake.reset();
    const retried = (await send(key, TEST, { input: { id } })).body.data.testIntegration;
    expect(retried.healthCheck.id).toBe(first.healthCheck.id);
    expect(gw.fake.calls('github', 'api')).toBe(0);
    const after = await gw.db.selectFrom('idempotency_keys').select('created_at').where('key', '=', key).executeTakeFirstOrThrow();
    expect(after.created_at.getTime()).toBeLessThan(claimed.created_at.getTime());
  });
});

describe('no secret is stored in a replayable answer that was not returned anyway', () => {
  const leaks = (haystack: readonly string[], secrets: readonly string[]) =>
    secrets.filter((secret) => haystack.some((text) => text.includes(secret))).map((s) => `${s.slice(0, 12)}…`);

  it('stored answers are sealed, and once opened hold only what their request returned', async () => {
    const rows = await gw.db
      .selectFrom('idempotency_keys')
      .selectAll()
      .where('organization_id', '=', gw.world.acme.organization.id)
      .where('state', '=', 'COMPLETED')
      .execute();
    expect(rows.length).toBeGreaterThan(5);
    const providerSecrets = [...gw.fake.secrets(), ...Object.values(gw.world.acme.keys)];
    expect(
      leaks(
        rows.map((row) => JSON.stringify(row)),
        [...providerSecrets, ...webhookSecrets],
      ),
    ).toEqual([]);
    const opened = rows.map((row) =>
      openResponseBody(row.response_body ?? '', gw.world.acme.keys.EDITOR, {
        organizationId: row.organization_id,
        key: row.key,
        fingerprint: row.fingerprint,
      }),
    );
    expect(opened.every((body) => body !== null && texts.includes(body))).toBe(true);
    expect(leaks(opened as string[], providerSecrets)).toEqual([]);
    // Another API key of the organization cannot open them.
    expect(
      rows.map((row) =>
        openResponseBody(row.response_body ?? '', gw.world.acme.keys.ADMIN, {
          organizationId: row.organization_id,
          key: row.key,
          fingerprint: row.fingerprint,
        }),
      ),
    ).toEqual(rows.map(() => null));
  });

  it('nor in any response, log line or event detail', async () => {
    expect(webhookSecrets.length).toBeGreaterThan(0);
    const providerSecrets = [...gw.fake.secrets(), ...Object.values(gw.world.acme.keys)];
    expect(leaks(texts, providerSecrets)).toEqual([]);
    const events = await gw.db.selectFrom('integration_events').selectAll().execute();
    const checks = await gw.db.selectFrom('integration_health_checks').selectAll().execute();
    expect(
      leaks(
        [...gw.logs, ...events.map((e) => JSON.stringify(e)), ...checks.map((c) => JSON.stringify(c))],
        [...providerSecrets, ...webhookSecrets],
      ),
    ).toEqual([]);
  });
});

describe('what a key costs in statements', () => {
  const searchesEarlierAttempts = (statements: readonly string[]) => statements.some((text) => text.includes(`detail->>'idempotencyKey'`));
  const claims = (statements: readonly string[]) => statements.filter((text) => /insert into "?idempotency_keys"?/i.test(text)).length;
  const stores = (statements: readonly string[]) => statements.filter((text) => /update "?idempotency_keys"?/i.test(text)).length;

  it(
    'a key claimed afresh adds its claim (reading the key with it) and the stored answer, ' +
      'and no search for an earlier attempt; a takeover searches',
    async () => {
      const id = await tokenIntegration();
      // Warm up the key's `last_used_at`, written in the background at most once a minute.
      await gw.graphql(gw.world.acme.keys.EDITOR, TEST, { input: { id } });
      await new Promise((resolve) => setTimeout(resolve, 200));

      gw.statements.reset();
      const plain = await gw.graphql(gw.world.acme.keys.EDITOR, TEST, { input: { id } });
      expect(plain.body.data.testIntegration.healthCheck.ok).toBe(true);
      const without = [...gw.statements.sql];

      const key = randomUUID();
      gw.statements.reset();
      const fresh = await send(key, TEST, { input: { id } });
      expect(fresh.body.data.testIntegration.healthCheck.ok).toBe(true);
      const withKey = [...gw.statements.sql];
      expect(searchesEarlierAttempts(withKey)).toBe(false);
      expect(claims(withKey)).toBe(1);
      expect(withKey.filter((text) => /insert into "?idempotency_keys"?/i.test(text) && /from "?api_keys"?/i.test(text))).toHaveLength(1);
      expect(stores(withKey)).toBe(1);
      // The key is verified from memory for both requests: the plain one reads no key at all, the one
      // with an Idempotency-Key adds its claim (which reads the key in the same statement, so that a key
      // revoked meanwhile claims nothing) and the stored answer.
      expect(without.filter((text) => /from "?api_keys"?/i.test(text))).toEqual([]);
      expect(withKey.length).toBe(without.length + 2);

      await crashBeforeStoring(gw.db, key);
      gw.statements.reset();
      const retried = await send(key, TEST, { input: { id } });
      expect(retried.body.data.testIntegration).toEqual(fresh.body.data.testIntegration);
      expect(searchesEarlierAttempts([...gw.statements.sql])).toBe(true);
    },
  );
});
