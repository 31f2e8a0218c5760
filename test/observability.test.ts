import { randomBytes } from 'node:crypto';
import { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/db/connection.js';
import { recordProviderCall } from '../src/http/observability/metrics.js';
import { testDatabaseKind } from './support/database.js';
import { insertIntegrations, type OrgFixture } from './support/fixtures.js';
import { createTestGateway, type TestGateway } from './support/gateway.js';
import { sendGraphQL } from './support/request.js';
import { type CapturedLogs, captureLogs } from './support/logs.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const secret = (label: string) => `${label}_${randomBytes(12).toString('hex')}`;

const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
provider.register();

let logs: CapturedLogs;
let gateway: TestGateway;
let org: OrgFixture;
const METRICS_TOKEN = 'metrics-token-0123456789';

beforeAll(async () => {
  logs = captureLogs('debug');
  gateway = await createTestGateway({
    world: true,
    logger: logs.logger,
    hardening: { metricsToken: METRICS_TOKEN, tracer: provider.getTracer('test') },
  });
  org = gateway.world.acme;
  await insertIntegrations(gateway.db, org.organization.id, 3, (i) => ({ status: 'ACTIVE', health: i === 0 ? 'UNHEALTHY' : 'HEALTHY' }));
  await insertIntegrations(gateway.db, org.organization.id, 1, () => ({ status: 'REVOKED', health: 'UNKNOWN' }));
});
afterAll(() => gateway?.close());

const requestLines = () => logs.lines().filter((line) => line.msg === 'request');

async function scrape(token: string | null = METRICS_TOKEN) {
  const res = await gateway.fetch('/metrics', token === null ? {} : { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

describe('request logs', () => {
  it('writes one JSON line per request with its id, organization, operation, duration and outcome', async () => {
    logs.clear();
    const res = await gateway.graphql(org.keys.VIEWER, 'query WhoAmI { viewer { role } }');
    const requestId = res.headers.get('x-request-id');
    const [line, ...others] = requestLines();
    expect(others).toEqual([]);
    expect(line).toMatchObject({
      level: 30,
      service: 'integrations-gateway',
      requestId,
      method: 'POST',
      path: '/graphql',
      status: 200,
      organization: 'acme',
      organizationId: org.organization.id,
      apiKey: org.keys.VIEWER.slice(0, 16),
      operationName: 'WhoAmI',
      operationType: 'query',
      cost: 1,
      outcome: 'ok',
    });
    expect(line?.durationMs).toBeGreaterThanOrEqual(0);
    expect(line?.time).toEqual(expect.any(String));
  });

  it('records refusals with their outcome and error codes', async () => {
    logs.clear();
    await gateway.graphql(null, '{ viewer { role } }');
    await gateway.graphql(org.keys.VIEWER, '{ nope }');
    await gateway.graphql(org.keys.VIEWER, 'mutation Revoke { revokeIntegration(input: {id: "x"}) { userErrors { code } } }');
    const [unauthenticated, invalid, forbidden] = requestLines();
    expect(unauthenticated).toMatchObject({ status: 401, outcome: 'unauthenticated', errorCodes: ['UNAUTHENTICATED'] });
    expect(unauthenticated?.organization).toBeUndefined();
    expect(invalid).toMatchObject({
      status: 400,
      outcome: 'rejected',
      errorCodes: ['GRAPHQL_VALIDATION_FAILED'],
      organization: 'acme',
    });
    expect(forbidden).toMatchObject({
      status: 200,
      outcome: 'error',
      errorCodes: ['FORBIDDEN'],
      operationName: 'Revoke',
      operationType: 'mutation',
    });
  });

  it('never writes credentials: keys, tokens, passwords, secrets in headers, variables, documents or logged objects', async () => {
    logs.clear();
    const token = secret('tok');
    const password = secret('pw');
    const literal = secret('lit');
    const clientSecret = secret('cs');
    const cookie = secret('cookie');
    const code = secret('code');
    const connect = `mutation Connect($input: ConnectIntegrationInput!) { connectIntegration(input: $input) { userErrors { code } } }`;
    await sendGraphQL(gateway, {
      key: org.keys.EDITOR,
      query: connect,
      variables: {
        input: { provider: 'no-such-provider', displayName: 'x', authKind: 'BASIC', credentials: { username: 'u', password, token } },
      },
      headers: { cookie: `session=${cookie}` },
    });
    await gateway.graphql(
      org.keys.EDITOR,
      'mutation { connectIntegration(input: {provider: "nope", displayName: "y", authKind: API_TOKEN, ' +
        `credentials: {token: "${literal}"}}) { userErrors { code } } }`,
    );
    await gateway.graphql(`${org.keys.VIEWER.slice(0, 17)}${'A'.repeat(43)}`, '{ viewer { role } }');
    await gateway.fetch(`/oauth/callback?code=${code}&state=${secret('state')}`);
    // Whatever a caller hands the logger whole is redacted by configuration.
    logs.logger.warn(
      {
        headers: { authorization: `Bearer ${org.keys.ADMIN}`, cookie },
        req: { headers: { authorization: `Bearer ${org.keys.ADMIN}` } },
        credentials: { token, password },
        token,
        password,
        provider: { clientSecret, config: { client_secret: clientSecret } },
        variables: { input: { credentials: { password } } },
      },
      'an object logged whole',
    );
    const text = logs.text();
    expect(requestLines().length).toBeGreaterThanOrEqual(4);
    expect(text).toContain('[redacted]');
    for (const value of [token, password, literal, clientSecret, cookie, code]) expect(text).not.toContain(value);
    for (const key of Object.values(org.keys)) expect(text).not.toContain(key.slice(17));
    expect(text).not.toMatch(/connectIntegration\(|ConnectIntegrationInput/);
  });
});

describe("a service's log line carries the request's id", () => {
  it('over GraphQL and REST, in process and over a port', async () => {
    const served = await createTestGateway({ world: true, logger: logs.logger, listen: true });
    try {
      const owner = served.world.acme;
      const [target] = await insertIntegrations(served.db, owner.organization.id, 1);
      const { id, globalId } = target as { id: string; globalId: string };
      // A stored credential that does not open: the service logs it, and answers a user error.
      await sql`update integrations set secret_ciphertext = 'not-a-ciphertext', secret_key_id = 'k1' where id = ${id}`.execute(served.db);
      const headers = { authorization: `Bearer ${owner.keys.EDITOR}`, 'content-type': 'application/json' };
      const graphql = JSON.stringify({
        query: 'mutation($id: ID!) { testIntegration(input: {id: $id}) { userErrors { code } } }',
        variables: { id: globalId },
      });
      const sends: [string, () => Promise<Response>][] = [
        ['GraphQL in process', () => served.fetch('/graphql', { method: 'POST', headers, body: graphql })],
        ['GraphQL over a port', () => fetch(`${served.url}/graphql`, { method: 'POST', headers, body: graphql })],
        ['REST over a port', () => fetch(`${served.url}/v1/integrations/${globalId}/test`, { method: 'POST', headers })],
      ];
      const seen = new Set<string>();
      for (const [name, send] of sends) {
        logs.clear();
        const res = await send();
        const body = await res.text();
        expect(body, name).toContain('CREDENTIAL_UNREADABLE');
        const requestId = res.headers.get('x-request-id') as string;
        expect(requestId, name).toMatch(UUID);
        seen.add(requestId);
        const line = logs.lines().find((entry) => entry.msg === 'stored credential could not be opened');
        expect(line, name).toMatchObject({ requestId, integrationId: id });
        expect(
          logs.lines().find((entry) => entry.msg === 'request'),
          name,
        ).toMatchObject({ requestId });
      }
      expect(seen.size).toBe(sends.length);
    } finally {
      await served.close();
    }
  });
});

describe('error masking', () => {
  it('masks an unexpected error, gives it the request id, and logs the original with the same id', async () => {
    const broken = await createTestGateway({ world: true, logger: logs.logger });
    try {
      const owner = broken.world.acme;
      await insertIntegrations(broken.db, owner.organization.id, 1);
      await sql`alter table integration_health_checks rename to integration_health_checks_gone`.execute(broken.db);
      logs.clear();
      const res = await broken.graphql(
        owner.keys.VIEWER,
        '{ integrations(first: 1) { edges { node { healthChecks(first: 1) { edges { node { ok } } } } } } }',
      );
      const requestId = res.headers.get('x-request-id');
      expect(requestId).toMatch(UUID);
      const [error] = res.body.errors;
      expect(error.message).toBe('Unexpected error.');
      expect(error.extensions).toMatchObject({ code: 'INTERNAL_SERVER_ERROR', requestId });
      expect(JSON.stringify(res.body)).not.toMatch(/integration_health_checks|relation|stack/i);
      const logged = logs.lines().find((line) => line.msg === 'unexpected error');
      expect(logged).toMatchObject({ level: 50, requestId });
      expect(JSON.stringify(logged)).toMatch(/integration_health_checks/);
      expect(requestLines().at(-1)).toMatchObject({ requestId, errorCodes: ['INTERNAL_SERVER_ERROR'] });
    } finally {
      await broken.close();
    }
  });

  it('answers 503 SERVICE_UNAVAILABLE with Retry-After while the database is down', async () => {
    // Nothing listens on port 1: every statement fails to connect, as when PostgreSQL is down.
    const down = await openDatabase({ kind: 'postgres', url: 'postgres://postgres@127.0.0.1:1/gone', poolSize: 1 });
    const unavailable = await createTestGateway({
      logger: logs.logger,
      database: down,
    });
    try {
      logs.clear();
      const res = await unavailable.graphql(org.keys.VIEWER, '{ viewer { role } }');
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('5');
      expect(res.body.errors[0].extensions).toEqual({ code: 'SERVICE_UNAVAILABLE', requestId: res.headers.get('x-request-id') });
      expect(logs.lines().find((line) => line.msg === 'unexpected error')?.requestId).toBe(res.headers.get('x-request-id'));
      expect(requestLines().at(-1)).toMatchObject({ status: 503, outcome: 'server_error' });
    } finally {
      await unavailable.close();
      await down.close();
    }
  });
});

describe('/metrics', () => {
  it('requires the metrics token when one is configured', async () => {
    expect((await scrape(null)).status).toBe(401);
    expect((await scrape('wrong-token-0123456789')).status).toBe(401);
    const ok = await scrape();
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toMatch(/^text\/plain/);
    expect((await gateway.fetch('/metrics', { method: 'POST', headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).status).toBe(405);
  });

  it('counts requests and latency by operation, and errors by code', async () => {
    await gateway.graphql(org.keys.VIEWER, 'query Counted { viewer { role } }');
    await gateway.graphql(org.keys.VIEWER, 'query Counted { viewer { role } }');
    await gateway.graphql(null, '{ viewer { role } }');
    const { text } = await scrape();
    expect(text).toMatch(/^gateway_graphql_requests_total\{operation="Counted",type="query",outcome="ok"\} 2$/m);
    expect(text).toMatch(/^gateway_graphql_request_duration_seconds_count\{operation="Counted",type="query"\} 2$/m);
    expect(text).toMatch(/^gateway_graphql_errors_total\{code="UNAUTHENTICATED"\} [1-9]\d*$/m);
  });

  it('reports integrations by status and health, read from the database', async () => {
    const { text } = await scrape();
    expect(text).toMatch(/^gateway_integrations\{status="ACTIVE",health="HEALTHY"\} 2$/m);
    expect(text).toMatch(/^gateway_integrations\{status="ACTIVE",health="UNHEALTHY"\} 1$/m);
    expect(text).toMatch(/^gateway_integrations\{status="REVOKED",health="UNKNOWN"\} 1$/m);
  });

  it('reports provider calls recorded by recordProviderCall, and the runtime', async () => {
    recordProviderCall('github', 'success', 0.2);
    recordProviderCall('github', 'success', 0.4);
    recordProviderCall('jira', 'timeout', 10);
    recordProviderCall('not a connector key!', 'network_error', 0.1);
    const { text } = await scrape();
    expect(text).toMatch(/^gateway_provider_calls_total\{provider="github",outcome="success"\} 2$/m);
    expect(text).toMatch(/^gateway_provider_call_duration_seconds_sum\{provider="github",outcome="success"\} 0\.6\d*$/m);
    expect(text).toMatch(/^gateway_provider_calls_total\{provider="jira",outcome="timeout"\} 1$/m);
    expect(text).toMatch(/^gateway_provider_calls_total\{provider="other",outcome="network_error"\} 1$/m);
    expect(text).toMatch(/^process_cpu_seconds_total /m);
  });

  it.runIf(testDatabaseKind === 'postgres')('reports the PostgreSQL pool', async () => {
    const { text } = await scrape();
    expect(text).toMatch(/^gateway_db_pool_connections\{state="total"\} \d+$/m);
    expect(text).toMatch(/^gateway_db_pool_connections\{state="waiting"\} 0$/m);
  });
});

describe('tracing', () => {
  it('records a span per request and per execution, without documents, variables or results', async () => {
    exporter.reset();
    const token = secret('tok');
    const res = await gateway.graphql(
      org.keys.EDITOR,
      'mutation Traced($input: ConnectIntegrationInput!) { connectIntegration(input: $input) { userErrors { code message } } }',
      {
        input: { provider: 'nope', displayName: 'traced', authKind: 'API_TOKEN', credentials: { token } },
      },
    );
    expect(res.status).toBe(200);
    const spans = exporter.getFinishedSpans();
    const server = spans.find((span) => span.name === 'POST /graphql');
    const execute = spans.find((span) => span.name === 'graphql.execute');
    expect(server?.attributes).toMatchObject({
      'http.request.method': 'POST',
      'http.response.status_code': 200,
      'graphql.operation.name': 'Traced',
      'graphql.operation.type': 'mutation',
      'gateway.request_id': res.headers.get('x-request-id'),
      'gateway.organization_id': org.organization.id,
    });
    expect(execute?.parentSpanContext?.spanId).toBe(server?.spanContext().spanId);
    const recorded = JSON.stringify(spans.map((span) => ({ name: span.name, attributes: span.attributes, events: span.events })));
    expect(recorded).not.toContain(token);
    expect(recorded).not.toMatch(/connectIntegration|traced|userErrors/);
  });
});
