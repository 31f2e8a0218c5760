import type { Hono } from 'hono';
import type { Kysely } from 'kysely';
import type { Database } from '../../db/database.js';
import type { Logger } from '../../logger.js';
import type { GatewayServices } from '../../services.js';
import type { AdmissionStore } from '../admission/admission-store.js';
import type { UserAdmission } from '../admission/oidc/user-admission.js';
import { IdempotentRuns } from '../idempotency/idempotent-run.js';
import type { RateLimiter } from '../limits/rate-limiter.js';
import { DOCS_PATH, DOCS_SCRIPT_PATH, docsPage, docsScript } from './docs.page.js';
import { openApiDocument } from './openapi-document.js';
import { problem } from './problem.js';
import type { RestEnv } from './rest-env.js';
import { createRestApi } from './rest.app.js';

/** What the REST API shares with GraphQL: the database, services, rate limiter and Idempotency-Key terms. */
export interface RestMountDeps {
  db: Kysely<Database>;
  services: GatewayServices;
  logger: Logger;
  /** Where keys are verified: the store GraphQL uses. */
  store: AdmissionStore;
  rateLimiter: RateLimiter | null;
  idempotency: { leaseSeconds: number; ttlHours: number };
  maxBodyBytes: number;
  /** Sign-in by the organization's identity provider, shared with GraphQL (one key set cache); null: API keys only. */
  users: UserAdmission | null;
}

const methodNotAllowed = (allow: string) => new Response(null, { status: 405, headers: { allow } });

/** The methods each REST path serves, for the 405 of a path served with another method. */
const PATH_METHODS: [RegExp, string][] = [
  [/^(\/v1)?\/integrations$/, 'GET, POST'],
  [/^(\/v1)?\/integrations\/[^/]+$/, 'GET, PATCH, DELETE'],
  [/^(\/v1)?\/integrations\/[^/]+\/test$/, 'POST'],
  [/^(\/v1)?\/integrations\/[^/]+\/health-checks$/, 'GET'],
  [/^(\/v1)?\/connect-sessions$/, 'POST'],
];

function unmatched(method: string, path: string, requestId: string): Response {
  const allow = PATH_METHODS.find(([pattern]) => pattern.test(path))?.[1];
  if (allow) return problem(405, 'METHOD_NOT_ALLOWED', `${path} serves ${allow}, not ${method}.`, { requestId, headers: { allow } });
  return problem(404, 'NOT_FOUND', 'No REST operation at this path; see /openapi.json.', { requestId });
}

/**
 * Mounts the REST API on the router: its operations under /v1 and, as the seed's documentation shows
 * them, unprefixed; its OpenAPI document at /openapi.json and the interactive reference at /docs.
 */
export function mountRest<E extends RestEnv>(router: Hono<E>, deps: RestMountDeps): void {
  const admission = {
    store: deps.store,
    rateLimiter: deps.rateLimiter,
    logger: deps.logger,
    users: deps.users,
  };
  const runs = new IdempotentRuns(deps.db, deps.logger, deps.idempotency);
  const api = createRestApi({ db: deps.db, services: deps.services, runs, admission, maxBodyBytes: deps.maxBodyBytes });
  router.route('/v1', api as unknown as Hono<E>);
  router.route('/', api as unknown as Hono<E>);
  // Reached only when no operation answered: a REST client gets a problem, not the router's bare 404.
  for (const path of ['/v1/*', '/integrations', '/integrations/*', '/connect-sessions'])
    router.all(path, (c) => unmatched(c.req.method, c.req.path, c.get('state').requestId));
  router.all('/openapi.json', (c) => (c.req.method === 'GET' ? Response.json(openApiDocument()) : methodNotAllowed('GET')));
  router.all(DOCS_PATH, (c) => (c.req.method === 'GET' ? docsPage() : methodNotAllowed('GET')));
  router.all(DOCS_SCRIPT_PATH, (c) => (c.req.method === 'GET' ? docsScript(c.req.raw) : methodNotAllowed('GET')));
}
