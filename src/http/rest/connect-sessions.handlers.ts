import type { Context } from 'hono';
import type { AuthKind } from '../../db/database.js';
import { createConnectSession } from '../../modules/connect-session/connect-session.service.js';
import { servicesForRequest } from '../../services.js';
import { IDEMPOTENCY_HEADER } from '../idempotency/idempotency-key.js';
import type { CreateConnectSessionBody } from './connect-sessions.routes.js';
import type { IntegrationHandlerDeps, RestContext } from './integrations.handlers.js';
import { problemOf } from './problem.js';
import type { RestEnv } from './rest-env.js';
import { runKeyed } from './rest-idempotency.js';
import { integrationIdOf } from './rest-input.js';

/** POST /connect-sessions: the same service as createConnectSession, under the request's Idempotency-Key. */
export function createConnectSessionHandler(deps: IntegrationHandlerDeps) {
  const { db, services, runs } = deps;
  // What the services log while serving a request carries its id.
  const servicesOf = (c: RestContext) => servicesForRequest(services, c.get('state').requestId);
  return (c: Context<RestEnv>): Promise<Response> => {
    const body = c.req.valid('json' as never) as CreateConnectSessionBody;
    const operation = { name: 'createConnectSession', route: 'POST /connect-sessions', input: { body } };
    return runKeyed(runs, c.get('state'), c.req.header(IDEMPOTENCY_HEADER), operation, async (actor) => {
      try {
        const created = await createConnectSession(servicesOf(c), db, actor, {
          endUser: { id: body.end_user.id, displayName: body.end_user.display_name ?? null, email: body.end_user.email ?? null },
          allowedProviders: body.allowed_providers ?? null,
          allowedAuthKinds: body.allowed_auth_kinds?.map((kind) => kind.toUpperCase() as AuthKind) ?? null,
          integrationId: body.integration_id === undefined ? null : integrationIdOf(body.integration_id, '/integration_id'),
          environment: body.environment ?? null,
          returnUrl: body.return_url ?? null,
          allowedOrigins: body.allowed_origins ?? null,
          expiresInSeconds: body.expires_in_seconds ?? null,
        });
        const answer = { token: created.token, connect_url: created.connectUrl, expires_at: created.expiresAt.toISOString() };
        return new Response(JSON.stringify(answer), { status: 201, headers: { 'content-type': 'application/json' } });
      } catch (error) {
        const refusal = problemOf(error, c.get('state').requestId);
        if (refusal) return refusal;
        throw error;
      }
    });
  };
}
