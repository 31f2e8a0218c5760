import type { ConfigField, ConnectorDefinition } from './types.js';

export interface ConfigProblem {
  field: string;
  message: string;
}

const HOST = /^(?:https?:\/\/)?[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?(?::\d{1,5})?\/?$/i;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$/;
const IDENTIFIER = /^[a-z][a-z0-9_]{0,79}$/;

function check(field: ConfigField, value: string): string | null {
  if (value.length > 2048) return 'is too long';
  switch (field.kind) {
    case 'origin':
      return HOST.test(value) ? null : 'must be a host name, optionally with a port, e.g. git.example.com';
    case 'url': {
      try {
        const url = new URL(value);
        return url.protocol === 'https:' || url.protocol === 'http:' ? null : 'must be an http(s) URL';
      } catch {
        return 'must be an absolute http(s) URL';
      }
    }
    case 'path':
      return value.startsWith('/') && !/\s/.test(value) ? null : 'must be a path starting with /';
    case 'choice':
      return field.choices?.includes(value) ? null : `must be one of ${field.choices?.join(', ')}`;
    case 'header-name':
      return HEADER_NAME.test(value) ? null : 'must be an HTTP header name';
    case 'identifier':
      return IDENTIFIER.test(value) ? null : 'must be a lowercase name of letters, digits and _ (at most 80), e.g. cmdb_ci_server';
    case 'text':
      return null;
  }
}

/** Validates user-supplied connector config: known fields only, strings only, required ones present. */
export function validateConfig(
  definition: ConnectorDefinition,
  input: Record<string, unknown> | null | undefined,
): { config: Record<string, string>; problems: ConfigProblem[] } {
  const config: Record<string, string> = {};
  const problems: ConfigProblem[] = [];
  const given = input ?? {};
  for (const name of Object.keys(given)) {
    if (!definition.configFields.some((field) => field.name === name)) {
      problems.push({ field: name, message: `${definition.name} has no setting "${name.slice(0, 64)}"` });
    }
  }
  for (const field of definition.configFields) {
    const value = given[field.name];
    if (value === undefined || value === null || value === '') {
      if (field.required) problems.push({ field: field.name, message: `${field.name} is required for ${definition.name}` });
      continue;
    }
    if (typeof value !== 'string') {
      problems.push({ field: field.name, message: `${field.name} must be a string` });
      continue;
    }
    const problem = check(field, value.trim());
    if (problem) problems.push({ field: field.name, message: `${field.name} ${problem}` });
    else config[field.name] = value.trim();
  }
  return { config, problems };
}
