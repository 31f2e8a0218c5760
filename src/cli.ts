import { readFile, writeFile } from 'node:fs/promises';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import type { Config } from './config.js';
import type { DatabaseHandle } from './db/connection.js';
import type { Role } from './db/database.js';
import { ServiceError } from './errors.js';
import { encodeGlobalID, isUuid, parseGlobalID } from './ids.js';
import type { Logger } from './logger.js';

// Each command imports what it uses when it runs: a command starts in a fraction of a second instead of
// loading the whole gateway (and the embedded engine, unless it opens the database itself).

type Output = { json: boolean };

function print(options: Output, json: unknown, lines: string[]): void {
  process.stdout.write(options.json ? `${JSON.stringify(json, null, 2)}\n` : `${lines.join('\n')}\n`);
}

/** How long a command waits for a gateway that holds the embedded database but does not serve it yet (starting). */
const GATEWAY_START_WAIT_MS = 10_000;

/**
 * Runs a command against the configured database, migrated first, and always closes it. With the
 * embedded database, a running gateway shares it through its socket in DATA_DIR.
 */
async function withDatabase<T>(run: (database: DatabaseHandle, context: { config: Config; logger: Logger }) => Promise<T>): Promise<T> {
  const [{ loadConfig }, { createLogger }, { openMigratedDatabase }] = await Promise.all([
    import('./config.js'),
    import('./logger.js'),
    import('./db/open.js'),
  ]);
  const config = loadConfig();
  // Logs go to stderr so that --json output on stdout stays machine-readable.
  const logger = createLogger({ level: config.logLevel === 'info' ? 'warn' : config.logLevel, destination: process.stderr });
  const database = await openMigratedDatabase(config, logger, { shareWaitMs: GATEWAY_START_WAIT_MS });
  try {
    return await run(database, { config, logger });
  } finally {
    await database.close();
  }
}

function parseRole(value: string): Role {
  const role = value.toUpperCase();
  if (role !== 'VIEWER' && role !== 'EDITOR' && role !== 'ADMIN') throw new InvalidArgumentError('expected viewer, editor or admin.');
  return role;
}

/** An API key's ID as the API shows it, the bare UUID, or its visible prefix (`igw_…`), as logs show it. */
function parseKeyReference(value: string): { id: string } | { prefix: string } {
  if (value.startsWith('igw_')) return { prefix: value };
  if (isUuid(value)) return { id: value.toLowerCase() };
  const decoded = parseGlobalID(value);
  if (decoded?.typename === 'ApiKey') return { id: decoded.id };
  throw new InvalidArgumentError('expected an API key ID, or its prefix (igw_…).');
}

