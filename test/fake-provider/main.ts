/**
 * Runs the fake provider by hand: `npm run fake-provider`. Prints the CONNECTOR_* variables that point
 * a gateway at it and a valid demo credential per connector. FAKE_PROVIDER_PORT (default 4010) moves
 * it; FAKE_PROVIDER_DENY=github,slack makes those providers refuse every authorization (access_denied).
 * Client secrets stay the same across restarts, so a gateway need not restart with the fake.
 */
import { listConnectors } from '../../src/connectors/registry.js';
import { settingsAsEnv } from './profiles.js';
import { startFakeProvider } from './server.js';

const port = Number.parseInt(process.env.FAKE_PROVIDER_PORT ?? '4010', 10);
const fake = await startFakeProvider({ port, clientSecret: (provider) => `${provider}-fake-client-secret` });
for (const provider of (process.env.FAKE_PROVIDER_DENY ?? '').split(',').filter(Boolean))
  fake.knobs(provider.trim()).denyAuthorization = true;

const demo: string[] = [];
for (const definition of listConnectors()) {
  const config = definition.key === 'http' ? `  config: {"baseUrl": "${fake.httpBaseUrl}"}` : '';
  if (definition.authKinds.includes('API_TOKEN'))
    demo.push(`${definition.key.padEnd(11)} API_TOKEN  token: ${fake.issueApiToken(definition.key)}${config}`);
  if (definition.authKinds.includes('BASIC')) {
    const user = fake.addBasicUser(definition.key, 'ada@example.com');
    demo.push(`${definition.key.padEnd(11)} BASIC      username: ${user.username}  password: ${user.password}${config}`);
  }
}

const lines = [
  `Fake provider listening on ${fake.url} (every connector below /<provider>/).`,
  '',
  'Start the gateway with these variables:',
  '',
  ...settingsAsEnv(fake.settings).map((line) => `export ${line}`),
  '',
  'Demo credentials (the fake keeps tokens in memory: they, and tokens issued by OAuth2, die when it stops):',
  '',
  ...demo,
  '',
  'OAUTH2: every authorization is approved at once. Config values the connectors require (jira site,',
  'servicenow instance) may be anything, e.g. "acme.example.com": the fake serves them all. Ctrl-C stops.',
];
process.stdout.write(`${lines.join('\n')}\n`);

const stop = () => void fake.close().then(() => process.exit(0));
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
