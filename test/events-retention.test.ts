import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeGlobalID } from '../src/graphql/global-id.js';
import type { EventPublisher } from '../src/jobs/event-publisher.js';
import { purgeEvents } from '../src/jobs/purge.task.js';
import { createLogger } from '../src/logger.js';
import { appendEvent } from '../src/modules/events/event.repository.js';
import { webhookDeliveriesConsumer } from '../src/modules/webhook/webhook.consumer.js';
import { waitFor } from './support/engine.js';
import { openEventStream, startTestPublisher } from './support/event-stream.js';
import { createTestGateway, type TestGateway } from './support/gateway.js';

const DAY = 86_400_000;
const EVENTS = `subscription($after: String) {
  integrationEvents(filter: {types: [INTEGRATION_NEEDS_REAUTH]}, after: $after) { id data position }
}`;
const CREATE = `mutation($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) { endpoint { id } userErrors { code message } } }`;
const DELIVERIES = `query($id: ID!) { node(id: $id) { ... on WebhookEndpoint {
  deliveries(first: 50) { edges { node { webhookId eventId status payload } } } } } }`;
const AUDIT = `query($subject: ID!) { events(first: 50, filter: {subjectIds: [$subject]}) { edges { node { id } } } }`;
const REDELIVER = `mutation($input: RedeliverEventInput!) {
  redeliverEvent(input: $input) { delivery { id } userErrors { code field message } } }`;

