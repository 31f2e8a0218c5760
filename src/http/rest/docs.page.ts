import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { selfOnlyPagePolicy } from '../page-policy.js';

/** Where the interactive reference is served, and its script (Scalar's standalone bundle, from the gateway's own files). */
export const DOCS_PATH = '/docs';
export const DOCS_SCRIPT_PATH = '/docs/scalar.js';

/** Nothing but the gateway's own files may load or be called: the page works without Internet access. */
const PAGE_POLICY = selfOnlyPagePolicy();

// Scalar's default fonts, its AI agent and MCP generator use its own servers: off, so that the page asks
// no other host for anything.
const CONFIGURATION = JSON.stringify({
  withDefaultFonts: false,
  hideClientButton: true,
  showDeveloperTools: 'never',
  agent: { disabled: true },
  mcp: { disabled: true },
});

const escapeHtml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** The reference page: Scalar reads the document from /openapi.json. */
export function docsPage(): Response {
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Integrations gateway REST API</title>
</head>
<body>
<noscript>
<h1>Integrations gateway REST API</h1><p>The OpenAPI document is at <a href="/openapi.json">/openapi.json</a>.</p>
</noscript>
<script id="api-reference" data-url="/openapi.json" data-configuration="${escapeHtml(CONFIGURATION)}"></script>
<script src="${DOCS_SCRIPT_PATH}"></script>
</body>
</html>
`;
  return new Response(html, { headers: { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': PAGE_POLICY } });
}

let script: Promise<{ body: string; etag: string }> | undefined;

/** Scalar's standalone bundle (about 4 MB), read from the installed package on first use and kept. */
export async function docsScript(request: Request): Promise<Response> {
  script ??= (async () => {
    const entry = createRequire(import.meta.url).resolve('@scalar/api-reference');
    const body = await readFile(join(dirname(entry), 'browser', 'standalone.js'), 'utf8');
    return { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
  })();
  const { body, etag } = await script;
  const headers = { etag, 'cache-control': 'public, max-age=3600', 'content-type': 'text/javascript; charset=utf-8' };
  if (request.headers.get('if-none-match') === etag) return new Response(null, { status: 304, headers });
  return new Response(body, { headers });
}
