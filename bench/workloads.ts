import type { SeededOrganization } from './seed.js';

/** One HTTP request, ready for autocannon and for `fetch`. */
export interface Call {
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: string;
  /** A header that gets a fresh UUID on every request (W5's Idempotency-Key). */
  uniqueHeader?: string;
}

/** How one server is asked a workload's question, and how its answer becomes the common shape. */
export interface Side {
  calls: Call[];
  /** The answer in the common shape (camelCase, raw UUIDs, decoded cursors), or throws when it is not an answer. */
  normalize(status: number, body: string): unknown;
}

/** A read workload: the same questions to the gateway and the baseline, index for index. */
export interface ReadWorkload {
  id: 'W1' | 'W1R' | 'W1S' | 'W2' | 'W3';
  title: string;
  gateway: Side;
  baseline: Side;
  /** The same questions to PostGraphile, the second reference (W1 and W3; see bench/postgraphile.ts). */
  postgraphile?: Side;
}

const HEALTH_SUMMARY = 'lastHealthCheck { checkedAt ok latencyMs httpStatus message }';
const LAST_SYNC = 'lastSync { status startedAt finishedAt error }';
const LIST_NODE = `id displayName status health environment provider { key name } ${HEALTH_SUMMARY} ${LAST_SYNC}`;
const CHECK_NODE = 'id checkedAt ok httpStatus latencyMs errorCode message';

export const W1_QUERY = `query W1($first: Int!) {
  integrations(first: $first) {
    edges { cursor node { ${LIST_NODE} } }
    pageInfo { hasNextPage endCursor }
  }
}`;

export const W2_QUERY = `query W2($first: Int!, $checks: Int!) {
  integrations(first: $first) {
    edges { cursor node { ${LIST_NODE}
      healthChecks(first: $checks) { edges { node { ${CHECK_NODE} } } pageInfo { hasNextPage } }
    } }
    pageInfo { hasNextPage endCursor }
  }
}`;

export const W3_QUERY = `query W3($id: ID!) {
  node(id: $id) {
    id
    ... on Integration { ${LIST_NODE.replace(/^id /, '')} scopes grantedScopes createdAt updatedAt }
  }
}`;

/** A parsed JSON object whose fields the normalizers read by name. */
export type Json = Record<string, any>;

export function graphqlCall(key: string, query: string, variables: Record<string, unknown>): Call {
  return {
    method: 'POST',
    path: '/graphql',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query, variables }),
  };
}

/** A GET with the caller's API key, as the baseline and the REST API are asked. */
export function getCall(key: string, path: string): Call {
  return { method: 'GET', path, headers: { authorization: `Bearer ${key}` } };
}

export function globalId(typename: string, id: string): string {
  return Buffer.from(`${typename}:${id}`).toString('base64url');
}

function rawId(id: string): string {
  const text = Buffer.from(id, 'base64url').toString('utf8');
  return text.slice(text.indexOf(':') + 1);
}

