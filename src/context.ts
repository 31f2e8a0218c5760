import DataLoader from 'dataloader';
import type { Kysely } from 'kysely';
import type { Database } from './db/database.js';
import type { GatewayServices } from './services.js';
import { type Connection, type CursorPosition, type PageRequest, toConnection } from './graphql/pagination.js';
import { type ApiKey, findApiKeysByIds } from './modules/api-key/api-key.repository.js';
import type { Viewer } from './modules/api-key/viewer.js';
import type { EventStreams } from './modules/events/event-streams.js';
import type { RequestState } from './http/admission/request-state.js';
import {
  findHealthChecksByIds,
  type HealthCheck,
  type HealthCheckColumn,
  listHealthCheckPages,
} from './modules/health-check/health-check.repository.js';
import type { Integration } from './modules/integration/integration.model.js';
import { findIntegrationsByIds } from './modules/integration/integration.repository.js';
import { columnSetName, type ListColumn } from './modules/integration/integration-list.repository.js';
import { listResourcePages, listSyncRunPages, type ResourceFilter } from './modules/inventory/inventory-pages.repository.js';
import type { Resource, SyncRun } from './modules/inventory/inventory.model.js';
import { attemptsOfDeliveries, type WebhookDeliveryAttempt } from './modules/webhook/webhook-delivery-log.repository.js';
import { findEndpointsByIds, type WebhookEndpoint } from './modules/webhook/webhook-endpoint.repository.js';

/** What every resolver receives. Exists only for authenticated requests. */
export interface GatewayContext {
  viewer: Viewer;
  db: Kysely<Database>;
  loaders: Loaders;
  requestId: string;
  services: GatewayServices;
  /** Everything the gateway knows about the request (src/http/admission/request-state.ts). */
  state: RequestState;
  /** This process's live event streams, for subscriptions. */
  events: EventStreams;
  /**
   * A subscription's stream: the `Last-Event-ID` the request resumes from, and the position of the last
   * event sent, which the event stream writes as each message's `id`.
   */
  eventStream: { lastEventId: string | null; position: number | null };
}

export interface HealthCheckPageKey {
  integrationId: string;
  page: PageRequest;
  scope: string;
}

/** A page of history: with the columns its selected fields read, or all of them. */
export interface HealthCheckPagesKey extends HealthCheckPageKey {
  columns: readonly HealthCheckColumn[] | 'all';
}

export interface ResourcePageKey extends HealthCheckPageKey {
  filter: ResourceFilter;
}

export type Loaders = ReturnType<typeof createLoaders>;

type PageFetch<K, T> = (ids: string[], key: K) => Promise<Map<string, { item: T; position: CursorPosition }[]>>;

/** Keys grouped by `nameOf`, in the order each name first appears. */
function groupedBy<K>(keys: readonly K[], nameOf: (key: K) => string): Map<string, K[]> {
  const groups = new Map<string, K[]>();
  for (const key of keys) {
    const name = nameOf(key);
    const group = groups.get(name);
    if (group) group.push(key);
    else groups.set(name, [key]);
  }
  return groups;
}

/**
 * A loader of one page per integration: keys asking for the same page shape (and filter) share one statement.
 * A key's shape is worked out once (its cache key and its batch both need it).
 */
function pageLoader<K extends HealthCheckPageKey, T>(fetch: PageFetch<K, T>) {
  const shapes = new WeakMap<K, string>();
  const shapeOf = (key: K) => {
    let shape = shapes.get(key);
    if (shape === undefined) {
      const { integrationId: _, ...rest } = key;
      shape = JSON.stringify(rest);
      shapes.set(key, shape);
    }
    return shape;
  };
  return new DataLoader<K, Connection<T>, string>(
    async (keys) => {
      const groups = groupedBy(keys, shapeOf);
      const results = new Map<K, Connection<T>>();
      for (const group of groups.values()) {
        const [first] = group as [K];
        const rows = await fetch([...new Set(group.map((key) => key.integrationId))], first);
        for (const key of group) results.set(key, toConnection(rows.get(key.integrationId) ?? [], key.page, key.scope));
      }
      return keys.map((key) => results.get(key) as Connection<T>);
    },
    // A UUID holds no space: the integration and the shape cannot run into each other.
    { cacheKeyFn: (key) => `${key.integrationId} ${shapeOf(key)}` },
  );
}

