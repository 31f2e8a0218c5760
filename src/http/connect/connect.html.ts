import { createHash } from 'node:crypto';
import { connectPagePolicy } from '../page-policy.js';
import { PAGE_SCRIPT_PATH } from './connect.assets.js';

// The hosted connect page's frame: one style sheet (allowed by its hash), the headers every page of it
// carries, and escaping. Pages are plain HTML forms: they work without JavaScript.

const STYLE = [
  ':root{color-scheme:light;--ink:#1b1f24;--muted:#57606a;--line:#d0d7de;--accent:#0b57d0;--bad:#b42318;--good:#067647}',
  '*{box-sizing:border-box}',
  'body{margin:0;background:#f6f8fa;color:var(--ink);font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}',
  'main{max-width:32rem;margin:2rem auto;padding:1.5rem 1.75rem;background:#fff;border:1px solid var(--line);border-radius:12px}',
  'h1{font-size:1.35rem;margin:0 0 .25rem}h2{font-size:1.05rem;margin:1.5rem 0 .5rem}',
  'p{margin:.5rem 0}.muted{color:var(--muted);font-size:.9rem}',
  'ul.providers{list-style:none;padding:0;margin:1rem 0 0;display:grid;gap:.5rem}',
  'ul.providers a{display:flex;justify-content:space-between;align-items:center;padding:.75rem 1rem;border:1px solid var(--line);',
  'border-radius:8px;color:var(--ink);text-decoration:none;font-weight:600}',
  'ul.providers a:hover,ul.providers a:focus{border-color:var(--accent);outline:none;box-shadow:0 0 0 3px #0b57d033}',
  'ul.providers .kinds{font-weight:400;color:var(--muted);font-size:.85rem}',
  'section{border-top:1px solid var(--line);margin-top:1.25rem}section:first-of-type{border-top:0;margin-top:.5rem}',
  'label{display:block;font-weight:600;margin:.75rem 0 .25rem}label .optional{font-weight:400;color:var(--muted)}',
  'input,select{width:100%;padding:.55rem .65rem;border:1px solid #8c959f;border-radius:6px;font:inherit}',
  'input:focus,select:focus{outline:3px solid #0b57d055;border-color:var(--accent)}input[aria-invalid=true]{border-color:var(--bad)}',
  '.hint{color:var(--muted);font-size:.85rem;margin:.2rem 0 0}',
  'button,.button{display:inline-block;margin-top:1rem;padding:.6rem 1.1rem;border:0;border-radius:6px;background:var(--accent);',
  'color:#fff;font:inherit;font-weight:600;cursor:pointer;text-decoration:none}',
  'button:focus,.button:focus{outline:3px solid #0b57d077;outline-offset:2px}',
  '.alert{margin:1rem 0;padding:.75rem 1rem;border-radius:8px;border:1px solid #fda29b;background:#fef3f2;color:var(--bad)}',
  '.ok{margin:1rem 0;padding:.75rem 1rem;border-radius:8px;border:1px solid #75e0a7;background:#ecfdf3;color:var(--good)}',
  'a{color:var(--accent)}.back{font-size:.9rem}code{word-break:break-all}',
  'footer{max-width:32rem;margin:0 auto 2rem;padding:0 1.75rem;color:var(--muted);font-size:.8rem}',
].join('');

const STYLE_HASH = createHash('sha256').update(STYLE).digest('base64');

/** Every page's headers: no caching (pages carry a form token), no referrer (the opening link carried the token), no framing. */
export function pageHeaders(extra: Record<string, string> = {}): Record<string, string> {
  return {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': connectPagePolicy(STYLE_HASH),
    'cache-control': 'no-store',
    'referrer-policy': 'no-referrer',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'cross-origin-resource-policy': 'same-origin',
    ...extra,
  };
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export interface PageOptions {
  status?: number;
  headers?: Record<string, string>;
  /** Extra head elements, already HTML. */
  head?: string;
  /** Load the page's script (the result page's popup message and redirect). */
  script?: boolean;
}

/** A whole page; `title` is text, `body` is HTML already escaped. */
export function page(title: string, body: string, options: PageOptions = {}): Response {
  const html =
    '<!doctype html><html lang="en"><head><meta charset="utf-8">' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">' +
    `<title>${escapeHtml(title)}</title><style>${STYLE}</style>${options.head ?? ''}</head>` +
    `<body><main>${body}</main>` +
    '<footer>Connections are made through the integrations gateway; your credentials are stored encrypted.</footer>' +
    `${options.script ? `<script src="${PAGE_SCRIPT_PATH}"></script>` : ''}</body></html>`;
  return new Response(html, { status: options.status ?? 200, headers: pageHeaders(options.headers) });
}

/** A page that only says why nothing can be done here (unknown, expired, spent or withdrawn link). */
export function notice(status: number, title: string, lines: string[]): Response {
  return page(title, `<h1>${escapeHtml(title)}</h1>${lines.map((line) => `<p>${escapeHtml(line)}</p>`).join('')}`, { status });
}
