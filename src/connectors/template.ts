import type { ConnectorTarget } from './settings.js';
import type { ConfigField } from './types.js';

/** Normalises an `origin` field: `host[:port]` becomes `https://host[:port]`; a given scheme is kept. */
export function normaliseOrigin(value: string): string {
  const trimmed = value.trim().replace(/\/+$/, '');
  return /^https?:\/\//i.test(trimmed) ? trimmed : `https://${trimmed}`;
}

/**
 * Expands a URL template: `{name}` is the config value, `{name|fallback}` the value or the fallback,
 * `{name?text}` the text only when the value is set. `origin` fields expand normalised.
 */
export function expandTemplate(
  template: string,
  values: Readonly<Record<string, string | undefined>>,
  fields: readonly ConfigField[] = [],
): string {
  return template.replace(/\{([a-zA-Z]+)(?:([|?])([^}]*))?\}/g, (_match, name: string, operator?: string, text?: string) => {
    const field = fields.find((candidate) => candidate.name === name);
    const raw = values[name] ?? field?.default;
    const value = raw && field?.kind === 'origin' ? normaliseOrigin(raw) : raw;
    if (operator === '?') return value ? (text ?? '') : '';
    if (operator === '|') return value ?? text ?? '';
    return value ?? '';
  });
}

/** Joins an API base and a path template result; an absolute URL replaces the base. */
export function joinUrl(base: string, path: string): string {
  if (/^https?:\/\//i.test(path)) return path;
  return `${base.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
}

/** The target's API base URL: the deployment's override or the connector's template, expanded with its config. */
export function apiBase(target: ConnectorTarget): string {
  const { definition, settings, config } = target;
  return expandTemplate(settings.apiUrl ?? definition.apiUrl, config, definition.configFields);
}
