import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventPublisher } from '../src/jobs/event-publisher.js';
import { openEventStream, startTestPublisher } from './support/event-stream.js';
import { createTestGateway, type TestGateway } from './support/gateway.js';

const EVENTS = `subscription($filter: IntegrationEventsFilter) {
  integrationEvents(filter: $filter) { id type subjectId actor { kind label } data position }
}`;

describe('live events over Server-Sent Events', () => {
  let gw: TestGateway;
  let publisher: EventPublisher;

  beforeAll(async () => {
    gw = await createTestGateway({ world: true, provider: true, listen: true, events: { pollIntervalMs: 200, keepAliveMs: 200 } });
    publisher = await startTestPublisher(gw.database);
  });
  afterAll(async () => {
    await publisher.stop();
    await gw.close();
  });

  it('streams an event committed after the subscription opened', async () => {
    const stream = await openEventStream(`${gw.url}/graphql`, gw.world.acme.keys.VIEWER, EVENTS);
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toContain('text/event-stream');
    const connected = await gw.connect('github', 'API_TOKEN');
    const id = connected.body.data.connectIntegration.integration.id;
    const message = await stream.next();
    const result = JSON.parse(message.data);
    expect(result.data.integrationEvents).toMatchObject({ type: 'INTEGRATION_CONNECTED', subjectId: id, actor: { kind: 'API_KEY' } });
    expect(message.id).toBe(result.data.integrationEvents.position);
    stream.close();
  });
});