/** A gateway cursor is base64url JSON `[scope, key, id]`; the baseline sends key and id as they are. */
export function cursorPosition(cursor: string | null): { key: string; id: string } | null {
  if (cursor === null) return null;
  const [, key, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [string, string, string];
  return { key, id };
}

export function graphqlData(status: number, body: string): Json {
  if (status !== 200) throw new Error(`HTTP ${status}: ${body.slice(0, 300)}`);
  const parsed = JSON.parse(body) as { data?: Json; errors?: unknown[] };
  if (parsed.errors) throw new Error(`GraphQL errors: ${JSON.stringify(parsed.errors).slice(0, 300)}`);
  return parsed.data as Json;
}

/** The parsed body of a 200 answer; anything else throws with the status and the body's start. */
export function restData(status: number, body: string): Json {
  if (status !== 200) throw new Error(`HTTP ${status}: ${body.slice(0, 300)}`);
  return JSON.parse(body) as Json;
}

// --- The common shape -------------------------------------------------------------------------------

function fromGatewayItem(node: Json): Json {
  return {
    id: rawId(node.id),
    displayName: node.displayName,
    status: node.status,
    health: node.health,
    environment: node.environment,
    provider: { key: node.provider.key, name: node.provider.name },
    lastHealthCheck: node.lastHealthCheck,
    lastSync: node.lastSync,
  };
}

function fromBaselineItem(row: Json): Json {
  return {
    id: row.id,
    displayName: row.display_name,
    status: row.status,
    health: row.health,
    environment: row.environment,
    provider: { key: row.provider, name: row.provider_name },
    lastHealthCheck:
      row.last_check_at === null
        ? null
        : {
            checkedAt: row.last_check_at,
            ok: row.last_check_ok,
            latencyMs: row.last_check_latency_ms,
            httpStatus: row.last_check_http_status,
            message: row.last_check_message,
          },
    lastSync:
      row.last_sync_status === null
        ? null
        : {
            status: row.last_sync_status,
            startedAt: row.last_sync_started_at,
            finishedAt: row.last_sync_finished_at,
            error: row.last_sync_error,
          },
  };
}

function fromGatewayCheck(node: Json): Json {
  return { ...node, id: rawId(node.id) };
}

function fromBaselineCheck(row: Json): Json {
  return {
    id: row.id,
    checkedAt: row.checked_at,
    ok: row.ok,
    httpStatus: row.http_status,
    latencyMs: row.latency_ms,
    errorCode: row.error_code,
    message: row.message,
  };
}

function gatewayList(withChecks: boolean) {
  return (status: number, body: string) => {
    const connection = graphqlData(status, body).integrations as Json;
    const items = (connection.edges as Json[]).map((edge) => ({
      cursor: cursorPosition(edge.cursor),
      ...fromGatewayItem(edge.node),
      ...(withChecks
        ? {
            healthChecks: {
              items: (edge.node.healthChecks.edges as Json[]).map((check) => fromGatewayCheck(check.node)),
              hasNextPage: edge.node.healthChecks.pageInfo.hasNextPage,
            },
          }
        : {}),
    }));
    return { items, hasNextPage: connection.pageInfo.hasNextPage, endCursor: cursorPosition(connection.pageInfo.endCursor) };
  };
}

function baselineList(withChecks: boolean) {
  return (status: number, body: string) => {
    const data = restData(status, body);
    const items = (data.rows as Json[]).map((row) => ({
      cursor: { key: row.sort_key, id: row.id },
      ...fromBaselineItem(row),
      ...(withChecks
        ? { healthChecks: { items: (row.health_checks as Json[]).map(fromBaselineCheck), hasNextPage: row.health_checks_has_next } }
        : {}),
    }));
    return { items, hasNextPage: data.hasNextPage, endCursor: items.at(-1)?.cursor ?? null };
  };
}

// --- Workloads --------------------------------------------------------------------------------------

export interface WorkloadOptions {
  /** Page size of W1 and W2. */
  first: number;
  /** History page size of W2. */
  checks: number;
  /** Integrations per organization asked for by W3. */
  nodesPerOrganization: number;
}

/** The integrations W3 asks for, in order: spread evenly over each organization's list. */
export function w3Targets(orgs: readonly SeededOrganization[], nodesPerOrganization: number) {
  return orgs.flatMap((org) => {
    const step = Math.max(1, Math.floor(org.integrationIds.length / nodesPerOrganization));
    return org.integrationIds
      .filter((_, index) => index % step === 0)
      .slice(0, nodesPerOrganization)
      .map((id) => ({ org, id }));
  });
}

export function buildReadWorkloads(orgs: readonly SeededOrganization[], options: WorkloadOptions): ReadWorkload[] {
  const { first, checks } = options;
  const nodes = w3Targets(orgs, options.nodesPerOrganization);
  return [
    {
      id: 'W1',
      title: `integrations(first: ${first}) with health summary, provider and last sync`,
      gateway: { calls: orgs.map((org) => graphqlCall(org.viewerKey, W1_QUERY, { first })), normalize: gatewayList(false) },
      baseline: { calls: orgs.map((org) => getCall(org.viewerKey, `/w1?first=${first}`)), normalize: baselineList(false) },
    },
    {
      id: 'W2',
      title: `W1 plus healthChecks(first: ${checks}) on each`,
      gateway: { calls: orgs.map((org) => graphqlCall(org.viewerKey, W2_QUERY, { first, checks })), normalize: gatewayList(true) },
      baseline: { calls: orgs.map((org) => getCall(org.viewerKey, `/w2?first=${first}&checks=${checks}`)), normalize: baselineList(true) },
    },
    {
      id: 'W3',
      title: 'node(id) of one integration',
      gateway: {
        calls: nodes.map(({ org, id }) => graphqlCall(org.viewerKey, W3_QUERY, { id: globalId('Integration', id) })),
        normalize: (status, body) => {
          const node = graphqlData(status, body).node as Json | null;
          if (!node) return null;
          return {
            ...fromGatewayItem(node),
            scopes: node.scopes,
            grantedScopes: node.grantedScopes,
            createdAt: node.createdAt,
            updatedAt: node.updatedAt,
          };
        },
      },
      baseline: {
        calls: nodes.map(({ org, id }) => getCall(org.viewerKey, `/w3?id=${id}`)),
        normalize: (status, body) => {
          const row = restData(status, body).row as Json | null;
          if (!row) return null;
          return {
            ...fromBaselineItem(row),
            scopes: row.requested_scopes,
            grantedScopes: row.granted_scopes,
            createdAt: row.created_at,
            updatedAt: row.updated_at,
          };
        },
      },
    },
  ];
}

/** The path to the first difference between two JSON values, or null when they are equal. */
export function firstDifference(a: unknown, b: unknown, path = '$'): string | null {
  if (a === b) return null;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null)
    return `${path}: ${JSON.stringify(a)} != ${JSON.stringify(b)}`;
  if (Array.isArray(a) !== Array.isArray(b)) return `${path}: array != object`;
  if (Array.isArray(a) && Array.isArray(b) && a.length !== b.length) return `${path}.length: ${a.length} != ${b.length}`;
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const key of keys) {
    const difference = firstDifference((a as Json)[key], (b as Json)[key], `${path}.${key}`);
    if (difference) return difference;
  }
  return null;
}
