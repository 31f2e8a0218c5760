import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ENGINE_CONFIG } from '../src/jobs/engine.config.js';
import { probeOnSchedule, type TaskDeps } from '../src/jobs/health-probe.task.js';
import { ProbeClaims } from '../src/jobs/probe-claims.js';
import { syncOnSchedule } from '../src/jobs/sync.task.js';
import { decodeTypedID, encodeGlobalID } from '../src/graphql/global-id.js';
import { appendEvent } from '../src/modules/events/event.repository.js';
import { inventoryItems, inventoryOf } from './fake-provider/inventory.js';
import { createTestGateway, type TestGateway } from './support/gateway.js';
import { REFRESH, REVOKE, TEST } from './support/integration-flows.js';

const EVENT_FIELDS = 'id type occurredAt subjectId subject { id } actor { kind label apiKey { prefix } subject } requestId data position';
const LOG = `query($first: Int, $after: String, $last: Int, $before: String, $filter: EventFilter) {
  events(first: $first, after: $after, last: $last, before: $before, filter: $filter) {
    edges { cursor node { ${EVENT_FIELDS} } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}`;
const CREATE_KEY = 'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { apiKey { id prefix } key userErrors { code } } }';
const REVOKE_KEY = 'mutation($input: RevokeApiKeyInput!) { revokeApiKey(input: $input) { apiKey { id } userErrors { code } } }';

type LoggedEvent = {
  id: string;
  type: string;
  subjectId: string;
  actor: { kind: string; label: string; apiKey: { prefix: string } | null; subject: string | null };
  requestId: string | null;
  data: Record<string, any>;
};

