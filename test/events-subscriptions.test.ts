import { ApolloClient, ApolloLink, gql, HttpLink, InMemoryCache } from '@apollo/client';
import { getMainDefinition } from '@apollo/client/utilities';
import { Client as UrqlClient, subscriptionExchange } from '@urql/core';
import { print } from 'graphql';
import { createClient } from 'graphql-sse';
import { Observable } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventPublisher } from '../src/jobs/event-publisher.js';
import { appendEvent } from '../src/modules/events/event.repository.js';
import { waitFor } from './support/engine.js';
import { openEventStream } from './support/event-stream.js';
import { startTestPublisher } from './support/event-stream.js';
import { createTestGateway, type TestGateway } from './support/gateway.js';
import { TEST } from './support/integration-flows.js';

const EVENTS = `subscription($filter: IntegrationEventsFilter, $after: String) {
  integrationEvents(filter: $filter, after: $after) { id type subjectId actor { kind label } data position }
}`;
const UPDATED = 'subscription($id: ID!) { integrationUpdated(id: $id) { id status health } }';

describe('live events over Server-Sent Events', () => {
  let gw: TestGateway;
  let publisher: EventPublisher;
  const graphqlUrl = () => `${gw.url}/graphql`;
  /** A needs_reauth event of acme's (or `organization`'s) first integration, written as a service would. */
  const needsReauth = async (reason: string, organization: 'acme' | 'globex' = 'acme') => {
    const organizationId = gw.world[organization].organization.id;
    await appendEvent(gw.db, {
      organizationId,
      type: 'integration.needs_reauth',
      subject: { type: 'Integration', id: '33333333-3333-4333-8333-333333333333' },
      integrationId: '33333333-3333-4333-8333-333333333333',
      actor: { kind: 'SYSTEM', label: 'test', apiKeyId: null, subject: null },
      requestId: null,
      data: { reason },
    });
  };

  /** Waits until every committed event is published: a subscription opened then starts after all of them. */
  const settled = () =>
    waitFor(
      async () => !(await gw.db.selectFrom('events').select('id').where('position', 'is', null).executeTakeFirst()),
      10_000,
      'publication',
    );

  beforeAll(async () => {
    gw = await createTestGateway({
      world: true,
      provider: true,
      // Request deadlines far shorter than the streams: they must not cut them.
      listen: { headersTimeoutMs: 500, requestTimeoutMs: 1_000 },
      events: { pollIntervalMs: 60_000, keepAliveMs: 200, maxSubscriptionsPerKey: 3 },
    });
    publisher = await startTestPublisher(gw.database);
  });
  afterAll(async () => {
    await publisher.stop();
    await gw.close();
  });

  it('streams each committed event once, in order, with its position as the SSE id, past the request deadline', async () => {
    const stream = await openEventStream(graphqlUrl(), gw.world.acme.keys.VIEWER, EVENTS);
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toContain('text/event-stream');
    // Longer than HTTP_REQUEST_TIMEOUT_MS, with keep-alive comments meanwhile.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(stream.comments()).toBeGreaterThan(3);
    const connected = await gw.connect('github', 'API_TOKEN');
    const id = connected.body.data.connectIntegration.integration.id;
    const first = await stream.next();
    const second = await stream.next();
    const [a, b] = [JSON.parse(first.data).data.integrationEvents, JSON.parse(second.data).data.integrationEvents];
    expect([a.type, b.type]).toEqual(['INTEGRATION_CONNECTED', 'INTEGRATION_HEALTH_CHANGED']);
    expect(a).toMatchObject({ subjectId: id, actor: { kind: 'API_KEY' } });
    expect([first.id, second.id]).toEqual([a.position, b.position]);
    expect(Number(b.position)).toBe(Number(a.position) + 1);
    expect(await stream.quiet(300)).toBe(true);
    stream.close();
  });

  it('filters by integration and type, and keeps organizations and roles apart', async () => {
    await settled();
    const acmeStream = await openEventStream(graphqlUrl(), gw.world.acme.keys.VIEWER, EVENTS, {
      filter: { types: ['INTEGRATION_NEEDS_REAUTH'] },
    });
    const globexStream = await openEventStream(graphqlUrl(), gw.world.globex.keys.ADMIN, EVENTS);
    await gw.graphql(gw.world.acme.keys.ADMIN, 'mutation { createApiKey(input: {role: VIEWER}) { key } }');
    await needsReauth('acme only');
    const seen = await acmeStream.nextResult();
    // The key event reached neither the VIEWER (not ADMIN) nor the other organization.
    expect(seen.data.integrationEvents).toMatchObject({ type: 'INTEGRATION_NEEDS_REAUTH', data: { reason: 'acme only' } });
    expect(await globexStream.quiet(500)).toBe(true);
    await needsReauth('globex only', 'globex');
    expect((await globexStream.nextResult()).data.integrationEvents.data.reason).toBe('globex only');
    expect(await acmeStream.quiet(300)).toBe(true);
    acmeStream.close();
    globexStream.close();
  });

  it('resumes after the Last-Event-ID (or `after`) it was given, without a gap or a repeat', async () => {
    await settled();
    const stream = await openEventStream(graphqlUrl(), gw.world.acme.keys.VIEWER, EVENTS, {
      filter: { types: ['INTEGRATION_NEEDS_REAUTH'] },
    });
    await needsReauth('before the drop');
    const last = await stream.next();
    stream.close();
    for (const reason of ['missed 1', 'missed 2', 'missed 3']) await needsReauth(reason);
    await needsReauth('globex meanwhile', 'globex');
    const resumed = await openEventStream(
      graphqlUrl(),
      gw.world.acme.keys.VIEWER,
      EVENTS,
      { filter: { types: ['INTEGRATION_NEEDS_REAUTH'] } },
      { 'last-event-id': String(last.id) },
    );
    const reasons: string[] = [];
    const ids: number[] = [];
    for (let i = 0; i < 3; i += 1) {
      const message = await resumed.next();
      reasons.push(JSON.parse(message.data).data.integrationEvents.data.reason);
      ids.push(Number(message.id));
    }
    expect(reasons).toEqual(['missed 1', 'missed 2', 'missed 3']);
    expect(ids).toEqual([...ids].sort((x, y) => x - y));
    expect(ids[0]).toBeGreaterThan(Number(last.id));
    // And live again afterwards.
    await needsReauth('live');
    expect((await resumed.nextResult()).data.integrationEvents.data.reason).toBe('live');
    expect(await resumed.quiet(300)).toBe(true);
    resumed.close();
    // The `after` argument does the same for clients that cannot send the header.
    const byArgument = await openEventStream(graphqlUrl(), gw.world.acme.keys.VIEWER, EVENTS, {
      filter: { types: ['INTEGRATION_NEEDS_REAUTH'] },
      after: String(ids[2]),
    });
    expect((await byArgument.nextResult()).data.integrationEvents.data.reason).toBe('live');
    byArgument.close();
    const bad = await openEventStream(graphqlUrl(), gw.world.acme.keys.VIEWER, EVENTS, {}, { 'last-event-id': 'yesterday' });
    expect((await bad.nextResult()).errors[0].extensions.code).toBe('BAD_USER_INPUT');
    bad.close();
  });

  it('integrationUpdated sends the integration as each of its events leaves it', async () => {
    const token = gw.fake.issueApiToken('gitlab');
    const connected = await gw.connect('gitlab', 'API_TOKEN', { credentials: { token } });
    const id = connected.body.data.connectIntegration.integration.id;
    await settled();
    const stream = await openEventStream(graphqlUrl(), gw.world.acme.keys.VIEWER, UPDATED, { id });
    gw.fake.revokeCredential('gitlab', { token });
    await gw.graphql(gw.world.acme.keys.EDITOR, TEST, { input: { id } });
    // status_changed, needs_reauth, health_changed: the integration as it is after the test.
    for (let i = 0; i < 3; i += 1) {
      expect((await stream.nextResult()).data.integrationUpdated).toEqual({ id, status: 'NEEDS_REAUTH', health: 'UNHEALTHY' });
    }
    stream.close();
    const foreign = await openEventStream(graphqlUrl(), gw.world.globex.keys.VIEWER, UPDATED, { id });
    expect((await foreign.nextResult()).errors[0].extensions.code).toBe('NOT_FOUND');
    foreign.close();
  });

  it('works with the graphql-sse client (distinct connections mode)', async () => {
    await settled();
    const client = createClient({
      url: graphqlUrl(),
      singleConnection: false,
      headers: { authorization: `Bearer ${gw.world.acme.keys.VIEWER}` },
      retryAttempts: 0,
    });
    const received: string[] = [];
    const done = new Promise<void>((resolve, reject) => {
      const stop = client.subscribe<{ integrationEvents: { data: { reason: string } } }>(
        { query: EVENTS, variables: { filter: { types: ['INTEGRATION_NEEDS_REAUTH'] } } },
        {
          next: (result) => {
            received.push(result.data?.integrationEvents.data.reason ?? '');
            if (received.length === 2) {
              stop();
              resolve();
            }
          },
          error: reject,
          complete: () => {},
        },
      );
    });
    // The subscription is open once it holds its slot.
    await waitFor(
      async () => (await gw.db.selectFrom('event_subscriptions').select('id').execute()).length > 0,
      5_000,
      'the subscription',
    );
    await needsReauth('sse one');
    await needsReauth('sse two');
    await done;
    expect(received).toEqual(['sse one', 'sse two']);
    client.dispose();
  });

  it('works with urql, its subscriptions forwarded to the graphql-sse client', async () => {
    await waitFor(async () => (await gw.db.selectFrom('event_subscriptions').select('id').execute()).length === 0, 5_000, 'slots free');
    const sse = createClient({
      url: graphqlUrl(),
      singleConnection: false,
      headers: { authorization: `Bearer ${gw.world.acme.keys.VIEWER}` },
      retryAttempts: 0,
    });
    const urql = new UrqlClient({
      url: graphqlUrl(),
      exchanges: [
        subscriptionExchange({
          forwardSubscription: (request) => ({
            subscribe: (sink) => ({ unsubscribe: sse.subscribe({ ...request, query: request.query ?? '' }, sink) }),
          }),
        }),
      ],
    });
    const received: string[] = [];
    const subscription = urql
      .subscription<{ integrationEvents: { data: { reason: string } } }>(EVENTS, { filter: { types: ['INTEGRATION_NEEDS_REAUTH'] } })
      .subscribe((result) => {
        if (result.error) received.push(`error: ${result.error.message}`);
        else received.push(result.data?.integrationEvents.data.reason ?? '');
      });
    await waitFor(
      async () => (await gw.db.selectFrom('event_subscriptions').select('id').execute()).length > 0,
      5_000,
      'the subscription',
    );
    await needsReauth('urql one');
    await needsReauth('urql two');
    await waitFor(async () => received.length >= 2, 10_000, 'two events through urql');
    expect(received).toEqual(['urql one', 'urql two']);
    subscription.unsubscribe();
    sse.dispose();
  });

  it('works with Apollo Client, its subscriptions sent through a link over the graphql-sse client', async () => {
    await waitFor(async () => (await gw.db.selectFrom('event_subscriptions').select('id').execute()).length === 0, 5_000, 'slots free');
    const authorization = `Bearer ${gw.world.acme.keys.VIEWER}`;
    const sse = createClient({ url: graphqlUrl(), singleConnection: false, headers: { authorization }, retryAttempts: 0 });
    /** The link Apollo's documentation gives for graphql-sse: each operation becomes one SSE subscription. */
    class ServerSentEventsLink extends ApolloLink {
      override request(operation: ApolloLink.Operation) {
        return new Observable<ApolloLink.Result>((observer) =>
          sse.subscribe<ApolloLink.Result['data']>(
            { query: print(operation.query), variables: operation.variables, operationName: operation.operationName },
            {
              next: (value) => observer.next(value as ApolloLink.Result),
              complete: () => observer.complete(),
              error: (error) => observer.error(error instanceof Error ? error : new Error(JSON.stringify(error))),
            },
          ),
        );
      }
    }
    const isSubscription = ({ query }: ApolloLink.Operation) => {
      const definition = getMainDefinition(query);
      return definition.kind === 'OperationDefinition' && definition.operation === 'subscription';
    };
    const client = new ApolloClient({
      link: ApolloLink.split(isSubscription, new ServerSentEventsLink(), new HttpLink({ uri: graphqlUrl(), headers: { authorization } })),
      cache: new InMemoryCache(),
    });
    const received: string[] = [];
    const subscription = client
      .subscribe<{ integrationEvents: { id: string; data: { reason: string } } }>({
        query: gql(EVENTS),
        variables: { filter: { types: ['INTEGRATION_NEEDS_REAUTH'] } },
      })
      .subscribe({
        next: (result) =>
          received.push(result.error ? `error: ${result.error.message}` : (result.data?.integrationEvents.data.reason ?? '')),
        error: (error) => received.push(`error: ${String(error)}`),
      });
    await waitFor(
      async () => (await gw.db.selectFrom('event_subscriptions').select('id').execute()).length > 0,
      5_000,
      'the subscription',
    );
    await needsReauth('apollo one');
    await needsReauth('apollo two');
    await waitFor(async () => received.length >= 2, 10_000, 'two events through Apollo');
    expect(received).toEqual(['apollo one', 'apollo two']);
    // Queries of the same client still go over plain HTTP.
    const viewer = await client.query<{ integrations: { totalCount: number } }>({
      query: gql('{ integrations(first: 1) { totalCount } }'),
    });
    expect(viewer.data?.integrations.totalCount).toEqual(expect.any(Number));
    subscription.unsubscribe();
    await waitFor(async () => (await gw.db.selectFrom('event_subscriptions').select('id').execute()).length === 0, 5_000, 'the slot back');
    client.stop();
    sse.dispose();
  });

  it('refuses a key its fourth live subscription (429), and an unauthenticated one (401)', async () => {
    await waitFor(async () => (await gw.db.selectFrom('event_subscriptions').select('id').execute()).length === 0, 5_000, 'slots free');
    const streams = await Promise.all([1, 2, 3].map(() => openEventStream(graphqlUrl(), gw.world.acme.keys.EDITOR, EVENTS)));
    expect(streams.map((stream) => stream.status)).toEqual([200, 200, 200]);
    const refused = await openEventStream(graphqlUrl(), gw.world.acme.keys.EDITOR, EVENTS);
    expect(refused.status).toBe(429);
    expect((await refused.nextResult()).errors[0].extensions).toMatchObject({ code: 'TOO_MANY_SUBSCRIPTIONS', limit: 3 });
    refused.close();
    // Another key has its own allowance.
    const other = await openEventStream(graphqlUrl(), gw.world.acme.keys.VIEWER, EVENTS);
    expect(other.status).toBe(200);
    other.close();
    // A closed stream gives its slot back.
    streams[0]?.close();
    await waitFor(async () => (await gw.db.selectFrom('event_subscriptions').select('id').execute()).length === 2, 5_000, 'a slot back');
    const again = await openEventStream(graphqlUrl(), gw.world.acme.keys.EDITOR, EVENTS);
    expect(again.status).toBe(200);
    for (const stream of [...streams, again]) stream.close();
    const anonymous = await openEventStream(graphqlUrl(), null, EVENTS);
    expect(anonymous.status).toBe(401);
    anonymous.close();
  });

  it('charges a subscription to the rate limit, as any request', async () => {
    const limited = await createTestGateway({ world: true, listen: true, rateLimit: { apiKeyPoints: 1_000 } });
    try {
      const stream = await openEventStream(`${limited.url}/graphql`, limited.world.acme.keys.VIEWER, EVENTS);
      expect(stream.status).toBe(200);
      expect(stream.headers.get('x-ratelimit-limit')).toBe('1000');
      expect(Number(stream.headers.get('x-ratelimit-remaining'))).toBeLessThan(1_000);
      stream.close();
    } finally {
      await limited.close();
    }
  });
});
