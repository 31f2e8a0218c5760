import { randomUUID } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import type { SecretBundle } from '../../src/connectors/credentials.js';
import type { Database, IntegrationRow } from '../../src/db/database.js';
import { decodeTypedID } from '../../src/graphql/global-id.js';
import { openBundle } from '../../src/modules/integration/credential-bundle.js';
import type { FakeProvider } from '../fake-provider/server.js';
import type { TestGateway, TestGatewayOptions } from './gateway.js';
import type { GraphQLAnswer } from './request.js';

const HEALTH_CHECKS = 'healthChecks(first: 20) { edges { node { ok httpStatus errorCode grantedScopes missingScopes } } }';
export const INTEGRATION_FIELDS = `id displayName status statusReason health authKind scopes grantedScopes missingScopes account config
  hasCredentials credentialExpiresAt revokedAt lastHealthCheck { ok httpStatus message }
  webhook { url events enabled secretRotatedAt } ${HEALTH_CHECKS}`;
const ERRORS = 'userErrors { code field message }';
export const CONNECT =
  'mutation($input: ConnectIntegrationInput!) { connectIntegration(input: $input) ' +
  `{ authorizationUrl integration { ${INTEGRATION_FIELDS} } ${ERRORS} } }`;
export const REFRESH =
  'mutation($input: RefreshIntegrationInput!) { refreshIntegration(input: $input) ' +
  `{ webhookSigningSecret integration { ${INTEGRATION_FIELDS} } ${ERRORS} } }`;
export const REVOKE =
  'mutation($input: RevokeIntegrationInput!) { revokeIntegration(input: $input) ' +
  `{ revokedAtProvider providerMessage integration { ${INTEGRATION_FIELDS} } ${ERRORS} } }`;
export const TEST =
  'mutation($input: TestIntegrationInput!) { testIntegration(input: $input) ' +
  '{ healthCheck { ok httpStatus errorCode message grantedScopes missingScopes } ' +
  `integration { ${INTEGRATION_FIELDS} } ${ERRORS} } }`;
export const RETURN_URL = 'https://app.example.com/integrations/done';

export interface IntegrationFlows {
  /** Connects with a token or basic credential (fresh and valid at the fake unless given) as acme's EDITOR. */
  connect(provider: string, authKind: 'API_TOKEN' | 'BASIC', extra?: Record<string, unknown>): Promise<GraphQLAnswer>;
  /** Starts an OAuth2 connection as acme's EDITOR; the payload has the authorization URL. */
  startOAuth(provider: string, extra?: Record<string, unknown>): Promise<GraphQLAnswer>;
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

/**
 * What suites do with integrations through a test gateway (`createTestGateway({ provider: true, world: true })`
 * for the connecting ones): connect as acme's EDITOR, walk the OAuth2 dance at the fake, read rows and events.
 */
export function integrationFlows(gatewayOf: () => TestGateway): IntegrationFlows {
  const flows: IntegrationFlows = {
    connect(provider, authKind, extra = {}) {
      const gateway = gatewayOf();
      const { fake } = gateway;
      const credentials = authKind === 'API_TOKEN' ? { token: fake.issueApiToken(provider) } : fake.addBasicUser(provider);
      const input = {
        provider,
        authKind,
        displayName: `${provider} ${authKind}`,
        config: configFor(provider, fake),
        credentials,
        ...extra,
      };
      return gateway.graphql(gateway.world.acme.keys.EDITOR, CONNECT, { input });
    },
    startOAuth(provider, extra = {}) {
      const gateway = gatewayOf();
      const input = {
        provider,
        authKind: 'OAUTH2',
        displayName: `${provider} OAuth`,
        config: configFor(provider, gateway.fake),
        oauth2: { returnUrl: RETURN_URL },
        ...extra,
      };
      return gateway.graphql(gateway.world.acme.keys.EDITOR, CONNECT, { input });
    },
    async callback(url) {
      const gateway = gatewayOf();
      const response = await gateway.fetch(url, { method: 'GET', redirect: 'manual' });
      const text = await response.clone().text();
      gateway.responses.push(text, response.headers.get('location') ?? '');
      return response;
    },
    async authorize(authorizationUrl) {
      const atProvider = await fetch(authorizationUrl, { redirect: 'manual' });
      await atProvider.body?.cancel();
      const callbackUrl = atProvider.headers.get('location');
      if (atProvider.status !== 302 || !callbackUrl) throw new Error(`fake authorize answered ${atProvider.status}`);
      const response = await flows.callback(callbackUrl);
      const location = response.headers.get('location');
      return { callbackUrl, response, location: location ? new URL(location) : null };
    },
    async connectOAuth(provider, extra) {
      const started = await flows.startOAuth(provider, extra);
      const payload = started.body.data?.connectIntegration;
      if (!payload?.authorizationUrl) throw new Error(`no authorization URL: ${JSON.stringify(started.body)}`);
      const { location } = await flows.authorize(payload.authorizationUrl);
      if (location?.searchParams.get('outcome') !== 'connected') throw new Error(`authorization failed: ${location}`);
      return payload.integration.id as string;
    },
    async row(globalId) {
      return gatewayOf()
        .db.selectFrom('integrations')
        .selectAll()
        .where('id', '=', decodeTypedID(globalId, 'Integration'))
        .executeTakeFirstOrThrow();
    },
    async secretsOf(globalId) {
      return openBundle(gatewayOf().services, await flows.row(globalId));
    },
    async events(globalId) {
      let query = gatewayOf()
        .db.selectFrom('integration_events')
        .select(['type', 'outcome', 'actor_key_id', 'request_id', 'detail'])
        .orderBy('created_at')
        .orderBy('id');
      if (globalId) query = query.where('integration_id', '=', decodeTypedID(globalId, 'Integration'));
      return query.execute();
    },
  };
  return flows;
}

/**
 * A gateway whose connectors all talk to a fake provider, with the two organizations, its logs kept at
 * trace level, and GraphQL sent without an Accept header, as most automation sends (the answer is
 * application/json): `createTestGateway({ ...CONNECTING_GATEWAY, services: { probeTimeoutMs: 400 } })`.
 */
export const CONNECTING_GATEWAY = {
  provider: true,
  world: true,
  graphqlHeaders: { accept: null },
} as const satisfies TestGatewayOptions;
