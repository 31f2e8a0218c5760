import { type Credential, type HttpClient, type ProviderErrorCode, TRANSPORT_MESSAGES, transportErrorCode } from './credentials.js';
import { assertBoundOrigin, type CredentialOrigins } from './origins.js';
import { credentialHeaders, readPath } from './probe.js';
import { providerRetryAfterMs, rateLimitSpent } from './rate-limit-headers.js';
import type { ConnectorTarget } from './settings.js';
import { apiBase, expandTemplate, joinUrl } from './template.js';
import type { AuthKind } from '../db/database.js';
import type { ConnectorDefinition, InventoryDefinition, ProbeDefinition } from './types.js';

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

/** A connector's listings, in the order they are tried. */
export function inventoryListings(definition: ConnectorDefinition): readonly InventoryDefinition[] {
  const inventory = definition.inventory;
  if (!inventory) return [];
  return Array.isArray(inventory) ? inventory : [inventory as InventoryDefinition];
}

/** Whether a listing applies to a credential of `authKind` under `config`. */
export function listingApplies(listing: InventoryDefinition, authKind: string, config: Readonly<Record<string, unknown>>): boolean {
  if (listing.authKinds && !listing.authKinds.includes(authKind as AuthKind)) return false;
  if (listing.requiresConfig) {
    const value = config[listing.requiresConfig];
    if (typeof value !== 'string' || value === '') return false;
  }
  return true;
}

/** What an integration's sync lists: the connector's first listing that applies to it; null: it has no inventory. */
export function inventoryFor(
  definition: ConnectorDefinition,
  authKind: string,
  config: Readonly<Record<string, unknown>>,
): InventoryDefinition | null {
  return inventoryListings(definition).find((listing) => listingApplies(listing, authKind, config)) ?? null;
}

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
  if ('cursor' in pagination) {
    const linked = pagination.cursor.urls ? nextLink(response.headers.get('link'), pageUrl) : null;
    return linked ?? nextCursorUrl(pagination.cursor, body, pageUrl);
  }
  if ('page' in pagination) {
    const { param, size } = pagination.page;
    const next = new URL(pageUrl);
    const wanted = Number(next.searchParams.get(size));
    if (count === 0 || !(count >= wanted)) return null;
    next.searchParams.set(param, String(Number(next.searchParams.get(param) ?? 0) + 1));
    return next.toString();
  }
  const offset = pagination.offset;
  const more = 'more' in offset ? readPath(body, offset.more) === true : readPath(body, offset.last) === false;
  if (!more || count === 0) return null;
  const next = new URL(pageUrl);
  next.searchParams.set(offset.param, String(Number(next.searchParams.get(offset.param) ?? 0) + count));
  return next.toString();
}

/**
 * The page after `pageUrl` when the body names a cursor (Slack's `response_metadata.next_cursor`); with
 * `urls`, a cursor that is an absolute URL or a path is the page itself. Null on the last page.
 */
