/**
 * The Content-Security-Policy of the gateway's own pages (GraphiQL, the REST reference): nothing but the
 * gateway's own files may load or be called, so the pages work without Internet access and nothing on
 * them can send a key elsewhere. Inline styles are allowed: both UIs set style attributes at run time.
 */
export function selfOnlyPagePolicy(options: { workers?: boolean } = {}): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    ...(options.workers ? ["worker-src 'self'"] : []),
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/**
 * The hosted connect page's policy, stricter still: its one style sheet by hash, only the gateway's own
 * script, forms posted only to the gateway, and no frame may embed it (clickjacking). Nothing it shows
 * can reach another host, which matters because its end user types provider credentials into it.
 */
export function connectPagePolicy(styleHash: string): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    `style-src 'sha256-${styleHash}'`,
    "img-src 'self'",
    "connect-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}
