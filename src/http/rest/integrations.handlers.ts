import type { Context } from 'hono';
import type { Kysely } from 'kysely';
import type { AuthKind, Database } from '../../db/database.js';
import { ServiceError } from '../../errors.js';
import { parsePageArgs, toConnection } from '../../graphql/pagination.js';
import { listHealthCheckPages } from '../../modules/health-check/health-check.repository.js';
import { connectIntegration } from '../../modules/integration/connect.service.js';
import { findIntegrationsByIds } from '../../modules/integration/integration.repository.js';
import { listIntegrations } from '../../modules/integration/integration.service.js';
import { refreshIntegration } from '../../modules/integration/refresh.service.js';
import { revokeIntegration } from '../../modules/integration/revoke.service.js';
import { testIntegration } from '../../modules/integration/test.service.js';
import { type GatewayServices, servicesForRequest } from '../../services.js';
import { IDEMPOTENCY_HEADER } from '../idempotency/idempotency-key.js';
import type { IdempotentRuns } from '../idempotency/idempotent-run.js';
import { problem, problemOf } from './problem.js';
import type { RestEnv } from './rest-env.js';
import { runKeyed } from './rest-idempotency.js';
import { integrationIdOf, listTerms } from './rest-input.js';
import { presentHealthCheck, presentIntegration } from './rest.present.js';
import type { ConnectBody, HealthCheckQuery, ListQuery, PatchBody } from './rest.schemas.js';

/** What the integration handlers call: the same services, database and Idempotency-Key runs as GraphQL. */
export interface IntegrationHandlerDeps {
  db: Kysely<Database>;
  services: GatewayServices;
  runs: IdempotentRuns;
}

export type RestContext = Context<RestEnv>;

export const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

/** Validated request parts (the route's schemas ran before the handler). */
export const valid = <T>(c: RestContext, target: 'query' | 'param' | 'json'): T => c.req.valid(target as never) as T;

/** Runs a service call; its expected failures (and the shared validation's) become problems. */
export async function answer(c: RestContext, run: () => Promise<Response>): Promise<Response> {
  try {
    return await run();
  } catch (error) {
    const refusal = problemOf(error, c.get('state').requestId);
    if (refusal) return refusal;
    throw error;
  }
}

export const notFound = (c: RestContext) =>
  problem(404, 'NOT_FOUND', 'No such integration.', {
    requestId: c.get('state').requestId,
    errors: [{ pointer: '/path/id', detail: 'No such integration.' }],
  });