describe('the audit log', () => {
  let gw: TestGateway;
  const prefixOf = (key: string) => key.slice(0, 16);
  /** Every event of the organization the key reads, oldest first. */
  const all = async (key: string, filter: Record<string, unknown> = {}): Promise<LoggedEvent[]> => {
    const answer = await gw.graphql(key, LOG, { first: 100, filter });
    expect(answer.body.errors).toBeUndefined();
    return answer.body.data.events.edges.map((edge: { node: LoggedEvent }) => edge.node).reverse();
  };
  const deps = (): TaskDeps => ({
    db: gw.db,
    services: gw.services,
    config: DEFAULT_ENGINE_CONFIG,
    cutOff: new AbortController().signal,
    claims: new ProbeClaims(),
  });

  beforeAll(async () => {
    gw = await createTestGateway({ world: true, provider: true });
  });
  afterAll(async () => {
    await gw.close();
  });

  it('records every kind of change, each with the actor and request that made it', async () => {
    const { acme } = gw.world;
    // Connected by an API key: the key's prefix; the first probe's health change with it.
    const token = gw.fake.issueApiToken('github');
    const connected = await gw.connect('github', 'API_TOKEN', { credentials: { token } });
    const github = connected.body.data.connectIntegration.integration.id as string;
    let log = await all(acme.keys.ADMIN, { subjectIds: [github] });
    expect(log.map((event) => event.type)).toEqual(['INTEGRATION_CONNECTED', 'INTEGRATION_HEALTH_CHANGED']);
    expect(log[0]).toMatchObject({
      subjectId: github,
      requestId: connected.requestId,
      actor: { kind: 'API_KEY', label: prefixOf(acme.keys.EDITOR), apiKey: { prefix: prefixOf(acme.keys.EDITOR) } },
      data: { provider: 'github', authKind: 'API_TOKEN', status: 'ACTIVE', health: 'HEALTHY' },
    });
    expect(log[1]?.data).toMatchObject({ oldHealth: 'UNKNOWN', newHealth: 'HEALTHY', check: { ok: true, httpStatus: 200 } });

    // The token dies at the provider; a test finds it: status, needs_reauth and health, by the tester.
    gw.fake.revokeCredential('github', { token });
    const tested = await gw.graphql(acme.keys.EDITOR, TEST, { input: { id: github } });
    expect(tested.body.data.testIntegration.integration.status).toBe('NEEDS_REAUTH');
    log = await all(acme.keys.ADMIN, { subjectIds: [github], types: ['INTEGRATION_STATUS_CHANGED', 'INTEGRATION_NEEDS_REAUTH'] });
    expect(log.map((event) => [event.type, event.data.oldStatus ?? null, event.data.newStatus ?? null])).toEqual([
      ['INTEGRATION_STATUS_CHANGED', 'ACTIVE', 'NEEDS_REAUTH'],
      ['INTEGRATION_NEEDS_REAUTH', null, null],
    ]);
    expect(log.every((event) => event.requestId === tested.requestId)).toBe(true);

    // Reconnected with a new token by the same key.
    const reconnected = await gw.connect('github', 'API_TOKEN', { integrationId: github });
    expect(reconnected.body.data.connectIntegration.userErrors).toEqual([]);
    log = await all(acme.keys.ADMIN, { subjectIds: [github], types: ['INTEGRATION_RECONNECTED'] });
    expect(log).toHaveLength(1);

    // A scheduled probe: the scheduler, with the job as its request.
    await gw.db
      .updateTable('integrations')
      .set({ next_health_check_at: new Date() })
      .where('id', '=', decodeTypedID(github, 'Integration'))
      .execute();
    gw.fake.fault('github', 'api', { status: 503 }, 3);
    expect(
      await probeOnSchedule(deps(), { organizationId: acme.organization.id, integrationId: decodeTypedID(github, 'Integration') }, '41'),
    ).toBe('probed');
    const [scheduled] = (await all(acme.keys.ADMIN, { actor: { kinds: ['SCHEDULER'] } })).slice(-1);
    expect(scheduled).toMatchObject({
      type: 'INTEGRATION_HEALTH_CHANGED',
      requestId: 'scheduler:integration.probe:41',
      actor: { kind: 'SCHEDULER', label: 'scheduler', apiKey: null },
      data: { oldHealth: 'HEALTHY', newHealth: 'DEGRADED', check: { ok: false, httpStatus: 503 } },
    });
    gw.fake.reset();

    // A scheduled inventory sync, and one that fails.
    inventoryOf(gw.fake.store.inventories, 'github').push(...inventoryItems('github', 3));
    const sync = async (job: string) => {
      await gw.db
        .updateTable('integrations')
        .set({ next_sync_at: new Date() })
        .where('id', '=', decodeTypedID(github, 'Integration'))
        .execute();
      return syncOnSchedule(deps(), { organizationId: acme.organization.id, integrationId: decodeTypedID(github, 'Integration') }, job);
    };
    expect(await sync('42')).toBe('synced');
    gw.fake.fault('github', 'list', { status: 500 }, Number.POSITIVE_INFINITY);
    expect(await sync('43')).toBe('failed');
    gw.fake.reset();
    log = await all(acme.keys.ADMIN, { types: ['INTEGRATION_SYNC_COMPLETED', 'INTEGRATION_SYNC_FAILED'] });
    expect(log.map((event) => [event.type, event.actor.kind, event.data.trigger])).toEqual([
      ['INTEGRATION_SYNC_COMPLETED', 'SCHEDULER', 'SCHEDULE'],
      ['INTEGRATION_SYNC_FAILED', 'SCHEDULER', 'SCHEDULE'],
    ]);
    expect(log[0]?.data).toMatchObject({ itemCount: 3, truncated: false });
    expect(log[1]?.data).toMatchObject({ code: expect.any(String), message: expect.any(String) });

    // OAuth2: the callback connects, in the name of the key that started it.
    const gitlab = await gw.connectOAuth('gitlab');
    log = await all(acme.keys.ADMIN, { subjectIds: [gitlab] });
    expect(log.map((event) => [event.type, event.actor.kind])).toEqual([
      ['INTEGRATION_CONNECTED', 'OAUTH_CALLBACK'],
      ['INTEGRATION_STATUS_CHANGED', 'OAUTH_CALLBACK'],
      ['INTEGRATION_HEALTH_CHANGED', 'OAUTH_CALLBACK'],
    ]);
    expect(log[0]?.actor).toMatchObject({ label: 'oauth-callback', apiKey: { prefix: prefixOf(acme.keys.EDITOR) } });
    expect(log[1]?.data).toMatchObject({ oldStatus: 'PENDING_AUTHORIZATION', newStatus: 'ACTIVE' });

    // Tokens refreshed; then the provider refuses the refresh token.
    const refreshed = await gw.graphql(acme.keys.EDITOR, REFRESH, { input: { id: gitlab, refreshTokens: true } });
    expect(refreshed.body.data.refreshIntegration.userErrors).toEqual([]);
    gw.fake.fault('gitlab', 'token', { status: 400, body: { error: 'invalid_grant', error_description: 'fake refusal' } });
    const refused = await gw.graphql(acme.keys.EDITOR, REFRESH, { input: { id: gitlab, refreshTokens: true } });
    expect(refused.body.data.refreshIntegration.userErrors[0].code).toBe('PROVIDER_REJECTED_CREDENTIALS');
    gw.fake.reset();
    log = await all(acme.keys.ADMIN, { subjectIds: [gitlab] });
    expect(log.slice(3).map((event) => event.type)).toEqual([
      'INTEGRATION_CREDENTIALS_REFRESHED',
      'INTEGRATION_REFRESH_FAILED',
      'INTEGRATION_STATUS_CHANGED',
      'INTEGRATION_NEEDS_REAUTH',
      'INTEGRATION_HEALTH_CHANGED',
    ]);
    expect(log[3]?.data).toMatchObject({ method: 'OAUTH2_REFRESH', expiresAt: expect.any(String) });
    expect(log[4]?.data).toMatchObject({ permanent: true, code: 'PROVIDER_REJECTED_CREDENTIALS' });

    // Revoked: the revocation and its status and health changes.
    const revoked = await gw.graphql(acme.keys.EDITOR, REVOKE, { input: { id: gitlab } });
    expect(revoked.body.data.revokeIntegration.userErrors).toEqual([]);
    log = await all(acme.keys.ADMIN, { subjectIds: [gitlab] });
    expect(log.slice(-3).map((event) => event.type)).toEqual([
      'INTEGRATION_REVOKED',
      'INTEGRATION_STATUS_CHANGED',
      'INTEGRATION_HEALTH_CHANGED',
    ]);
    expect(log.at(-3)?.data).toMatchObject({ revokedAtProvider: true });
    expect(log.at(-2)?.data).toMatchObject({ oldStatus: 'NEEDS_REAUTH', newStatus: 'REVOKED' });

    // API keys: created and revoked by an ADMIN key, never the key itself.
    const created = await gw.graphql(acme.keys.ADMIN, CREATE_KEY, { input: { role: 'VIEWER', name: 'dashboard' } });
    const newKey = created.body.data.createApiKey;
    await gw.graphql(acme.keys.ADMIN, REVOKE_KEY, { input: { id: newKey.apiKey.id } });
    log = await all(acme.keys.ADMIN, { types: ['API_KEY_CREATED', 'API_KEY_REVOKED'], subjectIds: [newKey.apiKey.id] });
    expect(log.map((event) => [event.type, event.actor.kind, event.actor.label, event.data])).toEqual([
      ['API_KEY_CREATED', 'API_KEY', prefixOf(acme.keys.ADMIN), { name: 'dashboard', role: 'VIEWER', prefix: newKey.apiKey.prefix }],
      ['API_KEY_REVOKED', 'API_KEY', prefixOf(acme.keys.ADMIN), { name: 'dashboard', role: 'VIEWER', prefix: newKey.apiKey.prefix }],
    ]);
    // The world's own keys were made by the operator (the fixtures, as the CLI does).
    expect((await all(acme.keys.ADMIN, { actor: { kinds: ['OPERATOR'] } })).map((event) => event.actor.label)).toEqual([
      'cli',
      'cli',
      'cli',
    ]);

    // No secret anywhere: the tokens, the OAuth2 grants, the client secrets, every API key.
    const everything = JSON.stringify(await gw.db.selectFrom('events').selectAll().execute());
    const secrets = [token, newKey.key, ...Object.values(acme.keys), ...Object.values(gw.world.globex.keys), ...gw.fake.secrets()];
    for (const secret of secrets) expect(everything).not.toContain(secret);
  });

  it('a mutation that rolls back leaves no event', async () => {
    const before = await gw.db.selectFrom('events').select(sql<number>`count(*)::int`.as('count')).executeTakeFirstOrThrow();
    // The connection's transaction fails at its last statement, after its events were written in it.
    await sql`create function fail_check() returns trigger language plpgsql as $$
      begin raise exception 'storage failed'; end $$`.execute(gw.db);
    await sql`create trigger fail_check before insert on integration_health_checks for each row execute function fail_check()`.execute(
      gw.db,
    );
    try {
      const answer = await gw.connect('gitlab', 'API_TOKEN');
      expect(answer.body.errors?.[0]?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
    } finally {
      await sql`drop trigger fail_check on integration_health_checks`.execute(gw.db);
      await sql`drop function fail_check()`.execute(gw.db);
    }
    const after = await gw.db.selectFrom('events').select(sql<number>`count(*)::int`.as('count')).executeTakeFirstOrThrow();
    expect(after.count).toBe(before.count);
    // And the same connection, committed, has its events.
    const answer = await gw.connect('gitlab', 'API_TOKEN');
    expect(answer.body.data.connectIntegration.userErrors).toEqual([]);
    const committed = await gw.db.selectFrom('events').select(sql<number>`count(*)::int`.as('count')).executeTakeFirstOrThrow();
    expect(committed.count).toBe(before.count + 2);
  });

  it('pages newest first in both directions, filters, and shows each organization only its own', async () => {
    const { acme, globex } = gw.world;
    const subject = { type: 'Integration' as const, id: '22222222-2222-4222-8222-222222222222' };
    const base = Date.parse('2026-01-01T00:00:00Z');
    const actor = { kind: 'SCHEDULER' as const, label: 'pager', apiKeyId: null, subject: null };
    for (let i = 0; i < 7; i += 1) {
      await appendEvent(gw.db, {
        organizationId: acme.organization.id,
        type: 'integration.needs_reauth',
        subject,
        actor,
        requestId: `page-${i}`,
        data: { reason: `r${i}` },
        occurredAt: new Date(base + (i < 4 ? i : 3) * 60_000),
      });
    }
    await appendEvent(gw.db, {
      organizationId: globex.organization.id,
      type: 'integration.needs_reauth',
      subject,
      actor,
      requestId: 'globex',
      data: { reason: 'globex' },
      occurredAt: new Date(base),
    });
    const page = async (key: string, args: Record<string, unknown>) => {
      const answer = await gw.graphql(key, LOG, { ...args, filter: { actor: { label: 'pager' }, ...(args.filter as object) } });
      expect(answer.body.errors).toBeUndefined();
      const { edges, pageInfo } = answer.body.data.events;
      return { reasons: edges.map((edge: { node: LoggedEvent }) => edge.node.data.reason), pageInfo };
    };
    // Newest first; events of the same time in the order they were written, newest first too.
    const first = await page(acme.keys.VIEWER, { first: 3 });
    expect(first.reasons).toEqual(['r6', 'r5', 'r4']);
    expect(first.pageInfo.hasNextPage).toBe(true);
    const second = await page(acme.keys.VIEWER, { first: 3, after: first.pageInfo.endCursor });
    expect(second.reasons).toEqual(['r3', 'r2', 'r1']);
    const third = await page(acme.keys.VIEWER, { first: 3, after: second.pageInfo.endCursor });
    expect(third).toMatchObject({ reasons: ['r0'], pageInfo: { hasNextPage: false } });
    const back = await page(acme.keys.VIEWER, { last: 2, before: second.pageInfo.startCursor });
    expect(back).toMatchObject({ reasons: ['r5', 'r4'], pageInfo: { hasPreviousPage: true } });
    // Time bounds: since inclusive, until exclusive.
    const window = { since: new Date(base + 60_000).toISOString(), until: new Date(base + 3 * 60_000).toISOString() };
    expect((await page(acme.keys.VIEWER, { first: 10, filter: window })).reasons).toEqual(['r2', 'r1']);
    // The other organization sees its own event only, and nobody sees the other's.
    expect((await page(globex.keys.ADMIN, { first: 10 })).reasons).toEqual(['globex']);
    expect((await page(acme.keys.ADMIN, { first: 10 })).reasons).not.toContain('globex');
    // API key events are for ADMIN keys.
    const types = async (key: string) =>
      (await all(key, { types: ['API_KEY_CREATED', 'API_KEY_REVOKED'] })).map((event: LoggedEvent) => event.type);
    expect(await types(acme.keys.VIEWER)).toEqual([]);
    expect(await types(acme.keys.EDITOR)).toEqual([]);
    expect((await types(acme.keys.ADMIN)).length).toBeGreaterThan(0);
    // An integration's own log.
    const [integration] = await gw.db
      .selectFrom('integrations')
      .select('id')
      .where('organization_id', '=', acme.organization.id)
      .execute();
    const own = await gw.graphql(
      acme.keys.VIEWER,
      'query($id: ID!) { integration(id: $id) { events(first: 100) { edges { node { subjectId } } } } }',
      { id: encodeGlobalID('Integration', integration?.id ?? '') },
    );
    const subjects = own.body.data.integration.events.edges.map((edge: { node: { subjectId: string } }) => edge.node.subjectId);
    expect(subjects.length).toBeGreaterThan(0);
    expect(new Set(subjects)).toEqual(new Set([encodeGlobalID('Integration', integration?.id ?? '')]));
    // Wrong arguments are the client's errors.
    const foreign = await gw.graphql(acme.keys.VIEWER, LOG, { first: 1, after: 'bm90IGEgY3Vyc29y' });
    expect(foreign.body.errors[0].extensions.code).toBe('INVALID_CURSOR');
    const badId = await gw.graphql(acme.keys.VIEWER, LOG, { first: 1, filter: { subjectIds: ['nope'] } });
    expect(badId.body.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: ['filter', 'subjectIds'] });
    const tooMany = await gw.graphql(acme.keys.VIEWER, LOG, { first: 101 });
    expect(tooMany.body.errors[0].extensions.code).toBe('EXCESSIVE_PAGINATION');
  });
});
