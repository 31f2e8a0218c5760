import { describe, expect, it } from 'vitest';
import { validateConfig } from './config-fields.js';
import { oauthEndpoints, unregisteredClientUrl } from './oauth-endpoints.js';
import { credentialHeaders } from './probe.js';
import { findConnector, listConnectors, supportsRevocation } from './registry.js';
import { connectorSettingsFromEnv, oauthConfigured } from './settings.js';
import { expandTemplate } from './template.js';

const connector = (key: string) => {
  const definition = findConnector(key);
  if (!definition) throw new Error(`no connector ${key}`);
  return definition;
};

describe('the catalog', () => {
  it('ships every provider the product names, sorted by key', () => {
    expect(listConnectors().map((c) => c.key)).toEqual([
      'datadog',
      'github',
      'gitlab',
      'http',
      'jira',
      'pagerduty',
      'servicenow',
      'slack',
    ]);
  });

  it('says which providers can revoke at the provider', () => {
    expect(
      listConnectors()
        .filter(supportsRevocation)
        .map((c) => c.key),
    ).toEqual(['datadog', 'github', 'gitlab', 'pagerduty', 'servicenow', 'slack']);
  });
});

describe('URL templates', () => {
  const github = connector('github');
  it('uses the cloud API without a host and the Enterprise API with one', () => {
    expect(expandTemplate(github.apiUrl, {}, github.configFields)).toBe('https://api.github.com');
    expect(expandTemplate(github.apiUrl, { host: 'ghe.example.com' }, github.configFields)).toBe('https://ghe.example.com/api/v3');
    expect(expandTemplate(github.apiUrl, { host: 'http://127.0.0.1:8080' }, github.configFields)).toBe('http://127.0.0.1:8080/api/v3');
  });

  it('fills defaults of choice fields', () => {
    const datadog = connector('datadog');
    expect(expandTemplate(datadog.apiUrl, {}, datadog.configFields)).toBe('https://api.datadoghq.com');
    expect(expandTemplate(datadog.apiUrl, { site: 'datadoghq.eu' }, datadog.configFields)).toBe('https://api.datadoghq.eu');
  });
});

describe('validateConfig', () => {
  it('requires required fields and refuses unknown ones and bad values', () => {
    expect(validateConfig(connector('jira'), {}).problems).toEqual([{ field: 'site', message: 'site is required for Jira' }]);
    expect(validateConfig(connector('slack'), { host: 'x' }).problems[0]?.field).toBe('host');
    expect(validateConfig(connector('datadog'), { site: 'evil.example' }).problems[0]?.field).toBe('site');
    expect(validateConfig(connector('gitlab'), { host: 'not a host' }).problems[0]?.field).toBe('host');
    expect(validateConfig(connector('http'), { baseUrl: 'ftp://x' }).problems[0]?.field).toBe('baseUrl');
    expect(validateConfig(connector('http'), { baseUrl: 'https://api.example.com', probePath: 'health' }).problems[0]?.field).toBe(
      'probePath',
    );
  });

  it('takes a ServiceNow table and column only by name, never a path, a query or a dot-walk', () => {
    const servicenow = connector('servicenow');
    const problems = (config: Record<string, string>) =>
      validateConfig(servicenow, { instance: 'acme.service-now.com', ...config }).problems;
    expect(problems({ inventoryTable: 'cmdb_ci_server', inventoryNameField: 'host_name' })).toEqual([]);
    for (const bad of ['sys_user?sysparm_query=x', '../sys_user', 'Incident', 'u table', '1table', 'group.name', 'x'.repeat(81)]) {
      expect(problems({ inventoryTable: bad })).toEqual([{ field: 'inventoryTable', message: expect.stringContaining('lowercase name') }]);
      expect(problems({ inventoryNameField: bad })[0]?.field).toBe('inventoryNameField');
    }
    expect(validateConfig(connector('http'), { baseUrl: 'https://x.example', inventoryPath: 'items' }).problems[0]?.field).toBe(
      'inventoryPath',
    );
  });

  it('accepts and trims good values', () => {
    expect(validateConfig(connector('servicenow'), { instance: ' acme.service-now.com ' })).toEqual({
      config: { instance: 'acme.service-now.com' },
      problems: [],
    });
  });
});

describe('credential placement', () => {
  const target = (key: string, config: Record<string, string> = {}) => ({ definition: connector(key), settings: {}, config });
  it('presents each kind of credential the way its provider expects', () => {
    expect(credentialHeaders(target('github'), { kind: 'API_TOKEN', token: 't' })).toEqual({ authorization: 'Bearer t' });
    expect(credentialHeaders(target('gitlab'), { kind: 'API_TOKEN', token: 't' })).toEqual({ 'private-token': 't' });
    expect(credentialHeaders(target('pagerduty'), { kind: 'API_TOKEN', token: 't' })).toEqual({ authorization: 'Token token=t' });
    expect(credentialHeaders(target('datadog'), { kind: 'API_TOKEN', token: 't' })).toEqual({ 'dd-api-key': 't' });
    expect(credentialHeaders(target('jira'), { kind: 'BASIC', username: 'a@b.c', password: 'p' })).toEqual({
      authorization: `Basic ${Buffer.from('a@b.c:p').toString('base64')}`,
    });
    expect(credentialHeaders(target('http', { headerName: 'X-Api-Key' }), { kind: 'API_TOKEN', token: 't' })).toEqual({
      'x-api-key': 't',
    });
    expect(credentialHeaders(target('http'), { kind: 'API_TOKEN', token: 't' })).toEqual({ authorization: 'Bearer t' });
  });
});