describe('event retention (EVENT_RETENTION_DAYS)', { timeout: 60_000 }, () => {
  let gw: TestGateway;
  let publisher: EventPublisher;
  const logger = createLogger({ level: 'silent' });

  beforeAll(async () => {
    gw = await createTestGateway({ world: true, listen: true, events: { pollIntervalMs: 60_000 } });
    // Publication with the webhook consumer: the events' deliveries are written (and stay pending, no engine sends them).
    publisher = await startTestPublisher(gw.database, [webhookDeliveriesConsumer]);
  });
  afterAll(async () => {
    await publisher.stop();
    await gw.close();
  });

  /** A committed needs_reauth event of acme's about `subject` that occurred `daysAgo` days ago. */
  const needsReauth = (subject: string, reason: string, daysAgo: number) =>
    appendEvent(gw.db, {
      organizationId: gw.world.acme.organization.id,
      type: 'integration.needs_reauth',
      subject: { type: 'Integration', id: subject },
      actor: { kind: 'SCHEDULER', label: 'scheduler', apiKeyId: null, subject: null },
      requestId: null,
      data: { reason },
      occurredAt: new Date(Date.now() - daysAgo * DAY),
    });
  const published = () =>
    waitFor(
      async () => !(await gw.db.selectFrom('events').select('id').where('position', 'is', null).executeTakeFirst()),
      // Under a loaded test run the embedded database publishes in seconds, not milliseconds.
      20_000,
      'publication',
    );
  const positionOf = async (id: string) =>
    Number((await gw.db.selectFrom('events').select('position').where('id', '=', id).executeTakeFirstOrThrow()).position);

  it('deletes events older than the retention, keeps newer ones, and leaves their deliveries intact', async () => {
    const admin = gw.world.acme.keys.ADMIN;
    const created = (await gw.graphql(admin, CREATE, { input: { url: 'http://127.0.0.1:9/hooks', eventTypes: ['integration.*'] } })).body
      .data.createWebhookEndpoint;
    expect(created.userErrors).toEqual([]);
    const subject = randomUUID();
    const old = await needsReauth(subject, 'past the retention', 91);
    const kept = await needsReauth(subject, 'within the retention', 89);
    await published();
    const deliveries = async () =>
      (await gw.graphql(admin, DELIVERIES, { id: created.endpoint.id })).body.data.node.deliveries.edges.map((edge: any) => edge.node);
    expect((await deliveries()).map((delivery: any) => delivery.eventId).sort()).toEqual([old.id, kept.id].sort());
    const oldPosition = await positionOf(old.id);

    expect(await purgeEvents(gw.db, 90, logger)).toBe(1);
    const left = await gw.db.selectFrom('events').select('id').where('id', 'in', [old.id, kept.id]).execute();
    expect(left.map((row) => row.id)).toEqual([kept.id]);
    const audit = (await gw.graphql(admin, AUDIT, { subject: encodeGlobalID('Integration', subject) })).body.data.events;
    expect(audit.edges.map((edge: any) => edge.node.id)).toEqual([kept.id]);
    // The purge marks how far it reached.
    const mark = await gw.db.selectFrom('event_publication').select('purged_through_position').executeTakeFirstOrThrow();
    expect(Number(mark.purged_through_position)).toBe(oldPosition);
    // The deliveries of the purged event are still there, with their body, and still deliverable.
    const after = await deliveries();
    expect(after.find((delivery: any) => delivery.webhookId === old.id)).toMatchObject({
      eventId: old.id,
      status: 'PENDING',
      payload: expect.stringContaining('past the retention'),
    });
    // It can no longer be sent again: the event is gone.
    const again = (await gw.graphql(admin, REDELIVER, { input: { eventId: old.id, endpointId: created.endpoint.id } })).body.data
      .redeliverEvent;
    expect(again.userErrors).toEqual([
      { code: 'NOT_FOUND', field: ['input', 'eventId'], message: 'No such event (or it is past its retention).' },
    ]);
    // A purge with nothing to delete changes nothing.
    expect(await purgeEvents(gw.db, 90, logger)).toBe(0);
    expect(
      Number(
        (await gw.db.selectFrom('event_publication').select('purged_through_position').executeTakeFirstOrThrow()).purged_through_position,
      ),
    ).toBe(oldPosition);
  });

  it('refuses to resume from before the purge with EVENTS_EXPIRED (410), and resumes from after it', async () => {
    const viewer = gw.world.acme.keys.VIEWER;
    const subject = randomUUID();
    const before = await needsReauth(subject, 'before', 0);
    await published();
    const beforePosition = await positionOf(before.id);
    const purged = await needsReauth(subject, 'purged', 120);
    const survivor = await needsReauth(subject, 'survivor', 0);
    await published();
    const purgedPosition = await positionOf(purged.id);
    await purgeEvents(gw.db, 90, logger);

    // From before the purged event: a gap would follow, so the stream is refused.
    const refused = await openEventStream(`${gw.url}/graphql`, viewer, EVENTS, {}, { 'last-event-id': String(beforePosition) });
    expect(refused.status).toBe(410);
    const answer = await refused.nextResult();
    expect(answer.data ?? null).toBeNull();
    expect(answer.errors).toEqual([
      expect.objectContaining({
        message: expect.stringContaining('subscribe again without Last-Event-ID'),
        extensions: expect.objectContaining({ code: 'EVENTS_EXPIRED', purgedThroughPosition: expect.any(String) }),
      }),
    ]);
    expect(Number(answer.errors[0].extensions.purgedThroughPosition)).toBeGreaterThanOrEqual(purgedPosition);
    refused.close();
    // The same for the `after` argument; the refused streams hold no subscription slot.
    for (let i = 0; i < 12; i += 1) {
      const byArgument = await openEventStream(`${gw.url}/graphql`, viewer, EVENTS, { after: String(beforePosition) });
      expect(byArgument.status).toBe(410);
      byArgument.close();
    }
    // From the purge mark on, nothing is missing: the stream resumes.
    const mark = Number(answer.errors[0].extensions.purgedThroughPosition);
    const resumed = await openEventStream(`${gw.url}/graphql`, viewer, EVENTS, {}, { 'last-event-id': String(mark) });
    expect(resumed.status).toBe(200);
    const next = (await resumed.nextResult()).data.integrationEvents;
    expect(next).toMatchObject({ id: survivor.id, data: { reason: 'survivor' } });
    resumed.close();
  });
});
