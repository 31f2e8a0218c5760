import { parsePageArgs, toConnection } from '../../graphql/pagination.js';
import { findIntegrationsByIds } from '../../modules/integration/integration.repository.js';
import { listResourcePages, listSyncRunPages } from '../../modules/inventory/inventory-pages.repository.js';
import { requestSync } from '../../modules/inventory/sync.service.js';
import { servicesForRequest } from '../../services.js';
import { IDEMPOTENCY_HEADER } from '../idempotency/idempotency-key.js';
import { answer, type IntegrationHandlerDeps, json, notFound, type RestContext, valid } from './integrations.handlers.js';
import { runKeyed } from './rest-idempotency.js';
import { integrationIdOf } from './rest-input.js';
import { presentIntegration, presentResource, presentSyncRun } from './rest.present.js';
import type { HealthCheckQuery, ResourceQuery } from './rest.schemas.js';

/** A page as the REST lists answer it. */
const listAnswer = <T>(data: T[], pageInfo: { hasNextPage: boolean; endCursor: string | null }) =>
  json({ data, next_cursor: pageInfo.hasNextPage ? pageInfo.endCursor : null, has_more: pageInfo.hasNextPage });

/**
 * The handlers of an integration's inventory: its resources and sync runs (the same pages, filters and
 * cursors as GraphQL's `resources` and `syncRuns`), and a sync on demand (`syncIntegration`).
 */
export function inventoryHandlers(deps: IntegrationHandlerDeps) {
  const { db, services, runs } = deps;
  // What the services log while serving a request carries its id.
  const servicesOf = (c: RestContext) => servicesForRequest(services, c.get('state').requestId);
  /** The caller's organization and the integration the path names, or null when it has none such. */
  const target = async (c: RestContext) => {
    const viewer = c.get('state').viewer;
    if (!viewer) throw new Error('a REST route ran without an admitted caller');
    const id = integrationIdOf(valid<{ id: string }>(c, 'param').id);
    const [integration] = await findIntegrationsByIds(db, viewer.organization.id, [id]);
    return integration ? { organizationId: viewer.organization.id, id } : null;
  };

  return {
    resources: (c: RestContext) =>
      answer(c, async () => {
        const found = await target(c);
        if (!found) return notFound(c);
        const query = valid<ResourceQuery>(c, 'query');
        // GraphQL's `resources` scope: a cursor from either API pages the other.
        const page = parsePageArgs({ first: query.limit, after: query.cursor ?? null }, 'resources');
        const filter = { kind: query.kind ?? null, search: query.search ?? null };
        const rows = (await listResourcePages(db, found.organizationId, [found.id], page, filter)).get(found.id) ?? [];
        const { edges, pageInfo } = toConnection(rows, page, 'resources');
        return listAnswer(
          edges.map((edge) => presentResource(edge.node)),
          pageInfo,
        );
      }),

    syncRuns: (c: RestContext) =>
      answer(c, async () => {
        const found = await target(c);
        if (!found) return notFound(c);
        const query = valid<HealthCheckQuery>(c, 'query');
        const page = parsePageArgs({ first: query.limit, after: query.cursor ?? null }, 'syncRuns');
        const rows = (await listSyncRunPages(db, found.organizationId, [found.id], page)).get(found.id) ?? [];
        const { edges, pageInfo } = toConnection(rows, page, 'syncRuns');
        return listAnswer(
          edges.map((edge) => presentSyncRun(edge.node)),
          pageInfo,
        );
      }),

    sync: (c: RestContext) => {
      const { id: globalId } = valid<{ id: string }>(c, 'param');
      return runKeyed(
        runs,
        c.get('state'),
        c.req.header(IDEMPOTENCY_HEADER),
        { name: 'syncIntegration', route: 'POST /integrations/{id}/sync', input: { id: globalId } },
        (actor) =>
          answer(c, async () => {
            const result = await requestSync(servicesOf(c), db, actor, integrationIdOf(globalId));
            return json({ data: presentIntegration(result.integration), sync_run: presentSyncRun(result.syncRun) }, 202);
          }),
      );
    },
  };
}