export function buildProgram(): Command {
  const program = new Command('integrations-gateway')
    .description('Operate the integrations gateway: database, organizations, API keys, schema.')
    .showHelpAfterError()
    .exitOverride();
  const json = () => new Option('--json', 'print machine-readable JSON');

  program
    .command('migrate')
    .description('apply pending database migrations')
    .addOption(json())
    .action((options: Output) => withDatabase(async () => print(options, { ok: true }, ['Database is up to date.'])));

  const orgs = program.command('orgs').description('manage organizations');
  orgs
    .command('create <slug>')
    .description('create an organization')
    .option('--name <name>', 'display name (defaults to the slug)')
    .addOption(json())
    .action((slug: string, options: Output & { name?: string }) =>
      withDatabase(async ({ db }) => {
        const { createOrganization } = await import('./modules/organization/organization.service.js');
        const organization = await createOrganization(db, { slug, name: options.name });
        const view = { id: encodeGlobalID('Organization', organization.id), slug: organization.slug, name: organization.name };
        print(options, view, [`Created organization ${view.slug} (${view.name}), id ${view.id}`]);
      }),
    );
  orgs
    .command('list')
    .description('list organizations')
    .addOption(json())
    .action((options: Output) =>
      withDatabase(async ({ db }) => {
        const { listOrganizations } = await import('./modules/organization/organization.service.js');
        const list = (await listOrganizations(db)).map((o) => ({
          id: encodeGlobalID('Organization', o.id),
          slug: o.slug,
          name: o.name,
          createdAt: o.createdAt.toISOString(),
        }));
        print(options, list, list.length ? list.map((o) => `${o.slug}\t${o.name}\t${o.id}`) : ['No organizations.']);
      }),
    );

  const keys = program.command('keys').description('manage API keys');
  keys
    .command('create')
    .description('create an API key; the key is printed once')
    .requiredOption('--org <slug>', 'organization slug')
    .addOption(new Option('--role <role>', 'viewer, editor or admin').argParser(parseRole).makeOptionMandatory())
    .option('--name <name>', 'label for people')
    .addOption(json())
    .action((options: Output & { org: string; role: Role; name?: string }) =>
      withDatabase(async ({ db }) => {
        const [{ requireOrganization }, { issueApiKey }, { OPERATOR_ACTOR }] = await Promise.all([
          import('./modules/organization/organization.service.js'),
          import('./modules/api-key/api-key.service.js'),
          import('./modules/events/event-actor.js'),
        ]);
        const organization = await requireOrganization(db, options.org);
        const { apiKey, secret } = await issueApiKey(
          db,
          { organizationId: organization.id, role: options.role, name: options.name },
          { actor: OPERATOR_ACTOR, requestId: null },
        );
        const view = {
          id: encodeGlobalID('ApiKey', apiKey.id),
          key: secret,
          prefix: apiKey.prefix,
          role: apiKey.role,
          organization: organization.slug,
        };
        print(options, view, [
          `Created ${apiKey.role} key "${apiKey.name}" for ${organization.slug}, id ${view.id}`,
          `Key (shown once, store it now): ${secret}`,
        ]);
      }),
    );
  keys
    .command('list')
    .description("list an organization's API keys (never the keys themselves)")
    .requiredOption('--org <slug>', 'organization slug')
    .option('--include-revoked', 'also list revoked keys')
    .addOption(json())
    .action((options: Output & { org: string; includeRevoked?: boolean }) =>
      withDatabase(async ({ db }) => {
        const [{ requireOrganization }, { listApiKeys }] = await Promise.all([
          import('./modules/organization/organization.service.js'),
          import('./modules/api-key/api-key.repository.js'),
        ]);
        const organization = await requireOrganization(db, options.org);
        const list = (await listApiKeys(db, organization.id, { includeRevoked: options.includeRevoked ?? false })).map((k) => ({
          id: encodeGlobalID('ApiKey', k.id),
          name: k.name,
          prefix: k.prefix,
          role: k.role,
          createdAt: k.createdAt.toISOString(),
          lastUsedAt: k.lastUsedAt?.toISOString() ?? null,
          revokedAt: k.revokedAt?.toISOString() ?? null,
        }));
        print(
          options,
          list,
          list.length
            ? list.map((k) => `${k.prefix}\t${k.role}\t${k.name}\t${k.revokedAt ? 'revoked' : 'active'}\t${k.id}`)
            : ['No keys.'],
        );
      }),
    );
  keys
    .command('revoke')
    .description('revoke an API key at once')
    .argument('<key>', "the key's ID, or its prefix (igw_…), as `keys list` and the logs show them", parseKeyReference)
    .addOption(json())
    .action((reference: { id: string } | { prefix: string }, options: Output) =>
      withDatabase(async ({ db }) => {
        const [{ revokeApiKey, revokeApiKeyByPrefix }, { OPERATOR_ACTOR }] = await Promise.all([
          import('./modules/api-key/api-key.service.js'),
          import('./modules/events/event-actor.js'),
        ]);
        const origin = { actor: OPERATOR_ACTOR, requestId: null };
        const key =
          'prefix' in reference
            ? await revokeApiKeyByPrefix(db, reference.prefix, origin)
            : await revokeApiKey(db, null, reference.id, origin);
        print(options, { id: encodeGlobalID('ApiKey', key.id), prefix: key.prefix, revokedAt: key.revokedAt?.toISOString() }, [
          `Revoked ${key.prefix}.`,
        ]);
      }),
    );

  const secrets = program.command('secrets').description('provider secrets encrypted at rest');
  secrets
    .command('rotate')
    .description('re-encrypt every secret (integrations, webhook endpoints) not yet under ENCRYPTION_KEY (safe while gateways run)')
    .addOption(json())
    .action((options: Output) =>
      withDatabase(async ({ db }, { config, logger }) => {
        const { createVault, rotateSecrets } = await import('./secrets/index.js');
        const vault = await createVault(config, logger);
        const report = await rotateSecrets(db, vault, { logger });
        const failed = report.failed.map((row) => encodeGlobalID(row.type, row.id));
        const named = { Integration: 'integration', WebhookEndpoint: 'webhook endpoint' } as const;
        print(options, { keyId: report.keyId, rotated: report.rotated, failed }, [
          `Re-encrypted ${report.rotated} secret${report.rotated === 1 ? '' : 's'} with key ${report.keyId}.`,
          ...report.failed.map((row, i) => `Could not open the secret of ${named[row.type]} ${failed[i]}.`),
        ]);
        if (report.failed.length > 0) {
          throw new ServiceError(
            'CONFLICT',
            `${report.failed.length} secret(s) could not be opened with the configured keys; ` +
              'add the keys that sealed them to ENCRYPTION_KEYS_PREVIOUS.',
          );
        }
      }),
    );

  program
    .command('idempotency')
    .description('Idempotency-Key records of mutations')
    .command('purge')
    .description('delete idempotency keys past their retention window (the background engine also does every 10 minutes)')
    .addOption(json())
    .action((options: Output) =>
      withDatabase(async ({ db }) => {
        const { purgeExpiredKeys } = await import('./http/idempotency/idempotency.repository.js');
        const purged = await purgeExpiredKeys(db);
        print(options, { purged }, [`Purged ${purged} expired idempotency key${purged === 1 ? '' : 's'}.`]);
      }),
    );

  const jobs = program.command('jobs').description('the background engine (scheduled probes, token refresh, retention)');
  jobs
    .command('status')
    .description('jobs in the queue by task: due, scheduled, running, failed')
    .addOption(json())
    .action((options: Output) =>
      withDatabase(async ({ db }) => {
        const { queueStatus } = await import('./jobs/status.js');
        const tasks = await queueStatus(db);
        const lines =
          tasks.length === 0
            ? ['No jobs: no worker has run yet, or the queue is empty.']
            : tasks.map(
                (task) =>
                  `${task.task}: ${task.due} due, ${task.scheduled} scheduled, ${task.running} running, ${task.failed} failed` +
                  (task.oldestDueAt ? ` (oldest due since ${task.oldestDueAt.toISOString()})` : ''),
              );
        print(options, { tasks }, lines);
      }),
    );
  jobs
    .command('run-due')
    .description('run every job due now, once, and exit: for deployments that run the engine from cron (WORKERS=0)')
    .addOption(json())
    .action((options: Output) =>
      withDatabase(async (database, { config, logger }) => {
        const [{ runDueJobs }, { createServices }] = await Promise.all([import('./jobs/engine.js'), import('./app.js')]);
        // Holding the embedded database itself (no gateway runs): the queue reaches it through its socket.
        await database.serve?.((error) => logger.warn({ err: error }, 'local database client failed'));
        const { services, close } = await createServices(config, logger);
        try {
          const ran = await runDueJobs({ config, db: database.db, services, logger });
          print(options, { ran }, [`Ran ${ran} due job${ran === 1 ? '' : 's'}.`]);
        } finally {
          await close();
        }
      }),
    );

  const schema = program.command('schema').description('the GraphQL schema');
  schema
    .command('print')
    .description('print the schema SDL, sorted')
    .option('--write <file>', 'write it to a file instead')
    .option('--check <file>', 'exit non-zero when the file differs from what the code prints')
    .addOption(json())
    .action(async (options: Output & { write?: string; check?: string }) => {
      const { printSchemaSDL } = await import('./graphql/schema.js');
      const sdl = printSchemaSDL();
      if (options.check) {
        const current = await readFile(options.check, 'utf8').catch(() => '');
        if (current !== sdl) {
          throw new ServiceError('CONFLICT', `${options.check} is out of date with the code; run \`npm run schema:print\`.`);
        }
        print(options, { ok: true }, [`${options.check} is up to date.`]);
      } else if (options.write) {
        await writeFile(options.write, sdl);
        print(options, { ok: true, file: options.write }, [`Wrote ${options.write}.`]);
      } else {
        process.stdout.write(options.json ? `${JSON.stringify({ sdl })}\n` : sdl);
      }
    });
  return program;
}

export async function runCli(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version exit 0; usage errors were already printed with the usage.
      return error.exitCode;
    }
    const json = argv.includes('--json');
    const [{ ConfigError }, { DatabaseInUseError }] = await Promise.all([import('./config.js'), import('./db/connection.js')]);
    const { message, code } =
      error instanceof ServiceError
        ? { message: error.message, code: error.code }
        : error instanceof ConfigError || error instanceof DatabaseInUseError
          ? { message: error.message, code: 'CONFIG' }
          : { message: error instanceof Error ? error.message : String(error), code: 'INTERNAL' };
    process.stderr.write(json ? `${JSON.stringify({ error: { code, message } })}\n` : `error: ${message}\n`);
    return code === 'INTERNAL' ? 70 : 1;
  }
}

runCli(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
