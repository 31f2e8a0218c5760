import { randomUUID } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import type { SecretBundle } from '../../src/connectors/credentials.js';
import type { Database, IntegrationRow } from '../../src/db/database.js';
import { decodeTypedID } from '../../src/graphql/global-id.js';
import { createLogger } from '../../src/logger.js';
import { createHttpClient } from '../../src/outbound/index.js';
import { openBundle } from '../../src/modules/integration/credential-bundle.js';
import { createGateway, type Gateway } from '../../src/server.js';
import type { GatewayServices } from '../../src/services.js';
import { type FakeProvider, startFakeProvider } from '../fake-provider/server.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { statementCounter, type TestGateway } from './gateway.js';
import type { OrgFixture } from './fixtures.js';
import { sendGraphQL } from './request.js';
import { testServices } from './services.js';
import { createWorld } from './world.js';

export const INTEGRATION_FIELDS = `id displayName status statusReason health authKind scopes grantedScopes missingScopes account config
  hasCredentials credentialExpiresAt revokedAt lastHealthCheck { ok httpStatus message }
  webhook { url events enabled secretRotatedAt } healthChecks(first: 20) { edges { node { ok httpStatus errorCode grantedScopes missingScopes } } }`;
const ERRORS = 'userErrors { code field message }';
export const CONNECT = `mutation($input: ConnectIntegrationInput!) { connectIntegration(input: $input) { authorizationUrl integration { ${INTEGRATION_FIELDS} } ${ERRORS} } }`;
export const REFRESH = `mutation($input: RefreshIntegrationInput!) { refreshIntegration(input: $input) { webhookSigningSecret integration { ${INTEGRATION_FIELDS} } ${ERRORS} } }`;
export const REVOKE = `mutation($input: RevokeIntegrationInput!) { revokeIntegration(input: $input) { revokedAtProvider providerMessage integration { ${INTEGRATION_FIELDS} } ${ERRORS} } }`;
export const TEST = `mutation($input: TestIntegrationInput!) { testIntegration(input: $input) { healthCheck { ok httpStatus errorCode message grantedScopes missingScopes } integration { ${INTEGRATION_FIELDS} } ${ERRORS} } }`;
export const RETURN_URL = 'https://app.example.com/integrations/done';

export interface Result {
  status: number;
  body: { data?: any; errors?: { message: string; extensions?: Record<string, any> }[] };
  requestId: string;
}

export interface ProviderGateway {
  yoga: Gateway;
  database: TestDatabase;
  db: Kysely<Database>;
  fake: FakeProvider;
  /** The SQL statements the gateway's database ran since the last `reset()`. */
  statements: TestGateway['statements'];
  services: GatewayServices;
  org: OrgFixture;
  other: OrgFixture;
  /** Every log line the gateway wrote (pino JSON, level trace). */
  logs: string[];
  /** Every response body the gateway sent through `graphql` and `callback`. */
  responses: string[];
  graphql(key: string, query: string, variables?: Record<string, unknown>): Promise<Result>;
  /** Connects with a token or basic credential (fresh and valid at the fake unless given) as EDITOR. */
  connect(provider: string, authKind: 'API_TOKEN' | 'BASIC', extra?: Record<string, unknown>): Promise<Result>;
  /** Starts an OAuth2 connection as EDITOR; the payload has the authorization URL. */
  startOAuth(provider: string, extra?: Record<string, unknown>): Promise<Result>;
  /** Visits an authorization URL at the fake and follows its redirect to the gateway's callback. */
  authorize(authorizationUrl: string): Promise<{ callbackUrl: string; response: Response; location: URL | null }>;
  /** Sends a browser to the gateway's callback, returning its answer. */
  callback(url: string): Promise<Response>;
  /** startOAuth + authorize; the integration's global ID after a successful return. */
  connectOAuth(provider: string, extra?: Record<string, unknown>): Promise<string>;
  row(globalId: string): Promise<IntegrationRow>;
  /** The integration's sealed secrets, opened with the gateway's vault. */
  secretsOf(globalId: string): Promise<SecretBundle>;
  events(
    globalId?: string,
  ): Promise<{ type: string; outcome: string; actor_key_id: string | null; request_id: string | null; detail: Record<string, unknown> }[]>;
  close(): Promise<void>;
}

/**
 * What a gateway that crashed after a mutation committed, but before its answer was stored, leaves
 * behind: the Idempotency-Key still IN_PROGRESS, its lease expired, no answer. The next retry takes it over.
 */
export async function crashBeforeStoring(db: Kysely<Database>, key: string): Promise<void> {
  await db
    .updateTable('idempotency_keys')
    .set({
      state: 'IN_PROGRESS',
      lease_token: randomUUID(),
      lease_expires_at: sql<Date>`now() - interval '1 second'`,
      response_status: null,
      response_headers: null,
      response_body: null,
      completed_at: null,
    })
    .where('key', '=', key)
    .execute();
}

