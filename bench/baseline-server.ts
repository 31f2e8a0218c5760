/**
 * The baseline: the least a server can do to answer the benchmark's questions on this data. `node:http`,
 * a `pg` pool of the gateway's size, one hand-written statement per question (authentication folded
 * into it), named prepared statements, and `JSON.stringify` of the rows as `pg` returns them. The
 * harness renames its snake_case answers to compare them with the gateway's, field by field.
 *
 *   GET /w1?first=100            the list page with health summary, provider and last sync
 *   GET /w2?first=100&checks=5   the same, plus the newest `checks` health checks of each (one more statement)
 *   GET /w3?id=<uuid>            one integration
 *
 * Every request needs `Authorization: Bearer <API key>`; a key that is unknown or revoked is a 401.
 */
import { createHash } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import pg from 'pg';
import { listConnectors } from '../src/connectors/registry.js';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.DATABASE_POOL_SIZE ?? 10) });
pool.on('error', () => {});

const PROVIDER_NAMES = new Map(listConnectors().map((connector) => [connector.key, connector.name]));
const KEY = /^Bearer[ \t]+(igw_[0-9a-f]{12})_[A-Za-z0-9_-]{43}[ \t]*$/i;

const LIST_COLUMNS = `i.id, i.display_name, i.status, i.health, i.environment, i.provider,
  i.last_check_at, i.last_check_ok, i.last_check_latency_ms, i.last_check_http_status, i.last_check_message,
  i.last_sync_status, i.last_sync_started_at, i.last_sync_finished_at, i.last_sync_error`;

// The key's organization, or no row: authentication and the question in one statement. W2 also needs
// the organization, for the history statement.
const page = (extra: string) => `select ${LIST_COLUMNS}, i.created_at::text as sort_key${extra}
  from api_keys k
  left join lateral (
    select * from integrations i
    where i.organization_id = k.organization_id and i.status <> 'REVOKED'
    order by i.created_at, i.id limit $3
  ) i on true
  where k.prefix = $1 and k.key_hash = $2 and k.revoked_at is null
  order by i.created_at, i.id`;
const W1 = page('');
const W2 = page(', k.organization_id as viewer_org');

const CHECKS = `select page.* from unnest($1::uuid[]) as wanted(id)
  cross join lateral (
    select h.id, h.integration_id, h.checked_at, h.ok, h.http_status, h.latency_ms, h.error_code, h.message
    from integration_health_checks h
    where h.organization_id = $2 and h.integration_id = wanted.id
    order by h.checked_at desc, h.id desc limit $3
  ) page
  order by page.integration_id, page.checked_at desc, page.id desc`;

const W3 = `select k.organization_id as viewer_org, ${LIST_COLUMNS}, i.requested_scopes, i.granted_scopes, i.created_at, i.updated_at
  from api_keys k
  left join integrations i on i.organization_id = k.organization_id and i.id = $3
  where k.prefix = $1 and k.key_hash = $2 and k.revoked_at is null`;

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function credentials(authorization: string | undefined): [string, string] | null {
  const match = authorization ? KEY.exec(authorization) : null;
  if (!match?.[1]) return null;
  const token = authorization!.trim().split(/[ \t]+/)[1] as string;
  return [match[1], createHash('sha256').update(token).digest('hex')];
}

type Row = Record<string, unknown> & { id: string | null; provider: string };

async function list(name: 'w1' | 'w2', prefix: string, hash: string, first: number) {
  const result = await pool.query<Row>({ name, text: name === 'w1' ? W1 : W2, values: [prefix, hash, first + 1] });
  const [head] = result.rows;
  if (!head) return null;
  const rows = head.id === null ? [] : result.rows;
  const hasNextPage = rows.length > first;
  if (hasNextPage) rows.length = first;
  for (const row of rows) row.provider_name = PROVIDER_NAMES.get(row.provider) ?? row.provider;
  return { rows, hasNextPage, organizationId: head.viewer_org as string | undefined };
}

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://baseline');
  if (url.pathname === '/health') return send(res, 200, { ok: true });
  const auth = credentials(req.headers.authorization);
  if (!auth) return send(res, 401, { error: 'unauthenticated' });
  const [prefix, hash] = auth;
  const first = Math.min(Math.max(Number(url.searchParams.get('first') ?? 100), 1), 100);
  const run = async () => {
    if (url.pathname === '/w1') {
      const page = await list('w1', prefix, hash, first);
      return page ? send(res, 200, { rows: page.rows, hasNextPage: page.hasNextPage }) : send(res, 401, { error: 'unauthenticated' });
    }
    if (url.pathname === '/w2') {
      const page = await list('w2', prefix, hash, first);
      if (!page) return send(res, 401, { error: 'unauthenticated' });
      const checks = Math.min(Math.max(Number(url.searchParams.get('checks') ?? 5), 1), 100);
      const ids = page.rows.map((row) => row.id as string);
      const history = await pool.query<{ integration_id: string }>({
        name: 'w2-checks',
        text: CHECKS,
        values: [ids, page.organizationId, checks + 1],
      });
      const byIntegration = new Map<string, unknown[]>(page.rows.map((row) => [row.id as string, []]));
      for (const check of history.rows) byIntegration.get(check.integration_id)?.push(check);
      for (const row of page.rows) {
        // One row beyond the page was fetched to tell whether there are more.
        const list = byIntegration.get(row.id as string) as unknown[];
        row.health_checks_has_next = list.length > checks;
        if (list.length > checks) list.length = checks;
        row.health_checks = list;
      }
      return send(res, 200, { rows: page.rows, hasNextPage: page.hasNextPage });
    }
    if (url.pathname === '/w3') {
      const result = await pool.query<Row & { viewer_org: string }>({
        name: 'w3',
        text: W3,
        values: [prefix, hash, url.searchParams.get('id')],
      });
      const row = result.rows[0];
      if (!row) return send(res, 401, { error: 'unauthenticated' });
      if (row.id === null) return send(res, 200, { row: null });
      row.provider_name = PROVIDER_NAMES.get(row.provider) ?? row.provider;
      return send(res, 200, { row });
    }
    return send(res, 404, { error: 'not found' });
  };
  run().catch((error: unknown) => send(res, 500, { error: String(error) }));
});

server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`baseline listening on ${typeof address === 'object' && address ? address.port : ''}\n`);
});
process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  void pool.end().then(() => process.exit(0));
});
