import type { Kysely } from 'kysely';
import type { Database } from './db/database.js';
import { ServiceError } from './errors.js';
import type { GraphiQLSetup } from './http/graphiql.js';
import type { Logger } from './logger.js';
import { type IssuedKey, issueApiKey } from './modules/api-key/api-key.service.js';
import { anyKeyUsedBesides } from './modules/api-key/api-key.repository.js';
import { systemActor } from './modules/events/event-actor.js';
import { countOrganizations, findOrganizationBySlug } from './modules/organization/organization.repository.js';
import { createOrganization } from './modules/organization/organization.service.js';

const DEMO_SLUG = 'demo';
const DEMO_KEY_NAME = 'demo admin key';

/** What a starting gateway found in its database, which decides what it tells whoever started it. */
export type FirstRun =
  /** Outside production on an empty database: the demo organization and an ADMIN key, which exists nowhere else. */
  | { kind: 'seeded'; key: IssuedKey }
  /** Outside production: the demo organization exists and no key but its own has been used yet. */
  | { kind: 'demo' }
  /** In production on an empty database: nobody can use the gateway until the CLI creates an organization and a key. */
  | { kind: 'empty' }
  | { kind: 'in-use' };

/**
 * On an empty database outside production, creates the `demo` organization and an ADMIN key, so that
 * the first query works minutes after cloning. Returns the key, which exists nowhere else, or null.
 */
export async function seedDemoOrganization(db: Kysely<Database>): Promise<IssuedKey | null> {
  if ((await countOrganizations(db)) > 0) return null;
  try {
    const organization = await createOrganization(db, { slug: DEMO_SLUG, name: 'Demo organization' });
    return await issueApiKey(
      db,
      { organizationId: organization.id, role: 'ADMIN', name: DEMO_KEY_NAME },
      { actor: systemActor('first-run'), requestId: null },
    );
  } catch (error) {
    // Another process starting on the same empty database seeded it first.
    if (error instanceof ServiceError && error.code === 'CONFLICT') return null;
    throw error;
  }
}

/** Seeds the demo organization where it should be (outside production), and says what the database holds. */
export async function prepareFirstRun(db: Kysely<Database>, options: { production: boolean }): Promise<FirstRun> {
  if (options.production) return (await countOrganizations(db)) === 0 ? { kind: 'empty' } : { kind: 'in-use' };
  const key = await seedDemoOrganization(db);
  if (key) return { kind: 'seeded', key };
  const demo = await findOrganizationBySlug(db, DEMO_SLUG);
  if (demo && !(await anyKeyUsedBesides(db, { organizationId: demo.id, name: DEMO_KEY_NAME }))) return { kind: 'demo' };
  return { kind: 'in-use' };
}

/** GraphiQL opens with the key this process printed, and with no key otherwise. */
export function graphiqlSetupFor(run: FirstRun): GraphiQLSetup {
  return run.kind === 'seeded' ? { authorization: `Bearer ${run.key.secret}` } : {};
}

/** The commands that create an organization and its first ADMIN key (src/cli.ts). */
export const FIRST_KEY_COMMANDS = [
  'npm run cli -- orgs create <slug> --name "<name>"',
  'npm run cli -- keys create --org <slug> --role admin',
];

/**
 * Tells whoever started the gateway how to make their first request. A printed key goes to the terminal
 * only, never to the log: this is its only copy.
 */
export function announceFirstRun(run: FirstRun, to: { url: string; logger: Logger; terminal: (text: string) => void }): void {
  if (run.kind === 'seeded') {
    to.terminal(
      [
        '',
        'Created organization "demo" with an ADMIN API key (shown this once):',
        `  ${run.key.secret}`,
        `Open ${to.url} in a browser on this machine: GraphiQL has the key in its Headers tab. Elsewhere, paste it there:`,
        `  {"Authorization": "Bearer ${run.key.secret}"}`,
        '',
      ].join('\n'),
    );
  } else if (run.kind === 'demo') {
    to.terminal(
      [
        '',
        'The organization "demo" exists; its first ADMIN key was shown only when it was created. To get a new key:',
        `  npm run cli -- keys create --org ${DEMO_SLUG} --role admin`,
        `then open ${to.url} and put {"Authorization": "Bearer <key>"} into GraphiQL's Headers tab.`,
        '',
      ].join('\n'),
    );
  } else if (run.kind === 'empty') {
    to.logger.warn(
      { commands: FIRST_KEY_COMMANDS },
      'the database has no organization yet: ' +
        `create one and its first ADMIN key with \`${FIRST_KEY_COMMANDS[0]}\` then \`${FIRST_KEY_COMMANDS[1]}\``,
    );
  }
}
