import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { type GraphiQLOptions, type Plugin, shouldRenderGraphiQL } from 'graphql-yoga';
import { selfOnlyPagePolicy } from './page-policy.js';

/** What GraphiQL opens with. */
export interface GraphiQLSetup {
  /**
   * An `Authorization` header value put into GraphiQL's Headers tab, for browsers on this machine only
   * (loopback address and loopback host name, so that neither another host nor a DNS-rebound page
   * reads it). main.ts passes the key it printed, outside production; nothing else should.
   */
  authorization?: string;
}

/** The example GraphiQL opens with when the browser has no query of its own yet. */
export const EXAMPLE_QUERY = `# Send "Authorization: Bearer <API key>"
# (the Headers tab below), then run.
{
  viewer { role organization { name slug } }
  integrations(first: 10) {
    totalCount
    edges {
      node { id displayName status health }
    }
  }
}
`;

export const GRAPHIQL_ASSETS_PATH = '/graphiql/';

/**
 * GraphiQL's page links only the gateway's own assets, and nothing else may run or be fetched: a browser
 * without Internet access gets the same editor.
 */
// The editor (Monaco) runs its language services in workers, and sets styles at run time.
const PAGE_POLICY = selfOnlyPagePolicy({ workers: true });

interface Asset {
  body: string;
  type: string;
  etag: string;
}

// Runs before the bundle: Monaco asks for its workers by label, and loads them from the gateway.
const SETUP_SCRIPT = `self.MonacoEnvironment = {
  globalAPI: false,
  getWorkerUrl: function (moduleId, label) {
    return ${JSON.stringify(GRAPHIQL_ASSETS_PATH)} + ({ json: 'json', graphql: 'graphql' }[label] || 'editor') + '.worker.js';
  },
};
`;

// Runs after the bundle: the options come from the page as JSON data, not as script.
const START_SCRIPT = `YogaGraphiQL.renderYogaGraphiQL(
  document.getElementById('root'),
  JSON.parse(document.getElementById('graphiql-options').textContent),
);
`;

let assets: Promise<Map<string, Asset>> | undefined;

/** The bundle (@graphql-yoga/render-graphiql: GraphiQL, Monaco, its workers, fonts inlined), about 9 MB, read on first use. */
function loadAssets(): Promise<Map<string, Asset>> {
  assets ??= import('@graphql-yoga/render-graphiql/graphiql').then((bundle) => {
    const favicon = /^data:([^;,]+);base64,(.*)$/s.exec(bundle.favicon);
    const entries: [string, string, string][] = [
      ['setup.js', SETUP_SCRIPT, 'text/javascript'],
      ['graphiql.js', bundle.js, 'text/javascript'],
      ['start.js', START_SCRIPT, 'text/javascript'],
      ['graphiql.css', bundle.css, 'text/css'],
      ['editor.worker.js', bundle.editorWorkerService, 'text/javascript'],
      ['json.worker.js', bundle.jsonWorker, 'text/javascript'],
      ['graphql.worker.js', bundle.graphqlWorker, 'text/javascript'],
    ];
    const map = new Map(
      entries.map(([name, body, type]) => [
        name,
        { body, type: `${type}; charset=utf-8`, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` },
      ]),
    );
    if (favicon?.[1] && favicon[2]) {
      map.set('favicon.ico', {
        body: favicon[2],
        type: favicon[1],
        etag: `"${createHash('sha256').update(favicon[2]).digest('base64url').slice(0, 22)}"`,
      });
    }
    return map;
  });
  return assets;
}

function assetResponse(asset: Asset, request: Request): Response {
  const headers = { 'content-type': asset.type, etag: asset.etag, 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' };
  if (request.headers.get('if-none-match') === asset.etag) return new Response(null, { status: 304, headers });
  const body = asset.type.startsWith('image/') ? Buffer.from(asset.body, 'base64') : asset.body;
  return new Response(body, { status: 200, headers });
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return address === '::1' || (isIP(v4) === 4 && v4.startsWith('127.'));
}

/** Whether the page may carry the prefilled header: a browser on this machine, asking under a loopback name. */
function onThisMachine(url: URL, serverContext: unknown): boolean {
  const req = (serverContext as { req?: IncomingMessage } | undefined)?.req;
  return LOOPBACK_HOSTS.has(url.hostname) && isLoopbackAddress(req?.socket?.remoteAddress);
}

/** Inside a `<script type="application/json">` element nothing may close the element or open a comment. */
function jsonForPage(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');
}

function page(options: GraphiQLOptions): string {
  const asset = (name: string) => `${GRAPHIQL_ASSETS_PATH}${name}`;
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>Integrations gateway · GraphiQL</title>
    <link rel="icon" href="${asset('favicon.ico')}" />
    <link rel="stylesheet" href="${asset('graphiql.css')}" />
  </head>
  <body id="body" class="no-focus-outline">
    <noscript>GraphiQL needs JavaScript.</noscript>
    <div id="root"></div>
    <script type="application/json" id="graphiql-options">${jsonForPage(options)}</script>
    <script src="${asset('setup.js')}"></script>
    <script src="${asset('graphiql.js')}"></script>
    <script src="${asset('start.js')}"></script>
  </body>
</html>
`;
}

/** One of GraphiQL's files, by its path under GRAPHIQL_ASSETS_PATH (the router's GET route); 404 when unknown. */
export async function graphiqlAsset(name: string, request: Request): Promise<Response> {
  const asset = (await loadAssets()).get(name);
  return asset ? assetResponse(asset, request) : new Response(null, { status: 404 });
}

/**
 * GraphiQL on GET /graphql for browsers, with every script, style, font and worker served by the gateway
 * under /graphiql/ (from the @graphql-yoga/render-graphiql bundle): nothing is loaded from elsewhere.
 */
export function useGatewayGraphiQL(graphqlEndpoint: string, setup: GraphiQLSetup = {}): Plugin {
  return {
    async onRequest({ request, url, serverContext, endResponse }) {
      if ((url.pathname !== graphqlEndpoint && url.pathname !== `${graphqlEndpoint}/`) || !shouldRenderGraphiQL(request)) return;
      await loadAssets();
      const prefilled = setup.authorization && onThisMachine(url, serverContext);
      const options: GraphiQLOptions = {
        title: 'Integrations gateway',
        endpoint: graphqlEndpoint,
        defaultQuery: EXAMPLE_QUERY,
        ...(prefilled ? { headers: JSON.stringify({ Authorization: setup.authorization }, null, 2) } : {}),
      };
      endResponse(
        new Response(page(options), {
          status: 200,
          headers: {
            'content-type': 'text/html; charset=utf-8',
            'content-security-policy': PAGE_POLICY,
            'cache-control': 'no-store',
            'x-content-type-options': 'nosniff',
            'referrer-policy': 'no-referrer',
          },
        }),
      );
    },
  };
}