/** The handlers of integrations.routes.ts, in the same order. */
export function integrationHandlers(deps: IntegrationHandlerDeps) {
  const { db, services, runs } = deps;
  // What the services log while serving a request carries its id.
  const servicesOf = (c: RestContext) => servicesForRequest(services, c.get('state').requestId);
  const viewerOf = (c: RestContext) => {
    const viewer = c.get('state').viewer;
    if (!viewer) throw new Error('a REST route ran without an admitted caller');
    return viewer;
  };
  const keyed = (c: RestContext, name: string, route: string, input: Record<string, unknown>, execute: Parameters<typeof runKeyed>[4]) =>
    runKeyed(runs, c.get('state'), c.req.header(IDEMPOTENCY_HEADER), { name, route, input }, (actor) => answer(c, () => execute(actor)));

  return {
    list: (c: RestContext) =>
      answer(c, async () => {
        const query = valid<ListQuery>(c, 'query');
        const terms = listTerms(query);
        const page = parsePageArgs({ first: query.limit, after: query.cursor ?? null }, terms.scope);
        const list = await listIntegrations(db, viewerOf(c).organization.id, { ...terms, page, columns: 'all' });
        const { hasNextPage, endCursor } = list.pageInfo;
        return json({
          data: list.edges.map((edge) => presentIntegration(edge.node)),
          next_cursor: hasNextPage ? endCursor : null,
          has_more: hasNextPage,
          ...(query.include === 'total_count' ? { total_count: await list.totalCount() } : {}),
        });
      }),

    get: (c: RestContext) =>
      answer(c, async () => {
        const id = integrationIdOf(valid<{ id: string }>(c, 'param').id);
        const [integration] = await findIntegrationsByIds(db, viewerOf(c).organization.id, [id]);
        return integration ? json(presentIntegration(integration)) : notFound(c);
      }),

    healthChecks: (c: RestContext) =>
      answer(c, async () => {
        const id = integrationIdOf(valid<{ id: string }>(c, 'param').id);
        const query = valid<HealthCheckQuery>(c, 'query');
        const organizationId = viewerOf(c).organization.id;
        const [integration] = await findIntegrationsByIds(db, organizationId, [id]);
        if (!integration) return notFound(c);
        // GraphQL's `healthChecks` scope: a cursor from either API pages the other.
        const page = parsePageArgs({ first: query.limit, after: query.cursor ?? null }, 'healthChecks');
        const rows = (await listHealthCheckPages(db, organizationId, [id], page)).get(id) ?? [];
        const { edges, pageInfo } = toConnection(rows, page, 'healthChecks');
        return json({
          data: edges.map((edge) => presentHealthCheck(edge.node)),
          next_cursor: pageInfo.hasNextPage ? pageInfo.endCursor : null,
          has_more: pageInfo.hasNextPage,
        });
      }),

    connect: (c: RestContext) => {
      const body = valid<ConnectBody>(c, 'json');
      return keyed(c, 'connectIntegration', 'POST /integrations', { body }, async (actor) => {
        const result = await connectIntegration(servicesOf(c), db, actor, {
          provider: body.provider,
          displayName: body.display_name,
          environment: body.environment ?? null,
          authKind: body.auth_kind.toUpperCase() as AuthKind,
          config: body.config ?? null,
          scopes: body.scopes ?? null,
          credentials: body.credentials ?? null,
          returnUrl: body.return_url ?? null,
          integrationId: body.integration_id === undefined ? null : integrationIdOf(body.integration_id, '/integration_id'),
          healthCheckIntervalSeconds: body.health_check_interval_seconds,
          healthChecksPaused: body.health_checks_paused ?? null,
        });
        const data = presentIntegration(result.integration);
        const answered = { data, authorization_url: result.authorizationUrl };
        return result.authorizationUrl ? json(answered, 202) : json(answered, 201, { location: `/v1/integrations/${data.id}` });
      });
    },

    patch: (c: RestContext) => {
      const { id: globalId } = valid<{ id: string }>(c, 'param');
      const body = valid<PatchBody>(c, 'json');
      return keyed(c, 'refreshIntegration', 'PATCH /integrations/{id}', { id: globalId, body }, async (actor) => {
        const { webhook } = body;
        const result = await refreshIntegration(
          servicesOf(c),
          db,
          actor,
          {
            id: integrationIdOf(globalId),
            refreshTokens: body.refresh_tokens ?? null,
            credentials: body.credentials ?? null,
            webhook: webhook
              ? { url: webhook.url, events: webhook.events, enabled: webhook.enabled, rotateSecret: webhook.rotate_secret }
              : null,
            healthCheckIntervalSeconds: body.health_check_interval_seconds,
            healthChecksPaused: body.health_checks_paused ?? null,
          },
          { production: services.production },
        );
        return json({ data: presentIntegration(result.integration), webhook_signing_secret: result.webhookSigningSecret });
      });
    },

    revoke: (c: RestContext) => {
      const { id: globalId } = valid<{ id: string }>(c, 'param');
      return keyed(c, 'revokeIntegration', 'DELETE /integrations/{id}', { id: globalId }, async (actor) => {
        const id = integrationIdOf(globalId);
        try {
          const result = await revokeIntegration(servicesOf(c), db, actor, id);
          const { revokedAtProvider, providerMessage } = result;
          return json({
            data: presentIntegration(result.integration),
            revoked_at_provider: revokedAtProvider,
            provider_message: providerMessage,
          });
        } catch (error) {
          // DELETE is idempotent: revoking a revoked integration answers its record, as the first time did.
          if (!(error instanceof ServiceError && error.code === 'ALREADY_REVOKED')) throw error;
          const [integration] = await findIntegrationsByIds(db, actor.viewer.organization.id, [id]);
          if (!integration) throw error;
          return json({ data: presentIntegration(integration), revoked_at_provider: false, provider_message: null });
        }
      });
    },

    test: (c: RestContext) => {
      const { id: globalId } = valid<{ id: string }>(c, 'param');
      return keyed(c, 'testIntegration', 'POST /integrations/{id}/test', { id: globalId }, async (actor) => {
        const result = await testIntegration(servicesOf(c), db, actor, integrationIdOf(globalId));
        return json({ data: presentIntegration(result.integration), health_check: presentHealthCheck(result.healthCheck) });
      });
    },
  };
}
