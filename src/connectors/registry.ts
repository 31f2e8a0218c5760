import { datadog } from './datadog/datadog.connector.js';
import { github } from './github/github.connector.js';
import { gitlab } from './gitlab/gitlab.connector.js';
import { http } from './http/http.connector.js';
import { inventoryListings } from './inventory.js';
import { jira } from './jira/jira.connector.js';
import { pagerduty } from './pagerduty/pagerduty.connector.js';
import { servicenow } from './servicenow/servicenow.connector.js';
import { slack } from './slack/slack.connector.js';
import type { ConnectorDefinition } from './types.js';

export type { ConnectorDefinition } from './types.js';

const catalog: readonly ConnectorDefinition[] = [datadog, github, gitlab, http, jira, pagerduty, servicenow, slack];

/** Checked once at load: a definition that contradicts itself is a programming error, not a runtime surprise. */
function validate(definition: ConnectorDefinition): void {
  const problems: string[] = [];
  if (!/^[a-z][a-z0-9-]*$/.test(definition.key)) problems.push('key must be lowercase');
  if (definition.authKinds.includes('OAUTH2') !== Boolean(definition.oauth2)) problems.push('OAUTH2 and oauth2 endpoints go together');
  for (const kind of definition.authKinds) if (!definition.credentials[kind]) problems.push(`no credential placement for ${kind}`);
  for (const scope of definition.requiredScopes) {
    if (!definition.defaultScopes.includes(scope)) problems.push(`required scope ${scope} is not requested by default`);
  }
  const fields = new Set(definition.configFields.map((field) => field.name));
  const templates = [
    definition.apiUrl,
    definition.probe.path,
    definition.oauth2?.authorizeUrl,
    definition.oauth2?.tokenUrl,
    definition.oauth2?.revokeUrl,
  ];
  for (const template of templates) {
    for (const [, name] of (template ?? '').matchAll(/\{([a-zA-Z]+)[|?}]/g)) {
      if (name && name !== 'oauthApi' && !fields.has(name)) problems.push(`template names unknown field ${name}`);
    }
  }
  for (const listing of inventoryListings(definition)) {
    const known = new Set([...fields, 'oauthApi', ...(listing.lookup ? [listing.lookup.name] : [])]);
    const named = [
      listing.path,
      listing.lookup?.path,
      listing.fields.id,
      listing.fields.name,
      listing.fields.url,
      ...(listing.metadata ?? []),
    ];
    for (const template of named) {
      for (const [, name] of (template ?? '').matchAll(/\{([a-zA-Z]+)[|?}]/g)) {
        if (name && !known.has(name)) problems.push(`inventory ${listing.kind} names unknown field ${name}`);
      }
    }
    if (listing.requiresConfig && !fields.has(listing.requiresConfig))
      problems.push(`inventory requires unknown field ${listing.requiresConfig}`);
    for (const kind of listing.authKinds ?? [])
      if (!definition.authKinds.includes(kind)) problems.push(`inventory for unknown auth kind ${kind}`);
  }
  if (problems.length > 0) throw new Error(`Connector ${definition.key} is invalid: ${problems.join('; ')}`);
}
catalog.forEach(validate);

const byKey = new Map(catalog.map((definition) => [definition.key, definition]));

/** Every connector, sorted by key. */
export function listConnectors(): readonly ConnectorDefinition[] {
  return catalog;
}

export function findConnector(key: string): ConnectorDefinition | undefined {
  return byKey.get(key);
}

/**
 * The connector for a stored provider key. A key no longer in the catalog still resolves, so that
 * integrations made with a retired connector stay readable.
 */
export function getConnector(key: string): ConnectorDefinition {
  return (
    byKey.get(key) ?? {
      key,
      name: key,
      authKinds: [],
      apiUrl: '',
      configFields: [],
      defaultScopes: [],
      requiredScopes: [],
      credentials: {},
      probe: { method: 'GET', path: '/', identity: {} },
    }
  );
}

/** Whether revoking an integration can also revoke its credential at the provider. */
export function supportsRevocation(definition: ConnectorDefinition): boolean {
  return Boolean(definition.oauth2?.revokeUrl || definition.customRevocation);
}
