import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newEventId } from '../src/modules/events/event.repository.js';
import { drainEndpoint } from '../src/modules/webhook/webhook-delivery.service.js';
import { createEngineWorld, type EngineWorld } from './support/engine.js';
import { testDatabaseKind } from './support/database.js';
import { testWebhooks } from './support/services.js';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook-receiver.js';

const REFRESH = `mutation($input: RefreshIntegrationInput!) { refreshIntegration(input: $input) {
  webhookSigningSecret userErrors { code message } integration { id } } }`;

/**
 * An integration's webhook disabled by its delivery job (after failing for WEBHOOK_DISABLE_AFTER_HOURS)
 * while refreshIntegration changes the same webhook: both write the integration and its endpoint, and
 * must take their locks in one order (the integration, then the endpoint, then its deliveries).
 */
describe('disabling a failing webhook while refreshIntegration changes it', () => {
  let world: EngineWorld;
  let receiver: WebhookReceiver;
  let integration: string;
  let integrationId: string;
  let endpointId: string;

  beforeAll(async () => {
    world = await createEngineWorld({ HEALTH_CHECK_INTERVAL_SECONDS: '86400' }, { webhooks: testWebhooks() });
    receiver = await startWebhookReceiver();
    receiver.answer = () => ({ status: 500 });
    integration = await world.connectToken('github', world.fake.issueApiToken('github'));
    integrationId = (await world.row(integration)).id;
    const enabled = (
      await world.graphql(world.org.keys.EDITOR, REFRESH, {
        input: { id: integration, webhook: { url: receiver.url, events: ['integration.*'], enabled: true } },
      })
    ).data.refreshIntegration;
    expect(enabled.userErrors).toEqual([]);
    receiver.secrets.push(enabled.webhookSigningSecret);
    const endpoint = await world.db
      .selectFrom('webhook_endpoints')
      .select('id')
      .where('integration_id', '=', integrationId)
      .executeTakeFirstOrThrow();
    endpointId = endpoint.id;
  }, 180_000);
  afterAll(async () => {
    await receiver?.stop();
    await world?.close();
  });

  /** The webhook enabled, failing for longer than the disable threshold, with one message due now. */
  async function arrange(): Promise<string> {
    await world.db.updateTable('integrations').set({ webhook_enabled: true }).where('id', '=', integrationId).execute();
    await world.db
      .updateTable('webhook_endpoints')
      .set({ disabled_at: null, disabled_reason: null, failing_since: new Date(Date.now() - 73 * 3600_000) })
      .where('id', '=', endpointId)
      .execute();
    const eventId = newEventId();
    const row = await world.db
      .insertInto('webhook_deliveries')
      .values({
        organization_id: world.org.organization.id,
        endpoint_id: endpointId,
        message_id: eventId,
        event_id: eventId,
        event_type: 'integration.needs_reauth',
        kind: 'EVENT',
        subject_key: `subject-${randomUUID()}`,
        position: '1',
        payload: JSON.stringify({ id: eventId, type: 'integration.needs_reauth', data: {} }),
        next_attempt_at: new Date(Date.now() - 1_000),
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return row.id;
  }

  /** A webhook change through refreshIntegration: its events filter, which leaves the webhook's state alone. */
  async function changeWebhook(round: number): Promise<unknown[]> {
    const events = round % 2 === 0 ? ['integration.*'] : ['integration.status_changed'];
    const body = await world.graphql(world.org.keys.EDITOR, REFRESH, { input: { id: integration, webhook: { events } } });
    return [...(body.errors ?? []), ...(body.data?.refreshIntegration?.userErrors ?? [])];
  }

  it('never deadlocks when both run at once, over many rounds', async () => {
    const failures: unknown[] = [];
    for (let round = 0; round < 30; round += 1) {
      await arrange();
      const [drained, changed] = await Promise.allSettled([
        drainEndpoint(world.services, world.db, endpointId),
        // Half the rounds start the change a little later, inside the delivery's attempt.
        (async () => {
          if (round % 2 === 1) await new Promise((resolve) => setTimeout(resolve, round % 4));
          return changeWebhook(round);
        })(),
      ]);
      if (drained.status === 'rejected') failures.push(drained.reason);
      if (changed.status === 'rejected') failures.push(changed.reason);
      else failures.push(...changed.value);
    }
    expect(failures.map((failure) => (failure instanceof Error ? String(failure) : JSON.stringify(failure)))).toEqual([]);
    const endpoint = await world.db.selectFrom('webhook_endpoints').selectAll().where('id', '=', endpointId).executeTakeFirstOrThrow();
    const row = await world.row(integration);
    // Disabled by the last round, on the endpoint and on the integration together.
    expect(endpoint.disabled_reason).toMatch(/^Every delivery failed for 72 hours/);
    expect(row.webhook_enabled).toBe(false);
  }, 120_000);

  // Forces the interleaving that deadlocked: the delivery job holds the endpoint (recording its failed
  // attempt, held up on the delivery row) while refreshIntegration, holding the integration, waits for
  // the endpoint; then the job goes on to disable, which writes the integration.
  it.runIf(testDatabaseKind === 'postgres')(
    'takes the integration before the endpoint when a failing round may disable it',
    async () => {
      const deliveryId = await arrange();
      const reached = deferred();
      const held = deferred();
      const release = deferred();
      // Another transaction takes the delivery row once the receiver is reached, and keeps it until told.
      const holder = world.db.transaction().execute(async (trx) => {
        await reached.promise;
        await trx.selectFrom('webhook_deliveries').select('id').where('id', '=', deliveryId).forUpdate().execute();
        held.resolve();
        await release.promise;
      });
      // The receiver answers once the row is held: the job's recording of the attempt waits for it.
      receiver.answer = async () => {
        reached.resolve();
        await held.promise;
        return { status: 500 };
      };
      const drained = drainEndpoint(world.services, world.db, endpointId);
      await held.promise;
      // The job records its attempt (endpoint taken, waiting for the row); the change takes the integration and waits.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const changed = changeWebhook(0);
      await new Promise((resolve) => setTimeout(resolve, 300));
      release.resolve();
      await holder;
      receiver.answer = () => ({ status: 500 });
      const outcomes = await Promise.allSettled([drained, changed]);
      expect(outcomes.map((outcome) => (outcome.status === 'rejected' ? String(outcome.reason) : outcome.value))).toEqual([
        { delivered: 0, failed: 1 },
        [],
      ]);
      expect((await world.row(integration)).webhook_enabled).toBe(false);
    },
    60_000,
  );
});

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}
