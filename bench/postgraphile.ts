/**
 * PostGraphile v5 as a second reference beside the baseline, for W1 and W3: what the bench-only schema it
 * is pointed at contains, the questions it is asked, and how its answers become the common shape.
 */
import pg from 'pg';
import { listConnectors } from '../src/connectors/registry.js';
import type { SeededOrganization } from './seed.js';
import { type Call, graphqlData, type Json, type ReadWorkload, type Side, w3Targets } from './workloads.js';

/** The schema PostGraphile exposes, created in the benchmark's database only. */
export const POSTGRAPHILE_SCHEMA = 'postgraphile_bench';

/**
 * The gateway's integrations as PostGraphile sees them: a view of the columns W1 and W3 read, plus
 * `revoked` (lists leave revoked integrations out, as the gateway's do; a condition can only test
 * equality); its key declared as (organization_id, id), so that PostGraphile's single-row lookup is
 * confined to an organization as the gateway's node(id) is; and the providers' display names, which the
 * gateway and the baseline take from the connector registry, as a table the view refers to.
 */
export async function createPostgraphileSchema(databaseUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const providers = listConnectors().map((connector) => [connector.key, connector.name]);
    await client.query(`
      drop schema if exists ${POSTGRAPHILE_SCHEMA} cascade;
      create schema ${POSTGRAPHILE_SCHEMA};
      create table ${POSTGRAPHILE_SCHEMA}.providers (key text primary key, name text not null);
      create view ${POSTGRAPHILE_SCHEMA}.integrations as
        select id, organization_id, status = 'REVOKED' as revoked, display_name, status, health, environment, provider,
          last_check_at, last_check_ok, last_check_latency_ms, last_check_http_status, last_check_message,
          last_sync_status, last_sync_started_at, last_sync_finished_at, last_sync_error,
          requested_scopes, granted_scopes, created_at, updated_at
        from public.integrations;
      comment on view ${POSTGRAPHILE_SCHEMA}.integrations is
        E'@primaryKey organization_id,id\\n@foreignKey (provider) references ${POSTGRAPHILE_SCHEMA}.providers (key)';`);
    await client.query(
      `insert into ${POSTGRAPHILE_SCHEMA}.providers (key, name) select * from json_to_recordset($1) as p(key text, name text)`,
      [JSON.stringify(providers.map(([key, name]) => ({ key, name })))],
    );
  } finally {
    await client.end();
  }
}

// --- The questions -----------------------------------------------------------------------------------
// PostGraphile authenticates nobody here: the organization is a condition of the question (the gateway
// finds it from the API key, the baseline in the same statement). Its names are its own: the node ID is
// `id` and the column `rowId`, the provider is the row the view's foreign key points at.

const LIST_FIELDS = `rowId displayName status health environment providerByProvider { key name }
  lastCheckAt lastCheckOk lastCheckLatencyMs lastCheckHttpStatus lastCheckMessage
  lastSyncStatus lastSyncStartedAt lastSyncFinishedAt lastSyncError`;

export const POSTGRAPHILE_W1_QUERY = `query W1($organizationId: UUID!, $first: Int!) {
  allIntegrations(first: $first, orderBy: [CREATED_AT_ASC, ROW_ID_ASC], condition: { organizationId: $organizationId, revoked: false }) {
    edges { cursor node { ${LIST_FIELDS} } }
    pageInfo { hasNextPage endCursor }
  }
}`;

export const POSTGRAPHILE_W3_QUERY = `query W3($organizationId: UUID!, $id: UUID!) {
  integrationByOrganizationIdAndRowId(organizationId: $organizationId, rowId: $id) {
    ${LIST_FIELDS} requestedScopes grantedScopes createdAt updatedAt
  }
}`;

function call(query: string, variables: Record<string, unknown>): Call {
  return {
    method: 'POST',
    path: '/graphql',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
    body: JSON.stringify({ query, variables }),
  };
}

// --- The common shape --------------------------------------------------------------------------------

