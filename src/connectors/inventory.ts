import { type Credential, type HttpClient, type ProviderErrorCode, TRANSPORT_MESSAGES, transportErrorCode } from './credentials.js';
import { assertBoundOrigin, type CredentialOrigins } from './origins.js';
import { credentialHeaders, readPath } from './probe.js';
import { providerRetryAfterMs, rateLimitSpent } from './rate-limit-headers.js';
import type { ConnectorTarget } from './settings.js';
import { apiBase, expandTemplate, joinUrl } from './template.js';
import type { InventoryDefinition, ProbeDefinition } from './types.js';

/** One resource a credential reaches, as an inventory sync stores it. */
export interface InventoryItem {
  externalId: string;
  name: string;
  url: string | null;
  metadata: Record<string, unknown>;
}

export type InventoryOutcome =
  | { ok: true; kind: string; items: InventoryItem[]; pages: number; truncated: boolean }
  | {
      ok: false;
      errorCode: ProviderErrorCode;
      message: string;
      httpStatus: number | null;
      /** How long the provider asked not to be called again (Retry-After, rate-limit reset). */
      retryAfterMs?: number;
    };

/** The `rel="next"` URL of a `Link` header (RFC 8288), resolved against the page it came with; null on the last page. */
export function nextLink(header: string | null, pageUrl: string): string | null {
  if (!header) return null;
  for (const part of header.split(/,(?=\s*<)/)) {
    const match = /^\s*<([^>]*)>(.*)$/.exec(part);
    if (match && /;\s*rel\s*=\s*"?(?:[^";]*\s)?next(?=[\s";]|$)/i.test(match[2] ?? '')) {
      try {
        return new URL(match[1] as string, pageUrl).toString();
      } catch {
        return null;
      }
    }
  }
  return null;
}

/** The URL of the page after `pageUrl`, as the connector's pagination finds it; null on the last page. */
function nextPage(pagination: InventoryDefinition['pagination'], response: Response, body: unknown, pageUrl: string, count: number) {
  if (pagination === 'link') return nextLink(response.headers.get('link'), pageUrl);
  if ('cursor' in pagination) return nextCursorUrl(pagination.cursor, body, pageUrl);
  const { param, more } = pagination.offset;
  if (readPath(body, more) !== true || count === 0) return null;
  const next = new URL(pageUrl);
  next.searchParams.set(param, String(Number(next.searchParams.get(param) ?? 0) + count));
  return next.toString();
}

/** The page after `pageUrl` when the body names a cursor (Slack's `response_metadata.next_cursor`); null on the last page. */
function nextCursorUrl(cursor: { body: string; param: string }, body: unknown, pageUrl: string): string | null {
  const value = readPath(body, cursor.body);
  if (typeof value !== 'string' || value === '') return null;
  const next = new URL(pageUrl);
  next.searchParams.set(cursor.param, value);
  return next.toString();
}

/** A provider that answers 200 with a failure flag (Slack's `{"ok": false}`) refusing the credential, as its probe reads it. */
function listRefused(body: unknown, okFlag: ProbeDefinition['okFlag']): boolean {
  return Boolean(
    okFlag && readPath(body, okFlag.body) !== true && okFlag.rejectedErrors.includes(String(readPath(body, okFlag.errorBody))),
  );
}

function item(definition: InventoryDefinition, raw: unknown): InventoryItem | null {
  const id = readPath(raw, definition.fields.id);
  const name = readPath(raw, definition.fields.name);
  if ((typeof id !== 'string' && typeof id !== 'number') || typeof name !== 'string') return null;
  const url = definition.fields.url ? readPath(raw, definition.fields.url) : null;
  const metadata: Record<string, unknown> = {};
  for (const field of definition.metadata ?? []) {
    const value = readPath(raw, field);
    if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) metadata[field] = value;
  }
  return {
    externalId: String(id).slice(0, 200),
    name: name.slice(0, 500),
    url: typeof url === 'string' ? url.slice(0, 2048) : null,
    metadata,
  };
}

function failed(errorCode: ProviderErrorCode, httpStatus: number | null, retryAfterMs?: number | null): InventoryOutcome {
  const message = httpStatus === null ? TRANSPORT_MESSAGES[errorCode] : `${TRANSPORT_MESSAGES[errorCode]} (HTTP ${httpStatus})`;
  return { ok: false, errorCode, message, httpStatus, ...(retryAfterMs == null ? {} : { retryAfterMs }) };
}

/**
 * Lists what the credential reaches, page by page, up to `maxItems` (then `truncated`). Every page URL,
 * the provider's next links included, must be on the credential's bound API origin: a next link
 * elsewhere is refused (CredentialOriginError) before the credential is sent there. Any page failing
 * fails the whole listing, so that a partial list never replaces a whole one.
 */
export async function fetchInventory(
  target: ConnectorTarget,
  credential: Credential,
  http: HttpClient,
  timeoutMs: number,
  origins: CredentialOrigins,
  maxItems: number,
): Promise<InventoryOutcome> {
  const definition = target.definition.inventory;
  if (!definition) throw new Error(`${target.definition.key} has no inventory`);
  const headers = { accept: 'application/json', ...target.definition.apiHeaders, ...credentialHeaders(target, credential) };
  // By external id: an item that moved to a later page while the pages were read is listed once.
  const items = new Map<string, InventoryItem>();
  const seen = new Set<string>();
  let url: string | null = joinUrl(apiBase(target), expandTemplate(definition.path, target.config, target.definition.configFields));
  let pages = 0;
  while (url !== null) {
    if (seen.has(url)) break;
    seen.add(url);
    assertBoundOrigin(origins, 'api', url);
    let response: Response;
    try {
      response = await http(url, { method: 'GET', headers, timeoutMs, provider: target.definition.key, idempotent: true });
    } catch (error) {
      return failed(transportErrorCode(error), null);
    }
    pages += 1;
    const { status } = response;
    const text = await response.text().catch(() => '');
    const retryAfter = providerRetryAfterMs(status, response.headers);
    if (status === 429 || (status === 403 && rateLimitSpent(response.headers))) return failed('PROVIDER_RATE_LIMITED', status, retryAfter);
    if (status === 401 || status === 403) return failed('PROVIDER_REJECTED_CREDENTIALS', status);
    if (status < 200 || status >= 300) return failed('PROVIDER_ERROR', status, retryAfter);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
    const list = definition.items ? readPath(body, definition.items) : body;
    if (!Array.isArray(list))
      return failed(listRefused(body, target.definition.probe.okFlag) ? 'PROVIDER_REJECTED_CREDENTIALS' : 'PROVIDER_ERROR', status);
    for (const raw of list) {
      const found = item(definition, raw);
      if (!found) continue;
      if (!items.has(found.externalId) && items.size >= maxItems)
        return { ok: true, kind: definition.kind, items: [...items.values()], pages, truncated: true };
      items.set(found.externalId, found);
    }
    url = nextPage(definition.pagination, response, body, url, list.length);
  }
  return { ok: true, kind: definition.kind, items: [...items.values()], pages, truncated: false };
}
