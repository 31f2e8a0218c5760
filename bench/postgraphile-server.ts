/**
 * PostGraphile v5, the second reference: its Amber preset over the bench-only schema
 * `postgraphile_bench` (bench/postgraphile.ts), in production mode (no GraphiQL, no explain, no watch),
 * on a `pg` pool of the gateway's size. Served by grafserv's Node adaptor at POST /graphql, beside the
 * harness's GET /health, which answers once the schema is built.
 *
 * Run by the harness as `node --require ./bench/promise-with-resolvers.cjs --import tsx` (PostGraphile
 * needs Node 22's Promise.withResolvers).
 */
import { createServer } from 'node:http';
import { postgraphile } from 'postgraphile';
import { makePgService } from 'postgraphile/adaptors/pg';
import { grafserv } from 'postgraphile/grafserv/node';
import { PostGraphileAmberPreset } from 'postgraphile/presets/amber';
import { POSTGRAPHILE_SCHEMA } from './postgraphile.js';

const preset: GraphileConfig.Preset = {
  extends: [PostGraphileAmberPreset],
  pgServices: [
    makePgService({
      connectionString: process.env.DATABASE_URL,
      schemas: [POSTGRAPHILE_SCHEMA],
      poolConfig: { max: Number(process.env.DATABASE_POOL_SIZE ?? 10) },
    }),
  ],
  // Reads only: no mutations are generated for the views.
  schema: { defaultBehavior: '-insert -update -delete' },
  grafserv: { graphqlPath: '/graphql', graphiql: false, watch: false },
  grafast: { explain: false },
};

const pgl = postgraphile(preset);
const serv = pgl.createServ(grafserv);
// createHandler rather than addTo: one request listener, so that /health can be answered beside it.
const graphql = serv.createHandler();
await pgl.getSchema();

const server = createServer((req, res) => {
  if (req.url === '/health') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"ok":true}');
    return;
  }
  graphql(req, res);
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`postgraphile listening on ${typeof address === 'object' && address ? address.port : ''}\n`);
});
process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  void Promise.resolve(pgl.release()).then(() => process.exit(0));
});
