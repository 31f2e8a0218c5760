// `npm run lint` (after Biome): fails on any line of 140 characters or more in the tracked .ts, .js and .mjs files.
// Biome wraps code at 139 columns but leaves long strings, templates and comments as they are; this catches those.
// migrations/ is left out: migrations are frozen in time, as they were written; so is the REST client
// printed from openapi.json (test/support/rest-api.ts), which `npm run openapi:print` writes.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const LIMIT = 140;
const root = fileURLToPath(new URL('..', import.meta.url));

const files = execFileSync('git', ['ls-files', '-z', '--', '*.ts', '*.js', '*.mjs'], { cwd: root, encoding: 'utf8' })
  .split('\0')
  .filter((file) => file !== '' && !file.startsWith('migrations/') && file !== 'test/support/rest-api.ts');

const long = [];
for (const file of files) {
  // A tracked file deleted in the work tree has no lines left to check.
  if (!existsSync(path.join(root, file))) continue;
  const lines = readFileSync(path.join(root, file), 'utf8').split(/\r?\n/);
  lines.forEach((line, index) => {
    // Characters, not UTF-16 units: an emoji or an astral character counts once, as an editor shows it.
    const length = [...line].length;
    if (length >= LIMIT) long.push(`${file}:${index + 1}: ${length} characters`);
  });
}

if (long.length > 0) {
  process.stderr.write(`${long.join('\n')}\n${long.length} line(s) of ${LIMIT} characters or more; wrap them (strings with +).\n`);
  process.exit(1);
}
