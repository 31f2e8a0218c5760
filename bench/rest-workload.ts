import type { SeededOrganization } from './seed.js';
import { cursorPosition, getCall, type Json, type ReadWorkload, restData, type Side } from './workloads.js';

// W1R: the REST list, GET /v1/integrations?limit=N, asked by the same readers with the same keys as W1,
// against the baseline's W1 question. The REST answer carries more than W1's (scopes, webhook, account,
// config, timestamps) and less in two places: no cursor per item and no provider name. So both sides
// become W1's common shape restricted to what the two share, and the page's end is the next cursor,
// which REST gives only while there are more.

const upper = (value: unknown, field: string): string => {
  if (typeof value !== 'string') throw new Error(`REST ${field} is ${JSON.stringify(value)}, not a string`);
  return value.toUpperCase();
};

/** The row id of an Integration global ID; throws on any other ID, so that a wrong type cannot pass. */
function integrationId(id: unknown): string {
  const text = typeof id === 'string' ? Buffer.from(id, 'base64url').toString('utf8') : '';
  if (!text.startsWith('Integration:')) throw new Error(`REST id ${JSON.stringify(id)} is not an Integration global ID`);
  return text.slice('Integration:'.length);
}

function fromRestItem(item: Json): Json {
  const check = item.last_health_check as Json | null;
  const sync = item.last_sync as Json | null;
  return {
    id: integrationId(item.id),
    displayName: item.display_name,
    status: upper(item.status, 'status'),
    health: upper(item.health, 'health'),
    environment: item.environment,
    provider: { key: item.provider },
    lastHealthCheck:
      check === null
        ? null
        : {
            checkedAt: check.checked_at,
            ok: check.ok,
            latencyMs: check.latency_ms,
            httpStatus: check.http_status,
            message: check.message,
          },
    lastSync:
      sync === null
        ? null
        : { status: upper(sync.status, 'last_sync.status'), startedAt: sync.started_at, finishedAt: sync.finished_at, error: sync.error },
  };
}

/** A REST list page in the shared shape; throws when the body is not a list page. */
function restList(status: number, body: string): Json {
  const page = restData(status, body);
  if (!Array.isArray(page.data) || typeof page.has_more !== 'boolean') throw new Error(`not a REST list page: ${body.slice(0, 300)}`);
  if ((page.next_cursor === null) === page.has_more) throw new Error(`next_cursor ${page.next_cursor} with has_more ${page.has_more}`);
  return {
    items: (page.data as Json[]).map(fromRestItem),
    hasNextPage: page.has_more,
    nextCursor: cursorPosition(page.next_cursor),
  };
}

/** W1's common shape (from W1's normalizer) restricted to what the REST list also says. */
function sharedWithRest(answer: unknown): Json {
  const list = answer as Json;
  return {
    items: (list.items as Json[]).map(({ cursor: _cursor, provider, ...item }) => ({ ...item, provider: { key: provider.key } })),
    hasNextPage: list.hasNextPage,
    nextCursor: list.hasNextPage ? list.endCursor : null,
  };
}

/**
 * W1R beside W1: the gateway's REST list with `limit` = W1's page size, paired with the baseline's W1
 * side (the same calls, its answers restricted to the shared fields). Inserted right after W1, so that
 * whatever runs W1 also runs W1R.
 */
export function withRestList(workloads: readonly ReadWorkload[], orgs: readonly SeededOrganization[], first: number): ReadWorkload[] {
  return workloads.flatMap((workload) => {
    if (workload.id !== 'W1') return [workload];
    const baseline: Side = {
      calls: workload.baseline.calls,
      normalize: (status, body) => sharedWithRest(workload.baseline.normalize(status, body)),
    };
    const gateway: Side = { calls: orgs.map((org) => getCall(org.viewerKey, `/v1/integrations?limit=${first}`)), normalize: restList };
    return [workload, { id: 'W1R', title: `GET /v1/integrations?limit=${first}`, gateway, baseline }];
  });
}