/** An integration to load with the columns its selected fields read, or all of them. */
export interface IntegrationColumnsKey {
  id: string;
  columns: readonly ListColumn[] | 'all';
}

/** A loader of integrations with some of their columns: keys asking for the same columns share one statement. */
function integrationColumnsLoader(db: Kysely<Database>, organizationId: string) {
  const nameOf = (key: IntegrationColumnsKey) => columnSetName(key.columns === 'all' ? null : key.columns);
  return new DataLoader<IntegrationColumnsKey, Integration | null, string>(
    async (keys) => {
      const groups = groupedBy(keys, nameOf);
      const found = new Map<string, Integration>();
      for (const [name, group] of groups) {
        const { columns } = group[0] as IntegrationColumnsKey;
        const ids = [...new Set(group.map((key) => key.id))];
        for (const item of await findIntegrationsByIds(db, organizationId, ids, columns === 'all' ? null : columns)) {
          found.set(`${item.id} ${name}`, item);
        }
      }
      return keys.map((key) => found.get(`${key.id} ${nameOf(key)}`) ?? null);
    },
    // A UUID holds no space: the id and the column set cannot run into each other.
    { cacheKeyFn: (key) => `${key.id} ${nameOf(key)}` },
  );
}

/** Returns results in key order, `null` where a key has no row. */
function inKeyOrder<T extends { id: string }>(keys: readonly string[], items: readonly T[]): (T | null)[] {
  const byId = new Map(items.map((item) => [item.id, item]));
  return keys.map((key) => byId.get(key) ?? null);
}

/**
 * Per-request loaders. Each one filters by the viewer's organization inside its own SQL, so no path
 * through the graph can reach another organization's rows.
 */
export function createLoaders(db: Kysely<Database>, organizationId: string) {
  return {
    integration: new DataLoader<string, Integration | null>(async (ids) =>
      inKeyOrder(ids, await findIntegrationsByIds(db, organizationId, ids)),
    ),
    /** Integrations with the columns a `node` or `nodes` field's selection reads. */
    integrationColumns: integrationColumnsLoader(db, organizationId),
    healthCheck: new DataLoader<string, HealthCheck | null>(async (ids) =>
      inKeyOrder(ids, await findHealthChecksByIds(db, organizationId, ids)),
    ),
    apiKey: new DataLoader<string, ApiKey | null>(async (ids) => inKeyOrder(ids, await findApiKeysByIds(db, organizationId, ids))),
    /** A page of history per integration; keys asking for the same page shape share one statement. */
    healthCheckPage: pageLoader<HealthCheckPagesKey, HealthCheck>((ids, key) =>
      listHealthCheckPages(db, organizationId, ids, key.page, key.columns === 'all' ? null : key.columns),
    ),
    /** A page of inventory per integration. */
    resourcePage: pageLoader<ResourcePageKey, Resource>((ids, key) => listResourcePages(db, organizationId, ids, key.page, key.filter)),
    /** A page of sync runs per integration. */
    syncRunPage: pageLoader<HealthCheckPageKey, SyncRun>((ids, key) => listSyncRunPages(db, organizationId, ids, key.page)),
    webhookEndpoint: new DataLoader<string, WebhookEndpoint | null>(async (ids) =>
      inKeyOrder(ids, await findEndpointsByIds(db, organizationId, ids)),
    ),
    /** Every attempt of a webhook delivery, in order. */
    webhookAttempts: new DataLoader<string, WebhookDeliveryAttempt[]>(async (ids) => {
      const found = await attemptsOfDeliveries(db, organizationId, ids);
      return ids.map((id) => found.get(id) ?? []);
    }),
  };
}
