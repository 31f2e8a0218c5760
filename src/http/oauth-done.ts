import { createHash } from 'node:crypto';

/** Where the browser lands after an OAuth2 authorization whose connection named no `returnUrl`. */
export const OAUTH_DONE_PATH = '/oauth/done';

/** What each `error` the callback sends back means, in words. */
const REASONS: Record<string, string> = {
  access_denied: 'the authorization was refused at the provider',
  state_expired: 'the authorization link expired (it is valid for 10 minutes)',
  state_already_used: 'this authorization link had already been used',
  missing_code: 'the provider sent no authorization code',
  provider_error: 'the provider reported an error',
  token_exchange_failed: 'the provider did not exchange the authorization code for tokens',
  integration_revoked: 'the integration was revoked meanwhile',
  not_configured: 'this gateway has no OAuth2 client for the provider any more',
  invalid_request: 'the provider found the authorization request invalid',
  invalid_scope: 'the provider refused the requested scopes',
  unauthorized_client: 'the provider does not allow this OAuth2 client to ask for authorization',
  unsupported_response_type: 'the provider does not support this kind of authorization',
  server_error: 'the provider failed with an error of its own',
  temporarily_unavailable: 'the provider is temporarily unavailable',
  probe_provider_rejected_credentials: 'the provider rejected the new tokens on the first check',
  probe_provider_unreachable: 'the first check could not reach the provider',
  probe_provider_timeout: 'the first check timed out',
  probe_provider_rate_limited: 'the provider rate-limited the first check',
  probe_provider_error: 'the provider answered the first check with an error',
  probe_outbound_blocked: "the first check was blocked by this gateway's outbound policy",
  probe_failed: 'the first check failed',
  connect_session_spent: 'the connect link had already connected an integration',
  client_origin_mismatch: "the provider's token endpoint is not where this gateway's OAuth2 client is registered",
};

const STYLE =
  'body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#1b1f24}h1{font-size:1.4rem}' +
  'code{background:#f0f2f5;padding:.1rem .3rem;border-radius:3px;word-break:break-all}';

const STYLE_HASH = createHash('sha256').update(STYLE).digest('base64');

/** No script, no third-party anything: only the page's own style element may apply. */
const POLICY = `default-src 'none'; style-src 'sha256-${STYLE_HASH}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** What an `error` of the callback's redirect means, in words. */
export function reasonOf(error: string): string {
  return REASONS[error] ?? `the provider or the gateway reported "${error}"`;
}

/** Lines of the page, already escaped. */
function describe(params: URLSearchParams): { status: number; title: string; lines: string[] } | null {
  const integration = params.get('integration') ?? '';
  const outcome = params.get('outcome');
  const error = (params.get('error') ?? '').slice(0, 100);
  if (!integration || (outcome !== 'connected' && outcome !== 'error')) return null;
  const id = `<code>${escapeHtml(integration.slice(0, 200))}</code>`;
  const lookUp =
    'Look at it in <a href="/graphql">GraphiQL</a>: ' +
    `<code>{ integration(id: "${escapeHtml(integration.slice(0, 200))}") { status health statusReason } }</code>`;
  if (outcome === 'connected') {
    return error
      ? {
          status: 200,
          title: 'Connected, with a warning',
          lines: [`The integration ${id} is connected, but ${escapeHtml(reasonOf(error))}.`, lookUp],
        }
      : { status: 200, title: 'Connected', lines: [`The integration ${id} is connected and answered its first check.`, lookUp] };
  }
  return {
    status: 200,
    title: 'Not connected',
    lines: [
      `The integration ${id} was not connected: ${escapeHtml(reasonOf(error || 'provider_error'))}.`,
      'Start the connection again with <code>connectIntegration</code> ' +
        '(pass its <code>integrationId</code> to keep the same integration).',
      lookUp,
    ],
  };
}

/** The outcome of a connection, from the callback's redirect (`integration`, `outcome`, `error`). */
export function oauthDonePage(url: URL): Response {
  const shown = describe(url.searchParams) ?? {
    status: 400,
    title: 'Nothing to show',
    lines: ['This page shows how an OAuth2 connection ended, when the gateway sends the browser here after the provider.'],
  };
  const title = `<title>${escapeHtml(shown.title)} · Integrations gateway</title>`;
  const head = `<head><meta charset="utf-8">${title}<style>${STYLE}</style></head>`;
  const paragraphs = shown.lines.map((line) => `<p>${line}</p>`).join('');
  const body = `<!doctype html><html lang="en">${head}<body><h1>${escapeHtml(shown.title)}</h1>${paragraphs}</body></html>`;
  return new Response(body, {
    status: shown.status,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': POLICY,
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    },
  });
}