/** How many requests waited for another one calling the provider with the integration's credential (each logs its first wait). */
export function requestsWaitingForLease(logs: readonly string[], globalId: string): number {
  const integrationId = decodeTypedID(globalId, 'Integration');
  const waits = logs
    .filter((line) => line.includes('waiting for another request calling the provider'))
    .map((line) => JSON.parse(line) as { integrationId: string; requestId: string });
  return new Set(waits.filter((wait) => wait.integrationId === integrationId).map((wait) => wait.requestId)).size;
}

/** Config a connector needs; the fake serves every value. */
export function configFor(provider: string, fake: FakeProvider): Record<string, string> {
  if (provider === 'jira') return { site: 'acme.atlassian.net' };
  if (provider === 'servicenow') return { instance: 'acme.service-now.com' };
  if (provider === 'http') return { baseUrl: fake.httpBaseUrl, probePath: '/status' };
  return {};
}

/** A gateway whose connectors all point at a fresh fake provider, with two organizations and logs captured. */
export async function createProviderGateway(overrides: Partial<GatewayServices> = {}): Promise<ProviderGateway> {
  const fake = await startFakeProvider();
  const { statements, onQuery } = statementCounter();
  const database = await createTestDatabase({ onQuery });
  const logs: string[] = [];
  const responses: string[] = [];
  const logger = createLogger({ level: 'trace', destination: { write: (line: string) => void logs.push(line) } });
  // The production outbound client (retries of idempotent calls included), with loopback allowed and short backoff.
  const http = createHttpClient({
    allowlist: [],
    allowPrivate: true,
    requireHttps: false,
    defaultTimeoutMs: 10_000,
    maxRetries: 2,
    perProviderConcurrency: 8,
    retryBaseDelayMs: 10,
  });
  const services = testServices(logger, { http, connectorSettings: fake.settings, ...overrides });
  const yoga = createGateway({ database, logger, services });
  const { acme: org, globex: other } = await createWorld(database.db);

  const gateway: ProviderGateway = {
    yoga,
    database,
    db: database.db,
    fake,
    statements,
    services,
    org,
    other,
    logs,
    responses,
    async graphql(key, query, variables) {
      const requestId = randomUUID();
      // No Accept header, as most automation sends: the answer is application/json.
      const answer = await sendGraphQL(yoga, { key, query, variables, headers: { accept: null, 'x-request-id': requestId } });
      responses.push(answer.text);
      return { status: answer.status, body: answer.body, requestId };
    },
    connect(provider, authKind, extra = {}) {
      const credentials = authKind === 'API_TOKEN' ? { token: fake.issueApiToken(provider) } : fake.addBasicUser(provider);
      const input = {
        provider,
        authKind,
        displayName: `${provider} ${authKind}`,
        config: configFor(provider, fake),
        credentials,
        ...extra,
      };
      return gateway.graphql(org.keys.EDITOR, CONNECT, { input });
    },
    startOAuth(provider, extra = {}) {
      const input = {
        provider,
        authKind: 'OAUTH2',
        displayName: `${provider} OAuth`,
        config: configFor(provider, fake),
        oauth2: { returnUrl: RETURN_URL },
        ...extra,
      };
      return gateway.graphql(org.keys.EDITOR, CONNECT, { input });
    },
    async callback(url) {
      const response = await yoga.fetch(url, { method: 'GET', redirect: 'manual' });
      const text = await response.clone().text();
      responses.push(text, response.headers.get('location') ?? '');
      return response;
    },
    async authorize(authorizationUrl) {
      const atProvider = await fetch(authorizationUrl, { redirect: 'manual' });
      await atProvider.body?.cancel();
      const callbackUrl = atProvider.headers.get('location');
      if (atProvider.status !== 302 || !callbackUrl) throw new Error(`fake authorize answered ${atProvider.status}`);
      const response = await gateway.callback(callbackUrl);
      const location = response.headers.get('location');
      return { callbackUrl, response, location: location ? new URL(location) : null };
    },
    async connectOAuth(provider, extra) {
      const started = await gateway.startOAuth(provider, extra);
      const payload = started.body.data?.connectIntegration;
      if (!payload?.authorizationUrl) throw new Error(`no authorization URL: ${JSON.stringify(started.body)}`);
      const { location } = await gateway.authorize(payload.authorizationUrl);
      if (location?.searchParams.get('outcome') !== 'connected') throw new Error(`authorization failed: ${location}`);
      return payload.integration.id as string;
    },
    async row(globalId) {
      return database.db
        .selectFrom('integrations')
        .selectAll()
        .where('id', '=', decodeTypedID(globalId, 'Integration'))
        .executeTakeFirstOrThrow();
    },
    async secretsOf(globalId) {
      return openBundle(services, await gateway.row(globalId));
    },
    async events(globalId) {
      let query = database.db
        .selectFrom('integration_events')
        .select(['type', 'outcome', 'actor_key_id', 'request_id', 'detail'])
        .orderBy('created_at')
        .orderBy('id');
      if (globalId) query = query.where('integration_id', '=', decodeTypedID(globalId, 'Integration'));
      return query.execute();
    },
    async close() {
      await yoga.dispose();
      await database.drop();
      await fake.close();
      await http.close();
    },
  };
  return gateway;
}