describe('deployment settings', () => {
  it('reads CONNECTOR_<PROVIDER>_<FIELD> variables', () => {
    const settings = connectorSettingsFromEnv(
      {
        CONNECTOR_GITHUB_CLIENT_ID: 'id',
        CONNECTOR_GITHUB_CLIENT_SECRET: 's',
        CONNECTOR_GITLAB_API_URL: 'http://127.0.0.1:9/api/v4',
        OTHER: 'x',
      },
      listConnectors(),
    );
    expect(settings).toEqual({ github: { clientId: 'id', clientSecret: 's' }, gitlab: { apiUrl: 'http://127.0.0.1:9/api/v4' } });
    expect(oauthConfigured(connector('github'), settings.github)).toBe(true);
    expect(oauthConfigured(connector('gitlab'), settings.gitlab)).toBe(false);
  });

  it('refuses typos and non-URLs so that no connector is silently unconfigured', () => {
    expect(() => connectorSettingsFromEnv({ CONNECTOR_GITHUB_CLIENTID: 'x' }, listConnectors())).toThrow(/unknown connector variable/);
    expect(() => connectorSettingsFromEnv({ CONNECTOR_GITHBU_CLIENT_ID: 'x' }, listConnectors())).toThrow(/unknown connector variable/);
    expect(() => connectorSettingsFromEnv({ CONNECTOR_GITHUB_TOKEN_URL: 'not a url' }, listConnectors())).toThrow(/http\(s\) URL/);
  });

  it('reads CONNECTOR_<PROVIDER>_OAUTH_ORIGIN as an origin, and refuses anything more or less', () => {
    expect(connectorSettingsFromEnv({ CONNECTOR_GITLAB_OAUTH_ORIGIN: 'https://Git.Corp.Example:443/' }, listConnectors())).toEqual({
      gitlab: { oauthOrigin: 'https://git.corp.example' },
    });
    expect(connectorSettingsFromEnv({ CONNECTOR_JIRA_OAUTH_ORIGIN: 'http://127.0.0.1:8080' }, listConnectors())).toEqual({
      jira: { oauthOrigin: 'http://127.0.0.1:8080' },
    });
    for (const value of [
      'git.corp.example',
      'https://git.corp.example/api',
      'https://git.corp.example?x=1',
      'https://user:pw@git.corp.example',
      'ftp://git.corp.example',
    ]) {
      expect(() => connectorSettingsFromEnv({ CONNECTOR_GITLAB_OAUTH_ORIGIN: value }, listConnectors())).toThrow(
        /CONNECTOR_GITLAB_OAUTH_ORIGIN: expected an http\(s\) origin/,
      );
    }
  });
});

describe('where an OAuth2 client is registered', () => {
  const client = { clientId: 'id', clientSecret: 'secret' };
  const endpoints = (key: string, config: Record<string, string> = {}, settings = {}) => {
    const found = oauthEndpoints({ definition: connector(key), settings: { ...client, ...settings }, config });
    if (!found) throw new Error(`no endpoints for ${key}`);
    return found;
  };

  it('at the origins its secret goes to under the default config', () => {
    expect(endpoints('gitlab').client.origins).toEqual(['https://gitlab.com']);
    // GitHub's revocation sends the client id and secret to its API.
    expect(endpoints('github').client.origins).toEqual(['https://github.com', 'https://api.github.com']);
    expect(endpoints('datadog').client.origins).toEqual(['https://api.datadoghq.com']);
    expect(endpoints('jira').client.origins).toEqual(['https://auth.atlassian.com']);
    expect(endpoints('slack').client.origins).toEqual(['https://slack.com']);
    // A ServiceNow client lives on one instance, which only the deployment can name.
    expect(endpoints('servicenow').client.origins).toEqual([]);
    expect(endpoints('gitlab', {}, { tokenUrl: 'https://sso.example.com/oauth/token' }).client.origins).toEqual([
      'https://sso.example.com',
      'https://gitlab.com',
    ]);
  });

  it('and at the instance CONNECTOR_<PROVIDER>_OAUTH_ORIGIN names', () => {
    const ghe = endpoints('github', { host: 'ghe.example.com' }, { oauthOrigin: 'https://ghe.example.com' });
    expect(ghe.client).toEqual({
      provider: 'GitHub',
      variable: 'CONNECTOR_GITHUB_OAUTH_ORIGIN',
      origins: ['https://github.com', 'https://api.github.com', 'https://ghe.example.com'],
    });
    expect(ghe.clientRevokeUrl).toBe('https://ghe.example.com/api/v3/applications/id/token');
    expect(unregisteredClientUrl(ghe)).toBeNull();
    expect(
      unregisteredClientUrl(
        endpoints('servicenow', { instance: 'acme.service-now.com' }, { oauthOrigin: 'https://acme.service-now.com' }),
      ),
    ).toBeNull();
  });

  it('names the first URL a config would send the secret to elsewhere', () => {
    expect(unregisteredClientUrl(endpoints('gitlab', { host: 'evil.example' }))).toBe('https://evil.example/oauth/token');
    expect(unregisteredClientUrl(endpoints('github', { host: 'evil.example' }, { oauthOrigin: 'https://ghe.example.com' }))).toBe(
      'https://evil.example/login/oauth/access_token',
    );
    expect(unregisteredClientUrl(endpoints('datadog', { site: 'datadoghq.eu' }))).toBe('https://api.datadoghq.eu/oauth2/v1/token');
    expect(unregisteredClientUrl(endpoints('servicenow', { instance: 'acme.service-now.com' }))).toBe(
      'https://acme.service-now.com/oauth_token.do',
    );
  });
});
