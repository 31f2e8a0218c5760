import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeGlobalID } from '../src/graphql/global-id.js';
import type { EventInput, PublishedEvent } from '../src/modules/events/event.model.js';
import { appendEvent, newEventId } from '../src/modules/events/event.repository.js';
import { writeDeliveries } from '../src/modules/webhook/webhook.consumer.js';
import type { Engine } from '../src/jobs/engine.js';
import { createEngineWorld, type EngineWorld, waitFor } from './support/engine.js';
import { testDatabaseKind } from './support/database.js';
import { createOrgWithKeys } from './support/fixtures.js';
import { testWebhooks } from './support/services.js';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook-receiver.js';

/** A short schedule, so that retries happen within the test; production's is 5 s, 5 min, 30 min... */
const SCHEDULE = [400, 1_200, 2_400];

const CREATE = `mutation($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) { endpoint { id } signingSecret userErrors { code message } } }`;
const UPDATE = `mutation($input: UpdateWebhookEndpointInput!) {
  updateWebhookEndpoint(input: $input) { endpoint { id enabled disabledAt disabledReason previousSecretExpiresAt } signingSecret
    userErrors { code message } } }`;
const DELIVERIES = `query($id: ID!, $filter: WebhookDeliveryFilter) { node(id: $id) { ... on WebhookEndpoint {
  enabled disabledAt disabledReason failingSince
  deliveries(first: 50, filter: $filter) { edges { node { id webhookId eventId eventType kind status attemptCount nextAttemptAt payload
    attempts { attempt attemptedAt httpStatus latencyMs error responseBody nextAttemptAt } } } } } } }`;
const REDELIVER = `mutation($input: RedeliverEventInput!) {
  redeliverEvent(input: $input) { delivery { id kind webhookId status } userErrors { code field message } } }`;
const TEST_EVENT = `mutation($input: SendTestEventInput!) {
  sendTestEvent(input: $input) { delivery { id kind eventType status } userErrors { code field message } } }`;