function nextCursorUrl(cursor: { body: string; param: string; urls?: boolean }, body: unknown, pageUrl: string): string | null {
  const raw = readPath(body, cursor.body);
  const value = typeof raw === 'number' && Number.isFinite(raw) ? String(raw) : raw;
  if (typeof value !== 'string' || value === '') return null;
  if (cursor.urls && (/^https?:\/\//i.test(value) || value.startsWith('/'))) {
    try {
      return new URL(value, pageUrl).toString();
    } catch {
      return null;
    }
  }
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

/** An item's link from the listing's `url` template: `{.path}` the item's field, `{name}` a config value. */
function itemUrl(template: string, raw: unknown): string | null {
  let missing = false;
  const url = template.replace(/\{\.([a-zA-Z0-9_.]+)\}/g, (_match, path: string) => {
    const value = readPath(raw, path);
    if (typeof value !== 'string' && typeof value !== 'number') missing = true;
    return encodeURIComponent(String(value));
  });
  return !missing && /^https?:\/\//i.test(url) ? url : null;
}

/** Where an item's fields are, the config values they name (`{inventoryNameField}.display_value`) expanded once per listing. */
interface ItemFields {
  id: string;
  name: string;
  url: { path: string } | { template: string } | null;
  metadata: readonly string[];
}

function itemFields(definition: InventoryDefinition, target: ConnectorTarget): ItemFields {
  const expand = (path: string) => expandTemplate(path, target.config, target.definition.configFields);
  const url = definition.fields.url;
  return {
    id: expand(definition.fields.id),
    name: expand(definition.fields.name),
    // `{.path}` is no template name, so expansion leaves the item's fields in place.
    url: !url ? null : url.includes('{.') ? { template: expand(url) } : { path: expand(url) },
    metadata: (definition.metadata ?? []).map(expand),
  };
}

function item(fields: ItemFields, raw: unknown): InventoryItem | null {
  const id = readPath(raw, fields.id);
  const name = readPath(raw, fields.name);
  if ((typeof id !== 'string' && typeof id !== 'number') || id === '' || typeof name !== 'string') return null;
  const url = fields.url === null ? null : 'template' in fields.url ? itemUrl(fields.url.template, raw) : readPath(raw, fields.url.path);
  const metadata: Record<string, unknown> = {};
  for (const field of fields.metadata) {
    const value = readPath(raw, field);
    if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) metadata[field] = value;
  }
  return {
    externalId: String(id).slice(0, 200),
    name: name.slice(0, 500),
    // Only web links: a provider's `javascript:` or relative "url" is no link a dashboard should follow.
    url: typeof url === 'string' && /^https?:\/\/[^\s]+$/i.test(url) && url.length <= 2048 ? url : null,
    metadata,
  };
}

function failed(errorCode: ProviderErrorCode, httpStatus: number | null, retryAfterMs?: number | null): InventoryOutcome {
  const message = httpStatus === null ? TRANSPORT_MESSAGES[errorCode] : `${TRANSPORT_MESSAGES[errorCode]} (HTTP ${httpStatus})`;
  return { ok: false, errorCode, message, httpStatus, ...(retryAfterMs == null ? {} : { retryAfterMs }) };
}

type Page = { ok: true; response: Response; body: unknown } | { ok: false; outcome: InventoryOutcome };

/** One GET with the credential, its failures classified as a probe's are; the body parsed as JSON (null when it is not). */
async function getPage(target: ConnectorTarget, credential: Credential, http: HttpClient, timeoutMs: number, url: string): Promise<Page> {
  const headers = { accept: 'application/json', ...target.definition.apiHeaders, ...credentialHeaders(target, credential) };
  let response: Response;
  try {
    response = await http(url, { method: 'GET', headers, timeoutMs, provider: target.definition.key, idempotent: true });
  } catch (error) {
    return { ok: false, outcome: failed(transportErrorCode(error), null) };
  }
  const { status } = response;
  const text = await response.text().catch(() => '');
  const retryAfter = providerRetryAfterMs(status, response.headers);
  if (status === 429 || (status === 403 && rateLimitSpent(response.headers)))
    return { ok: false, outcome: failed('PROVIDER_RATE_LIMITED', status, retryAfter) };
  if (status === 401 || status === 403) return { ok: false, outcome: failed('PROVIDER_REJECTED_CREDENTIALS', status) };
  if (status < 200 || status >= 300) return { ok: false, outcome: failed('PROVIDER_ERROR', status, retryAfter) };
  try {
    return { ok: true, response, body: JSON.parse(text) };
  } catch {
    return { ok: true, response, body: null };
  }
}

/** The listing's elements in an answer: at its `items` path, or the body itself when that is an array. */
function listOf(definition: InventoryDefinition, body: unknown): unknown {
  if (Array.isArray(body) || !definition.items) return body;
  return readPath(body, definition.items);
}

/**
 * The listing's `lookup` value (Atlassian's cloud id of the site): the element of the list whose field
 * is the configured origin. A list without it fails the sync as the provider's error.
 */
async function lookUp(
  target: ConnectorTarget,
  credential: Credential,
  http: HttpClient,
  timeoutMs: number,
  origins: CredentialOrigins,
  lookup: NonNullable<InventoryDefinition['lookup']>,
  values: Record<string, string | undefined>,
): Promise<{ ok: true; value: string } | { ok: false; outcome: InventoryOutcome }> {
  const url = joinUrl(apiBase(target), expandTemplate(lookup.path, values, target.definition.configFields));
  assertBoundOrigin(origins, 'api', url);
  const page = await getPage(target, credential, http, timeoutMs, url);
  if (!page.ok) return page;
  const wanted = expandTemplate(`{${lookup.match.config}}`, target.config, target.definition.configFields);
  const sameOrigin = (candidate: unknown) => {
    try {
      return typeof candidate === 'string' && new URL(candidate).origin === new URL(wanted).origin;
    } catch {
      return false;
    }
  };
  const found = Array.isArray(page.body) ? page.body.find((entry) => sameOrigin(readPath(entry, lookup.match.field))) : undefined;
  const value = readPath(found, lookup.value);
  if (typeof value !== 'string' || value === '') {
    const message = `The credential reaches no ${lookup.match.config} ${wanted}: authorize the gateway for it.`;
    return { ok: false, outcome: { ok: false, errorCode: 'PROVIDER_ERROR', message, httpStatus: page.response.status } };
  }
  return { ok: true, value };
}

/**
 * Lists what the credential reaches, page by page, up to `maxItems` (then `truncated`). Every page URL,
 * the provider's next links included, must be on the credential's bound API origin: a next link
 * elsewhere is refused (CredentialOriginError) before the credential is sent there. Any page failing
 * fails the whole listing, so that a partial list never replaces a whole one. `onPage` is awaited after
 * every page (a sync keeps its claim with it, however many pages the provider's page size makes); what
 * it throws ends the listing.
 */
export async function fetchInventory(
  target: ConnectorTarget,
  credential: Credential,
  http: HttpClient,
  timeoutMs: number,
  origins: CredentialOrigins,
  maxItems: number,
  onPage: () => Promise<void> = async () => {},
): Promise<InventoryOutcome> {
  const definition = inventoryFor(target.definition, credential.kind, target.config);
  if (!definition) throw new Error(`${target.definition.key} has no inventory for this integration`);
  const values: Record<string, string | undefined> = { ...target.config, oauthApi: target.settings.oauthApiUrl };
  if (definition.lookup) {
    const found = await lookUp(target, credential, http, timeoutMs, origins, definition.lookup, values);
    if (!found.ok) return found.outcome;
    values[definition.lookup.name] = encodeURIComponent(found.value);
  }
  // By external id: an item that moved to a later page while the pages were read is listed once.
  const items = new Map<string, InventoryItem>();
  const seen = new Set<string>();
  let url: string | null = joinUrl(apiBase(target), expandTemplate(definition.path, values, target.definition.configFields));
  let pages = 0;
  const fields = itemFields(definition, target);
  while (url !== null) {
    if (seen.has(url)) break;
    seen.add(url);
    assertBoundOrigin(origins, 'api', url);
    const page = await getPage(target, credential, http, timeoutMs, url);
    if (!page.ok) return page.outcome;
    pages += 1;
    await onPage();
    const { response, body } = page;
    const list = listOf(definition, body);
    if (!Array.isArray(list))
      return failed(
        listRefused(body, target.definition.probe.okFlag) ? 'PROVIDER_REJECTED_CREDENTIALS' : 'PROVIDER_ERROR',
        response.status,
      );
    for (const raw of list) {
      const found = item(fields, raw);
      if (!found) continue;
      if (!items.has(found.externalId) && items.size >= maxItems)
        return { ok: true, kind: definition.kind, items: [...items.values()], pages, truncated: true };
      items.set(found.externalId, found);
    }
    url = nextPage(definition.pagination, response, body, url, list.length);
  }
  return { ok: true, kind: definition.kind, items: [...items.values()], pages, truncated: false };
}
