import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { printOpenApiDocument } from './openapi-document.js';

// `npm run openapi:print` writes openapi.json and the typed client the REST tests use (openapi-typescript,
// formatted as the rest of the tree); `npm run openapi:check` fails when either differs from what the
// routes print now, so neither the committed document nor the client drifts from the server.

const DOCUMENT = 'openapi.json';
const CLIENT = 'test/support/rest-api.ts';

const bin = (name: string) => `node_modules/.bin/${name}`;

/** The document and its client types, written to these files and formatted by Biome like the rest of the tree. */
function print(documentFile: string, clientFile: string): void {
  writeFileSync(documentFile, printOpenApiDocument());
  execFileSync(bin('openapi-typescript'), [documentFile, '--output', clientFile], { stdio: 'ignore' });
  execFileSync(bin('biome'), ['format', '--write', documentFile, clientFile], { stdio: 'ignore' });
}

const read = (file: string) => {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null; // a missing file differs like any other
  }
};

const mode = process.argv[2];
if (mode === '--write') {
  print(DOCUMENT, CLIENT);
  console.log(`wrote ${DOCUMENT} and ${CLIENT}`);
} else if (mode === '--check') {
  // Printed beside the committed files, where Biome formats them the same way.
  const [printedDocument, printedClient] = ['openapi.check.json', 'openapi-client.check.ts'];
  let [document, client]: (string | null)[] = [null, null];
  try {
    print(printedDocument, printedClient);
    [document, client] = [read(printedDocument), read(printedClient)];
  } finally {
    rmSync(printedDocument, { force: true });
    rmSync(printedClient, { force: true });
  }
  const stale = [read(DOCUMENT) === document ? null : DOCUMENT, read(CLIENT) === client ? null : CLIENT].filter(Boolean);
  if (stale.length > 0) {
    console.error(`${stale.join(' and ')} differ from what the REST routes print; run \`npm run openapi:print\` and commit.`);
    process.exit(1);
  }
  console.log(`${DOCUMENT} and ${CLIENT} are up to date`);
} else {
  console.error('usage: openapi-cli.ts --write | --check');
  process.exit(2);
}
