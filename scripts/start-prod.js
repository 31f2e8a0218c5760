// `npm run start:prod`: runs the compiled gateway in this process (so that the V8 flags of the npm script
// and the signals a supervisor sends reach it), or says how to build it when it has not been built.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/src/main.js', import.meta.url);

if (!existsSync(entry)) {
  process.stderr.write(
    'integrations-gateway: dist/src/main.js does not exist: ' +
      'run npm run build first (after every change to src/ or migrations/), then npm run start:prod.\n',
  );
  process.exit(1);
}
await import(entry.href);