describe('webhook delivery', () => {
  let world: EngineWorld;
  let engine: Engine;
  const receivers: WebhookReceiver[] = [];
  let admin: string;

  beforeAll(async () => {
    world = await createEngineWorld(
      { WORKER_POLL_INTERVAL_MS: '100', HEALTH_CHECK_INTERVAL_SECONDS: '86400', SYNC_INTERVAL_SECONDS: '86400' },
      { webhooks: testWebhooks({ retryScheduleMs: SCHEDULE }) },
    );
    admin = world.org.keys.ADMIN;
    engine = await world.startEngine();
  }, 180_000);
  afterAll(async () => {
    await engine?.stop(1_000);
    for (const receiver of receivers) await receiver.stop();
    await world?.close();
  });

  /**
   * A receiver and an organization-wide endpoint delivering to it; the receiver knows the endpoint's
   * secret. By default it receives the type `emit` appends only, not what other work of the suite causes.
   */
  async function endpointWithReceiver(input: Record<string, unknown> = {}, key = admin) {
    const receiver = await startWebhookReceiver();
    receivers.push(receiver);
    const body = await world.graphql(key, CREATE, { input: { url: receiver.url, eventTypes: ['integration.needs_reauth'], ...input } });
    const payload = body.data.createWebhookEndpoint;
    expect(payload.userErrors).toEqual([]);
    receiver.secrets.push(payload.signingSecret);
    return { receiver, id: payload.endpoint.id as string, secret: payload.signingSecret as string };
  }

  /** Appends (and commits) an event about an integration; the engine publishes it. */
  async function emit(subject: string, reason = 'expired', organizationId = world.org.organization.id) {
    const input: EventInput<'integration.needs_reauth'> = {
      organizationId,
      type: 'integration.needs_reauth',
      subject: { type: 'Integration', id: subject },
      actor: { kind: 'SCHEDULER', label: 'scheduler', apiKeyId: null, subject: null },
      requestId: `req-${reason}`,
      data: { reason },
    };
    return world.db.transaction().execute((trx) => appendEvent(trx, input));
  }

  const deliveries = async (id: string, key = admin, filter?: Record<string, unknown>) =>
    (await world.graphql(key, DELIVERIES, { id, filter })).data?.node?.deliveries?.edges.map((edge: any) => edge.node) ?? [];

  const remove = (id: string) =>
    world.graphql(admin, 'mutation($id: ID!) { deleteWebhookEndpoint(input: { id: $id }) { userErrors { code } } }', { id });

  it('delivers each event once, signed per Standard Webhooks, and logs the attempt', async () => {
    const { receiver, id } = await endpointWithReceiver({ eventTypes: ['integration.*'] });
    const subject = randomUUID();
    const event = await emit(subject, 'first');
    await waitFor(async () => receiver.messages.length === 1, 20_000, 'the delivery');
    const [message] = receiver.messages;
    expect(message?.id).toBe(event.id);
    expect(message?.signatures).toHaveLength(1);
    expect(message?.signatures[0]).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    expect(Math.abs((message?.timestamp ?? 0) - Date.now() / 1000)).toBeLessThan(30);
    expect(message?.payload).toEqual({
      id: event.id,
      type: 'integration.needs_reauth',
      timestamp: event.occurredAt.toISOString(),
      organization: encodeGlobalID('Organization', world.org.organization.id),
      subject: encodeGlobalID('Integration', subject),
      actor: { kind: 'SCHEDULER', label: 'scheduler' },
      requestId: 'req-first',
      data: { reason: 'first' },
    });
    expect(receiver.unverified).toEqual([]);
    const [logged] = await waitFor(
      async () => {
        const rows = await deliveries(id);
        return rows[0]?.status === 'SUCCEEDED' && rows;
      },
      10_000,
      'the log',
    );
    expect(logged).toMatchObject({ webhookId: event.id, eventId: event.id, kind: 'EVENT', status: 'SUCCEEDED', attemptCount: 1 });
    expect(logged.payload).toBe(message?.body);
    expect(logged.attempts).toEqual([
      {
        attempt: 1,
        attemptedAt: expect.any(String),
        httpStatus: 204,
        latencyMs: expect.any(Number),
        error: null,
        responseBody: '',
        nextAttemptAt: null,
      },
    ]);
    // An event the filter does not match is not delivered.
    const other = await world.db.transaction().execute((trx) =>
      appendEvent(trx, {
        organizationId: world.org.organization.id,
        type: 'api_key.created',
        subject: { type: 'ApiKey', id: randomUUID() },
        actor: { kind: 'OPERATOR', label: 'cli', apiKeyId: null, subject: null },
        requestId: null,
        data: { name: 'ci', role: 'VIEWER', prefix: 'igw_000000000000' },
      }),
    );
    await emit(subject, 'second');
    await waitFor(async () => receiver.messages.length === 2, 20_000, 'the second delivery');
    expect(receiver.messages.map((m) => m.payload.data.reason)).toEqual(['first', 'second']);
    expect(receiver.messages.some((m) => m.id === other.id)).toBe(false);

    // Sent again on request: the same webhook-id and body, as a delivery of its own.
    const again = (await world.graphql(admin, REDELIVER, { input: { eventId: event.id, endpointId: id } })).data.redeliverEvent;
    expect(again).toMatchObject({ userErrors: [], delivery: { kind: 'REDELIVERY', webhookId: event.id, status: 'PENDING' } });
    await waitFor(async () => receiver.messages.length === 3, 20_000, 'the redelivery');
    expect(receiver.messages[2]?.id).toBe(event.id);
    expect(receiver.messages[2]?.body).toBe(message?.body);
    const missing = (await world.graphql(admin, REDELIVER, { input: { eventId: 'evt_00000000000000000000000000000000', endpointId: id } }))
      .data.redeliverEvent;
    expect(missing.userErrors).toEqual([{ code: 'NOT_FOUND', field: ['input', 'eventId'], message: expect.any(String) }]);

    // A test message, whatever the filter.
    const test = (await world.graphql(admin, TEST_EVENT, { input: { endpointId: id } })).data.sendTestEvent;
    expect(test).toMatchObject({ userErrors: [], delivery: { kind: 'TEST', eventType: 'webhook_endpoint.test' } });
    await waitFor(async () => receiver.messages.length === 4, 20_000, 'the test message');
    expect(receiver.messages[3]?.payload).toMatchObject({ type: 'webhook_endpoint.test', subject: id });
    await remove(id);
  });

  it('retries a receiver that fails twice with the same webhook-id after growing delays, then stops', async () => {
    const { receiver, id } = await endpointWithReceiver();
    receiver.answer = (_message, index) => (index < 2 ? { status: 500, body: 'try later' } : { status: 200, body: 'ok' });
    const event = await emit(randomUUID());
    await waitFor(async () => receiver.messages.length === 3, 30_000, 'three attempts');
    expect(receiver.messages.map((m) => m.id)).toEqual([event.id, event.id, event.id]);
    expect(new Set(receiver.messages.map((m) => m.body)).size).toBe(1);
    const [a, b, c] = receiver.messages.map((m) => m.receivedAt) as [number, number, number];
    // 400 ms then 1200 ms, each ±15%.
    expect(b - a).toBeGreaterThanOrEqual((SCHEDULE[0] as number) * 0.85 - 50);
    expect(c - b).toBeGreaterThanOrEqual((SCHEDULE[1] as number) * 0.85 - 50);
    expect(c - b).toBeGreaterThan(b - a);
    const [logged] = await waitFor(
      async () => {
        const rows = await deliveries(id);
        return rows[0]?.status === 'SUCCEEDED' && rows;
      },
      10_000,
      'the log',
    );
    expect(logged.attempts.map((attempt: any) => [attempt.httpStatus, attempt.error, attempt.responseBody])).toEqual([
      [500, 'HTTP 500', 'try later'],
      [500, 'HTTP 500', 'try later'],
      [200, null, 'ok'],
    ]);
    expect(logged.attempts[0].nextAttemptAt).not.toBeNull();
    expect(logged.attempts[2].nextAttemptAt).toBeNull();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(receiver.messages).toHaveLength(3);
    await remove(id);
  });

  it("gives up after the schedule's last retry", async () => {
    const { receiver, id } = await endpointWithReceiver();
    receiver.answer = () => ({ status: 502 });
    await emit(randomUUID());
    const [logged] = await waitFor(
      async () => {
        const rows = await deliveries(id);
        return rows[0]?.status === 'FAILED' && rows;
      },
      30_000,
      'the delivery to be given up',
    );
    expect(logged.attemptCount).toBe(SCHEDULE.length + 1);
    expect(receiver.messages).toHaveLength(SCHEDULE.length + 1);
    expect(logged.nextAttemptAt).toBeNull();
    await remove(id);
  });

  it("honours a receiver's Retry-After on 429 and 503", async () => {
    const { receiver, id } = await endpointWithReceiver();
    receiver.answer = (_message, index) =>
      index === 0
        ? { status: 429, headers: { 'retry-after': '2' } }
        : index === 1
          ? { status: 503, headers: { 'retry-after': '1' } }
          : { status: 204 };
    await emit(randomUUID());
    await waitFor(async () => receiver.messages.length === 3, 30_000, 'three attempts');
    const [a, b, c] = receiver.messages.map((m) => m.receivedAt) as [number, number, number];
    expect(b - a).toBeGreaterThanOrEqual(2_000);
    // The schedule's wait (1200 ms ±15%) is longer than asked for: never earlier than either.
    expect(c - b).toBeGreaterThanOrEqual(1_000);
    await remove(id);
  });

  it('signs with the old and the new secret during a rotation grace period, then with the new alone', async () => {
    const { receiver, id, secret: old } = await endpointWithReceiver();
    const rotated = (await world.graphql(admin, UPDATE, { input: { id, rotateSecret: true, secretGracePeriodSeconds: 3600 } })).data
      .updateWebhookEndpoint;
    const fresh = rotated.signingSecret as string;
    receiver.secrets.push(fresh);
    await emit(randomUUID());
    await waitFor(async () => receiver.messages.length === 1, 20_000, 'the delivery');
    expect(receiver.messages[0]?.signatures).toHaveLength(2);
    // Each secret alone verifies it with the reference verifier.
    expect(receiver.messages[0]?.verifiedWith.sort()).toEqual([old, fresh].sort());

    await world.graphql(admin, UPDATE, { input: { id, rotateSecret: true, secretGracePeriodSeconds: 0 } }).then((body) => {
      receiver.secrets.push(body.data.updateWebhookEndpoint.signingSecret);
    });
    const newest = receiver.secrets.at(-1) as string;
    await emit(randomUUID());
    await waitFor(async () => receiver.messages.length === 2, 20_000, 'the second delivery');
    expect(receiver.messages[1]?.signatures).toHaveLength(1);
    expect(receiver.messages[1]?.verifiedWith).toEqual([newest]);
    await remove(id);
  });

  it('refuses a receiver the outbound policy forbids at delivery time, and sends it nothing', async () => {
    const { receiver, id } = await endpointWithReceiver();
    const development = world.services.webhooks;
    // Production's policy, as if the name now resolved inside: loopback is refused at connect time.
    world.services.webhooks = testWebhooks({ retryScheduleMs: SCHEDULE }, { allowlist: [], allowPrivate: false, requireHttps: false });
    try {
      await emit(randomUUID());
      const [logged] = await waitFor(
        async () => {
          const rows = await deliveries(id);
          return rows[0]?.attemptCount >= 1 && rows;
        },
        20_000,
        'the refused attempt',
      );
      expect(logged.attempts[0]).toMatchObject({ httpStatus: null, error: expect.stringMatching(/refused: the address is internal/) });
      expect(receiver.messages).toEqual([]);
      expect(receiver.unverified).toEqual([]);
    } finally {
      world.services.webhooks = development;
    }
    await remove(id);
  });

  it('does not follow redirects, and keeps 4 KB of an answer', async () => {
    const { receiver, id } = await endpointWithReceiver();
    receiver.answer = (_message, index) =>
      index === 0 ? { status: 302, headers: { location: 'http://127.0.0.1:9/elsewhere' } } : { status: 500, body: 'x'.repeat(10_000) };
    await emit(randomUUID());
    const [logged] = await waitFor(
      async () => {
        const rows = await deliveries(id);
        return rows[0]?.attemptCount >= 2 && rows;
      },
      20_000,
      'two attempts',
    );
    expect(logged.attempts[0]).toMatchObject({ httpStatus: 302, error: expect.stringMatching(/redirects are not followed/) });
    expect(logged.attempts[1].responseBody).toBe('x'.repeat(4_096));
    await world.graphql(admin, UPDATE, { input: { id, enabled: false } });
    expect((await deliveries(id))[0]).toMatchObject({ status: 'FAILED', nextAttemptAt: null });
    await remove(id);
  });

  it('writes no delivery for an event whose transaction rolled back', async () => {
    const { receiver, id } = await endpointWithReceiver();
    const subject = randomUUID();
    await expect(
      world.db.transaction().execute(async (trx) => {
        await appendEvent(trx, {
          organizationId: world.org.organization.id,
          type: 'integration.revoked',
          subject: { type: 'Integration', id: subject },
          actor: { kind: 'SCHEDULER', label: 'scheduler', apiKeyId: null, subject: null },
          requestId: null,
          data: { revokedAtProvider: false, providerMessage: null },
        });
        throw new Error('the change failed');
      }),
    ).rejects.toThrow('the change failed');
    const committed = await emit(subject, 'committed');
    await waitFor(async () => receiver.messages.length === 1, 20_000, 'the committed event');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(receiver.messages.map((m) => m.id)).toEqual([committed.id]);
    expect(
      await world.db.selectFrom('webhook_deliveries').select('event_type').where('event_type', '=', 'integration.revoked').execute(),
    ).toEqual([]);
    await remove(id);
  });

  it('delivers the event of a mutation that commits, and nothing of one that rolls back', async () => {
    const { receiver, id } = await endpointWithReceiver({ eventTypes: ['api_key.*'] });
    // Fails the transaction at its commit, after the mutation wrote the key and its event.
    await sql`create function refuse_doomed_key() returns trigger language plpgsql as $$
      begin
        if new.name = 'doomed' then raise exception 'refused at commit'; end if;
        return null;
      end $$`.execute(world.db);
    await sql`create constraint trigger refuse_doomed_key after insert on api_keys
      deferrable initially deferred for each row execute function refuse_doomed_key()`.execute(world.db);
    try {
      const create = 'mutation($name: String!) { createApiKey(input: { role: VIEWER, name: $name }) { apiKey { prefix } } }';
      const doomed = await world.graphql(admin, create, { name: 'doomed' });
      expect(doomed.errors?.[0]?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
      const kept = await world.graphql(admin, create, { name: 'kept' });
      const prefix = kept.data.createApiKey.apiKey.prefix;
      await waitFor(async () => receiver.messages.length === 1, 20_000, 'the committed key event');
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(receiver.messages.map((m) => [m.payload.type, m.payload.data.name, m.payload.data.prefix])).toEqual([
        ['api_key.created', 'kept', prefix],
      ]);
      const doomedEvents = await world.db.selectFrom('events').select('id').where(sql<boolean>`data->>'name' = 'doomed'`).execute();
      expect(doomedEvents).toEqual([]);
    } finally {
      await sql`drop trigger refuse_doomed_key on api_keys`.execute(world.db);
      await sql`drop function refuse_doomed_key()`.execute(world.db);
    }
    await remove(id);
  });

  it('delivers everything to a receiver that was down, in order per subject, once it is back', async () => {
    const { receiver, id } = await endpointWithReceiver();
    await receiver.stop();
    const subjects = [randomUUID(), randomUUID(), randomUUID()];
    const sent: { id: string; subject: string }[] = [];
    for (let i = 0; i < 30; i += 1) {
      const subject = subjects[i % subjects.length] as string;
      sent.push({ id: (await emit(subject, `n${i}`)).id, subject });
    }
    await waitFor(
      async () => {
        const rows = await world.db
          .selectFrom('webhook_deliveries')
          .select('attempts')
          .where('endpoint_id', '=', rowId(id))
          .where('attempts', '>=', 1)
          .execute();
        return rows.length >= subjects.length;
      },
      20_000,
      'failed attempts while the receiver is down',
    );
    await receiver.start();
    await waitFor(async () => new Set(receiver.messages.map((m) => m.id)).size === sent.length, 30_000, 'every event');
    expect(receiver.unverified).toEqual([]);
    for (const subject of subjects) {
      const expected = sent.filter((event) => event.subject === subject).map((event) => event.id);
      const got = receiver.messages.filter((m) => m.payload.subject === encodeGlobalID('Integration', subject)).map((m) => m.id);
      expect([...new Set(got)]).toEqual(expected);
    }
    // Recorded once each subject's run is back.
    await waitFor(async () => (await deliveries(id, admin, { status: ['SUCCEEDED'] })).length === sent.length, 10_000, 'the log');
    await remove(id);
  });

  // PostgreSQL only: the race needs the publication's transaction open beside the delivery job's, and the
  // embedded database serves one transaction at a time.
  it.runIf(testDatabaseKind === 'postgres')(
    "delivers a message written behind another job's lease at once, not when the lease ends",
    async () => {
      const { receiver, id } = await endpointWithReceiver();
      const subject = randomUUID();
      let release = () => {};
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      receiver.answer = async (_message, index) => {
        if (index === 0) await held;
        return { status: 204 };
      };
      const first = await emit(subject, 'held');
      await waitFor(async () => receiver.messages.length === 1, 20_000, 'the first message, held by the receiver');

      // A publication writes the subject's next message while the delivery job leases the first one (its
      // subject's head): the job it queues is due when that lease ends, minutes away. The job sending the
      // first message then finishes before the publication commits, so it never sees the second one.
      const late: PublishedEvent = {
        id: newEventId(),
        organizationId: world.org.organization.id,
        type: 'integration.needs_reauth',
        subjectId: encodeGlobalID('Integration', subject),
        integrationId: subject,
        apiKeyId: null,
        actor: { kind: 'SCHEDULER', label: 'scheduler', apiKeyId: null, subject: null },
        requestId: 'req-late',
        data: { reason: 'late' },
        occurredAt: new Date(),
        seq: 0,
        position: Number.MAX_SAFE_INTEGER,
        publishedAt: new Date(),
      };
      let written = () => {};
      const whenWritten = new Promise<void>((resolve) => {
        written = resolve;
      });
      let commit = () => {};
      const committing = new Promise<void>((resolve) => {
        commit = resolve;
      });
      let publisherPid = 0;
      const publication = world.db.transaction().execute(async (trx) => {
        publisherPid = (await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(trx)).rows[0]?.pid ?? 0;
        expect(await writeDeliveries(trx, [late])).toBe(1);
        written();
        await committing;
      });
      await whenWritten;
      release();
      await waitFor(
        async () => (await deliveries(id)).some((row: any) => row.webhookId === first.id && row.status === 'SUCCEEDED'),
        20_000,
        'the first message recorded',
      );
      // The job has sent all it claimed when its last look at the endpoint waits for the publication to commit.
      await waitFor(
        async () => {
          const waiting = await sql<{ count: number }>`
            select count(*)::int as count from pg_stat_activity where ${publisherPid} = any(pg_blocking_pids(pid))`.execute(world.db);
          return (waiting.rows[0]?.count ?? 0) > 0;
        },
        20_000,
        "the delivery job's last look",
      );
      commit();
      await publication;
      // At once, not when the first message's lease ends (250 s).
      await waitFor(async () => receiver.messages.some((message) => message.id === late.id), 15_000, 'the late message');
      expect(receiver.messages.map((message) => message.payload.data.reason)).toEqual(['held', 'late']);
      await remove(id);
    },
    60_000,
  );

  it('disables an endpoint that has failed for three days, with a reason and an event', async () => {
    const { receiver, id } = await endpointWithReceiver();
    const watcher = await endpointWithReceiver({ eventTypes: ['webhook_endpoint.*'] });
    receiver.answer = () => ({ status: 500 });
    const endpointId = rowId(id);
    await world.db
      .updateTable('webhook_endpoints')
      .set({ failing_since: new Date(Date.now() - 73 * 3600_000) })
      .where('id', '=', endpointId)
      .execute();
    await emit(randomUUID());
    const disabled = await waitFor(
      async () => {
        const node = (await world.graphql(admin, DELIVERIES, { id })).data.node;
        return node.disabledAt && node;
      },
      20_000,
      'the endpoint to be disabled',
    );
    expect(disabled.enabled).toBe(false);
    expect(disabled.disabledReason).toMatch(/^Every delivery failed for 72 hours \(since .*\); the last: HTTP 500\./);
    expect(disabled.deliveries.edges[0].node).toMatchObject({ status: 'FAILED', nextAttemptAt: null });
    const [event] = await world.db.selectFrom('events').selectAll().where('type', '=', 'webhook_endpoint.disabled').execute();
    expect(event).toMatchObject({ subject_id: id, actor_kind: 'SYSTEM' });
    expect(event?.data).toEqual({ reason: disabled.disabledReason, url: new URL(receiver.url).origin });
    await waitFor(async () => watcher.receiver.messages.length === 1, 20_000, 'the disabled event at another endpoint');
    expect(watcher.receiver.messages[0]?.payload).toMatchObject({ type: 'webhook_endpoint.disabled', subject: id });
    // Nothing more is sent to it; enabling it again clears the state.
    await emit(randomUUID());
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(receiver.messages).toHaveLength(1);
    const enabled = (await world.graphql(admin, UPDATE, { input: { id, enabled: true } })).data.updateWebhookEndpoint.endpoint;
    expect(enabled).toMatchObject({ enabled: true, disabledAt: null, disabledReason: null });
    await remove(id);
    await remove(watcher.id);
  });

  it("delivers an integration's events to its own webhook with the same machinery", async () => {
    const receiver = await startWebhookReceiver();
    receivers.push(receiver);
    const integration = await world.connectToken('github', world.fake.issueApiToken('github'));
    const refresh = `mutation($input: RefreshIntegrationInput!) { refreshIntegration(input: $input) {
      webhookSigningSecret userErrors { code message } integration { webhookEndpoint { id } } } }`;
    const enabled = (
      await world.graphql(world.org.keys.EDITOR, refresh, {
        input: { id: integration, webhook: { url: receiver.url, events: ['integration.*'], enabled: true } },
      })
    ).data.refreshIntegration;
    expect(enabled.userErrors).toEqual([]);
    // Enabled without a secret: one is issued, returned this once.
    expect(enabled.webhookSigningSecret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    receiver.secrets.push(enabled.webhookSigningSecret);
    const integrationId = rowId(integration);
    const own = await emit(integrationId, 'own');
    await emit(randomUUID(), 'another integration');
    await waitFor(async () => receiver.messages.some((m) => m.id === own.id), 20_000, "the integration's event");
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(receiver.messages.map((m) => m.payload.data.reason).filter((reason) => reason !== undefined)).toEqual(['own']);

    const rotated = (await world.graphql(world.org.keys.EDITOR, refresh, { input: { id: integration, webhook: { rotateSecret: true } } }))
      .data.refreshIntegration;
    receiver.secrets.push(rotated.webhookSigningSecret);
    const after = await emit(integrationId, 'after rotation');
    await waitFor(async () => receiver.messages.some((m) => m.id === after.id), 20_000, 'the event after rotation');
    const message = receiver.messages.find((m) => m.id === after.id);
    expect(message?.verifiedWith.sort()).toEqual([enabled.webhookSigningSecret, rotated.webhookSigningSecret].sort());
    // Its log, for ADMIN.
    const endpoint = (
      await world.graphql(admin, `query($id: ID!) { node(id: $id) { ... on Integration { webhookEndpoint { id } } } }`, {
        id: integration,
      })
    ).data.node.webhookEndpoint;
    const rows = await deliveries(endpoint.id);
    expect(rows.map((row: any) => row.webhookId)).toContain(after.id);
    const forbidden = await world.graphql(world.org.keys.EDITOR, DELIVERIES, { id: endpoint.id });
    expect(forbidden.data.node).toBeNull();
  });

  it("keeps each organization's deliveries to itself", async () => {
    const ours = await endpointWithReceiver();
    const globex = await createOrgWithKeys(world.db, `globex-${randomUUID().slice(0, 8)}`);
    const theirs = await endpointWithReceiver({}, globex.keys.ADMIN);
    const event = await emit(randomUUID(), 'acme only');
    const foreign = await emit(randomUUID(), 'globex only', globex.organization.id);
    await waitFor(async () => ours.receiver.messages.length === 1 && theirs.receiver.messages.length === 1, 20_000, 'both deliveries');
    expect(ours.receiver.messages[0]?.id).toBe(event.id);
    expect(theirs.receiver.messages[0]?.id).toBe(foreign.id);
    // Neither sees the other's endpoint, log or events.
    expect((await world.graphql(globex.keys.ADMIN, DELIVERIES, { id: ours.id })).data.node).toBeNull();
    const cross = (await world.graphql(globex.keys.ADMIN, REDELIVER, { input: { eventId: event.id, endpointId: theirs.id } })).data
      .redeliverEvent;
    expect(cross.userErrors[0]).toMatchObject({ code: 'NOT_FOUND', field: ['input', 'eventId'] });
    const crossEndpoint = (await world.graphql(globex.keys.ADMIN, TEST_EVENT, { input: { endpointId: ours.id } })).data.sendTestEvent;
    expect(crossEndpoint.userErrors[0]).toMatchObject({ code: 'NOT_FOUND', field: ['input', 'endpointId'] });
    await remove(ours.id);
  });
});

/** The row id of a global ID. */
function rowId(globalId: string): string {
  return Buffer.from(globalId, 'base64url').toString().split(':')[1] as string;
}