/** A Datetime (ISO 8601 with microseconds and an offset) as the others send it: JavaScript's ISO form. */
const instant = (value: string | null): string | null => (value === null ? null : new Date(value).toISOString());

/**
 * A PostGraphile cursor is base64 JSON `[digest, created_at, rowId, ...primary key]` for this order;
 * the common shape's key is `created_at` in PostgreSQL's text form (what the gateway's cursors and the
 * baseline carry), to which PostGraphile's ISO 8601 text (same instant, same time zone) is rewritten.
 */
export function postgraphileCursor(cursor: string | null): { key: string; id: string } | null {
  if (cursor === null) return null;
  const [, at, id] = JSON.parse(Buffer.from(cursor, 'base64').toString('utf8')) as [string, string, string];
  const parts = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(?:\.(\d+))?([+-]\d\d):(\d\d)$/.exec(at);
  if (!parts) throw new Error(`PostGraphile cursor ${cursor}: ${JSON.stringify(at)} is not an ISO 8601 timestamp`);
  const [, date, time, fraction = '', hours, minutes] = parts;
  const digits = fraction.replace(/0+$/, '');
  return { key: `${date} ${time}${digits ? `.${digits}` : ''}${hours}${minutes === '00' ? '' : `:${minutes}`}`, id };
}

function fromPostgraphileItem(node: Json): Json {
  return {
    id: node.rowId,
    displayName: node.displayName,
    status: node.status,
    health: node.health,
    environment: node.environment,
    provider: { key: node.providerByProvider.key, name: node.providerByProvider.name },
    lastHealthCheck:
      node.lastCheckAt === null
        ? null
        : {
            checkedAt: instant(node.lastCheckAt),
            ok: node.lastCheckOk,
            latencyMs: node.lastCheckLatencyMs,
            httpStatus: node.lastCheckHttpStatus,
            message: node.lastCheckMessage,
          },
    lastSync:
      node.lastSyncStatus === null
        ? null
        : {
            status: node.lastSyncStatus,
            startedAt: instant(node.lastSyncStartedAt),
            finishedAt: instant(node.lastSyncFinishedAt),
            error: node.lastSyncError,
          },
  };
}

function postgraphileList(status: number, body: string): Json {
  const connection = graphqlData(status, body).allIntegrations as Json;
  const items = (connection.edges as Json[]).map((edge) => ({
    cursor: postgraphileCursor(edge.cursor),
    ...fromPostgraphileItem(edge.node),
  }));
  return { items, hasNextPage: connection.pageInfo.hasNextPage, endCursor: postgraphileCursor(connection.pageInfo.endCursor) };
}

function postgraphileNode(status: number, body: string): Json | null {
  const node = graphqlData(status, body).integrationByOrganizationIdAndRowId as Json | null;
  if (!node) return null;
  return {
    ...fromPostgraphileItem(node),
    scopes: node.requestedScopes,
    grantedScopes: node.grantedScopes,
    createdAt: instant(node.createdAt),
    updatedAt: instant(node.updatedAt),
  };
}

/**
 * W1 and W3 with PostGraphile's side added: the same organizations and integrations, index for index,
 * as the gateway's and the baseline's questions (`first` is W1's page size).
 */
export function withPostgraphile(
  workloads: readonly ReadWorkload[],
  orgs: readonly SeededOrganization[],
  options: { first: number; nodesPerOrganization: number },
): ReadWorkload[] {
  return workloads.map((workload) => {
    let side: Side | null = null;
    if (workload.id === 'W1') {
      side = {
        calls: orgs.map((org) => call(POSTGRAPHILE_W1_QUERY, { organizationId: org.id, first: options.first })),
        normalize: postgraphileList,
      };
    } else if (workload.id === 'W3') {
      side = {
        calls: w3Targets(orgs, options.nodesPerOrganization).map(({ org, id }) =>
          call(POSTGRAPHILE_W3_QUERY, { organizationId: org.id, id }),
        ),
        normalize: postgraphileNode,
      };
    }
    return side ? { ...workload, postgraphile: side } : workload;
  });
}
